/*
 * Test fixture: runs a command with pidfd_open(2) denied by a seccomp filter,
 * as the default profiles of some container runtimes do.
 *
 *   deny_pidfd ERRNO CMD [ARGS...]   pidfd_open fails with ERRNO (38 ENOSYS, 1 EPERM)
 *
 * The filter is inherited by every descendant and survives exec. It checks
 * the syscall number only: enough for a test on one architecture.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: deny_pidfd ERRNO CMD [ARGS...]\n");
        return 2;
    }
    unsigned int err = (unsigned int)atoi(argv[1]);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program)) {
        perror("deny_pidfd: seccomp");
        return 2;
    }
    execvp(argv[2], argv + 2);
    perror("deny_pidfd: exec");
    return 127;
}
