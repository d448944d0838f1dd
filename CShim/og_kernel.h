/*
 * Kernel interfaces newer than some build machines' headers: the system call numbers and the
 * PIDFD_GET_INFO layout the watcher (watcher.c) and `orphanguard doctor` (Sources/LauncherSys/
 * doctor_sys.c) both use, written once.
 */
#ifndef ORPHANGUARD_OG_KERNEL_H
#define ORPHANGUARD_OG_KERNEL_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

/* PIDFD_GET_INFO's argument (Linux 6.13; the exit status from 6.15). */
struct pidfd_exit_info {
    uint64_t mask, cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define PIDFD_GET_EXIT_INFO _IOWR(0xFF, 11, struct pidfd_exit_info)
#define PIDFD_INFO_EXIT_BIT (1ULL << 3)

#endif
