/*
 * Test fixture: a child subreaper that runs argv and reports how every process
 * it reaps ended, so a test learns by which signal an orphan re-parented to it
 * died:  "reaped <pid> signal <n>" or "reaped <pid> exit <n>". Leaves with 0
 * once it has no children left.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        return 2;
    pid_t child = fork();
    if (child < 0)
        return 2;
    if (child == 0) {
        execv(argv[1], argv + 1);
        _exit(127);
    }
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            return 0;
        if (WIFSIGNALED(status))
            printf("reaped %d signal %d\n", (int)pid, WTERMSIG(status));
        else
            printf("reaped %d exit %d\n", (int)pid, WEXITSTATUS(status));
        fflush(stdout);
    }
}
