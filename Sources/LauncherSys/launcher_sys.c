/*
 * The launcher's C helpers: only what Swift cannot do (a fork child that may make
 * async-signal-safe calls only, variadic prctl, macros and unions). Errors are returned
 * as errno values, unchanged.
 */
#define _GNU_SOURCE
#include "launcher_sys.h"
#include "../../CShim/claim.h"
#include "../../CShim/include/og_core.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Writes the exec errno for the parent and leaves; only async-signal-safe calls. */
static void _Noreturn child_fail(int pipe_fd, int err)
{
    ssize_t ignored = write(pipe_fd, &err, sizeof(err));
    (void)ignored;
    _exit(127);
}

int og_launcher_spawn(const char *file, char *const argv[], char *const envp[], const sigset_t *child_mask,
                      int pdeath_signal, int new_group, char *hint, size_t hint_len, pid_t *pid, int *exec_errno)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return errno;
    struct og_proc launcher = {getpid(), 0};
    char state;
    if (hint && !og_proc_stat(launcher.pid, &state, &launcher.start))
        launcher.start = 0; /* /proc hidden: the hint then names the pid alone */
    pid_t child = fork();
    if (child < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return err;
    }
    if (child == 0) {
        close(fds[0]);
        if (new_group && setpgid(0, 0) != 0)
            child_fail(fds[1], errno);
        if (pdeath_signal > 0 && prctl(PR_SET_PDEATHSIG, (unsigned long)pdeath_signal, 0, 0, 0) != 0)
            child_fail(fds[1], errno);
        /* The launcher may have died before the signal was armed. */
        if (getppid() != launcher.pid)
            _exit(128 + pdeath_signal);
        if (hint)
            og_parent_hint_format(hint, hint_len, launcher, true, pdeath_signal, getpid());
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        execvpe(file, argv, envp);
        child_fail(fds[1], errno);
    }
    close(fds[1]);
    int err = 0;
    ssize_t got;
    do
        got = read(fds[0], &err, sizeof(err));
    while (got < 0 && errno == EINTR);
    close(fds[0]);
    *pid = child;
    *exec_errno = got == (ssize_t)sizeof(err) ? err : 0;
    if (*exec_errno) {
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    return 0;
}

int og_launcher_claim(pid_t pid, unsigned long long start)
{
    int fd = og_claim_take(pid, start);
    return fd >= 0 ? fd : -errno;
}

int og_launcher_raise_descriptor_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return errno;
    if (limit.rlim_cur == limit.rlim_max)
        return 0;
    limit.rlim_cur = limit.rlim_max;
    return setrlimit(RLIMIT_NOFILE, &limit) == 0 ? 0 : errno;
}

int og_launcher_become_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno;
}

int og_siginfo_code(const siginfo_t *info) { return info->si_code; }

int og_wait_exited(int status) { return WIFEXITED(status); }
int og_wait_exit_status(int status) { return WEXITSTATUS(status); }
int og_wait_signaled(int status) { return WIFSIGNALED(status); }
int og_wait_term_signal(int status) { return WTERMSIG(status); }

pid_t og_launcher_peek_exited(void)
{
    siginfo_t info = {0};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
        return -errno;
    return info.si_pid;
}
