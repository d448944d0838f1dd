/* Benchmark driver: `run_once N CMD [ARGS...]` runs CMD N times in sequence (fork + execvp, the
 * environment inherited) and prints each run's wall time in microseconds, one per line: what a
 * script, a Makefile or `srun` pays per wrapped command. With RUN_ONCE_PRELOAD set, CMD alone (not this
 * driver) gets it as LD_PRELOAD. */
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
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) {
            const char *preload = getenv("RUN_ONCE_PRELOAD");
            if (preload && setenv("LD_PRELOAD", preload, 1) != 0)
                _exit(127);
            execvp(argv[2], argv + 2);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3);
    }
    return 0;
}
