/*
 * orphanguard run --isolate: the namespace's init is started here, in C, because it is born by a
 * raw clone() with namespace flags (glibc has no fork() that takes them) and such a child may make
 * plain system calls only: glibc's per-thread state still names the process it was cloned from.
 * So the child sets up its namespaces with system calls and then execs the launcher's own file
 * again, which gives the init a fresh image of its own. None of the calls it makes is one a
 * preloaded liborphanguard interposes (its execve is the system call). Errors are returned as
 * errno values, unchanged.
 */
#define _GNU_SOURCE
#include "isolate_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct failure {
    int stage;
    int err;
};

static void _Noreturn child_fail(int report_fd, int stage, int err)
{
    struct failure f = {stage, err};
    ssize_t ignored = write(report_fd, &f, sizeof(f));
    (void)ignored;
    _exit(127);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    size_t len = strlen(text);
    int err = write(fd, text, len) == (ssize_t)len ? 0 : errno;
    close(fd);
    return err;
}

int og_isolate_spawn(const char *exe, char *const argv[], char *const envp[], const sigset_t *child_mask,
                     int user_namespace, int pdeath_signal, int lifeline_read, int lifeline_write,
                     pid_t *pid, int *failed_stage)
{
    /* Formatted before the clone: the child makes system calls only. */
    char uid_map[64], gid_map[64];
    snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
    snprintf(gid_map, sizeof(gid_map), "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *failed_stage = OG_ISOLATE_CLONE;
        return errno;
    }
    unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | (user_namespace ? CLONE_NEWUSER : 0) | SIGCHLD;
    long child = syscall(SYS_clone, flags, 0, 0, 0, 0);
    if (child < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        *failed_stage = OG_ISOLATE_CLONE;
        return err;
    }
    if (child == 0) {
        close(report[0]);
        close(lifeline_write);
        if (user_namespace) {
            /* An unprivileged process may map only its own ids, and its gid only once it has given
             * up setgroups(): the supplementary groups it has stay (the kernel still checks them),
             * shown as the overflow group. */
            int err = write_file("/proc/self/setgroups", "deny");
            if (err && err != ENOENT) /* ENOENT: kernels before 3.19 have no such file */
                child_fail(report[1], OG_ISOLATE_SETGROUPS, err);
            if ((err = write_file("/proc/self/uid_map", uid_map)))
                child_fail(report[1], OG_ISOLATE_UID_MAP, err);
            if ((err = write_file("/proc/self/gid_map", gid_map)))
                child_fail(report[1], OG_ISOLATE_GID_MAP, err);
        }
        /* Nothing we mount may propagate back to the caller's namespace. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            child_fail(report[1], OG_ISOLATE_MOUNT_PRIVATE, errno);
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            child_fail(report[1], OG_ISOLATE_MOUNT_PROC, errno);
        if (prctl(PR_SET_PDEATHSIG, (unsigned long)pdeath_signal, 0, 0, 0) != 0)
            child_fail(report[1], OG_ISOLATE_PDEATHSIG, errno);
        /* The launcher may have died before the signal was armed: its end of the pipe is closed. */
        struct pollfd lifeline = {.fd = lifeline_read, .events = POLLIN};
        if (poll(&lifeline, 1, 0) > 0 && (lifeline.revents & (POLLHUP | POLLERR)))
            _exit(128 + pdeath_signal);
        if (fcntl(lifeline_read, F_SETFD, 0) != 0)
            child_fail(report[1], OG_ISOLATE_EXEC, errno);
        /* Blocked until the init takes it with sigtimedwait: left at its default action, the
         * kernel would drop it for a namespace's init. */
        sigset_t mask = *child_mask;
        sigaddset(&mask, pdeath_signal);
        sigprocmask(SIG_SETMASK, &mask, NULL);
        /* The system call itself: a preloaded library's execve() would rewrite the environment
         * and PR_SET_PDEATHSIG for a child it cannot know about. */
        syscall(SYS_execve, exe, argv, envp);
        child_fail(report[1], OG_ISOLATE_EXEC, errno);
    }
    close(report[1]);
    struct failure f = {0, 0};
    ssize_t got;
    do
        got = read(report[0], &f, sizeof(f));
    while (got < 0 && errno == EINTR);
    close(report[0]);
    *pid = (pid_t)child;
    *failed_stage = 0;
    if (got == (ssize_t)sizeof(f)) {
        while (waitpid((pid_t)child, NULL, 0) < 0 && errno == EINTR)
            ;
        *failed_stage = f.stage;
        return f.err;
    }
    return 0;
}

/* Not SIGRTMAX, with which the library parks its watcher thread. */
int og_isolate_parent_death_signal(void) { return SIGRTMAX - 1; }

int og_isolate_arm_parent_death(int sig)
{
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) == 0 ? 0 : errno;
}

int og_isolate_keep_private(int fd) { return fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 ? 0 : errno; }

int og_isolate_lifeline_cut(int fd)
{
    struct pollfd lifeline = {.fd = fd, .events = POLLIN};
    int ready;
    do
        ready = poll(&lifeline, 1, 0);
    while (ready < 0 && errno == EINTR);
    return ready > 0 && (lifeline.revents & (POLLHUP | POLLERR)) ? 1 : 0;
}

/* The init's last act: when the grace period after the launcher's death is over, it exits and the
 * kernel kills whatever is left in the namespace. A handler, because the kernel drops every signal
 * an init has left at its default action. */
static void deadline_reached(int sig)
{
    (void)sig;
    _exit(128 + SIGKILL);
}

int og_isolate_arm_deadline(long milliseconds)
{
    int sig = SIGRTMAX - 2;
    struct sigaction action = {.sa_handler = deadline_reached};
    sigemptyset(&action.sa_mask);
    if (sigaction(sig, &action, NULL) != 0)
        return errno;
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, sig);
    if (sigprocmask(SIG_UNBLOCK, &unblock, NULL) != 0)
        return errno;
    if (milliseconds <= 0)
        _exit(128 + SIGKILL);
    struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig};
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0)
        return errno;
    struct itimerspec when = {.it_value = {milliseconds / 1000, (milliseconds % 1000) * 1000000}};
    return timer_settime(timer, 0, &when, NULL) == 0 ? 0 : errno;
}

int og_isolate_lifeline(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

int og_seccomp_mode(void)
{
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
}
