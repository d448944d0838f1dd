#ifndef LAUNCHER_SYS_H
#define LAUNCHER_SYS_H

#include <signal.h>
#include <sys/types.h>

/// Starts `file` (searched in PATH) with `argv` and `envp`: C because the child between fork and
/// exec may only make async-signal-safe calls, which Swift cannot promise.
///
/// In the child, before exec: the signal mask becomes `child_mask`, every signal in `reset` gets its
/// default action, the child gets its own process group if `new_group`, and PR_SET_PDEATHSIG is armed
/// with `pdeath_signal` (then the launcher is checked to be still there) and the child's pid is written
/// at `armed_in` (if not NULL: the end of envp's ORPHANGUARD_PARENT entry, room for 10 digits), so
/// that the library there knows exec armed it in that process. Returns 0 with *pid set, or
/// the errno of fork. If the exec itself fails, its errno comes back over a close-on-exec pipe: the
/// child is reaped and the errno is stored in *exec_errno (0 when the exec succeeded).
int og_launcher_spawn(const char *file, char *const argv[], char *const envp[], const sigset_t *child_mask,
                      const sigset_t *reset, int pdeath_signal, int new_group, char *armed_in,
                      pid_t *pid, int *exec_errno);

/// Takes the claim on the process `pid` started at `start` before it is sent the configured signal
/// (CShim/claim.h, shared with the library's watcher): a descriptor holding it, or -errno
/// (-EADDRINUSE: the process's own library, or the kernel on its behalf, already sent it).
int og_launcher_claim(pid_t pid, unsigned long long start);

/// Raises the soft RLIMIT_NOFILE to the hard one (claims are descriptors; CMD, started before, keeps
/// the limit it was given). Returns 0 or errno.
int og_launcher_raise_descriptor_limit(void);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): prctl is variadic, which Swift cannot call. Returns 0 or errno.
int og_launcher_become_subreaper(void);

/// The si_code and si_pid of a siginfo_t (a union Swift cannot read portably).
int og_siginfo_code(const siginfo_t *info);
pid_t og_siginfo_pid(const siginfo_t *info);

/// WIFEXITED & co. are macros Swift cannot call.
int og_wait_exited(int status);
int og_wait_exit_status(int status);
int og_wait_signaled(int status);
int og_wait_term_signal(int status);
int og_wait_stopped(int status);

#endif
