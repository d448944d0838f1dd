/*
 * Benchmark driver: starts argv with stdout on a pipe, reads `count` "ready <pid>" lines, SIGKILLs
 * the root and prints how many milliseconds passed until every announced process was gone (a
 * zombie counts as gone; a different start time means the pid was reused, also gone). The driver
 * is a child subreaper, so orphans come to it and it reaps them: no dependence on the machine's init.
 *
 *   teardown <count> <timeout-seconds> [--inside] -- argv...
 *
 * --inside: argv runs its tree in a pid namespace of its own (orphanguard run --isolate), whose
 * processes announce the pids they have there; each is looked up outside by the NSpid line of the
 * processes in the namespace of the root's child.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct proc {
    pid_t pid;
    unsigned long long start;
    int gone;
};

static int read_stat(pid_t pid, char *state, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got <= 0)
        return 0;
    buf[got] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    *state = p[2];
    int field = 2;
    for (p += 2; *p && field < 21; p++)
        if (*p == ' ')
            field++;
    *start = strtoull(p, NULL, 10);
    return 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The pid outside of the process that is `inside` in the pid namespace `ns`, or 0. */
static pid_t outside_pid(const char *ns, int inside)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return 0;
    pid_t found = 0;
    struct dirent *entry;
    while (!found && (entry = readdir(dir))) {
        char path[300], link[64], buf[2048];
        snprintf(path, sizeof(path), "/proc/%s/ns/pid", entry->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        if (strcmp(link, ns))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", entry->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(buf, sizeof(buf), f)) {
            if (strncmp(buf, "NSpid:", 6))
                continue;
            char *last = strrchr(buf, '\t');
            if (last && atoi(last + 1) == inside)
                found = atoi(entry->d_name);
        }
        fclose(f);
    }
    closedir(dir);
    return found;
}

/* The pid namespace of root's first child (the namespace's init), as its /proc link reads. */
static int child_namespace(pid_t root, char *ns, size_t len)
{
    char path[64], children[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)root, (int)root);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int child = 0;
    int ok = fgets(children, sizeof(children), f) && (child = atoi(children)) > 0;
    fclose(f);
    if (!ok)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/ns/pid", child);
    ssize_t got = readlink(path, ns, len - 1);
    if (got <= 0)
        return 0;
    ns[got] = '\0';
    return 1;
}

int main(int argc, char **argv)
{
    int inside = argc > 3 && !strcmp(argv[3], "--inside");
    if (inside) {
        argv[3] = argv[2];
        argv[2] = argv[1];
        argv++;
        argc--;
    }
    if (argc < 5 || strcmp(argv[3], "--"))
        return 2;
    int count = atoi(argv[1]);
    double timeout_ms = atof(argv[2]) * 1000;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int fds[2];
    if (pipe(fds))
        return 3;
    pid_t root = fork();
    if (root == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[4], argv + 4);
        _exit(127);
    }
    close(fds[1]);
    struct proc *procs = calloc(count, sizeof(*procs));
    FILE *in = fdopen(fds[0], "r");
    char line[128];
    int n = 0;
    char ns[64] = "";
    while (n < count && fgets(line, sizeof(line), in)) {
        int pid;
        char state;
        if (sscanf(line, "ready %d", &pid) != 1)
            continue;
        if (inside && !ns[0] && !child_namespace(root, ns, sizeof(ns)))
            continue;
        if (inside)
            pid = outside_pid(ns, pid);
        if (pid > 0 && read_stat(pid, &state, &procs[n].start))
            procs[n++].pid = pid;
    }
    if (n < count) {
        fprintf(stderr, "teardown: only %d of %d ready\n", n, count);
        kill(root, SIGKILL);
        return 4;
    }
    double start = now_ms();
    kill(root, SIGKILL);
    int left = count;
    double elapsed = 0;
    struct timespec pause = {0, 100000};
    while (left > 0 && (elapsed = now_ms() - start) < timeout_ms) {
        for (int i = 0; i < count; i++) {
            char state;
            unsigned long long st;
            if (procs[i].gone)
                continue;
            if (!read_stat(procs[i].pid, &state, &st) || state == 'Z' || state == 'X' || st != procs[i].start) {
                procs[i].gone = 1;
                left--;
            }
        }
        if (left > 0)
            nanosleep(&pause, NULL);
    }
    elapsed = now_ms() - start;
    /* Clean up whatever is left and reap everything that came to us. */
    for (int i = 0; i < count; i++)
        if (!procs[i].gone)
            kill(procs[i].pid, SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    printf("%s %.3f\n", left ? "timeout" : "gone", elapsed);
    return left ? 1 : 0;
}
