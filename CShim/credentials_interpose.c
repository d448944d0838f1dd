/*
 * setuid() and its relatives. In a multi-threaded process glibc changes the
 * credentials of every thread (it signals each one to make the same call)
 * and aborts the whole process if any thread's call fails. Credentials are
 * per thread in the kernel, and some of their state is changed by calls
 * that reach only the calling thread: capset(), PR_SET_KEEPCAPS. A program
 * written to be single-threaded, such as `setpriv --reuid=… --regid=…`,
 * relies on that state (keep capabilities across setresuid, then use
 * CAP_SETGID for setresgid); a watcher thread without it fails the second
 * call, and glibc aborts the program. So where the watcher's capabilities
 * differ from the caller's, the watcher is parked around the call, as for
 * unshare(), and started again from the calling thread, whose credentials it
 * then inherits; where they are equal (the common case) it stays.
 *
 * The kernel clears PR_SET_PDEATHSIG when effective ids or capabilities
 * change; ours is armed again after the call.
 *
 * A vfork child is a process of its own with one thread, but it shares the
 * parent's memory, glibc's thread list included: the kernel call alone is
 * what it needs. initgroups() reaches setgroups() inside glibc and is not
 * seen here; it is harmless while every thread still holds the same state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "og.h"

/* Calls `call` with the watcher held; in a vfork child, `raw` instead. */
#define WATCHER_HELD_CALL(name, call, raw)                                        \
    do {                                                                          \
        if (og_in_vfork_child())                                                  \
            return (int)(raw);                                                    \
        static void *next_##name;                                                 \
        __typeof__(&name) real = (__typeof__(&name))og_next(&next_##name, #name); \
        if (!real) {                                                              \
            errno = ENOSYS;                                                       \
            return -1;                                                            \
        }                                                                         \
        enum og_hold hold = og_watch_hold_for_setxid();                           \
        int result = call;                                                        \
        int saved_errno = errno;                                                  \
        og_watch_release(hold);                                                   \
        og_after_credentials_change();                                            \
        errno = saved_errno;                                                      \
        return result;                                                            \
    } while (0)

__attribute__((visibility("default"))) int setuid(uid_t uid)
{
    WATCHER_HELD_CALL(setuid, real(uid), syscall(SYS_setuid, uid));
}

__attribute__((visibility("default"))) int setgid(gid_t gid)
{
    WATCHER_HELD_CALL(setgid, real(gid), syscall(SYS_setgid, gid));
}

__attribute__((visibility("default"))) int seteuid(uid_t euid)
{
    WATCHER_HELD_CALL(seteuid, real(euid), syscall(SYS_setresuid, (uid_t)-1, euid, (uid_t)-1));
}

__attribute__((visibility("default"))) int setegid(gid_t egid)
{
    WATCHER_HELD_CALL(setegid, real(egid), syscall(SYS_setresgid, (gid_t)-1, egid, (gid_t)-1));
}

__attribute__((visibility("default"))) int setreuid(uid_t ruid, uid_t euid)
{
    WATCHER_HELD_CALL(setreuid, real(ruid, euid), syscall(SYS_setreuid, ruid, euid));
}

__attribute__((visibility("default"))) int setregid(gid_t rgid, gid_t egid)
{
    WATCHER_HELD_CALL(setregid, real(rgid, egid), syscall(SYS_setregid, rgid, egid));
}

__attribute__((visibility("default"))) int setresuid(uid_t ruid, uid_t euid, uid_t suid)
{
    WATCHER_HELD_CALL(setresuid, real(ruid, euid, suid), syscall(SYS_setresuid, ruid, euid, suid));
}

__attribute__((visibility("default"))) int setresgid(gid_t rgid, gid_t egid, gid_t sgid)
{
    WATCHER_HELD_CALL(setresgid, real(rgid, egid, sgid), syscall(SYS_setresgid, rgid, egid, sgid));
}

__attribute__((visibility("default"))) int setgroups(size_t size, const gid_t *list)
{
    WATCHER_HELD_CALL(setgroups, real(size, list), syscall(SYS_setgroups, size, list));
}
