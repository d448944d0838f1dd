/*
 * posix_spawn, posix_spawnp, system and popen. glibc implements all four with
 * its internal exec, which never reaches our execve, so each is wrapped here.
 *
 * posix_spawn and posix_spawnp take an environment: it is rebuilt before the
 * call. system and popen use `environ`; when it still carries the guard (the
 * usual case) glibc's own implementation runs unchanged. Only when the program
 * has dropped LD_PRELOAD or our settings from its environment, or cannot see
 * the library any more (a chroot), do we run the command ourselves through
 * posix_spawn with a rebuilt environment, keeping
 * the documented behaviour: /bin/sh -c, SIGINT/SIGQUIT ignored and SIGCHLD
 * blocked while system() waits; pclose() waits for our popen() children.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "og.h"

typedef int (*posix_spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                              const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*system_fn)(const char *);
typedef FILE *(*popen_fn)(const char *, const char *);
typedef int (*pclose_fn)(FILE *);

static void *next_posix_spawn;
static void *next_posix_spawnp;
static void *next_system;
static void *next_popen;
static void *next_pclose;

/* ---- posix_spawn ------------------------------------------------------- */

struct spawn_args {
    void **next;
    const char *name;
    pid_t *pid;
    const char *path;
    const posix_spawn_file_actions_t *actions;
    const posix_spawnattr_t *attr;
    char *const *argv;
};

static int call_spawn(void *ctx, char *const env[])
{
    struct spawn_args *a = ctx;
    posix_spawn_fn next = (posix_spawn_fn)og_next(a->next, a->name);
    if (!next)
        return ENOSYS;
    return next(a->pid, a->path, a->actions, a->attr, a->argv, env);
}

static int guarded_spawn(void **next, const char *name, pid_t *pid, const char *path,
                         const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
                         char *const argv[], char *const envp[])
{
    /* posix_spawn reports failure as its return value, errno untouched. */
    int saved_errno = errno;
    struct spawn_args a = {next, name, pid, path, actions, attr, argv};
    int result = og_with_guarded_env(false, envp, call_spawn, &a);
    errno = saved_errno;
    return result;
}

__attribute__((visibility("default"))) int posix_spawn(pid_t *pid, const char *path,
                                                       const posix_spawn_file_actions_t *actions,
                                                       const posix_spawnattr_t *attr, char *const argv[],
                                                       char *const envp[])
{
    return guarded_spawn(&next_posix_spawn, "posix_spawn", pid, path, actions, attr, argv, envp);
}

__attribute__((visibility("default"))) int posix_spawnp(pid_t *pid, const char *file,
                                                        const posix_spawn_file_actions_t *actions,
                                                        const posix_spawnattr_t *attr, char *const argv[],
                                                        char *const envp[])
{
    return guarded_spawn(&next_posix_spawnp, "posix_spawnp", pid, file, actions, attr, argv, envp);
}

/* Is `environ` missing the library or one of our settings, or does it name
 * a library the shell could not load here (after a chroot)? */
static bool environ_lacks_guard(void)
{
    if (!og_active())
        return false;
    struct og_inject inject;
    char parent[96];
    og_inject_for_spawn(&inject, parent, sizeof(parent));
    return og_env_lacks_guard(environ, &inject) || !og_library_readable(inject.library);
}

static int spawn_shell(pid_t *pid, const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
                       const char *command)
{
    char *argv[] = {"sh", "-c", "--", (char *)command, NULL};
    return posix_spawn(pid, "/bin/sh", actions, attr, argv, environ);
}

/* ---- system ------------------------------------------------------------ */

/* Concurrent system() calls share one period of ignoring SIGINT/SIGQUIT. */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_users;
static struct sigaction saved_int, saved_quit;

static int own_system(const char *command)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    pthread_mutex_lock(&system_lock);
    if (system_users++ == 0) {
        sigaction(SIGINT, &ignore, &saved_int);
        sigaction(SIGQUIT, &ignore, &saved_quit);
    }
    pthread_mutex_unlock(&system_lock);

    sigset_t chld, old_mask;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old_mask);

    /* The shell gets the caller's mask and default INT/QUIT unless the
     * caller itself ignored them. */
    posix_spawnattr_t attr;
    sigset_t defaults;
    sigemptyset(&defaults);
    if (saved_int.sa_handler != SIG_IGN)
        sigaddset(&defaults, SIGINT);
    if (saved_quit.sa_handler != SIG_IGN)
        sigaddset(&defaults, SIGQUIT);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &old_mask);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid;
    int status;
    int err = spawn_shell(&pid, NULL, &attr, command);
    posix_spawnattr_destroy(&attr);
    if (err == 0) {
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                status = -1;
                break;
            }
        }
    } else {
        status = 127 << 8; /* as if the shell had exited 127 */
    }

    int saved_errno = errno;
    pthread_mutex_lock(&system_lock);
    if (--system_users == 0) {
        sigaction(SIGINT, &saved_int, NULL);
        sigaction(SIGQUIT, &saved_quit, NULL);
    }
    pthread_mutex_unlock(&system_lock);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    errno = saved_errno;
    return status;
}

__attribute__((visibility("default"))) int system(const char *command)
{
    if (command && environ_lacks_guard())
        return own_system(command);
    system_fn next = (system_fn)og_next(&next_system, "system");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(command);
}

/* ---- popen / pclose ---------------------------------------------------- */

struct own_stream {
    FILE *file;
    int fd;
    pid_t pid;
    struct own_stream *next;
};

static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct own_stream *streams;

static FILE *own_popen(const char *command, const char *mode)
{
    bool reading = mode[0] == 'r';
    bool cloexec = strchr(mode, 'e') != NULL;
    if ((mode[0] != 'r' && mode[0] != 'w') || strspn(mode + 1, "e") != strlen(mode + 1)) {
        errno = EINVAL;
        return NULL;
    }
    struct own_stream *stream = malloc(sizeof(*stream));
    if (!stream)
        return NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) {
        free(stream);
        return NULL;
    }
    int ours = reading ? fds[0] : fds[1];
    int theirs = reading ? fds[1] : fds[0];
    int target = reading ? STDOUT_FILENO : STDIN_FILENO;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    /* dup2 onto itself clears close-on-exec (glibc >= 2.29, POSIX 2024). */
    posix_spawn_file_actions_adddup2(&actions, theirs, target);
    /* POSIX: the new child does not keep earlier popen() streams open; a
     * writer's reader would otherwise not see EOF until this child ends. */
    pthread_mutex_lock(&streams_lock);
    for (struct own_stream *open_stream = streams; open_stream; open_stream = open_stream->next)
        if (open_stream->fd != target)
            posix_spawn_file_actions_addclose(&actions, open_stream->fd);
    pid_t pid;
    int err = spawn_shell(&pid, &actions, NULL, command);
    pthread_mutex_unlock(&streams_lock);
    posix_spawn_file_actions_destroy(&actions);
    close(theirs);
    if (err) {
        close(ours);
        free(stream);
        errno = err;
        return NULL;
    }
    if (!cloexec)
        fcntl(ours, F_SETFD, 0);
    FILE *file = fdopen(ours, reading ? "r" : "w");
    if (!file) {
        int saved_errno = errno;
        close(ours);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        free(stream);
        errno = saved_errno;
        return NULL;
    }
    stream->file = file;
    stream->fd = ours;
    stream->pid = pid;
    pthread_mutex_lock(&streams_lock);
    stream->next = streams;
    streams = stream;
    pthread_mutex_unlock(&streams_lock);
    return file;
}

__attribute__((visibility("default"))) FILE *popen(const char *command, const char *mode)
{
    if (command && mode && environ_lacks_guard())
        return own_popen(command, mode);
    popen_fn next = (popen_fn)og_next(&next_popen, "popen");
    if (!next) {
        errno = ENOSYS;
        return NULL;
    }
    return next(command, mode);
}

static struct own_stream *take_stream(FILE *file)
{
    pthread_mutex_lock(&streams_lock);
    struct own_stream **link = &streams;
    while (*link && (*link)->file != file)
        link = &(*link)->next;
    struct own_stream *found = *link;
    if (found)
        *link = found->next;
    pthread_mutex_unlock(&streams_lock);
    return found;
}

__attribute__((visibility("default"))) int pclose(FILE *file)
{
    struct own_stream *stream = take_stream(file);
    if (!stream) {
        pclose_fn next = (pclose_fn)og_next(&next_pclose, "pclose");
        if (!next) {
            errno = ENOSYS;
            return -1;
        }
        return next(file);
    }
    fclose(file);
    int status;
    pid_t pid = stream->pid;
    free(stream);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return status;
}
