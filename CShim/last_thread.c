/*
 * The program's last thread. glibc ends a process with exit(0) when its last
 * thread ends, and it counts our watcher as one: a program whose main thread
 * leaves with pthread_exit() while workers finish (or a fork child whose only
 * thread, copied from a worker, returns from its start routine) would live on
 * as the watcher alone. The watcher cannot make that exit(0) itself: its
 * descriptor table is its own, and the program's (with stdout, whose
 * buffered output exit() flushes) is closed with the last program thread.
 *
 * So the main thread carries a thread-specific value whose destructor glibc
 * runs when that thread ends without ending the process (exit() runs no such
 * destructors). It starts a stand-in thread that shares the program's table,
 * looks for other threads, backing off from 1 ms to the poll interval, and
 * once only it and the watcher are left makes the exit(0) glibc would have.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "og.h"

static pthread_key_t main_thread_key;
static bool key_created;

/* The state letter of one of our threads; 0 if it is gone. */
static char thread_state(const char *tid)
{
    char path[300], buf[512];
    snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
    const char *fields = og_stat_read(path, buf, sizeof(buf));
    return fields ? fields[0] : 0;
}

/* Does a thread other than `self` and the watcher still run? A main thread
 * that has left stays a zombie until the process ends. Unknown: yes. */
static bool program_threads_left(pid_t self)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return true;
    pid_t watcher = og_watch_tid();
    bool left = false;
    struct dirent *entry;
    while (!left && (entry = readdir(dir)) != NULL) {
        pid_t tid = (pid_t)atoi(entry->d_name);
        if (tid <= 0 || tid == self || tid == watcher)
            continue;
        char state = thread_state(entry->d_name);
        left = state != 0 && state != 'Z' && state != 'X';
    }
    closedir(dir);
    return left;
}

static void *stand_in(void *unused)
{
    (void)unused;
    prctl(PR_SET_NAME, "orphanguard", 0, 0, 0);
    pid_t self = (pid_t)syscall(SYS_gettid);
    long wait_ms = 1;
    while (program_threads_left(self)) {
        struct timespec pause = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
        if (wait_ms < og_config()->poll_ms)
            wait_ms = wait_ms * 2 < og_config()->poll_ms ? wait_ms * 2 : og_config()->poll_ms;
    }
    og_debug("the program's last thread has ended; exiting as glibc would");
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    exit(0);
}

/* Runs in the main thread as it ends without ending the process. */
static void main_thread_ending(void *unused)
{
    (void)unused;
    if (!og_watch_running())
        return; /* no watcher: glibc counts right */
    pthread_attr_t attr;
    if (pthread_attr_init(&attr))
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    pthread_create(&thread, &attr, stand_in, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

void og_mark_main_thread(void)
{
    if (!key_created)
        key_created = pthread_key_create(&main_thread_key, main_thread_ending) == 0;
    if (key_created)
        pthread_setspecific(main_thread_key, &main_thread_key);
}
