/*
 * Test fixture: runs a command with one system call denied by a seccomp
 * filter, as the default profiles of some container runtimes do (pidfd_open;
 * faccessat2 with EPERM in older ones), or as a kernel before 5.9 behaves
 * (close_range).
 *
 *   deny_syscall pidfd_open|close_range|faccessat2 ERRNO CMD [ARGS...]
 *       the call fails with ERRNO (38 ENOSYS, 1 EPERM)
 *   deny_syscall namespaces ERRNO CMD [ARGS...]
 *       as Docker's default profile does without CAP_SYS_ADMIN: unshare() and a
 *       clone() with a CLONE_NEW* flag fail with ERRNO, clone3() with ENOSYS
 *       (its flags are in memory a filter cannot read; glibc falls back to clone)
 *
 * The filter is inherited by every descendant and survives exec. It checks
 * the syscall number only: enough for a test on one architecture.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

#define NAMESPACE_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
                         CLONE_NEWPID | CLONE_NEWNET)

static int install(struct sock_filter *filter, unsigned short len)
{
    struct sock_fprog program = {.len = len, .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program)) {
        perror("deny_syscall: seccomp");
        return 2;
    }
    return 0;
}

static int deny_namespaces(unsigned int err)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
        /* clone's flags: the low 32 bits of the first argument */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NAMESPACE_FLAGS, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    };
    return install(filter, sizeof(filter) / sizeof(filter[0]));
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: deny_syscall pidfd_open|close_range|faccessat2|namespaces ERRNO CMD [ARGS...]\n");
        return 2;
    }
    unsigned int nr;
    if (!strcmp(argv[1], "namespaces")) {
        if (deny_namespaces((unsigned int)atoi(argv[2])))
            return 2;
        execvp(argv[3], argv + 3);
        perror("deny_syscall: exec");
        return 127;
    } else if (!strcmp(argv[1], "pidfd_open")) {
        nr = SYS_pidfd_open;
    } else if (!strcmp(argv[1], "close_range")) {
        nr = SYS_close_range;
    } else if (!strcmp(argv[1], "faccessat2")) {
        nr = SYS_faccessat2;
    } else {
        fprintf(stderr, "deny_syscall: %s: not one of pidfd_open, close_range, faccessat2, namespaces\n", argv[1]);
        return 2;
    }
    unsigned int err = (unsigned int)atoi(argv[2]);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    if (install(filter, sizeof(filter) / sizeof(filter[0])))
        return 2;
    execvp(argv[3], argv + 3);
    perror("deny_syscall: exec");
    return 127;
}
