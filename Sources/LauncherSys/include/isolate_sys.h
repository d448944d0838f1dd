#ifndef ISOLATE_SYS_H
#define ISOLATE_SYS_H

#include <signal.h>
#include <sys/types.h>

/// Where og_isolate_spawn failed.
enum {
    OG_ISOLATE_CLONE = 1,
    OG_ISOLATE_SETGROUPS,
    OG_ISOLATE_UID_MAP,
    OG_ISOLATE_GID_MAP,
    OG_ISOLATE_MOUNT_PRIVATE,
    OG_ISOLATE_MOUNT_PROC,
    OG_ISOLATE_PDEATHSIG,
    OG_ISOLATE_EXEC,
};

/// Starts `exe` (the launcher's own file again) as the init of a new pid namespace
/// with a private mount namespace and a fresh /proc; with `user_namespace`, also in a new user
/// namespace that maps the caller's effective uid and gid to themselves. C because the child of a
/// raw clone() may make plain system calls only (see isolate_sys.c).
///
/// In the child, before exec: PR_SET_PDEATHSIG is armed with `pdeath_signal` (then `lifeline_read`
/// is checked: its write end, `lifeline_write`, which the child closes, is held by the caller only),
/// `lifeline_read` is kept open across the exec, and the signal mask becomes `child_mask` plus
/// `pdeath_signal` (pending, not dropped, until the init takes it). Returns
/// 0 with *pid set once the exec succeeded; else the errno and *failed_stage (OG_ISOLATE_*), the
/// child already reaped.
int og_isolate_spawn(const char *_Nonnull exe, char *_Nullable const argv[_Nonnull],
                     char *_Nullable const envp[_Nonnull], const sigset_t *_Nonnull child_mask,
                     int user_namespace, int pdeath_signal, int lifeline_read, int lifeline_write,
                     pid_t *_Nonnull pid, int *_Nonnull failed_stage);

/// The signal the init gets when the launcher outside dies (SIGRTMAX-1; SIGRTMAX is a function-like macro Swift cannot call).
int og_isolate_parent_death_signal(void);

/// prctl(PR_SET_PDEATHSIG, sig) (prctl is variadic). Returns 0 or errno.
int og_isolate_arm_parent_death(int sig);

/// Marks `fd` close-on-exec again (the lifeline, so CMD does not inherit it). Returns 0 or errno.
int og_isolate_keep_private(int fd);

/// 1 if the other end of the pipe `fd` is closed (the launcher holding it is gone), else 0.
int og_isolate_lifeline_cut(int fd);

/// Makes the process _exit in `milliseconds` from a signal handler (a timer's SIGRTMAX-2). Returns 0
/// or errno.
int og_isolate_arm_deadline(long milliseconds);

/// pipe2(O_CLOEXEC). Returns 0 or errno.
int og_isolate_lifeline(int fds[_Nonnull 2]);

/// prctl(PR_GET_SECCOMP): 0 none, 2 a filter, -1 unknown.
int og_seccomp_mode(void);

#endif
