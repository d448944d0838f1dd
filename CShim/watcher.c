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
 * Its descriptors must not show in the program: test suites list their open
 * descriptors, daemons close them all. So the thread first gives itself an
 * empty descriptor table of its own (close_range with CLOSE_RANGE_UNSHARE,
 * Linux 5.9) and opens everything there; the program's table never holds our
 * descriptors and fork children inherit none. On older kernels the
 * descriptors stay in the shared table, close-on-exec, at numbers >= 256.
 *
 * unshare(), setns() and the setuid family need the process single-threaded
 * (namespace_interpose.c, credentials_interpose.c): og_watch_park() sends
 * the thread PARK_SIGNAL with pthread_kill. The thread keeps it blocked, so it
 * stays pending for that thread alone (a blocked signal is never discarded as
 * ignored) and is read from a signalfd in the same poll().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "include/event_log.h"
#include "og.h"
#include "og_kernel.h"


#define WATCHER_STACK (64 * 1024)
#define HIGH_FD_FLOOR 256
#define PARK_SIGNAL SIGRTMAX
/* After a parent's normal exit, how long an orphan may take to end on its own. */
#define SETTLE_MS 250


/* A descriptor the watcher opened; in the shared table the program may have
 * closed it and reused the number, so it is closed only while it is still
 * the file we opened. */
struct owned_fd {
    int fd;
    dev_t dev;
    ino_t ino;
};

static struct {
    pthread_mutex_t lock;
    bool running;
    pthread_t thread;
    atomic_int tid;
    struct og_proc parent;
    bool from_main; /* forked from the parent's main thread */
    bool gone;
    struct timespec seen; /* CLOCK_MONOTONIC when the parent's death was seen */
    atomic_bool park_requested;
    bool shared_table; /* no private descriptor table on this kernel */
    struct owned_fd pidfd;
    struct owned_fd sigfd;
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .pidfd = {-1, 0, 0}, .sigfd = {-1, 0, 0}};

/* ---- descriptors ------------------------------------------------------- */

/* In the shared table, keep clear of the numbers programs use and inspect. */
static int move_high(int fd)
{
    static rlim_t soft_limit;
    struct rlimit limit;
    if (!soft_limit && getrlimit(RLIMIT_NOFILE, &limit) == 0)
        soft_limit = limit.rlim_cur;
    if (fd < 0 || soft_limit < HIGH_FD_FLOOR + 64)
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
    if (w.shared_table)
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

static bool still_ours(const struct owned_fd *owned)
{
    struct stat st;
    return owned->fd >= 0 && fstat(owned->fd, &st) == 0 && st.st_dev == owned->dev && st.st_ino == owned->ino;
}

static void release(struct owned_fd *owned)
{
    if (still_ours(owned))
        close(owned->fd);
    owned->fd = -1;
}

/* A descriptor poll() reported on. In the shared table the program may have
 * closed it (POLLNVAL) or even reused its number for a file of its own, which
 * says nothing about our parent: the watcher lets go of it and polls
 * getppid() instead. */
static bool lost(struct owned_fd *owned, short revents)
{
    if (!(revents & POLLNVAL) && still_ours(owned))
        return false;
    owned->fd = -1;
    return true;
}

/* In the private table descriptor 2 is not the program's stderr: borrow the
 * program's current one just to report. */
static void borrow_program_stderr(void)
{
    if (w.shared_table)
        return;
    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (self < 0)
        return;
    int err = (int)syscall(SYS_pidfd_getfd, self, STDERR_FILENO, 0);
    close(self);
    if (err >= 0 && err != STDERR_FILENO) {
        dup2(err, STDERR_FILENO);
        close(err);
    }
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

/* The parent's status as waitpid() reports it; -1 if it cannot be known.
 * Until it is reaped its zombie shows it in /proc/PID/stat (field 52); after
 * that a pidfd still holds it (Linux 6.15). */
static int parent_exit_status(void)
{
    char path[40], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)w.parent.pid);
    const char *fields = og_stat_read(path, buf, sizeof(buf));
    unsigned long long start, code;
    /* A zombie keeps its pid (no reuse yet); field 22 is its start time,
     * 52 its exit code. */
    if (fields && fields[0] == 'Z' && og_stat_field(fields, 22, &start) &&
        (w.parent.start == 0 || start == w.parent.start) && og_stat_field(fields, 52, &code))
        return (int)code;
    struct pidfd_exit_info info = {.mask = PIDFD_INFO_EXIT_BIT};
    if (w.pidfd.fd >= 0 && ioctl(w.pidfd.fd, PIDFD_GET_EXIT_INFO, &info) == 0 && (info.mask & PIDFD_INFO_EXIT_BIT))
        return info.exit_code;
    return -1;
}

static void act(int parent_status)
{
    const struct og_config *cfg = og_config();
    if (!cfg->quiet)
        borrow_program_stderr();
    bool group = cfg->scope == OG_SCOPE_GROUP;
    pid_t self = getpid();
    pid_t target = group ? -getpgrp() : self;
    char name[24], comm[32];
    og_signal_name(cfg->signal, name, sizeof(name));
    read_comm(comm, sizeof(comm));
    char state;
    unsigned long long start = 0;
    og_proc_stat(self, &state, &start); /* /proc hidden: 0, which the launcher cannot name either */
    struct og_act record = {self, start, comm, w.parent.pid, parent_status, w.seen};
    /* A parent that exited (rather than being killed) often leaves helpers
     * that end by themselves at EOF on a pipe from it, like Python
     * multiprocessing's resource tracker and forkserver: let them, quietly. */
    if (parent_status >= 0 && WIFEXITED(parent_status)) {
        og_debug("parent %d exited with status %d; acting in %d ms unless this process ends first",
                 (int)w.parent.pid, WEXITSTATUS(parent_status), SETTLE_MS);
        og_record(OG_EVENT_PARENT_GONE, "wait_eof", &record, NULL);
        sleep_ms(SETTLE_MS);
    }
    /* Where the main thread's PR_SET_PDEATHSIG holds our signal (setpriv
     * --pdeathsig, a watch that lost its thread) the kernel sent it before the
     * pidfd became readable; a second one would run the program's handler
     * twice. Already gone when we started: it may have died before that was
     * armed. */
    bool kernel_sent = !group && !w.gone && og_main_thread_pdeathsig() == cfg->signal;
    /* The claim (claim.h) tells the launcher this process has had its signal,
     * from the kernel or from us; held until the process ends. */
    int claim = og_claim_take(self, start);
    bool launcher_sent = claim < 0 && errno == EADDRINUSE;
    if (claim >= 0 && w.shared_table)
        claim = move_high(claim);
    if (kernel_sent || launcher_sent) {
        og_debug("parent %d exited; %s already sent %s to %d (%s): not sending it again", (int)w.parent.pid,
                 kernel_sent ? "the kernel (PR_SET_PDEATHSIG)" : "the launcher", name, (int)self, comm);
        og_record(OG_EVENT_PARENT_GONE, "signal", &record,
                  kernel_sent ? "sent by the kernel (PR_SET_PDEATHSIG)" : "sent by the launcher");
    } else {
        og_log("parent %d exited; sending %s to %s%d (%s)", (int)w.parent.pid, name,
               group ? "process group " : "", group ? (int)getpgrp() : (int)self, comm);
        /* Recorded first: the signal may end this process at once. */
        og_record(OG_EVENT_PARENT_GONE, "signal", &record, group ? "sent by the library to its process group"
                                                                 : "sent by the library");
        kill(target, cfg->signal);
    }
    /* Stopped members of the group would hold the signal until SIGKILL. */
    if (group && cfg->signal != SIGKILL)
        kill(target, SIGCONT);
    if (cfg->signal == SIGKILL)
        return;
    sleep_ms(cfg->grace_ms);
    og_log("%s (%d) still running %ld ms after %s; sending SIGKILL", comm, (int)self, cfg->grace_ms, name);
    og_record(OG_EVENT_SIGKILL, NULL, &record, NULL);
    kill(target, SIGKILL);
}

/* ---- the thread -------------------------------------------------------- */

static void open_descriptors(void)
{
    /* Copies no descriptor: the thread starts with an empty table. */
    w.shared_table = syscall(SYS_close_range, 0U, ~0U, CLOSE_RANGE_UNSHARE) != 0;
    sigset_t park;
    sigemptyset(&park);
    sigaddset(&park, PARK_SIGNAL);
    w.sigfd = own(signalfd(-1, &park, SFD_CLOEXEC | SFD_NONBLOCK));
    if (w.gone || og_config()->watch != OG_WATCH_AUTO)
        return;
    int fd = (int)syscall(SYS_pidfd_open, w.parent.pid, 0);
    if (fd < 0 && errno == ESRCH)
        w.gone = true;
    w.pidfd = own(fd);
    /* The pid may have been reused if the parent died just before
     * pidfd_open: then getppid() no longer names it. */
    if (w.pidfd.fd >= 0 && getppid() != w.parent.pid)
        w.gone = true;
}

/* Waits for the parent to go; false when parked instead. */
static bool wait_for_parent(void)
{
    const struct og_config *cfg = og_config();
    struct pollfd fds[2] = {
        {.fd = w.sigfd.fd, .events = POLLIN},
        {.fd = w.pidfd.fd, .events = POLLIN},
    };
    for (;;) {
        /* Without a pidfd, or without the signalfd that parking needs, look
         * again every poll interval. */
        int timeout = (w.pidfd.fd >= 0 && w.sigfd.fd >= 0) ? -1 : (int)cfg->poll_ms;
        if (atomic_load(&w.park_requested))
            return false;
        int ready = poll(fds, 2, timeout);
        if (ready < 0 && errno != EINTR)
            sleep_ms(cfg->poll_ms); /* cannot happen with our descriptors */
        if (ready > 0 && fds[0].revents && lost(&w.sigfd, fds[0].revents)) {
            fds[0].fd = -1;
            fds[0].revents = 0;
        }
        if (ready > 0 && fds[1].revents && lost(&w.pidfd, fds[1].revents)) {
            fds[1].fd = -1;
            fds[1].revents = 0;
        }
        if (ready > 0 && fds[0].revents) {
            struct signalfd_siginfo info;
            if (atomic_load(&w.park_requested)) {
                ssize_t ignored = read(w.sigfd.fd, &info, sizeof(info));
                (void)ignored;
                return false;
            }
            /* The program's own PARK_SIGNAL, pending for the whole process
             * because every thread blocks it: not ours to take. */
            sleep_ms(cfg->poll_ms);
        }
        if (ready > 0 && fds[1].revents)
            return true;
        if (w.pidfd.fd < 0 && getppid() != w.parent.pid)
            return true;
    }
}

static void *watch(void *unused)
{
    (void)unused;
    atomic_store(&w.tid, (int)syscall(SYS_gettid));
    prctl(PR_SET_NAME, "orphanguard", 0, 0, 0);
    open_descriptors();
    bool parent_gone = w.gone || wait_for_parent();
    if (parent_gone)
        clock_gettime(CLOCK_MONOTONIC, &w.seen);
    int parent_status = parent_gone ? parent_exit_status() : -1;
    release(&w.pidfd);
    release(&w.sigfd);
    if (parent_gone)
        act(parent_status);
    return NULL;
}

/* 0, or why the thread could not be created. */
static int spawn_thread(void)
{
    pthread_attr_t attr;
    sigset_t all, old;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    pthread_attr_setstacksize(&attr, WATCHER_STACK);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_store(&w.park_requested, false);
    atomic_store(&w.tid, 0);
    err = pthread_create(&w.thread, &attr, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err) {
        og_debug("cannot start the watcher thread (%s); relying on PR_SET_PDEATHSIG", strerror(err));
        return err;
    }
    w.running = true;
    return 0;
}

bool og_watch_start(struct og_proc parent, bool from_main, bool already_gone)
{
    pthread_mutex_lock(&w.lock);
    w.parent = parent;
    w.from_main = from_main;
    w.gone = already_gone;
    bool started = spawn_thread() == 0;
    pthread_mutex_unlock(&w.lock);
    if (started)
        og_debug("watching parent %d", (int)parent.pid);
    return started;
}

/* pthread_join returns when the thread clears its tid, a moment before the
 * kernel drops it from the thread group; until then unshare(CLONE_NEWUSER)
 * still sees two threads. Bounded at about 100 ms. */
static void wait_until_thread_released(int tid)
{
    for (int i = 0; tid > 0 && i < 2000; i++) {
        if (syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH)
            return;
        struct timespec pause = {0, 50000};
        nanosleep(&pause, NULL);
    }
}

bool og_watch_park(void)
{
    pthread_mutex_lock(&w.lock);
    if (!w.running) {
        pthread_mutex_unlock(&w.lock);
        return false;
    }
    atomic_store(&w.park_requested, true);
    pthread_kill(w.thread, PARK_SIGNAL);
    pthread_join(w.thread, NULL);
    w.running = false;
    wait_until_thread_released(atomic_load(&w.tid));
    /* Keep the lock: resume releases it, so no second park can see a
     * half-parked watcher. */
    return true;
}

void og_watch_resume(void)
{
    int err = spawn_thread();
    pthread_mutex_unlock(&w.lock);
    /* EINVAL: the process now starts its children in another pid namespace
     * (unshare or setns with CLONE_NEWPID), where the kernel lets it create
     * no more threads. PR_SET_PDEATHSIG takes over where it is safe; with
     * SIGKILL then: such a process waits for that namespace's init, which
     * only SIGKILL ends, and may well block SIGTERM while it waits
     * (util-linux's unshare does), so without a watcher to escalate, the
     * configured signal could leave both running. */
    if (err)
        og_pdeathsig_without_watcher(w.parent, w.from_main, err == EINVAL ? SIGKILL : og_config()->signal);
}

/* A thread's capability sets (tid 0: the caller's); what setuid() and
 * friends succeed or fail by, uids aside, which every thread shares. */
static bool thread_capabilities(int tid, struct __user_cap_data_struct out[2])
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = tid};
    return syscall(SYS_capget, &header, out) == 0;
}

enum og_hold og_watch_hold_for_setxid(void)
{
    pthread_mutex_lock(&w.lock);
    if (!w.running) {
        pthread_mutex_unlock(&w.lock);
        return OG_HOLD_NONE;
    }
    /* Same capabilities, same outcome: the common case costs two capget()
     * calls instead of a thread's stop and start. */
    struct __user_cap_data_struct caller[2], watcher[2];
    int tid = atomic_load(&w.tid);
    if (tid > 0 && thread_capabilities(0, caller) && thread_capabilities(tid, watcher) &&
        !memcmp(caller, watcher, sizeof(caller)))
        return OG_HOLD_SHARED;
    pthread_mutex_unlock(&w.lock);
    return og_watch_park() ? OG_HOLD_PARKED : OG_HOLD_NONE;
}

void og_watch_release(enum og_hold hold)
{
    if (hold == OG_HOLD_SHARED)
        pthread_mutex_unlock(&w.lock);
    else if (hold == OG_HOLD_PARKED)
        og_watch_resume();
}

bool og_watch_running(void)
{
    pthread_mutex_lock(&w.lock);
    bool running = w.running;
    pthread_mutex_unlock(&w.lock);
    return running;
}

int og_watch_tid(void)
{
    return atomic_load(&w.tid);
}

void og_watch_forget_after_fork(void)
{
    /* Only this thread exists now; the parent's lock state is meaningless. */
    pthread_mutex_init(&w.lock, NULL);
    w.running = false;
    /* A private table stayed with the parent's thread (its numbers mean
     * other files here); shared-table descriptors were inherited. */
    if (w.shared_table) {
        release(&w.pidfd);
        release(&w.sigfd);
    }
    w.pidfd.fd = -1;
    w.sigfd.fd = -1;
}
