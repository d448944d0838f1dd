/*
 * Parsing of the ORPHANGUARD_* variables. Pure functions over an envp array so
 * the fuzzer and the constructor share them. A bad value never stops the host:
 * it produces one warning and the default for that setting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "include/og_core.h"

_Static_assert(OG_DEFAULT_SIGNAL == SIGTERM, "the documented default");

static const char *const var_names[OG_VAR_COUNT] = {
    [OG_VAR_SIGNAL] = "ORPHANGUARD_SIGNAL",
    [OG_VAR_GRACE] = "ORPHANGUARD_GRACE",
    [OG_VAR_POLL_INTERVAL] = "ORPHANGUARD_POLL_INTERVAL",
    [OG_VAR_SCOPE] = "ORPHANGUARD_SCOPE",
    [OG_VAR_WATCH] = "ORPHANGUARD_WATCH",
    [OG_VAR_QUIET] = "ORPHANGUARD_QUIET",
    [OG_VAR_VERBOSE] = "ORPHANGUARD_VERBOSE",
    [OG_VAR_EXCLUDE] = "ORPHANGUARD_EXCLUDE",
    [OG_VAR_DISABLE] = "ORPHANGUARD_DISABLE",
    [OG_VAR_LOG] = "ORPHANGUARD_LOG",
    [OG_VAR_JOB] = "ORPHANGUARD_JOB",
    [OG_VAR_SHM_REGISTRY] = "ORPHANGUARD_SHM_REGISTRY",
};

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
    {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
    {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},   {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

/* Parses a whole decimal number in [min, max]; false on anything else. */
static bool parse_long(const char *text, long min, long max, long *out)
{
    if (*text == '\0')
        return false;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end;
    long value = strtol(text, &end, 10);
    if (errno || *end || value < min || value > max)
        return false;
    *out = value;
    return true;
}

/* Written by hand: strtod depends on the host's locale. */
bool og_seconds_parse(const char *text, long min_ms, long max_ms, long *out_ms)
{
    long whole = 0, frac = 0;
    int frac_digits = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > max_ms / 1000 + 1)
            return false;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (frac_digits == 3)
                return false;
            frac = frac * 10 + (*p - '0');
            frac_digits++;
        }
    }
    if (*p != '\0')
        return false;
    while (frac_digits++ < 3)
        frac *= 10;
    long ms = whole * 1000 + frac;
    if (ms < min_ms || ms > max_ms)
        return false;
    *out_ms = ms;
    return true;
}

static bool parse_flag(const char *text, bool *out)
{
    if (!strcmp(text, "1") || !strcasecmp(text, "true") || !strcasecmp(text, "yes")) {
        *out = true;
        return true;
    }
    if (!strcmp(text, "0") || !strcasecmp(text, "false") || !strcasecmp(text, "no") || !*text) {
        *out = false;
        return true;
    }
    return false;
}

bool og_flag_set(const char *text)
{
    bool value;
    return parse_flag(text, &value) && value;
}

int og_signal_parse(const char *text)
{
    long number;
    if (parse_long(text, 1, SIGRTMAX, &number))
        return (int)number;
    if (!strncasecmp(text, "SIG", 3))
        text += 3;
    for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
        if (!strcasecmp(text, signal_names[i].name))
            return signal_names[i].number;
    if (!strncasecmp(text, "RTMIN", 5) || !strncasecmp(text, "RTMAX", 5)) {
        bool from_min = (text[3] == 'I' || text[3] == 'i');
        long offset = 0;
        if (text[5] != '\0') {
            if (text[5] != (from_min ? '+' : '-') || !parse_long(text + 6, 0, 64, &offset))
                return -1;
        }
        long sig = from_min ? SIGRTMIN + offset : SIGRTMAX - offset;
        return (sig >= SIGRTMIN && sig <= SIGRTMAX) ? (int)sig : -1;
    }
    return -1;
}

const char *og_signal_name(int sig, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
        if (signal_names[i].number == sig) {
            snprintf(buf, len, "SIG%s", signal_names[i].name);
            return buf;
        }
    snprintf(buf, len, "SIG%d", sig);
    return buf;
}

const char *og_signal_check(const char *text, int *sig)
{
    int parsed = og_signal_parse(text);
    if (parsed < 0)
        return "not a signal name or number";
    if (parsed == SIGSTOP || parsed == SIGTSTP || parsed == SIGTTIN || parsed == SIGTTOU || parsed == SIGCONT)
        return "stops or continues a process instead of ending it";
    *sig = parsed;
    return NULL;
}

int og_signal_effective(const char *text)
{
    int sig = OG_DEFAULT_SIGNAL;
    return og_signal_check(text, &sig) ? OG_DEFAULT_SIGNAL : sig;
}

bool og_name_listed(const char *list, const char *comm)
{
    size_t want = strlen(comm);
    while (*list) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        if (len == want && want > 0 && !memcmp(list, comm, len))
            return true;
        if (!end)
            break;
        list = end + 1;
    }
    return false;
}

static void defaults(struct og_config *cfg)
{
    /* Not the log's 4 KiB: zeroing them would cost every process's start. */
    memset(cfg, 0, offsetof(struct og_config, log_given));
    cfg->log_given[0] = '\0';
    cfg->signal = OG_DEFAULT_SIGNAL;
    cfg->grace_ms = 5000;
    cfg->poll_ms = 100;
    cfg->scope = OG_SCOPE_PROCESS;
    cfg->watch = OG_WATCH_AUTO;
}

/* Applies one variable; returns a description of what is wrong, or NULL. */
static const char *apply(struct og_config *cfg, enum og_var var, const char *value)
{
    long number;
    int sig;
    switch (var) {
    case OG_VAR_SIGNAL: {
        const char *problem = og_signal_check(value, &sig);
        if (!problem)
            cfg->signal = sig;
        return problem;
    }
    case OG_VAR_GRACE:
        if (!og_seconds_parse(value, 0, 86400 * 1000L, &number))
            return "not a number of seconds from 0 to 86400";
        cfg->grace_ms = number;
        return NULL;
    case OG_VAR_POLL_INTERVAL:
        if (!og_seconds_parse(value, 1, 60 * 1000L, &number))
            return "not a number of seconds from 0.001 to 60";
        cfg->poll_ms = number;
        return NULL;
    case OG_VAR_SCOPE:
        if (!strcmp(value, "process"))
            cfg->scope = OG_SCOPE_PROCESS;
        else if (!strcmp(value, "group"))
            cfg->scope = OG_SCOPE_GROUP;
        else
            return "expected \"process\" or \"group\"";
        return NULL;
    case OG_VAR_WATCH:
        if (!strcmp(value, "auto"))
            cfg->watch = OG_WATCH_AUTO;
        else if (!strcmp(value, "poll"))
            cfg->watch = OG_WATCH_POLL;
        else if (!strcmp(value, "kernel"))
            cfg->watch = OG_WATCH_KERNEL;
        else
            return "expected \"auto\", \"poll\" or \"kernel\"";
        return NULL;
    case OG_VAR_QUIET:
        return parse_flag(value, &cfg->quiet) ? NULL : "expected 1 or 0";
    case OG_VAR_VERBOSE:
        return parse_flag(value, &cfg->verbose) ? NULL : "expected 1 or 0";
    case OG_VAR_DISABLE:
        return parse_flag(value, &cfg->disabled) ? NULL : "expected 1 or 0";
    case OG_VAR_EXCLUDE:
        if (strlen(value) >= sizeof(cfg->exclude))
            return "longer than 255 characters";
        strcpy(cfg->exclude, value);
        return NULL;
    case OG_VAR_LOG:
        /* Every process of the tree opens it from its own working directory. */
        if (value[0] != '/')
            return "not an absolute path";
        if (strlen(value) >= OG_LOG_MAX)
            return "longer than 4095 characters";
        /* By hand: snprintf costs a process with a log thousands of instructions, and a libc
         * function the library does not call yet costs every process a symbol lookup. */
        {
            char *out = cfg->log_given;
            for (const char *in = "ORPHANGUARD_LOG="; *in;)
                *out++ = *in++;
            while ((*out++ = *value++))
                ;
        }
        return NULL;
    case OG_VAR_JOB:
        /* Any text; given[] below keeps it when it fits. */
        return strlen(value) < OG_VALUE_MAX ? NULL : "longer than 255 characters";
    case OG_VAR_SHM_REGISTRY:
        if (value[0] != '/')
            return "not an absolute path";
        return strlen(value) < OG_VALUE_MAX ? NULL : "longer than 255 characters";
    case OG_VAR_COUNT:
        break;
    }
    return "unknown";
}

static const char *default_text(enum og_var var)
{
    switch (var) {
    case OG_VAR_SIGNAL: return "SIGTERM";
    case OG_VAR_GRACE: return "5";
    case OG_VAR_POLL_INTERVAL: return "0.1";
    case OG_VAR_SCOPE: return "process";
    case OG_VAR_WATCH: return "auto";
    case OG_VAR_EXCLUDE: return "no exclusions";
    case OG_VAR_LOG: return "no event log";
    case OG_VAR_JOB: return "no job id";
    case OG_VAR_SHM_REGISTRY: return "no registry";
    default: return "0";
    }
}

/* The value of each variable in envp: the first entry naming it counts. */
static void collect_values(char *const envp[], const char *values[OG_VAR_COUNT])
{
    for (char *const *e = envp; e && *e; e++) {
        const size_t prefix = sizeof(OG_ENV_PREFIX) - 1;
        if (!og_has_prefix(*e, OG_ENV_PREFIX))
            continue;
        for (int v = 0; v < OG_VAR_COUNT; v++) {
            const char *value = og_entry_value(*e + prefix, var_names[v] + prefix);
            if (value && !values[v])
                values[v] = value;
        }
    }
}

const char *og_config_value(char *const envp[], enum og_var var)
{
    const char *values[OG_VAR_COUNT] = {0};
    collect_values(envp, values);
    return values[var];
}

void og_config_parse(struct og_config *cfg, char *const envp[], og_warn_fn warn, void *context)
{
    const char *values[OG_VAR_COUNT] = {0};
    defaults(cfg);
    collect_values(envp, values);
    /* Quiet first: it decides whether the other warnings are printed. */
    static const enum og_var order[OG_VAR_COUNT] = {
        OG_VAR_QUIET, OG_VAR_VERBOSE, OG_VAR_DISABLE, OG_VAR_SIGNAL, OG_VAR_GRACE,
        OG_VAR_POLL_INTERVAL, OG_VAR_SCOPE, OG_VAR_WATCH, OG_VAR_EXCLUDE, OG_VAR_LOG, OG_VAR_JOB,
        OG_VAR_SHM_REGISTRY,
    };
    for (int i = 0; i < OG_VAR_COUNT; i++) {
        enum og_var v = order[i];
        if (!values[v])
            continue;
        const char *problem = apply(cfg, v, values[v]);
        if (problem) {
            if (warn && !cfg->quiet) {
                char line[OG_VALUE_MAX + 160];
                snprintf(line, sizeof(line), "ignoring %s=\"%.*s\": %s; using %s", var_names[v],
                         OG_VALUE_MAX, values[v], problem, default_text(v));
                struct og_warning warning = {v, values[v], problem, line};
                warn(context, &warning);
            }
            continue;
        }
        /* Remember valid values verbatim to pass them on through exec. */
        if (v != OG_VAR_LOG && strlen(values[v]) < OG_VALUE_MAX)
            snprintf(cfg->given[v], sizeof(cfg->given[v]), "%s=%s", var_names[v], values[v]);
    }
}

const char *og_config_check(enum og_var var, const char *text)
{
    struct og_config scratch;
    defaults(&scratch);
    return var >= 0 && var < OG_VAR_COUNT ? apply(&scratch, var, text) : "unknown";
}

const char *og_config_log(const struct og_config *cfg)
{
    return cfg->log_given[0] ? cfg->log_given + sizeof("ORPHANGUARD_LOG=") - 1 : NULL;
}

const char *og_config_job(const struct og_config *cfg)
{
    return cfg->given[OG_VAR_JOB][0] ? cfg->given[OG_VAR_JOB] + sizeof("ORPHANGUARD_JOB=") - 1 : NULL;
}

const char *og_config_shm_registry(const struct og_config *cfg)
{
    const char *entry = cfg->given[OG_VAR_SHM_REGISTRY];
    return entry[0] ? entry + sizeof("ORPHANGUARD_SHM_REGISTRY=") - 1 : NULL;
}

const char *og_config_name(enum og_var var)
{
    return var >= 0 && var < OG_VAR_COUNT ? var_names[var] : "";
}

bool og_opted_out(char *const envp[], const char *comm)
{
    struct og_config cfg;
    og_config_parse(&cfg, envp, NULL, NULL);
    return cfg.disabled || (cfg.exclude[0] && og_name_listed(cfg.exclude, comm));
}
