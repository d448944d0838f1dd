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
 * and unshare/setns (namespace_interpose.c: they need a single-threaded caller);
 * shm_open/sem_open register what the job creates in /dev/shm (shm_interpose.c).
 *
 * Everything here has hidden visibility; exports.map lists the only exported
 * symbols, the interposed libc entry points.
 *
 * Files depend on each other in one direction only: the interposers on
 * lifecycle.c (this process's identity), lifecycle.c on the watcher,
 * last_thread.c, pdeathsig.c, parent_hint.c and environ_restore.c, and those
 * on the leaves: settings.c, log.c, symbols.c and the core shared with the
 * launcher (include/og_core.h: config.c, environ_inject.c, proc_stat.c).
 */
#ifndef ORPHANGUARD_OG_H
#define ORPHANGUARD_OG_H

#include <time.h>

#include "include/og_core.h"

/* ---- the program's own environment (environ_restore.c) ------------------ */

/* Copies ORPHANGUARD_PARENT's value into parent_hint ("" if absent or too
 * long), then removes it and whatever ORPHANGUARD_ADDED names from `environ`. */
void og_env_restore(char *parent_hint, size_t len);

/* ---- this process's settings (settings.c) ------------------------------- */

const struct og_config *og_config(void);
/* Parses envp into this process's settings (the constructor, once). */
void og_config_load(char *const envp[], og_warn_fn warn);

/* ---- PR_SET_PDEATHSIG (pdeathsig.c) -------------------------------------- */

/* Arms sig (0: disarms) and remembers it as ours. Not in a vfork child. */
void og_pdeathsig_arm(int sig);
/* In a fork child: nothing of ours is armed. */
void og_pdeathsig_forget_after_fork(void);
/* The signal PR_SET_PDEATHSIG holds for the main thread (0: none), as the
 * main thread last saw it: what the kernel sends when the parent dies. */
int og_main_thread_pdeathsig(void);
/* Records what the main thread holds (lifecycle.c, where it changes). */
void og_pdeathsig_note_main(int sig);
/* Before exec: drops the watcher's SIGCONT and arms sig (the new image's
 * signal, 0 for none) where may_arm and nobody else armed another. Returns
 * the signal the new image finds armed for it (0: none), for
 * ORPHANGUARD_PARENT. Writes no memory: a vfork child may call it. */
int og_pdeathsig_for_exec(int sig, bool may_arm);
/* Disarms what exec armed for the window before the constructor, if it is
 * still armed (a disabled or excluded program must outlive its parent). */
void og_pdeathsig_disarm_if(int armed_by_exec);
/* Beside a running watcher: SIGCONT, to wake a stopped process. */
void og_pdeathsig_wake_on_parent_death(bool from_main, int armed_by_exec);
/* No watcher thread runs: the kernel's signal instead, where from_main; the
 * signal at once if the parent is already gone. */
void og_pdeathsig_without_watcher(struct og_proc parent, bool from_main, int sig);
/* After a setuid-family call: the kernel cleared PR_SET_PDEATHSIG if the
 * effective ids or capabilities changed; arms ours again. */
void og_after_credentials_change(void);

/* ---- process state (lifecycle.c) --------------------------------------- */

/* Is the library active in this process (loaded, not disabled)? */
bool og_active(void);
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
/* execvpe's search of PATH (path_search.c): returns only on failure, with
 * errno set as glibc's execvpe sets it. Async-signal-safe. */
int og_exec_search(const char *file, char *const argv[], char *const envp[]);

/* ---- the next definitions (symbols.c) ------------------------------------ */

/* The next definition of a libc symbol, cached in *cache. */
void *og_next(void **cache, const char *name);

/* ---- the watcher thread (watcher.c) ------------------------------------ */

/* Watches `parent` from a new thread; `already_gone`: act at once;
 * `from_main`: we were forked from the parent's main thread (where the
 * kernel's signal may take over if the thread is lost). Returns false if no
 * thread could be started. */
bool og_watch_start(struct og_proc parent, bool from_main, bool already_gone);
/* Stops the watcher thread so the process is single-threaded (unshare,
 * setns); og_watch_resume restarts it. Both are no-ops without a watcher. */
bool og_watch_park(void);
void og_watch_resume(void);
/* Around a setuid-family call, which glibc repeats in every thread, aborting
 * the process if the outcomes differ: the watcher is left running where its
 * capabilities equal the caller's (OG_HOLD_SHARED), else parked. Both hold
 * the watcher's lock until og_watch_release. */
enum og_hold { OG_HOLD_NONE, OG_HOLD_SHARED, OG_HOLD_PARKED };
enum og_hold og_watch_hold_for_setxid(void);
void og_watch_release(enum og_hold hold);
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

/* ---- the event log's records (event_record.c) ---------------------------- */

/* What the watcher knows when it acts on its parent's death. */
struct og_act {
    pid_t pid;                /* this process */
    unsigned long long start; /* its start time, 0 unknown */
    const char *comm;
    pid_t parent;
    int parent_status;        /* as waitpid() reports it; -1 unknown */
    struct timespec seen;     /* CLOCK_MONOTONIC when the death was seen */
};

/* The constructor: keeps argv (not copied; the program may rewrite it, which
 * the record then shows) and, with a log set, the job ids of the
 * environment, which the watcher must not read while the program may change
 * it. Costs nothing without a log. */
void og_record_init(char **argv); /* argv may be NULL */
/* Appends one record about this process (event_log.h) if ORPHANGUARD_LOG is
 * set; action and detail may be NULL. Never prints, keeps errno. */
void og_record(const char *event, const char *action, const struct og_act *act, const char *detail);

/* ---- messages (log.c) --------------------------------------------------- */

/* One line on stderr, "orphanguard: " + text; never when quiet. */
void og_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only when verbose. */
void og_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* og_config_parse's warning callback: the warning's line, as og_log. */
void og_warn_line(void *context, const struct og_warning *warning);

#endif
