/*
 * One signal per death: the claim, shared by the library (watcher.c) and the launcher
 * (Sources/LauncherSys, which includes this header: one rule, one place).
 *
 * When a guarded process's parent dies, two may notice: its own watcher thread, and the launcher
 * it is re-parented to (or that ends what CMD left when CMD exits). Whoever sends the configured
 * signal first takes the claim for that process; the other finds it taken and stands aside, so
 * only its SIGKILL after the grace period follows.
 *
 * The claim is bind() of an abstract AF_UNIX address named after the process (pid and start time,
 * so a reused pid is another process): the kernel grants an address to exactly one socket, which
 * makes "look, then signal" a single atomic step. Abstract addresses need no directory to create
 * and remove, no permission (a process that changed its uid still takes one), no environment
 * variable to pass through explicit environments and static programs, and vanish when the last
 * descriptor on them closes: the library's when the process ends, the launcher's when it has
 * reaped the process. Where they differ (a process in another network namespace, another pid or
 * time namespace that shows it another pid or start time) the two cannot see each other's claim
 * and each sends, as without the claim.
 */
#ifndef ORPHANGUARD_CLAIM_H
#define ORPHANGUARD_CLAIM_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

/* Takes the claim on the process pid started at `start` (/proc/PID/stat field 22). Returns a
 * descriptor that holds it (close it when the claim may go), or -1 with errno: EADDRINUSE if
 * someone else holds it, anything else if no claim can be taken here (then nobody coordinates:
 * send). */
static inline int og_claim_take(pid_t pid, unsigned long long start)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    /* sun_path[0] == '\0': the abstract namespace. */
    int len = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "orphanguard-claim-%d-%llu", (int)pid, start);
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (bind(fd, (struct sockaddr *)&addr, size) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

#endif
