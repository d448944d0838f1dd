/*
 * The exec family. Each entry point passes its environment through
 * og_with_guarded_env(), which rebuilds it (environ_inject.c) so the new image
 * loads the library again with the same settings, then calls the kernel (the
 * p-forms search PATH first, path_search.c).
 *
 * These run in vfork children (CPython's subprocess uses vfork), which share
 * memory and stack with the suspended parent: no malloc, no locks, errno
 * preserved. The rebuilt environment (a new pointer array; the strings are
 * shared) lives on the stack, at most 16 KiB since threads with small stacks
 * vfork too. Only an environment of more than about 2000 variables goes to
 * mmap; in a vfork child a successful exec then leaves that mapping behind in
 * the parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "og.h"

#define STACK_ENV_LIMIT (16 * 1024)


/* What we add can take an environment that just fits over the kernel's limit
 * on arguments and environment (E2BIG): then the program's own environment
 * goes, unguarded, rather than the exec failing where it would not without
 * us. exec reports through errno, posix_spawn through its result (it has
 * already reaped the child that could not exec). */
static int call_with(bool from_exec, char **env, char *const envp[], og_env_call call, void *ctx)
{
    if (!env)
        return call(ctx, envp);
    int result = call(ctx, env);
    bool too_big = from_exec ? result < 0 && errno == E2BIG : result == E2BIG;
    return too_big ? call(ctx, envp) : result;
}

/* The new image may not see the library (a chroot, a sandbox's mount
 * namespace): then it runs with its own environment, minus the LD_PRELOAD
 * entries the loader would complain about on its stderr. PR_SET_PDEATHSIG,
 * armed as for a static child, is what guards it. */
static char **build(bool follows, char *const envp[], const struct og_inject *inject, void *buf, size_t len)
{
    return follows ? og_env_build(envp, inject, buf, len) : og_env_build_unguarded(envp, inject->library, buf, len);
}

int og_with_guarded_env(bool from_exec, char *const envp[], og_env_call call, void *ctx)
{
    if (!og_active())
        return call(ctx, envp);
    struct og_inject inject;
    char parent[96];
    if (from_exec)
        og_inject_for_exec(&inject, parent, sizeof(parent), envp);
    else
        og_inject_for_spawn(&inject, parent, sizeof(parent));
    bool follows = og_library_readable(inject.library);
    size_t need = follows ? og_env_size(envp, &inject) : og_env_unguarded_size(envp);
    if (need <= STACK_ENV_LIMIT) {
        char buf[need];
        return call_with(from_exec, build(follows, envp, &inject, buf, need), envp, call, ctx);
    }
    void *map = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return call(ctx, envp);
    int result = call_with(from_exec, build(follows, envp, &inject, map, need), envp, call, ctx);
    int saved_errno = errno;
    munmap(map, need);
    errno = saved_errno;
    return result;
}

/* ---- path-based -------------------------------------------------------- */

struct exec_args {
    const char *path;
    char *const *argv;
    int fd;
    int flags;
};

static int call_execve(void *ctx, char *const env[])
{
    struct exec_args *a = ctx;
    return (int)syscall(SYS_execve, a->path, a->argv, env);
}

static int call_execvpe(void *ctx, char *const env[])
{
    struct exec_args *a = ctx;
    return og_exec_search(a->path, a->argv, env);
}

static int call_execveat(void *ctx, char *const env[])
{
    struct exec_args *a = ctx;
    return (int)syscall(SYS_execveat, a->fd, a->path, a->argv, env, a->flags);
}

static int call_fexecve(void *ctx, char *const env[])
{
    struct exec_args *a = ctx;
    int result = (int)syscall(SYS_execveat, a->fd, "", a->argv, env, AT_EMPTY_PATH);
    if (result < 0 && errno == ENOSYS) {
        /* Kernels before 3.19: glibc's own fallback, through /proc, written
         * out here because dlsym is no call for a vfork child. */
        char path[40] = "/proc/self/fd/";
        size_t len = sizeof("/proc/self/fd/") - 1;
        if (a->fd < 0) {
            errno = EBADF;
            return -1;
        }
        path[len + og_format_uint(path + len, (unsigned long long)a->fd)] = '\0';
        result = (int)syscall(SYS_execve, path, a->argv, env);
        /* As glibc: without /proc the call cannot be made at all. */
        if (result < 0 && errno == ENOENT)
            errno = ENOSYS;
    }
    return result;
}

__attribute__((visibility("default"))) int execve(const char *path, char *const argv[], char *const envp[])
{
    struct exec_args a = {.path = path, .argv = argv};
    return og_with_guarded_env(true, envp, call_execve, &a);
}

__attribute__((visibility("default"))) int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

__attribute__((visibility("default"))) int execvpe(const char *file, char *const argv[], char *const envp[])
{
    struct exec_args a = {.path = file, .argv = argv};
    return og_with_guarded_env(true, envp, call_execvpe, &a);
}

__attribute__((visibility("default"))) int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

__attribute__((visibility("default"))) int fexecve(int fd, char *const argv[], char *const envp[])
{
    struct exec_args a = {.fd = fd, .argv = argv};
    return og_with_guarded_env(true, envp, call_fexecve, &a);
}

__attribute__((visibility("default"))) int execveat(int dirfd, const char *path, char *const argv[],
                                                    char *const envp[], int flags)
{
    struct exec_args a = {.path = path, .argv = argv, .fd = dirfd, .flags = flags};
    return og_with_guarded_env(true, envp, call_execveat, &a);
}

/* ---- the variadic execl forms ------------------------------------------ */

/* Counts the arguments after `first` up to the NULL. */
static size_t count_args(const char *first, va_list args)
{
    size_t count = 1;
    if (!first)
        return 0;
    while (va_arg(args, const char *))
        count++;
    return count;
}

#define COLLECT_ARGS(first, last_named, argv_name, envp_out)                  \
    va_list args;                                                              \
    va_start(args, last_named);                                                \
    size_t argc_ = count_args(first, args);                                    \
    va_end(args);                                                              \
    char *argv_name[argc_ + 1];                                                \
    va_start(args, last_named);                                                \
    if (argc_)                                                                 \
        argv_name[0] = (char *)(first);                                        \
    for (size_t i_ = 1; i_ < argc_; i_++)                                      \
        argv_name[i_] = va_arg(args, char *);                                  \
    argv_name[argc_] = NULL;                                                   \
    if (argc_)                                                                 \
        (void)va_arg(args, char *);                                            \
    envp_out;                                                                  \
    va_end(args)

__attribute__((visibility("default"))) int execl(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, arg, argv, (void)0);
    return execve(path, argv, environ);
}

__attribute__((visibility("default"))) int execlp(const char *file, const char *arg, ...)
{
    COLLECT_ARGS(arg, arg, argv, (void)0);
    return execvpe(file, argv, environ);
}

__attribute__((visibility("default"))) int execle(const char *path, const char *arg, ...)
{
    char *const *envp;
    COLLECT_ARGS(arg, arg, argv, envp = va_arg(args, char *const *));
    return execve(path, argv, envp);
}
