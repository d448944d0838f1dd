/*
 * Test driver for CShim/event_log.c (compiled together with it).
 *
 *   event_log_writer format         prints a record of hostile strings at a fixed time and host
 *   event_log_writer huge           prints a record whose strings are far too long for one line
 *   event_log_writer write PATH     appends one record; prints "errno N"
 *   event_log_writer job            prints a record whose job ids come from the environment
 *   event_log_writer burst PATH N   N processes append one long record each at the same moment;
 *                                   prints "errno N" for the first failure, else "errno 0"
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../CShim/include/event_log.h"

static struct og_event hostile(void)
{
    static const char *argv[] = {"python3", "-c", "print(\"a\\b\")\n\t\x01", "caf\xc3\xa9 \xff\xfe", NULL};
    struct og_event e = og_event_init(OG_EVENT_PARENT_GONE, OG_WRITER_LIBRARY);
    e.action = "signal";
    e.job = "job-1";
    e.slurm_job = "4242";
    e.slurm_step = "0";
    e.pid = 5678;
    e.start_time = 123456;
    e.comm = "py\"thon";
    e.argv = argv;
    e.uid = 1000;
    e.parent_pid = 1234;
    e.parent_signal = "SIGKILL";
    e.signal = "SIGTERM";
    e.grace_ms = 5000;
    e.since_parent_ms = 0;
    return e;
}

int main(int argc, char **argv)
{
    char buf[OG_EVENT_MAX];
    struct timespec when = {1764633001, 123456789};
    if (argc == 2 && !strcmp(argv[1], "format")) {
        struct og_event e = hostile();
        size_t n = og_event_format(&e, &when, "node\"1", buf, sizeof(buf));
        fwrite(buf, 1, n, stdout);
        return n ? 0 : 1;
    }
    if (argc == 2 && !strcmp(argv[1], "huge")) {
        static char big[20000];
        memset(big, '"', sizeof(big) - 1);
        const char *args[200];
        for (int i = 0; i < 199; i++)
            args[i] = big;
        args[199] = NULL;
        struct og_event e = hostile();
        e.argv = args;
        e.detail = big;
        e.job = big;
        e.comm = big;
        size_t n = og_event_format(&e, &when, big, buf, sizeof(buf));
        fwrite(buf, 1, n, stdout);
        return n ? 0 : 1;
    }
    if (argc == 2 && !strcmp(argv[1], "job")) {
        extern char **environ;
        struct og_event e = og_event_init(OG_EVENT_JOB_START, OG_WRITER_LAUNCHER);
        og_event_set_job(&e, environ);
        size_t n = og_event_format(&e, &when, NULL, buf, sizeof(buf));
        fwrite(buf, 1, n, stdout);
        return n ? 0 : 1;
    }
    if (argc == 3 && !strcmp(argv[1], "write")) {
        struct og_event e = hostile();
        printf("errno %d\n", og_event_write(argv[2], &e));
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "burst")) {
        int n = atoi(argv[3]), gate[2], results[2];
        if (pipe(gate) || pipe(results))
            return 2;
        for (int i = 0; i < n; i++) {
            if (fork() == 0) {
                static char arg[900];
                close(gate[1]);
                char byte;
                ssize_t ignored = read(gate[0], &byte, 1); /* EOF: everyone goes at once */
                (void)ignored;
                memset(arg, 'a' + i % 26, sizeof(arg) - 1);
                const char *args[] = {"worker", arg, arg, arg, NULL};
                struct og_event e = hostile();
                e.pid = getpid();
                e.argv = args;
                int err = og_event_write(argv[2], &e);
                ignored = write(results[1], &err, sizeof(err));
                _exit(0);
            }
        }
        close(gate[0]);
        close(gate[1]);
        close(results[1]);
        int first = 0, err;
        while (read(results[0], &err, sizeof(err)) == (ssize_t)sizeof(err))
            if (err && !first)
                first = err;
        while (wait(NULL) > 0)
            ;
        printf("errno %d\n", first);
        return 0;
    }
    fprintf(stderr, "usage: event_log_writer format|huge|write PATH|burst PATH N\n");
    return 2;
}
