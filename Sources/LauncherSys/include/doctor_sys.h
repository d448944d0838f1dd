#ifndef DOCTOR_SYS_H
#define DOCTOR_SYS_H

#include <sys/types.h>

#ifndef __clang__
#define _Nullable
#define _Nonnull
#else
#pragma clang assume_nonnull begin
#endif

/// Probes for `orphanguard doctor`, in C because each needs a raw system call, a variadic prctl or
/// an ioctl that Swift cannot make, or a forked child that changes its own process state (a
/// descriptor table, a subreaper flag, a namespace) so the doctor's own stays as it was. Each
/// returns 0 or the errno of the call that failed, unchanged.

/// pidfd_open(2) on the caller (Linux 5.3).
int og_doctor_pidfd_open(void);

/// PIDFD_GET_INFO on the pidfd of a child that exited with status 7 and was reaped: Linux 6.13 has
/// the ioctl, 6.15 keeps the exit status after the reap. 0 with *has_exit_status 1 when the status
/// came back, 0 with *has_exit_status 0 when only the ioctl exists.
int og_doctor_pidfd_exit_info(int *has_exit_status);

/// close_range(CLOSE_RANGE_UNSHARE) in a forked child (Linux 5.9).
int og_doctor_close_range_unshare(void);

/// prctl(PR_SET_CHILD_SUBREAPER) in a forked child.
int og_doctor_subreaper(void);

/// unshare(CLONE_NEWUSER) in a forked child.
int og_doctor_user_namespace(void);

/// unshare(CLONE_NEWPID) in a forked child; where that needs privileges the caller lacks, inside a
/// new user namespace (as rootless sandboxes do).
int og_doctor_pid_namespace(void);

/// Is `path` a procfs mount (statfs's f_type, which Swift's Glibc module lacks)? 1, 0, or -errno.
int og_doctor_is_procfs(const char *path);

/// glibc's version string ("2.36"), or NULL when the C library is not glibc.
const char *_Nullable og_doctor_glibc_version(void);

/// The end-to-end check: a parent (forked) starts `/bin/sh -c "echo ready; exec sleep 30"` with `envp` (which preloads the
/// library) and is SIGKILLed once the child is up; the result says how the child ended.
struct og_doctor_trial {
    /// 1 if the child was seen running its watcher thread (needs /proc) before its parent was killed.
    int watcher_seen;
    /// 1 when the child ended within the deadline, 0 when it was still alive (and then SIGKILLed).
    int ended;
    /// The signal that ended it (0: it exited, or unknown where it could not be reaped).
    int end_signal;
    /// Microseconds from the parent's SIGKILL to the child's end.
    long long micros;
    /// What the child wrote on stderr (the library's line, or the loader's error), NUL-terminated.
    char stderr_text[1024];
};

/// Runs the trial; `deadline_ms` bounds the wait for the child's end. 0, or the errno of the
/// fork, pipe or exec that failed.
int og_doctor_trial(char *_Nullable const *_Nonnull envp, int deadline_ms, struct og_doctor_trial *result);

#ifdef __clang__
#pragma clang assume_nonnull end
#endif

#endif
