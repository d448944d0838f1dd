/*
 * Test fixture: two popen() writers open at once. POSIX has each popen() child
 * close the streams of earlier popen() calls; if the second child kept the
 * first pipe's write end, the first child would never see EOF and pclose()
 * would wait forever (an alarm ends the fixture with status 3 instead).
 *
 *   popen_pair [unset-preload]    unset-preload: drop LD_PRELOAD first, so the
 *                                 library runs the commands itself
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void stuck(int sig)
{
    (void)sig;
    static const char line[] = "popen_pair: pclose of the first stream did not return\n";
    ssize_t ignored = write(STDERR_FILENO, line, sizeof(line) - 1);
    (void)ignored;
    _exit(3);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "unset-preload"))
        unsetenv("LD_PRELOAD");
    signal(SIGALRM, stuck);
    alarm(10);
    FILE *first = popen("cat >/dev/null", "w");
    FILE *second = popen("cat >/dev/null", "w");
    if (!first || !second) {
        perror("popen_pair: popen");
        return 2;
    }
    fputs("to the first\n", first);
    int first_status = pclose(first);
    int second_status = pclose(second);
    printf("%d %d\n", first_status, second_status);
    return 0;
}
