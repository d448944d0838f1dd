/*
 * The watcher thread: one per guarded process, named "orphanguard", 64 KiB of
 * stack, every signal blocked (process-directed signals stay the program's).
 *
 * It sleeps in poll() on pidfd_open(parent), which becomes readable when the
 * parent exits: no wake-ups while idle. Where pidfd_open is missing or blocked
 * (old kernel, seccomp) it falls back to comparing getppid() with the parent
 * every poll interval: "parent died" means "parent changed", never
 * getppid() == 1, because orphans go to subreapers and PID 1 can be a real
 * parent.
 *
 * A second descriptor, an eventfd, wakes the thread when unshare()/setns()
 * need the process single-threaded (og_watch_park). Both descriptors are
 * close-on-exec and moved to high numbers so that programs which inspect
 * their low descriptors (test suites checking for leaks) do not see them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "og.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define WATCHER_STACK (64 * 1024)
#define HIGH_FD_FLOOR 256

struct owned_fd {
    int fd;
    dev_t dev;
    ino_t ino;
};

static struct {
    pthread_mutex_t lock;
    bool running;
    pthread_t thread;
    struct og_proc parent;
    bool gone;
    struct owned_fd pidfd;
    struct owned_fd wakefd;
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .pidfd = {-1, 0, 0}, .wakefd = {-1, 0, 0}};

/* ---- descriptors ------------------------------------------------------- */

static int move_high(int fd)
{
    static rlim_t soft_limit;
    struct rlimit limit;
    if (!soft_limit && getrlimit(RLIMIT_NOFILE, &limit) == 0)
        soft_limit = limit.rlim_cur;
    if (soft_limit < HIGH_FD_FLOOR + 64)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD_FLOOR);
    if (high < 0)
        return fd;
    close(fd);
    return high;
}

static struct owned_fd own(int fd)
{
    struct owned_fd owned = {-1, 0, 0};
    struct stat st;
    if (fd < 0)
        return owned;
    fd = move_high(fd);
    if (fstat(fd, &st)) {
        close(fd);
        return owned;
    }
    owned.fd = fd;
    owned.dev = st.st_dev;
    owned.ino = st.st_ino;
    return owned;
}

/* The program may have closed our descriptor (closefrom() in a daemon) and
 * reused the number: touch it only while it is still the file we opened. */
static bool still_ours(const struct owned_fd *owned)
{
    struct stat st;
    return owned->fd >= 0 && fstat(owned->fd, &st) == 0 && st.st_dev == owned->dev &&
           st.st_ino == owned->ino;
}

static void release(struct owned_fd *owned)
{
    if (still_ours(owned))
        close(owned->fd);
    owned->fd = -1;
}

/* ---- the action -------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left) == EINTR)
        ;
}

static void read_comm(char *buf, size_t len)
{
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, buf, len - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (got <= 0) {
        snprintf(buf, len, "?");
        return;
    }
    buf[got] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

static void act(void)
{
    const struct og_config *cfg = og_config();
    bool group = cfg->scope == OG_SCOPE_GROUP;
    pid_t self = getpid();
    pid_t target = group ? -getpgrp() : self;
    char name[24], comm[32];
    og_signal_name(cfg->signal, name, sizeof(name));
    read_comm(comm, sizeof(comm));
    og_log("parent %d exited; sending %s to %s%d (%s)", (int)w.parent.pid, name,
           group ? "process group " : "", group ? (int)getpgrp() : (int)self, comm);
    /* Where PR_SET_PDEATHSIG is armed with our signal (the launcher arms it
     * for its command) the kernel delivered it before the pidfd became
     * readable; a second signal would run the program's handler twice. */
    int armed = 0;
    bool kernel_sent = !group && !w.gone && prctl(PR_GET_PDEATHSIG, &armed, 0, 0, 0) == 0 &&
                       armed == cfg->signal;
    if (!kernel_sent)
        kill(target, cfg->signal);
    if (cfg->signal == SIGKILL)
        return;
    sleep_ms(cfg->grace_ms);
    og_log("%s (%d) still running %ld ms after %s; sending SIGKILL", comm, (int)self, cfg->grace_ms, name);
    kill(target, SIGKILL);
}

/* ---- the thread -------------------------------------------------------- */

/* Waits for the parent to go; false when parked instead. */
static bool wait_for_parent(void)
{
    const struct og_config *cfg = og_config();
    struct pollfd fds[2] = {
        {.fd = w.wakefd.fd, .events = POLLIN},
        {.fd = w.pidfd.fd, .events = POLLIN},
    };
    nfds_t count = w.pidfd.fd >= 0 ? 2 : 1;
    int timeout = w.pidfd.fd >= 0 ? -1 : (int)cfg->poll_ms;
    for (;;) {
        int ready = poll(fds, count, timeout);
        if (ready < 0 && errno != EINTR)
            return true; /* cannot happen with valid descriptors; fail safe */
        if (ready > 0 && fds[0].revents) {
            uint64_t value;
            ssize_t ignored = read(w.wakefd.fd, &value, sizeof(value));
            (void)ignored;
            return false;
        }
        if (count == 2 && ready > 0 && fds[1].revents)
            return true;
        if (count == 1 && getppid() != w.parent.pid)
            return true;
    }
}

static void *watch(void *unused)
{
    (void)unused;
    prctl(PR_SET_NAME, "orphanguard", 0, 0, 0);
    if (w.gone || wait_for_parent())
        act();
    return NULL;
}

static bool spawn_thread(void)
{
    pthread_attr_t attr;
    sigset_t all, old;
    if (pthread_attr_init(&attr))
        return false;
    pthread_attr_setstacksize(&attr, WATCHER_STACK);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&w.thread, &attr, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err) {
        og_debug("cannot start the watcher thread (%s); relying on PR_SET_PDEATHSIG", strerror(err));
        return false;
    }
    w.running = true;
    return true;
}

bool og_watch_start(struct og_proc parent, bool already_gone)
{
    const struct og_config *cfg = og_config();
    pthread_mutex_lock(&w.lock);
    w.parent = parent;
    w.gone = already_gone;
    if (!already_gone && cfg->watch == OG_WATCH_AUTO) {
        int fd = (int)syscall(SYS_pidfd_open, parent.pid, 0);
        if (fd < 0 && errno == ESRCH)
            w.gone = true;
        w.pidfd = own(fd);
        /* The pid may have been reused if the parent died just before
         * pidfd_open: then getppid() no longer names it. */
        if (w.pidfd.fd >= 0 && getppid() != parent.pid)
            w.gone = true;
    }
    w.wakefd = own(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    bool started = w.wakefd.fd >= 0 && spawn_thread();
    if (!started) {
        release(&w.pidfd);
        release(&w.wakefd);
    }
    pthread_mutex_unlock(&w.lock);
    if (started)
        og_debug("watching parent %d via %s", (int)parent.pid, w.pidfd.fd >= 0 ? "pidfd" : "getppid() polling");
    return started;
}

bool og_watch_park(void)
{
    pthread_mutex_lock(&w.lock);
    if (!w.running || !still_ours(&w.wakefd)) {
        pthread_mutex_unlock(&w.lock);
        return false;
    }
    uint64_t one = 1;
    ssize_t ignored = write(w.wakefd.fd, &one, sizeof(one));
    (void)ignored;
    pthread_join(w.thread, NULL);
    w.running = false;
    /* Keep the lock: resume releases it, so no fork or second park can see
     * a half-parked watcher. */
    return true;
}

void og_watch_resume(void)
{
    if (!spawn_thread()) {
        release(&w.pidfd);
        release(&w.wakefd);
    }
    pthread_mutex_unlock(&w.lock);
}

void og_watch_forget_after_fork(void)
{
    /* Only this thread exists now; the parent's lock state is meaningless. */
    pthread_mutex_init(&w.lock, NULL);
    w.running = false;
    release(&w.pidfd);
    release(&w.wakefd);
}
