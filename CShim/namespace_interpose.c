/*
 * unshare() and setns(). The kernel refuses CLONE_NEWUSER, and a mount
 * namespace change, to a process with more than one thread (EINVAL), and our
 * watcher thread is one more thread. So `unshare -U`, `nsenter -m` and the like
 * would break: the watcher is parked (stopped and joined) around the call and
 * started again afterwards, still watching the same parent. A vfork child
 * shares the parent's watcher state and has no watcher of its own: it calls
 * straight through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "og.h"

__attribute__((visibility("default"))) int unshare(int flags)
{
    bool parked = !og_in_vfork_child() && og_watch_park();
    int result = (int)syscall(SYS_unshare, flags);
    int saved_errno = errno;
    if (parked)
        og_watch_resume();
    errno = saved_errno;
    return result;
}

__attribute__((visibility("default"))) int setns(int fd, int nstype)
{
    bool parked = !og_in_vfork_child() && og_watch_park();
    int result = (int)syscall(SYS_setns, fd, nstype);
    int saved_errno = errno;
    if (parked)
        og_watch_resume();
    errno = saved_errno;
    return result;
}
