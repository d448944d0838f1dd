/* Test fixture: counts the SIGTERMs (and SIGRTMIN+1s) it is sent. Every delivery appends "<pid>\n"
 * to LOG (one O_APPEND write, async-signal-safe); after the first one the process lingers LINGER_MS
 * so that a second signal arrives while the first is long handled, then exits 0. Two SIGTERMs sent
 * before the first is handled merge into one delivery; a realtime signal (--signal RTMIN+1) is
 * queued once per send, so with it every send shows.
 *
 *   term_counter LOG LINGER_MS leaf                  announce "ready leaf PID", wait
 *   term_counter LOG LINGER_MS parent N [PROGRAM]    start N children, announce "ready parent PID",
 *                                                    wait; each child counts too: a fork child, or
 *                                                    PROGRAM exec'd as "PROGRAM LOG LINGER_MS leaf"
 *   term_counter LOG LINGER_MS parent-exit N [PROGRAM] the same, but exit 0 once the children
 *                                                    announced themselves (plus LINGER_MS)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static volatile sig_atomic_t terms;
static char line[16];
static size_t line_len;

static void on_term(int sig)
{
    (void)sig;
    ssize_t ignored = write(log_fd, line, line_len);
    (void)ignored;
    terms++;
}

static void sleep_ms(long ms)
{
    struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0)
        ;
}

static void become_counter(void)
{
    line_len = (size_t)snprintf(line, sizeof(line), "%d\n", (int)getpid());
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGRTMIN + 1, &sa, NULL);
}

static void _Noreturn count_until_done(long linger_ms)
{
    while (!terms)
        pause();
    sleep_ms(linger_ms);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    log_fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        return 2;
    long linger_ms = atol(argv[2]);
    become_counter();
    if (!strcmp(argv[3], "leaf")) {
        printf("ready leaf %d\n", (int)getpid());
        fflush(stdout);
        count_until_done(linger_ms);
    }
    int children = argc > 4 ? atoi(argv[4]) : 1;
    const char *program = argc > 5 ? argv[5] : NULL;
    for (int i = 0; i < children; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            if (program) {
                execl(program, program, argv[1], argv[2], "leaf", (char *)NULL);
                _exit(127);
            }
            become_counter();
            printf("ready child %d\n", (int)getpid());
            fflush(stdout);
            count_until_done(linger_ms);
        }
    }
    printf("ready parent %d\n", (int)getpid());
    fflush(stdout);
    if (!strcmp(argv[3], "parent-exit")) {
        sleep_ms(linger_ms);
        return 0;
    }
    count_until_done(linger_ms);
}
