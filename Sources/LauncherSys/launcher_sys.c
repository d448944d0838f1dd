/*
 * The launcher's C helpers: only what Swift cannot do (a vfork child that may make
 * async-signal-safe calls only, variadic prctl, macros and unions). Errors are returned
 * as errno values, unchanged.
 */
#define _GNU_SOURCE
#include "launcher_sys.h"
#include "../../CShim/claim.h"
#include "../../CShim/include/og_core.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Stores the errno for the parent (the child shares its memory until the exec) and leaves. */
static void _Noreturn child_fail(volatile int *result, int err)
{
    *result = err;
    _exit(127);
}

int og_launcher_spawn(const char *file, char *const argv[], char *const envp[], const sigset_t *child_mask,
                      int pdeath_signal, int new_group, char *hint, size_t hint_len, pid_t *pid, int *exec_errno)
{
    struct og_proc launcher = {getpid(), 0};
    char state;
    if (hint && !og_proc_stat(launcher.pid, &state, &launcher.start))
        launcher.start = 0; /* /proc hidden: the hint then names the pid alone */
    /* vfork, not fork: the launcher is a large static executable, and fork copied its page tables
     * only for the child to throw them away at the exec, then made the launcher fault in a copy of
     * each page it wrote next. The child borrows the launcher's memory and stack until it execs or
     * exits, while the launcher waits: it writes nothing but `result` and the hint (ours, in envp),
     * and runs no signal handler, as every signal stays blocked until the exec's own mask is set
     * (the launcher installs no handler anyway: it takes signals with sigwaitinfo). */
    volatile int result = 0;
    sigset_t all, saved;
    sigfillset(&all);
    int err = pthread_sigmask(SIG_SETMASK, &all, &saved);
    if (err != 0)
        return err;
    pid_t child = vfork();
    if (child == 0) {
        if (new_group && setpgid(0, 0) != 0)
            child_fail(&result, errno);
        if (pdeath_signal > 0 && prctl(PR_SET_PDEATHSIG, (unsigned long)pdeath_signal, 0, 0, 0) != 0)
            child_fail(&result, errno);
        /* The launcher may have died before the signal was armed. */
        if (getppid() != launcher.pid)
            _exit(128 + pdeath_signal);
        if (hint)
            og_parent_hint_format(hint, hint_len, launcher, true, pdeath_signal, getpid());
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        execvpe(file, argv, envp);
        child_fail(&result, errno);
    }
    err = child < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (err != 0)
        return err;
    /* Here the child has exec'd (result 0) or left (result: the errno of the step that failed). */
    *pid = child;
    *exec_errno = result;
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
