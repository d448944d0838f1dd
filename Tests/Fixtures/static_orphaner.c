/* Test fixture, linked statically: forks a static child, announces both, and exits after
 * `argv[1]` milliseconds, leaving the child behind. Neither loads the preload library, and the
 * child has no PR_SET_PDEATHSIG: only the launcher's subreaper can end it. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    pid_t child = fork();
    if (child == 0) {
        printf("ready orphan %d\n", (int)getpid());
        fflush(stdout);
        for (;;)
            pause();
    }
    printf("ready parent %d\n", (int)getpid());
    fflush(stdout);
    usleep((argc > 1 ? atoi(argv[1]) : 100) * 1000);
    return 0;
}
