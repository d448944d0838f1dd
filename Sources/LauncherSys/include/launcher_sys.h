#ifndef LAUNCHER_SYS_H
#define LAUNCHER_SYS_H

#include <signal.h>
#include <sys/types.h>

/// Starts `file` (searched in PATH) with `argv` and `envp`: C because the child between vfork and
/// exec runs in the launcher's memory and may only make async-signal-safe calls, which Swift cannot
/// promise.
///
/// In the child, before exec: the signal mask becomes `child_mask`, the child gets its own process
/// group if `new_group`, PR_SET_PDEATHSIG is armed with `pdeath_signal` (then the launcher is checked
/// to be still there), and `hint` (if not NULL: one of envp's entries, `hint_len` bytes) becomes the
/// ORPHANGUARD_PARENT entry saying so, written by the library's own formatter: the library in CMD
/// then knows the kernel will send that signal, and the launcher can read it in /proc/PID/environ
/// of a static CMD. Returns 0 with *pid set, or
/// the errno of vfork. If a step before the exec or the exec itself fails, the child stores its errno
/// in the memory it shares with the launcher until then: the child is reaped and the errno is stored
/// in *exec_errno (0 when the exec succeeded).
int og_launcher_spawn(const char *file, char *const argv[], char *const envp[], const sigset_t *child_mask,
                      int pdeath_signal, int new_group, char *hint, size_t hint_len, pid_t *pid, int *exec_errno);

/// Takes the claim on the process `pid` started at `start` before it is sent the configured signal
/// (CShim/claim.h, shared with the library's watcher): a descriptor holding it, or -errno
/// (-EADDRINUSE: the process's own library, or the kernel on its behalf, already sent it).
int og_launcher_claim(pid_t pid, unsigned long long start);

/// Raises the soft RLIMIT_NOFILE to the hard one (claims are descriptors; CMD, started before, keeps
/// the limit it was given). Returns 0 or errno.
int og_launcher_raise_descriptor_limit(void);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): prctl is variadic, which Swift cannot call. Returns 0 or errno.
int og_launcher_become_subreaper(void);

/// The si_code of a siginfo_t (a union Swift cannot read portably).
int og_siginfo_code(const siginfo_t *info);

/// The pid of an exited child, left unreaped (waitid with WNOWAIT, whose siginfo_t is a union
/// Swift cannot read) so its /proc entry can still be read: 0 if none has exited, or -errno.
pid_t og_launcher_peek_exited(void);

/// WIFEXITED & co. are macros Swift cannot call.
int og_wait_exited(int status);
int og_wait_exit_status(int status);
int og_wait_signaled(int status);
int og_wait_term_signal(int status);

#endif
