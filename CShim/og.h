/*
 * liborphanguard — internal interfaces shared by the preload library's files.
 *
 * The library is loaded into every guarded process through LD_PRELOAD. Its
 * constructor (lifecycle.c) records the parent and starts one watcher thread
 * (watcher.c) that sleeps on pidfd_open(parent) and ends the process when the
 * parent changes. Because the guard must survive every way a process is born,
 * the library also interposes fork's atfork hook (lifecycle.c), every exec and
 * spawn entry point (exec_interpose.c, spawn_interpose.c: they put the library
 * and its configuration back into explicit environments, see environ_inject.c)
 * and unshare/setns (namespace_interpose.c: they need a single-threaded caller).
 *
 * Everything here has hidden visibility; exports.map lists the only exported
 * symbols, the interposed libc entry points.
 */
#ifndef ORPHANGUARD_OG_H
#define ORPHANGUARD_OG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OG_ENV_PREFIX "ORPHANGUARD_"
#define OG_ENV_PARENT "ORPHANGUARD_PARENT"
#define OG_ENV_ADDED "ORPHANGUARD_ADDED"
#define OG_LIBRARY_BASENAME "liborphanguard.so"
/* See environ_inject.c: the link-order check of ASan's shared runtime. */
#define OG_ASAN_OPTIONS "ASAN_OPTIONS"
#define OG_ASAN_LINK_ORDER "verify_asan_link_order=0"

/* ---- configuration (config.c) ---------------------------------------- */

enum og_scope { OG_SCOPE_PROCESS, OG_SCOPE_GROUP };
/* auto: pidfd, else getppid() polling; poll: always polling; kernel: no
 * watcher thread, PR_SET_PDEATHSIG alone (for programs that must stay
 * single-threaded). */
enum og_watch { OG_WATCH_AUTO, OG_WATCH_POLL, OG_WATCH_KERNEL };

/* The user-settable variables, in the order of og_config.given[]. */
enum og_var {
    OG_VAR_SIGNAL,
    OG_VAR_GRACE,
    OG_VAR_POLL_INTERVAL,
    OG_VAR_SCOPE,
    OG_VAR_WATCH,
    OG_VAR_QUIET,
    OG_VAR_VERBOSE,
    OG_VAR_EXCLUDE,
    OG_VAR_DISABLE,
    OG_VAR_COUNT
};

#define OG_VALUE_MAX 256

struct og_config {
    int signal;        /* sent first when the parent is gone */
    long grace_ms;     /* then SIGKILL after this long */
    long poll_ms;      /* getppid() fallback interval */
    enum og_scope scope;
    enum og_watch watch;
    bool quiet;
    bool verbose;
    bool disabled;
    char exclude[OG_VALUE_MAX];
    /* "NAME=value" exactly as this process received each variable (also the
     * ones the constructor strips again), so exec can pass them on. */
    char given[OG_VAR_COUNT][sizeof(OG_ENV_PREFIX) + 16 + OG_VALUE_MAX];
};

typedef void (*og_warn_fn)(const char *message);

/* Fills cfg from the ORPHANGUARD_* entries of envp; each bad value produces
 * one call to warn (may be NULL) and keeps that setting's default. */
void og_config_parse(struct og_config *cfg, char *const envp[], og_warn_fn warn);
/* "TERM", "SIGTERM", "term", "15", "RTMIN+2" -> signal number; -1 if invalid. */
int og_signal_parse(const char *text);
/* Writes "SIGTERM" or "SIG34" into buf. */
const char *og_signal_name(int sig, char *buf, size_t len);
/* Does a flag value say yes ("1", "true", "yes")? */
bool og_flag_set(const char *text);
/* Is `comm` one of the comma-separated names in `list`? */
bool og_name_listed(const char *list, const char *comm);

/* ---- explicit environments (environ_inject.c) -------------------------- */

struct og_inject {
    const char *library;       /* absolute path of this library */
    const char *const *vars;   /* "NAME=value": added when NAME is missing */
    size_t nvars;
    const char *parent;        /* "ORPHANGUARD_PARENT=...", always replaced */
};

/* Bytes og_env_build needs for envp (pointer array and strings). */
size_t og_env_size(char *const envp[], const struct og_inject *inject);
/* Builds, inside buf, the environment an exec'd child gets: envp with our
 * library in LD_PRELOAD (prepended, other entries kept), the missing
 * configuration variables, ASAN_OPTIONS with the link-order check off, a
 * fresh ORPHANGUARD_PARENT and an ORPHANGUARD_ADDED naming what was added.
 * Async-signal-safe: no allocation. NULL if len is too small. */
char **og_env_build(char *const envp[], const struct og_inject *inject, void *buf, size_t len);
/* Does envp lack the library or a setting? (ASAN_OPTIONS does not count:
 * system() and popen() run /bin/sh, which adds it for what it execs.) */
bool og_env_lacks_guard(char *const envp[], const struct og_inject *inject);
/* Does an LD_PRELOAD value name `library`, or any liborphanguard.so? */
bool og_preload_has_library(const char *value, const char *library);
/* Can this process (in its root and mount namespace, with its effective
 * ids) read the library, as the loader of an exec'd image must? */
bool og_library_readable(const char *library);
/* Bytes og_env_build_unguarded needs for envp. */
size_t og_env_unguarded_size(char *const envp[]);
/* Builds, inside buf, envp as given minus the LD_PRELOAD entries naming a
 * copy of the library (`library`, or any liborphanguard.so) that cannot be
 * read; LD_PRELOAD goes if nothing is left. For an exec the library cannot
 * follow. Async-signal-safe. NULL if len is too small. */
char **og_env_build_unguarded(char *const envp[], const char *library, void *buf, size_t len);

/* ---- the program's own environment (environ_restore.c) ------------------ */

/* Copies ORPHANGUARD_PARENT's value into parent_hint ("" if absent or too
 * long), then removes it and whatever ORPHANGUARD_ADDED names from `environ`. */
void og_env_restore(char *parent_hint, size_t len);

/* ---- process state (lifecycle.c) --------------------------------------- */

struct og_proc {
    pid_t pid;
    unsigned long long start; /* /proc/PID/stat field 22; 0 = not read yet */
};

/* Reads a /proc stat file into buf; returns its fields from the state (field
 * 3) on, or NULL. Async-signal-safe. */
const char *og_stat_read(const char *path, char *buf, size_t len);
/* Field n (>= 3) of what og_stat_read returned, as a number; false if absent. */
bool og_stat_field(const char *fields, int n, unsigned long long *value);
/* Start time of pid from /proc; 0 if it is gone. Async-signal-safe. */
unsigned long long og_proc_start(pid_t pid);
/* Is pid alive (not a zombie) with this start time? Async-signal-safe. */
bool og_proc_alive(pid_t pid, unsigned long long start);

/* The signal PR_SET_PDEATHSIG holds for this process's main thread (0: none), as the main
 * thread last saw it: what the kernel sends when the parent dies. */
int og_main_thread_pdeathsig(void);
/* Is the library active in this process (loaded, not disabled)? */
bool og_active(void);
const struct og_config *og_config(void);
/* Are we a vfork child, sharing the parent's memory and watcher state? */
bool og_in_vfork_child(void);
/* Prepares the injection for an exec from the current context (a vfork
 * child, a fork child, or a plain exec); also arms PR_SET_PDEATHSIG in a
 * child forked from the parent's main thread, with the signal `envp` asks
 * for. `parent_buf` holds the
 * ORPHANGUARD_PARENT entry. Async-signal-safe. */
void og_inject_for_exec(struct og_inject *inject, char *parent_buf, size_t len, char *const envp[]);
/* The same for a posix_spawn-like call made by this process itself. */
void og_inject_for_spawn(struct og_inject *inject, char *parent_buf, size_t len);

/* ---- calling through (exec_interpose.c) -------------------------------- */

typedef int (*og_env_call)(void *ctx, char *const env[]);
/* Calls call(ctx, env) with envp rebuilt for the new image; from_exec: we
 * are the process about to exec (possibly a vfork child), else the one
 * spawning. Returns call's result, errno as call left it. */
int og_with_guarded_env(bool from_exec, char *const envp[], og_env_call call, void *ctx);
/* The next definition of a libc symbol, cached in *cache. */
void *og_next(void **cache, const char *name);
/* Resolve what exec needs up front, outside any vfork child. */
void og_resolve_exec_next(void);

/* ---- the watcher thread (watcher.c) ------------------------------------ */

/* Watches `parent` from a new thread; `already_gone`: act at once. Returns
 * false if no thread could be started. */
bool og_watch_start(struct og_proc parent, bool already_gone);
/* Stops the watcher thread so the process is single-threaded (unshare,
 * setns); og_watch_resume restarts it. Both are no-ops without a watcher. */
bool og_watch_park(void);
void og_watch_resume(void);
/* The watcher could not be started again (lifecycle.c): PR_SET_PDEATHSIG
 * takes over where it is safe; with SIGKILL if the process moved its
 * children into another pid namespace. */
void og_watcher_lost(bool children_in_other_pid_namespace);
/* Around a setuid-family call, which glibc repeats in every thread, aborting
 * the process if the outcomes differ: the watcher is left running where its
 * capabilities equal the caller's (OG_HOLD_SHARED), else parked. Both hold
 * the watcher's lock until og_watch_release. */
enum og_hold { OG_HOLD_NONE, OG_HOLD_SHARED, OG_HOLD_PARKED };
enum og_hold og_watch_hold_for_setxid(void);
void og_watch_release(enum og_hold hold);
/* After a setuid-family call: the kernel cleared PR_SET_PDEATHSIG if the
 * effective ids or capabilities changed; arms ours again (lifecycle.c). */
void og_after_credentials_change(void);
/* Whether a watcher thread runs; its thread id (0 until it has started). */
bool og_watch_running(void);
int og_watch_tid(void);
/* In a fork child: forget the parent's watcher (its thread does not exist
 * here) and close the inherited descriptors. */
void og_watch_forget_after_fork(void);

/* ---- the program's last thread (last_thread.c) ---------------------------- */

/* Called in the main thread (the constructor; a fork child's only thread):
 * if it ends while other threads go on, the process still ends with the
 * program's last thread, as without the watcher. */
void og_mark_main_thread(void);

/* ---- messages (log.c) --------------------------------------------------- */

/* One line on stderr, "orphanguard: " + text; never when quiet. */
void og_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only when verbose. */
void og_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void og_warn_line(const char *message);

#endif
