/*
 * execvpe's search of PATH, as glibc does it, for the exec family's p-forms
 * (execvp, execvpe, execlp). Ours rather than glibc's, reached through
 * dlsym(RTLD_NEXT): they run in vfork children, where dlsym must not be
 * called (it takes the loader's lock in memory shared with the parent), and
 * resolving it up front would cost every process a lookup at start-up.
 *
 * Async-signal-safe: the candidate paths and a script's argument vector live
 * on the stack, environ is read directly (not through a getenv the program
 * may define, as bash does), and only the kernel's execve is called.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "og.h"

/* glibc's default search path where PATH is unset (confstr _CS_PATH). */
#define DEFAULT_PATH "/bin:/usr/bin"

static size_t length(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

/* A file the kernel would not run (ENOEXEC: no #! line, no ELF header) is a
 * shell script to execvp: /bin/sh runs it with the same arguments. */
static void run_as_script(const char *file, char *const argv[], char *const envp[])
{
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char *script_argv[argc > 1 ? argc + 2 : 3];
    script_argv[0] = "/bin/sh";
    script_argv[1] = (char *)file;
    script_argv[2] = NULL;
    for (size_t i = 1; argc > 1 && i <= argc; i++)
        script_argv[i + 1] = argv[i];
    syscall(SYS_execve, "/bin/sh", script_argv, envp);
}

static const char *search_path(void)
{
    for (char **e = environ; e && *e; e++) {
        const char *value = og_entry_value(*e, "PATH");
        if (value)
            return value;
    }
    return DEFAULT_PATH;
}

int og_exec_search(const char *file, char *const argv[], char *const envp[])
{
    if (!*file) {
        errno = ENOENT;
        return -1;
    }
    bool has_slash = false;
    for (const char *p = file; *p && !has_slash; p++)
        has_slash = *p == '/';
    if (has_slash) {
        syscall(SYS_execve, file, argv, envp);
        if (errno == ENOEXEC)
            run_as_script(file, argv, envp);
        return -1;
    }
    /* Lengths with the terminator, cut as glibc cuts them. */
    const char *path = search_path();
    size_t file_len = length(file, NAME_MAX) + 1;
    size_t path_len = length(path, PATH_MAX - 1) + 1;
    if (file_len > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char candidate[path_len + file_len + 1];
    bool denied = false;
    for (const char *p = path;;) {
        const char *end = p;
        while (*end && *end != ':')
            end++;
        size_t dir_len = (size_t)(end - p);
        if (dir_len < path_len) {
            /* An empty entry means the current directory. */
            size_t n = 0;
            for (; n < dir_len; n++)
                candidate[n] = p[n];
            if (dir_len)
                candidate[n++] = '/';
            for (size_t i = 0; i < file_len; i++)
                candidate[n + i] = file[i];
            syscall(SYS_execve, candidate, argv, envp);
            switch (errno) {
            case EACCES:
                denied = true;
                break;
            case ENOENT:
            case ESTALE:
            case ENOTDIR:
            case ENODEV:
            case EHOSTUNREACH:
            case ETIMEDOUT:
                break;
            case ENOEXEC:
                run_as_script(candidate, argv, envp);
                return -1;
            default:
                return -1;
            }
        }
        if (!*end)
            break;
        p = end + 1;
    }
    if (denied)
        errno = EACCES;
    return -1;
}
