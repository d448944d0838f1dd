/*
 * Probes for `orphanguard doctor`. Each asks the kernel the question the library or the launcher
 * will ask in earnest; where asking changes the caller (a descriptor table, the subreaper flag, a
 * namespace), a forked child asks and reports its errno as its exit status. Errors are returned as
 * errno values, unchanged.
 */
#define _GNU_SOURCE
#include "doctor_sys.h"
#include "../../CShim/og_kernel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>



#define TRIAL_EXIT_STATUS 7
#define WATCHER_WAIT_MS 2000

static long long now_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pause_micros(long micros)
{
    struct timespec ts = {0, micros * 1000};
    nanosleep(&ts, NULL);
}

static int reap(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* The errno a forked child's probe reported through its exit status. */
static int errno_of_child(pid_t child)
{
    int status = 0;
    if (child < 0)
        return errno;
    int err = reap(child, &status);
    if (err)
        return err;
    return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

int og_doctor_pidfd_open(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

int og_doctor_pidfd_exit_info(int *has_exit_status)
{
    *has_exit_status = 0;
    int gate[2];
    if (pipe2(gate, O_CLOEXEC))
        return errno;
    pid_t child = fork();
    if (child < 0) {
        int err = errno;
        close(gate[0]);
        close(gate[1]);
        return err;
    }
    if (child == 0) {
        /* Exits only once the pidfd is open, so the pid cannot have been reused. */
        char byte;
        close(gate[1]);
        while (read(gate[0], &byte, 1) < 0 && errno == EINTR)
            ;
        _exit(TRIAL_EXIT_STATUS);
    }
    close(gate[0]);
    int fd = (int)syscall(SYS_pidfd_open, child, 0);
    int err = fd < 0 ? errno : 0;
    close(gate[1]);
    int status;
    reap(child, &status);
    if (err)
        return err;
    struct pidfd_exit_info info = {.mask = PIDFD_INFO_EXIT_BIT};
    if (ioctl(fd, PIDFD_GET_EXIT_INFO, &info) != 0) {
        err = errno;
        close(fd);
        return err;
    }
    close(fd);
    *has_exit_status = (info.mask & PIDFD_INFO_EXIT_BIT) && WIFEXITED(info.exit_code) &&
                       WEXITSTATUS(info.exit_code) == TRIAL_EXIT_STATUS;
    return 0;
}

int og_doctor_close_range_unshare(void)
{
    pid_t child = fork();
    if (child == 0)
        /* An empty range: only the unsharing is asked for. */
        _exit(syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_UNSHARE) == 0 ? 0 : errno);
    return errno_of_child(child);
}

int og_doctor_subreaper(void)
{
    pid_t child = fork();
    if (child == 0)
        _exit(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno);
    return errno_of_child(child);
}

int og_doctor_user_namespace(void)
{
    pid_t child = fork();
    if (child == 0)
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
    return errno_of_child(child);
}

int og_doctor_pid_namespace(void)
{
    pid_t child = fork();
    if (child == 0) {
        if (unshare(CLONE_NEWPID) == 0)
            _exit(0);
        _exit(errno == EPERM && unshare(CLONE_NEWUSER | CLONE_NEWPID) == 0 ? 0 : errno);
    }
    return errno_of_child(child);
}

int og_doctor_is_procfs(const char *path)
{
    struct statfs info;
    if (statfs(path, &info) != 0)
        return -errno;
    return info.f_type == PROC_SUPER_MAGIC;
}

const char *og_doctor_glibc_version(void)
{
    return gnu_get_libc_version();
}

/* ---- the end-to-end trial --------------------------------------------------- */

/* Does /proc show a thread named "orphanguard" in pid? */
static int has_watcher_thread(pid_t pid)
{
    char path[64], comm[32];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    int found = 0;
    struct dirent *entry;
    while (!found && (entry = readdir(dir))) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm", (int)pid, entry->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, comm, sizeof(comm) - 1) : -1;
        if (fd >= 0)
            close(fd);
        found = got > 0 && !strncmp(comm, "orphanguard\n", (size_t)got);
    }
    closedir(dir);
    return found;
}

static int proc_visible(pid_t pid)
{
    char path[32];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    return access(path, F_OK) == 0;
}

/* Has the (re-parented) child ended? Reaps it when we are its subreaper. */
static int child_ended(pid_t child, int subreaper, int pidfd, int *end_signal)
{
    if (subreaper) {
        int status;
        pid_t got = waitpid(child, &status, WNOHANG);
        if (got == child && WIFSIGNALED(status))
            *end_signal = WTERMSIG(status);
        return got == child || (got < 0 && errno == ECHILD);
    }
    if (pidfd >= 0) {
        struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
        return poll(&pfd, 1, 0) > 0;
    }
    return kill(child, 0) != 0 && errno == ESRCH;
}

/* Reads until the child's "ready" line (its constructor has run by then) or EOF; bounded. */
static void wait_ready(int fd)
{
    char buf[64];
    long long start = now_micros();
    for (;;) {
        long long left_ms = WATCHER_WAIT_MS - (now_micros() - start) / 1000;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) == 0)
            return;
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got == 0 || (got < 0 && errno != EINTR) || (got > 0 && memchr(buf, '\n', (size_t)got)))
            return;
    }
}

/* In a forked harness: be a subreaper (so the child comes back to us and can be reaped with its
 * signal), start parent -> child, kill the parent, time the child's end. The child is a shell that
 * says "ready" once the library's constructor has recorded its parent, then execs sleep: killed
 * earlier, the parent would be gone before the child could know it had one. */
static _Noreturn void run_trial(char *const *envp, int deadline_ms, int stderr_fd, int report_fd)
{
    struct og_doctor_trial r;
    memset(&r, 0, sizeof(r));
    int subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
    int ready[2], said[2];
    if (pipe2(ready, O_CLOEXEC) || pipe2(said, O_CLOEXEC))
        _exit(errno);
    pid_t parent = fork();
    if (parent < 0)
        _exit(errno);
    if (parent == 0) {
        pid_t child = fork();
        if (child == 0) {
            char *argv[] = {"sh", "-c", "echo ready; exec sleep 30", NULL};
            dup2(said[1], STDOUT_FILENO);
            dup2(stderr_fd, STDERR_FILENO);
            execve("/bin/sh", argv, envp);
            _exit(127);
        }
        close(said[1]); /* the child's crash must read as EOF */
        ssize_t ignored = write(ready[1], &child, sizeof(child));
        (void)ignored;
        for (;;)
            pause();
    }
    close(ready[1]);
    close(said[1]);
    pid_t child = -1;
    if (read(ready[0], &child, sizeof(child)) != (ssize_t)sizeof(child)) {
        kill(parent, SIGKILL);
        _exit(EIO);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    wait_ready(said[0]);
    /* Where /proc shows threads, wait for the watcher too (it starts right after the constructor). */
    for (long long start = now_micros(); proc_visible(child) && now_micros() - start < WATCHER_WAIT_MS * 1000LL;) {
        struct pollfd exited = {.fd = pidfd, .events = POLLIN};
        if ((r.watcher_seen = has_watcher_thread(child)) || (pidfd >= 0 && poll(&exited, 1, 0) > 0))
            break;
        pause_micros(500);
    }
    long long killed = now_micros();
    kill(parent, SIGKILL);
    int status;
    reap(parent, &status);
    while (now_micros() - killed < deadline_ms * 1000LL) {
        if (child_ended(child, subreaper, pidfd, &r.end_signal)) {
            r.ended = 1;
            break;
        }
        pause_micros(100);
    }
    r.micros = now_micros() - killed;
    if (!r.ended) {
        kill(child, SIGKILL);
        if (subreaper)
            reap(child, &status);
    }
    ssize_t ignored = write(report_fd, &r, sizeof(r));
    (void)ignored;
    _exit(0);
}

int og_doctor_trial(char *const *envp, int deadline_ms, struct og_doctor_trial *result)
{
    memset(result, 0, sizeof(*result));
    int report[2], err_pipe[2];
    if (pipe2(report, O_CLOEXEC))
        return errno;
    if (pipe2(err_pipe, O_CLOEXEC)) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return err;
    }
    pid_t harness = fork();
    if (harness == 0) {
        close(report[0]);
        close(err_pipe[0]);
        run_trial(envp, deadline_ms, err_pipe[1], report[1]);
    }
    int err = harness < 0 ? errno : 0;
    close(report[1]);
    close(err_pipe[1]);
    if (!err) {
        ssize_t got;
        do
            got = read(report[0], result, sizeof(*result));
        while (got < 0 && errno == EINTR);
        size_t used = 0;
        char chunk[256];
        /* EOF once the child is gone: every other holder of the pipe has exited. */
        while ((got = read(err_pipe[0], chunk, sizeof(chunk))) != 0) {
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                break;
            size_t room = sizeof(result->stderr_text) - 1 - used;
            size_t take = (size_t)got < room ? (size_t)got : room;
            memcpy(result->stderr_text + used, chunk, take);
            used += take;
        }
        result->stderr_text[used] = '\0';
        int status = 0;
        err = reap(harness, &status);
        if (!err && WIFEXITED(status) && WEXITSTATUS(status))
            err = WEXITSTATUS(status);
    }
    close(report[0]);
    close(err_pipe[0]);
    return err;
}
