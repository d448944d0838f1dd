/*
 * Test fixture: a parent that creates one child by a chosen birth method, then
 * waits. Every process prints "ready <role> <pid>" on stdout when it is in
 * place, so a test knows the pids before it kills the parent.
 *
 *   tree leaf [ignore-term|print-env]   the child: announce, then wait
 *   tree <method> [static-leaf-path]    the parent, method one of the names below;
 *                                       SIGUSR2 makes it exit normally
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static char self[4096];

static void announce(const char *role)
{
    printf("ready %s %d\n", role, (int)getpid());
    fflush(stdout);
}

static void wait_forever(void)
{
    for (;;)
        pause();
}

static int leaf(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[2], "ignore-term"))
        signal(SIGTERM, SIG_IGN);
    if (argc > 2 && !strcmp(argv[2], "print-env"))
        for (char **e = environ; *e; e++)
            printf("env %s\n", *e);
    announce("leaf");
    wait_forever();
    return 0;
}

static char *leaf_argv[] = {"tree", "leaf", NULL, NULL};

static void *spawn_from_thread(void *unused)
{
    (void)unused;
    pid_t pid;
    posix_spawn(&pid, self, NULL, NULL, leaf_argv, environ);
    return NULL;
}

/* SIGUSR2 asks the parent to exit normally (atexit handlers, stdio flush, status 0). */
static void exit_normally(int sig)
{
    (void)sig;
    exit(0);
}

static int parent(const char *method, const char *static_leaf)
{
    signal(SIGUSR2, exit_normally);
    char command[4200];
    snprintf(command, sizeof(command), "exec '%s' leaf", self);
    pid_t pid;
    if (!strcmp(method, "fork")) {
        if (fork() == 0) {
            announce("child");
            wait_forever();
        }
    } else if (!strcmp(method, "fork-exec")) {
        if (fork() == 0)
            execv(self, leaf_argv);
    } else if (!strcmp(method, "fork-exec-stubborn")) {
        char *stubborn[] = {"tree", "leaf", "ignore-term", NULL};
        if (fork() == 0)
            execv(self, stubborn);
    } else if (!strcmp(method, "fork-exec-print-env")) {
        char *printing[] = {"tree", "leaf", "print-env", NULL};
        if (fork() == 0)
            execv(self, printing);
    } else if (!strcmp(method, "vfork-exec")) {
        if (vfork() == 0) {
            execv(self, leaf_argv);
            _exit(127);
        }
    } else if (!strcmp(method, "posix_spawn")) {
        posix_spawn(&pid, self, NULL, NULL, leaf_argv, environ);
    } else if (!strcmp(method, "posix_spawnp-empty-env")) {
        char *empty[] = {NULL};
        posix_spawnp(&pid, self, NULL, NULL, leaf_argv, empty);
    } else if (!strcmp(method, "execle-empty-env")) {
        if (fork() == 0) {
            char *empty[] = {NULL};
            execle(self, "tree", "leaf", (char *)NULL, empty);
        }
    } else if (!strcmp(method, "execvpe-explicit-env")) {
        if (fork() == 0) {
            char *env[] = {"FIXTURE=1", NULL};
            execvpe(self, leaf_argv, env);
        }
    } else if (!strcmp(method, "execl")) {
        if (fork() == 0)
            execl(self, "tree", "leaf", (char *)NULL);
    } else if (!strcmp(method, "execlp")) {
        if (fork() == 0)
            execlp(self, "tree", "leaf", (char *)NULL);
    } else if (!strcmp(method, "setsid")) {
        if (fork() == 0) {
            setsid();
            execv(self, leaf_argv);
        }
    } else if (!strcmp(method, "static")) {
        if (fork() == 0)
            execl(static_leaf, "static-leaf", (char *)NULL);
    } else if (!strcmp(method, "thread-spawn")) {
        pthread_t thread;
        pthread_create(&thread, NULL, spawn_from_thread, NULL);
        pthread_join(thread, NULL); /* the spawning thread is gone from here on */
    } else if (!strcmp(method, "system") || !strcmp(method, "system-unset-preload")) {
        if (!strcmp(method, "system-unset-preload"))
            unsetenv("LD_PRELOAD");
        announce("parent");
        system(command); /* blocks while the leaf lives */
        wait_forever();
    } else if (!strcmp(method, "popen") || !strcmp(method, "popen-unset-preload")) {
        if (!strcmp(method, "popen-unset-preload"))
            unsetenv("LD_PRELOAD");
        FILE *stream = popen(command, "r");
        char line[256];
        /* The leaf's stdout is our pipe: pass its ready line on. */
        if (stream && fgets(line, sizeof(line), stream)) {
            fputs(line, stdout);
            fflush(stdout);
        }
    } else {
        fprintf(stderr, "tree: unknown method %s\n", method);
        return 2;
    }
    announce("parent");
    wait_forever();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "leaf"))
        return leaf(argc, argv);
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0)
        self[len] = '\0';
    else if (argv[0][0] == '/' && strlen(argv[0]) < sizeof(self))
        strcpy(self, argv[0]); /* /proc hidden: tests start us by absolute path */
    else
        return 3;
    return parent(argv[1], argc > 2 ? argv[2] : "");
}
