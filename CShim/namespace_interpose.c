/*
 * unshare() and setns(). The kernel refuses some namespace changes to a
 * process with more than one thread (EINVAL), and our watcher thread is one
 * more thread: a new or entered user namespace (both check the thread group),
 * entering a mount namespace (the filesystem context must not be shared with
 * another thread) or a time namespace (EUSERS), and unsharing CLONE_THREAD,
 * CLONE_SIGHAND or CLONE_VM. So
 * `unshare -U`, `nsenter -m` and the like would break: for those the watcher
 * is parked (stopped and joined) around the call and started again
 * afterwards, still watching the same parent. Every other change keeps the
 * watcher running; that matters for pid namespaces, after which the kernel
 * lets the process create no thread at all. A vfork child shares the
 * parent's watcher state and has no watcher of its own: it calls straight
 * through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "og.h"

#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO(0xb7, 0x3)
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define NEEDS_ONE_THREAD (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)

static bool unshare_needs_one_thread(int flags)
{
    return (flags & NEEDS_ONE_THREAD) != 0;
}

/* nstype 0 lets the descriptor say which namespace it is; a pidfd names
 * several at once in nstype. */
static bool setns_needs_one_thread(int fd, int nstype)
{
    if (nstype == 0) {
        nstype = ioctl(fd, NS_GET_NSTYPE);
        if (nstype < 0)
            return true; /* cannot tell: park to be safe */
    }
    return (nstype & (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWTIME)) != 0;
}

__attribute__((visibility("default"))) int unshare(int flags)
{
    int saved_errno = errno;
    bool parked = !og_in_vfork_child() && unshare_needs_one_thread(flags) && og_watch_park();
    errno = saved_errno;
    int result = (int)syscall(SYS_unshare, flags);
    saved_errno = errno;
    if (parked)
        og_watch_resume();
    errno = saved_errno;
    return result;
}

__attribute__((visibility("default"))) int setns(int fd, int nstype)
{
    int saved_errno = errno;
    bool parked = !og_in_vfork_child() && setns_needs_one_thread(fd, nstype) && og_watch_park();
    errno = saved_errno;
    int result = (int)syscall(SYS_setns, fd, nstype);
    saved_errno = errno;
    if (parked)
        og_watch_resume();
    errno = saved_errno;
    return result;
}
