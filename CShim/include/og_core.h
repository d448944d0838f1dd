/*
 * orphanguard's core: the rules the preload library and the launcher both
 * apply, written once. Compiled into liborphanguard.so and into the launcher
 * (the SwiftPM target OrphanguardCore), so none of it may carry a constructor,
 * and what the library's exec path calls stays async-signal-safe.
 */
#ifndef ORPHANGUARD_OG_CORE_H
#define ORPHANGUARD_OG_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Pointers are non-null unless marked OG_NULLABLE (clang, which Swift's
 * importer is, checks it; gcc builds the library without). */
#if defined(__clang__)
#define OG_NULLABLE _Nullable
#define OG_ASSUME_NONNULL_BEGIN _Pragma("clang assume_nonnull begin")
#define OG_ASSUME_NONNULL_END _Pragma("clang assume_nonnull end")
#else
#define OG_NULLABLE
#define OG_ASSUME_NONNULL_BEGIN
#define OG_ASSUME_NONNULL_END
#endif

OG_ASSUME_NONNULL_BEGIN

#define OG_ENV_PREFIX "ORPHANGUARD_"
#define OG_ENV_PARENT "ORPHANGUARD_PARENT"
#define OG_ENV_ADDED "ORPHANGUARD_ADDED"
#define OG_LIBRARY_BASENAME "liborphanguard.so"
/* See environ_inject.c: the link-order check of ASan's shared runtime. */
#define OG_ASAN_OPTIONS "ASAN_OPTIONS"
#define OG_ASAN_LINK_ORDER "verify_asan_link_order=0"

/* Does s start with prefix? Compared by hand for the constructor, which
 * runs in every process: the first call of each libc function costs the
 * loader a symbol lookup, and gcc turns a first-character test in front of
 * strncmp into a plain strncmp. */
static inline bool og_has_prefix(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return false;
    return true;
}

/* The value in a "NAME=value" entry if it names `name`, else NULL. */
static inline const char *OG_NULLABLE og_entry_value(const char *entry, const char *name)
{
    while (*name)
        if (*entry++ != *name++)
            return NULL;
    return *entry == '=' ? entry + 1 : NULL;
}

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
    OG_VAR_LOG, /* the event log's path (event_log.h); its entry is in log_given */
    OG_VAR_JOB, /* the job id the launcher sets for the event log */
    OG_VAR_SHM_REGISTRY, /* where shm_open/sem_open register what they create (launcher) */
    OG_VAR_COUNT
};

#define OG_VALUE_MAX 256
/* ORPHANGUARD_LOG is a path: PATH_MAX, not OG_VALUE_MAX. */
#define OG_LOG_MAX 4096
#define OG_DEFAULT_SIGNAL 15 /* SIGTERM */

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
    /* "ORPHANGUARD_LOG=path" (given[OG_VAR_LOG] stays empty). Last, and left
     * out of the constructor's zeroing: a healthy process never touches it. */
    char log_given[sizeof(OG_ENV_PREFIX) + 4 + OG_LOG_MAX];
};

/* The event log's path and the job id, or NULL when not set. */
const char *OG_NULLABLE og_config_log(const struct og_config *cfg);
const char *OG_NULLABLE og_config_job(const struct og_config *cfg);
/* The shared-memory registry's path (ORPHANGUARD_SHM_REGISTRY), or NULL. */
const char *OG_NULLABLE og_config_shm_registry(const struct og_config *cfg);

/* A bad value, as og_config_parse reports it. */
struct og_warning {
    enum og_var var;
    const char *value;   /* the text given */
    const char *problem; /* what is wrong with it */
    const char *line;    /* ignoring NAME="value": problem; using DEFAULT */
};
typedef void (*og_warn_fn)(void *OG_NULLABLE context, const struct og_warning *warning);

/* Fills cfg from the ORPHANGUARD_* entries of envp; each bad value produces
 * one call to warn (may be NULL; none once QUIET is set) and keeps that
 * setting's default. */
void og_config_parse(struct og_config *cfg, char *OG_NULLABLE const envp[OG_NULLABLE], og_warn_fn OG_NULLABLE warn,
                     void *OG_NULLABLE context);
/* Is `text` a valid value of `var`? NULL if so, else what is wrong. */
const char *OG_NULLABLE og_config_check(enum og_var var, const char *text);
/* The variable's name, "ORPHANGUARD_SIGNAL". */
const char *og_config_name(enum og_var var);
/* Did a process whose environment is envp and whose name is comm opt out
 * (ORPHANGUARD_DISABLE, or comm listed in ORPHANGUARD_EXCLUDE)? */
bool og_opted_out(char *OG_NULLABLE const envp[OG_NULLABLE], const char *comm);
/* The value of `var` in envp as og_config_parse reads it (the first entry
 * naming it), or NULL. No allocation: a vfork child may call it. */
const char *OG_NULLABLE og_config_value(char *OG_NULLABLE const envp[OG_NULLABLE], enum og_var var);
/* "TERM", "SIGTERM", "term", "15", "RTMIN+2" -> signal number; -1 if invalid. */
int og_signal_parse(const char *text);
/* Can `text` be ORPHANGUARD_SIGNAL's value? NULL and *sig set if so, else
 * what is wrong with it (a signal that stops or continues a process ends
 * nothing). */
const char *OG_NULLABLE og_signal_check(const char *text, int *sig);
/* The signal a process given ORPHANGUARD_SIGNAL=text sends when its parent
 * dies: text's if og_signal_check accepts it, else the default. The one
 * decision the watcher, PR_SET_PDEATHSIG before exec and the launcher share. */
int og_signal_effective(const char *text);
/* Writes "SIGTERM" or "SIG34" into buf. */
const char *og_signal_name(int sig, char *buf, size_t len);
/* Seconds with up to three decimals ("5", "0.25", "1.5") -> milliseconds, if
 * in [min_ms, max_ms]. */
bool og_seconds_parse(const char *text, long min_ms, long max_ms, long *out_ms);
/* Does a flag value say yes ("1", "true", "yes")? */
bool og_flag_set(const char *text);
/* Is `comm` one of the comma-separated names in `list`? */
bool og_name_listed(const char *list, const char *comm);

/* ---- explicit environments (environ_inject.c) -------------------------- */

struct og_inject {
    const char *library;       /* absolute path of this library */
    const char *OG_NULLABLE const *OG_NULLABLE vars; /* "NAME=value": added when NAME is missing */
    size_t nvars;
    const char *OG_NULLABLE parent; /* "ORPHANGUARD_PARENT=...", always replaced */
};

/* Bytes og_env_build needs for envp (pointer array and strings). */
size_t og_env_size(char *OG_NULLABLE const envp[OG_NULLABLE], const struct og_inject *inject);
/* Builds, inside buf, the environment an exec'd child gets: envp with our
 * library in LD_PRELOAD (prepended, other entries kept), the missing
 * configuration variables, ASAN_OPTIONS with the link-order check off, a
 * fresh ORPHANGUARD_PARENT and an ORPHANGUARD_ADDED naming what was added.
 * Async-signal-safe: no allocation. NULL if len is too small. */
char *OG_NULLABLE *OG_NULLABLE og_env_build(char *OG_NULLABLE const envp[OG_NULLABLE], const struct og_inject *inject,
                                            void *buf, size_t len);
/* Does envp lack the library or a setting? (ASAN_OPTIONS does not count:
 * system() and popen() run /bin/sh, which adds it for what it execs.) */
bool og_env_lacks_guard(char *OG_NULLABLE const envp[OG_NULLABLE], const struct og_inject *inject);
/* Does an LD_PRELOAD value name `library`, or any liborphanguard.so? */
bool og_preload_has_library(const char *value, const char *OG_NULLABLE library);
/* Can this process (in its root and mount namespace, with its effective
 * ids) read the library, as the loader of an exec'd image must? */
bool og_library_readable(const char *library);
/* Bytes og_env_build_unguarded and og_env_build_without_library need. */
size_t og_env_unguarded_size(char *OG_NULLABLE const envp[OG_NULLABLE]);
/* Builds, inside buf, envp as given minus the LD_PRELOAD entries naming a
 * copy of the library (`library`, or any liborphanguard.so) that cannot be
 * read; LD_PRELOAD goes if nothing is left. For an exec the library cannot
 * follow. Async-signal-safe. NULL if len is too small. */
char *OG_NULLABLE *OG_NULLABLE og_env_build_unguarded(char *OG_NULLABLE const envp[OG_NULLABLE], const char *library,
                                                      void *buf, size_t len);
/* The same minus every copy of the library in LD_PRELOAD, readable or not:
 * the launcher's starting point, which puts the library it found first. */
char *OG_NULLABLE *OG_NULLABLE og_env_build_without_library(char *OG_NULLABLE const envp[OG_NULLABLE],
                                                            const char *library, void *buf, size_t len);

/* ---- /proc/PID/stat (proc_stat.c) --------------------------------------- */

struct og_proc {
    pid_t pid;
    unsigned long long start; /* /proc/PID/stat field 22; 0 = not read yet */
};

/* Reads a /proc stat file into buf; returns its fields from the state (field
 * 3) on, or NULL. Async-signal-safe. */
const char *OG_NULLABLE og_stat_read(const char *path, char *buf, size_t len);
/* Field n (>= 3) of what og_stat_read returned, as a number; false if absent. */
bool og_stat_field(const char *fields, int n, unsigned long long *value);
/* State letter and start time of pid; false if it does not exist.
 * Async-signal-safe. */
bool og_proc_stat(pid_t pid, char *state, unsigned long long *start);
/* Writes value's decimal digits to out (no terminator); returns how many. */
size_t og_format_uint(char *out, unsigned long long value);

/* ---- ORPHANGUARD_PARENT (parent_hint.c) --------------------------------- */

struct og_parent_hint {
    bool present;
    struct og_proc proc;
    bool from_main;   /* forked from its parent's main thread */
    int armed_signal; /* what exec armed PR_SET_PDEATHSIG with, 0 if nothing */
    pid_t armed_in;   /* the process exec armed it in (a static image's fork
                       * children inherit the entry, not the signal) */
};

/* The hint in an ORPHANGUARD_PARENT value; present = false if it is none. */
struct og_parent_hint og_parent_hint_parse(const char *value);
/* Writes the "ORPHANGUARD_PARENT=..." entry into buf ("" if it does not
 * fit). Async-signal-safe. */
void og_parent_hint_format(char *buf, size_t len, struct og_proc parent, bool from_main, int armed_signal,
                           pid_t armed_in);

OG_ASSUME_NONNULL_END

#endif
