/* Benchmark fixture, linked statically: a leaf that applies the technique named in argv[1]
 * (none, ideal, seed) itself, announces itself and waits. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *technique = argc > 1 ? argv[1] : "none";
    pid_t parent = getppid();
    if (!strcmp(technique, "ideal")) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            return 0;
    }
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (;;) {
        if (!strcmp(technique, "seed")) {
            sleep(2);
            if (getppid() != parent)
                return 0;
        } else {
            pause();
        }
    }
}
