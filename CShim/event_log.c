/*
 * The event log's record writer. A record is one JSON object on one line, built on the stack and
 * appended with a single write() to a file opened O_APPEND: on a local filesystem concurrent
 * writers' records then never interleave, as long as each stays under PIPE_BUF (long strings are
 * cut to fit; the record says so). The file is opened only when there is something to write, so a
 * healthy process never touches it. Nothing here allocates or takes a lock, so the watcher thread
 * can write while the program's malloc is in any state; a bad path returns its errno.
 *
 * Field order and names are the log's format (docs/design.md); add fields at the end.
 */
#define _GNU_SOURCE
#include "include/event_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Room (escaped bytes) for each string; their sum with the fixed fields stays under OG_EVENT_MAX. */
#define SHORT_ROOM 64   /* comm, signal names, event, action, writer */
#define ID_ROOM 160     /* host and each job id */
#define ARGV_ROOM 1000  /* the argv array's items, all together */
#define ARGV_ITEMS 32
#define DETAIL_ROOM 1000

struct out {
    char *buf;
    size_t len, used;
    bool full;
};

static void put(struct out *o, const char *text, size_t n)
{
    if (o->full || n > o->len - o->used) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->used, text, n);
    o->used += n;
}

static void put_str(struct out *o, const char *text)
{
    put(o, text, strlen(text));
}

static void put_ull(struct out *o, unsigned long long value)
{
    char digits[24];
    size_t n = 0;
    do
        digits[sizeof(digits) - ++n] = (char)('0' + value % 10);
    while ((value /= 10) && n < sizeof(digits));
    put(o, digits + sizeof(digits) - n, n);
}

static void put_ll(struct out *o, long long value)
{
    if (value < 0) {
        put(o, "-", 1);
        put_ull(o, 0ULL - (unsigned long long)value);
    } else {
        put_ull(o, (unsigned long long)value);
    }
}

/* A zero-padded number of `width` digits. */
static void put_padded(struct out *o, unsigned long long value, int width)
{
    char digits[20];
    for (int i = width - 1; i >= 0; i--, value /= 10)
        digits[i] = (char)('0' + value % 10);
    put(o, digits, (size_t)width);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned int min, code;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, code = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, code = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, code = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        code = code << 6 | (s[i] & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return 0;
    return len;
}

size_t og_json_escape(char *dst, size_t room, const char *src, size_t src_len, size_t *consumed)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t in = 0, out = 0;
    while (in < src_len) {
        char unit[6];
        size_t unit_len, take = 1;
        unsigned char c = s[in];
        if (c == '"' || c == '\\') {
            unit[0] = '\\', unit[1] = (char)c, unit_len = 2;
        } else if (c == '\n') {
            unit[0] = '\\', unit[1] = 'n', unit_len = 2;
        } else if (c == '\t') {
            unit[0] = '\\', unit[1] = 't', unit_len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(unit, "\\u00", 4);
            unit[4] = hex[c >> 4], unit[5] = hex[c & 15], unit_len = 6;
        } else if (c < 0x80) {
            unit[0] = (char)c, unit_len = 1;
        } else if ((take = utf8_length(s + in, src_len - in))) {
            memcpy(unit, s + in, take);
            unit_len = take;
        } else {
            memcpy(unit, "\\ufffd", 6);
            unit_len = 6, take = 1;
        }
        if (unit_len > room - out)
            break;
        memcpy(dst + out, unit, unit_len);
        out += unit_len;
        in += take;
    }
    if (consumed)
        *consumed = in;
    return out;
}

/* A quoted string cut to `room` escaped bytes, or null; true if it was cut. */
static bool put_json(struct out *o, const char *text, size_t room)
{
    if (!text) {
        put_str(o, "null");
        return false;
    }
    char escaped[DETAIL_ROOM];
    size_t len = strlen(text), consumed;
    if (room > sizeof(escaped))
        room = sizeof(escaped);
    size_t n = og_json_escape(escaped, room, text, len, &consumed);
    put(o, "\"", 1);
    put(o, escaped, n);
    put(o, "\"", 1);
    return consumed < len;
}

static void key(struct out *o, const char *name)
{
    put(o, o->used > 1 ? ",\"" : "\"", o->used > 1 ? 2 : 1);
    put_str(o, name);
    put(o, "\":", 2);
}

static void field_str(struct out *o, const char *name, const char *value, size_t room)
{
    key(o, name);
    put_json(o, value, room);
}

/* A number, or null when it equals `unknown`. */
static void field_num(struct out *o, const char *name, long long value, long long unknown)
{
    key(o, name);
    if (value == unknown)
        put_str(o, "null");
    else
        put_ll(o, value);
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian); gmtime_r may load time zone files. */
static void civil_from_days(long long z, long long *year, unsigned *month, unsigned *day)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (long long)yoe + era * 400 + (*month <= 2);
}

/* RFC 3339, UTC, microseconds: 2026-12-01T23:50:01.123456Z */
static void put_time(struct out *o, const struct timespec *when)
{
    long long secs = when->tv_sec, days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    long long in_day = secs - days * 86400, year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    put(o, "\"", 1);
    put_padded(o, year < 0 ? 0 : (unsigned long long)year, 4);
    put(o, "-", 1);
    put_padded(o, month, 2);
    put(o, "-", 1);
    put_padded(o, day, 2);
    put(o, "T", 1);
    put_padded(o, (unsigned long long)(in_day / 3600), 2);
    put(o, ":", 1);
    put_padded(o, (unsigned long long)(in_day / 60 % 60), 2);
    put(o, ":", 1);
    put_padded(o, (unsigned long long)(in_day % 60), 2);
    put(o, ".", 1);
    put_padded(o, (unsigned long long)(when->tv_nsec / 1000), 6);
    put(o, "Z\"", 2);
}

/* The first arguments, within ARGV_ROOM escaped bytes; true if some were left out or cut. */
static bool put_argv(struct out *o, const char *const *argv)
{
    if (!argv) {
        put_str(o, "null");
        return false;
    }
    size_t left = ARGV_ROOM;
    bool cut = false;
    put(o, "[", 1);
    int i;
    for (i = 0; argv[i] && i < ARGV_ITEMS; i++) {
        if (left < 3) {
            cut = true;
            break;
        }
        size_t before = o->used;
        if (i)
            put(o, ",", 1);
        cut = put_json(o, argv[i], left - 3 - (i > 0));
        left -= o->used - before;
        if (cut)
            break;
    }
    put(o, "]", 1);
    return cut || (i == ARGV_ITEMS && argv[i]);
}

struct og_event og_event_init(const char *event, const char *writer)
{
    struct og_event e;
    memset(&e, 0, sizeof(e));
    e.event = event;
    e.writer = writer;
    e.uid = -1;
    e.parent_exit_code = -1;
    e.grace_ms = -1;
    e.since_parent_ms = -1;
    e.exit_code = -1;
    e.count = -1;
    e.duration_ms = -1;
    return e;
}

static const char *value_of(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

void og_event_set_job(struct og_event *event, char *const *envp)
{
    event->job = value_of(envp, OG_ENV_JOB);
    event->slurm_job = value_of(envp, "SLURM_JOB_ID");
    event->slurm_step = value_of(envp, "SLURM_STEP_ID");
    event->torchelastic_run = value_of(envp, "TORCHELASTIC_RUN_ID");
}

static size_t format(const struct og_event *e, const struct timespec *when, const char *host, char *buf, size_t len,
                     bool with_long_fields)
{
    struct out o = {buf, len, 0, false};
    put(&o, "{", 1);
    key(&o, "time");
    put_time(&o, when);
    field_str(&o, "host", host, ID_ROOM);
    field_str(&o, "job", e->job, ID_ROOM);
    field_str(&o, "slurm_job", e->slurm_job, ID_ROOM);
    field_str(&o, "torchelastic_run", e->torchelastic_run, ID_ROOM);
    field_str(&o, "event", e->event, SHORT_ROOM);
    field_str(&o, "action", e->action, SHORT_ROOM);
    field_str(&o, "writer", e->writer, SHORT_ROOM);
    field_num(&o, "pid", e->pid, 0);
    field_num(&o, "start_time", (long long)e->start_time, 0);
    field_str(&o, "comm", e->comm, SHORT_ROOM);
    key(&o, "argv");
    bool cut = with_long_fields ? put_argv(&o, e->argv) : (put_str(&o, "null"), e->argv != NULL);
    field_num(&o, "uid", e->uid, -1);
    field_num(&o, "parent_pid", e->parent_pid, 0);
    key(&o, "parent_end");
    put_str(&o, e->parent_signal ? "\"signal\"" : e->parent_exit_code >= 0 ? "\"exit\"" : "\"unknown\"");
    field_num(&o, "parent_exit_code", e->parent_exit_code, -1);
    field_str(&o, "parent_signal", e->parent_signal, SHORT_ROOM);
    field_str(&o, "signal", e->signal, SHORT_ROOM);
    field_num(&o, "grace_ms", e->grace_ms, -1);
    field_num(&o, "since_parent_ms", e->since_parent_ms, -1);
    field_num(&o, "exit_code", e->exit_code, -1);
    field_str(&o, "exit_signal", e->exit_signal, SHORT_ROOM);
    field_num(&o, "count", e->count, -1);
    field_num(&o, "duration_ms", e->duration_ms, -1);
    key(&o, "detail");
    if (with_long_fields)
        cut |= put_json(&o, e->detail, DETAIL_ROOM);
    else
        put_str(&o, "null");
    key(&o, "truncated");
    put_str(&o, cut || (!with_long_fields && e->detail) ? "true" : "false");
    field_str(&o, "slurm_step", e->slurm_step, ID_ROOM);
    put(&o, "}\n", 2);
    return o.full ? 0 : o.used;
}

size_t og_event_format(const struct og_event *event, const struct timespec *when, const char *host, char *buf,
                       size_t len)
{
    if (len > OG_EVENT_MAX)
        len = OG_EVENT_MAX;
    size_t n = format(event, when, host, buf, len, true);
    /* The budgets keep a record under OG_EVENT_MAX; a smaller buffer loses argv and detail first. */
    return n ? n : format(event, when, host, buf, len, false);
}

int og_event_write(const char *path, const struct og_event *event)
{
    if (!path || !path[0])
        return 0;
    int saved = errno, err = 0;
    char record[OG_EVENT_MAX];
    struct timespec now;
    struct utsname names;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t n = og_event_format(event, &now, uname(&names) == 0 ? names.nodename : NULL, record, sizeof(record));
    /* O_NONBLOCK: opening a FIFO must not wait for a reader (ENXIO without one). */
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_CREAT | O_NONBLOCK | O_NOCTTY, 0644);
    struct stat st;
    if (fd < 0) {
        err = errno;
    } else if (fstat(fd, &st) != 0) {
        err = errno;
    } else if (!S_ISREG(st.st_mode)) {
        err = EINVAL;
    } else {
        ssize_t wrote;
        do
            wrote = write(fd, record, n);
        while (wrote < 0 && errno == EINTR);
        if (wrote < 0)
            err = errno;
        else if ((size_t)wrote < n)
            err = ENOSPC; /* only part fitted; a regular file short-writes only when full */
    }
    if (fd >= 0)
        close(fd);
    errno = saved;
    return err;
}
