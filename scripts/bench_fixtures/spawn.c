/* Benchmark driver: `spawn N PRELOAD` runs /bin/true N times in sequence (fork + execve), with
 * LD_PRELOAD=PRELOAD in the child's environment only ("" for none), and prints microseconds per
 * spawn. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int n = atoi(argv[1]);
    char preload[4200];
    snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", argv[2]);
    char *envp[] = {argv[2][0] ? preload : NULL, NULL};
    char *child_argv[] = {"/bin/true", NULL};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execve("/bin/true", child_argv, envp);
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
    return 0;
}
