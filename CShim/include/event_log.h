/*
 * The event log (ORPHANGUARD_LOG / --log): one JSON Lines record per action, appended by the
 * library in any guarded process and by the launcher. See event_log.c.
 *
 * Self-contained (no og.h): it builds into the preload library and on its own (the launcher, the
 * fuzz harness, test drivers).
 */
#ifndef ORPHANGUARD_EVENT_LOG_H
#define ORPHANGUARD_EVENT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#ifndef __clang__
#define _Nullable
#define _Nonnull
#else
#pragma clang assume_nonnull begin
#endif

/* A record is at most this long, newline included: writes of up to PIPE_BUF bytes to a file opened
 * O_APPEND are not interleaved with other writers' on a local filesystem. */
#define OG_EVENT_MAX 4096

/* Event names (the "event" field); stable. */
#define OG_EVENT_PARENT_GONE "parent_gone"         /* action: signal, wait_eof, excluded */
#define OG_EVENT_SIGKILL "sigkill_after_grace"     /* the grace period ran out */
#define OG_EVENT_JOB_START "job_start"             /* launcher: command (argv), settings (detail) */
#define OG_EVENT_ADOPTED "orphan_adopted"          /* launcher: re-parented to it while CMD ran */
#define OG_EVENT_ENDED_BY_KERNEL "ended_by_kernel" /* launcher reaped it; exit_signal says how */
#define OG_EVENT_LEFTOVER "leftover_ended"         /* launcher: still there at CMD's exit */
#define OG_EVENT_UNKILLABLE "still_alive"          /* launcher: present N s after SIGKILL (detail) */
#define OG_EVENT_JOB_END "job_end"                 /* launcher: CMD's status, count, duration_ms */

/* The job id the launcher sets (inherited by the whole tree) and the log's path. */
#define OG_ENV_JOB "ORPHANGUARD_JOB"
#define OG_ENV_LOG "ORPHANGUARD_LOG"

/* "writer" values. */
#define OG_WRITER_LIBRARY "library"
#define OG_WRITER_LAUNCHER "launcher"

/* One event. Strings may be NULL (written as null); numbers use the "unknown" value noted. */
struct og_event {
    const char *_Nullable event;            /* OG_EVENT_* */
    const char *_Nullable action;           /* parent_gone: "signal", "wait_eof", "excluded" */
    const char *_Nullable writer;           /* OG_WRITER_* */
    const char *_Nullable job;              /* the launcher's job id (ORPHANGUARD_JOB) */
    const char *_Nullable slurm_job;        /* SLURM_JOB_ID */
    const char *_Nullable torchelastic_run; /* TORCHELASTIC_RUN_ID */
    pid_t pid;                              /* the process the record is about */
    unsigned long long start_time;          /* its /proc/PID/stat field 22; 0 unknown */
    const char *_Nullable comm;
    const char *_Nullable const *_Nullable argv; /* NULL-terminated; its head is written */
    long long uid;                          /* -1 unknown */
    pid_t parent_pid;                       /* 0 unknown */
    int parent_exit_code;                   /* -1 unless the parent exited */
    const char *_Nullable parent_signal;    /* "SIGKILL" if a signal ended the parent */
    const char *_Nullable signal;           /* the signal sent */
    long grace_ms;                          /* -1 none */
    long since_parent_ms;                   /* since the parent's death was seen; -1 unknown */
    int exit_code;                          /* how the process itself ended: -1 unknown */
    const char *_Nullable exit_signal;
    long count;                             /* job_end: processes ended; -1 none */
    long duration_ms;                       /* job_end: the job's duration; -1 none */
    const char *_Nullable detail;           /* free text: settings, state, wchan */
    const char *_Nullable slurm_step;       /* SLURM_STEP_ID (added last: fields are only appended) */
};

/* An event with every field unknown. */
struct og_event og_event_init(const char *event, const char *writer);

/* Points event->job, slurm_job, slurm_step and torchelastic_run at the values of ORPHANGUARD_JOB,
 * SLURM_JOB_ID, SLURM_STEP_ID and TORCHELASTIC_RUN_ID in envp (not copied: envp must outlive the event). Async-signal-safe. */
void og_event_set_job(struct og_event *event, char *_Nullable const *_Nullable envp);

/* JSON-escapes at most `src_len` bytes of src into dst, writing no more than `room` bytes and never
 * splitting an escape or a UTF-8 sequence; invalid UTF-8 becomes U+FFFD. Returns the bytes
 * written; *consumed (may be NULL) gets the source bytes taken. No quotes, no NUL. */
size_t og_json_escape(char *dst, size_t room, const char *src, size_t src_len, size_t *_Nullable consumed);

/* Formats one record, newline-terminated, into buf (OG_EVENT_MAX is enough: long strings are cut
 * to fit). Returns its length; 0 if len is too small. Allocates nothing, async-signal-safe. */
size_t og_event_format(const struct og_event *event, const struct timespec *when, const char *_Nullable host,
                       char *buf, size_t len);

/* Appends the record to path with one write() (opened O_WRONLY|O_APPEND|O_CLOEXEC|O_CREAT only now).
 * 0, or the errno: ENOENT (missing folder), EISDIR, EACCES, ENXIO (a FIFO nobody reads), EINVAL
 * (not a regular file: a FIFO, a device), ENOSPC (a full disk, also when only part fitted).
 * The caller's errno is kept. Allocates nothing. A NULL or empty path writes nothing and returns 0. */
int og_event_write(const char *_Nullable path, const struct og_event *event);

#ifdef __clang__
#pragma clang assume_nonnull end
#endif

#endif
