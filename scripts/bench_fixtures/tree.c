/*
 * Benchmark fixture: process trees whose processes apply one orphan technique each.
 *
 *   tree <technique> agent <static-child>   torchrun-shaped: agent -> 4 ranks (own sessions) ->
 *                                           2 fork-only workers + 1 static child each
 *   tree <technique> wide <fanout...>       fork-only tree, e.g. "wide 10 10 9" = 1010 processes
 *   tree <technique> rank <static-child>    (internal)
 *
 * technique: none (orphanguard or nothing), ideal (every process calls
 * prctl(PR_SET_PDEATHSIG, SIGKILL) itself), seed (every process polls getppid() every 2 s).
 * Every process prints "ready <pid>" once in place.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *technique;
static pid_t parent;

static void adopt_technique(void)
{
    parent = getppid();
    if (!strcmp(technique, "ideal")) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
    }
}

static void announce_and_wait(void)
{
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    if (!strcmp(technique, "seed")) {
        for (;;) {
            sleep(2);
            if (getppid() != parent)
                _exit(0);
        }
    }
    for (;;)
        pause();
}

static pid_t fork_child(void)
{
    pid_t pid = fork();
    if (pid == 0)
        adopt_technique();
    return pid;
}

static void wide(int depth, char **fanouts, int levels)
{
    if (depth < levels) {
        int count = atoi(fanouts[depth]);
        for (int i = 0; i < count; i++)
            if (fork_child() == 0) {
                wide(depth + 1, fanouts, levels);
                return;
            }
    }
    announce_and_wait();
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    technique = argv[1];
    adopt_technique();
    const char *mode = argv[2];
    if (!strcmp(mode, "agent")) {
        for (int i = 0; i < 4; i++)
            if (fork() == 0) {
                setsid();
                execl("/proc/self/exe", "tree", technique, "rank", argv[3], (char *)NULL);
                _exit(127);
            }
    } else if (!strcmp(mode, "rank")) {
        for (int i = 0; i < 2; i++)
            if (fork_child() == 0)
                announce_and_wait();
        if (fork() == 0) {
            execl(argv[3], "static-child", technique, (char *)NULL);
            _exit(127);
        }
    } else if (!strcmp(mode, "wide")) {
        wide(0, argv + 3, argc - 3);
        return 0;
    }
    announce_and_wait();
    return 0;
}
