/*
 * Sanitizer driver: the library's sources linked into this program (ThreadSanitizer cannot be
 * preloaded), so its constructor, atfork handler, watcher thread and parking run under the
 * sanitizer. It exercises what races could break:
 *   - four threads calling unshare(CLONE_SIGHAND) (which parks and restarts the watcher; the
 *     kernel refuses it to a multi-threaded process, EINVAL) and setresuid(-1, -1, -1) (which
 *     holds it running) at once;
 *   - fork children (watchers re-armed in the atfork handler) that fork grandchildren, then die,
 *     so the grandchildren's watchers act (SIGTERM, then SIGKILL after the grace period);
 *   - fork from a non-main thread while another thread parks the watcher;
 *   - a child whose main thread leaves with pthread_exit() while a worker
 *     finishes: it must still end, with status 0 (last_thread.c).
 * Exits 0 when every grandchild ended as expected; the sanitizer exits non-zero on a report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

static void *park_repeatedly(void *unused)
{
    (void)unused;
    for (int i = 0; i < 50; i++) {
        if (unshare(CLONE_SIGHAND) != 0 && errno != EINVAL)
            abort();
        if (setresuid((uid_t)-1, (uid_t)-1, (uid_t)-1) != 0)
            abort();
    }
    return NULL;
}

/* A child that forks a grandchild and dies; reports the grandchild's pid through `fd`. */
static pid_t orphan_a_grandchild(int fd)
{
    pid_t child = fork();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            for (;;)
                pause();
        }
        ssize_t ignored = write(fd, &grandchild, sizeof(grandchild));
        (void)ignored;
        struct timespec settle = {0, 20000000};
        nanosleep(&settle, NULL);
        _exit(0);
    }
    return child;
}

static void *fork_from_thread(void *arg)
{
    int fd = *(int *)arg;
    pid_t child = orphan_a_grandchild(fd);
    waitpid(child, NULL, 0);
    return NULL;
}

static int gone_within(pid_t pid, int ms)
{
    for (int i = 0; i < ms; i++) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return 1;
        /* Our own grandchildren are re-parented to init or a subreaper; a zombie still answers. */
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            char buf[512];
            size_t got = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[got] = '\0';
            char *p = strrchr(buf, ')');
            if (p && p[2] == 'Z')
                return 1;
        }
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    return 0;
}

static void *finish_later(void *unused)
{
    (void)unused;
    struct timespec moment = {0, 20000000};
    nanosleep(&moment, NULL);
    return NULL;
}

/* 1 if a child whose main thread calls pthread_exit() ends with status 0. */
static int ends_with_last_thread(void)
{
    pid_t child = fork();
    if (child == 0) {
        pthread_t worker;
        pthread_create(&worker, NULL, finish_later, NULL);
        pthread_exit(NULL);
    }
    for (int i = 0; i < 5000; i++) {
        int status;
        if (waitpid(child, &status, WNOHANG) == child)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    kill(child, SIGKILL);
    return 0;
}

int main(void)
{
    pthread_t parkers[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&parkers[i], NULL, park_repeatedly, NULL);

    int fds[2];
    if (pipe(fds))
        return 2;
    pthread_t forker;
    pthread_create(&forker, NULL, fork_from_thread, &fds[1]);
    pid_t children[4];
    for (int i = 0; i < 4; i++)
        children[i] = orphan_a_grandchild(fds[1]);
    for (int i = 0; i < 4; i++)
        pthread_join(parkers[i], NULL);
    pthread_join(forker, NULL);
    for (int i = 0; i < 4; i++)
        waitpid(children[i], NULL, 0);

    int failures = 0;
    for (int i = 0; i < 5; i++) {
        pid_t grandchild;
        if (read(fds[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
            return 3;
        if (!gone_within(grandchild, 5000)) {
            fprintf(stderr, "grandchild %d outlived its parent\n", (int)grandchild);
            kill(grandchild, SIGKILL);
            failures++;
        }
    }
    if (!ends_with_last_thread()) {
        fprintf(stderr, "a child whose main thread left did not end with its last thread\n");
        failures++;
    }
    printf("sanitize driver: 5 orphaned grandchildren ended, 200 parks, 200 setresuid, "
           "a main thread's pthread_exit, %d failures\n", failures);
    return failures ? 1 : 0;
}
