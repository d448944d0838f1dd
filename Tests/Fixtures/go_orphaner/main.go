// Test fixture, the seed case: a statically linked Go parent starts a Go child and exits after
// argv[1] milliseconds, leaving the child behind. Go ignores LD_PRELOAD and spawns with raw
// clone+execve, so neither process loads the library; only the launcher's subreaper ends the child.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		fmt.Printf("ready go-child %d\n", os.Getpid())
		for {
			time.Sleep(time.Hour)
		}
	}
	child := exec.Command(os.Args[0], "child")
	child.Stdout = os.Stdout
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ready go-parent %d\n", os.Getpid())
	ms := 200
	if len(os.Args) > 1 {
		ms, _ = strconv.Atoi(os.Args[1])
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
}
