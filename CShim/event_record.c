/*
 * The library's records in the event log (ORPHANGUARD_LOG): what a watcher
 * did when its parent died (parent_gone, sigkill_after_grace). The writer is
 * event_log.c, shared with the launcher; this file fills in what only the
 * process itself knows. Nothing is opened or read unless a log is set, so a
 * healthy process pays one pointer store at start-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "include/event_log.h"
#include "og.h"

#define ID_MAX 160

static char **g_argv;
static char g_slurm_job[ID_MAX];
static char g_slurm_step[ID_MAX];
static char g_torchelastic_run[ID_MAX];

/* Copies the value of NAME in environ into buf ("" when absent or too long). */
static void copy_value(const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    for (char **e = environ; e && *e; e++) {
        const char *value = og_entry_value(*e, name);
        if (value && strlen(value) < len) {
            strcpy(buf, value);
            return;
        }
    }
}

void og_record_init(char **argv)
{
    g_argv = argv;
    if (!og_config_log(og_config()))
        return;
    copy_value("SLURM_JOB_ID", g_slurm_job, sizeof(g_slurm_job));
    copy_value("SLURM_STEP_ID", g_slurm_step, sizeof(g_slurm_step));
    copy_value("TORCHELASTIC_RUN_ID", g_torchelastic_run, sizeof(g_torchelastic_run));
}

static long ms_since(const struct timespec *then)
{
    struct timespec now;
    if (then->tv_sec == 0 && then->tv_nsec == 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - then->tv_sec) * 1000L + (now.tv_nsec - then->tv_nsec) / 1000000L;
}

void og_record(const char *event, const char *action, const struct og_act *act, const char *detail)
{
    const struct og_config *cfg = og_config();
    const char *path = og_config_log(cfg);
    if (!path)
        return;
    char sig[24], parent_sig[24];
    struct og_event e = og_event_init(event, OG_WRITER_LIBRARY);
    e.action = action;
    e.job = og_config_job(cfg);
    e.slurm_job = g_slurm_job[0] ? g_slurm_job : NULL;
    e.slurm_step = g_slurm_step[0] ? g_slurm_step : NULL;
    e.torchelastic_run = g_torchelastic_run[0] ? g_torchelastic_run : NULL;
    e.pid = act->pid;
    e.start_time = act->start;
    e.comm = act->comm;
    e.argv = (const char *const *)g_argv;
    e.uid = getuid();
    e.parent_pid = act->parent;
    if (act->parent_status >= 0 && WIFEXITED(act->parent_status))
        e.parent_exit_code = WEXITSTATUS(act->parent_status);
    else if (act->parent_status >= 0 && WIFSIGNALED(act->parent_status))
        e.parent_signal = og_signal_name(WTERMSIG(act->parent_status), parent_sig, sizeof(parent_sig));
    e.signal = og_signal_name(strcmp(event, OG_EVENT_SIGKILL) ? cfg->signal : SIGKILL, sig, sizeof(sig));
    e.grace_ms = cfg->signal == SIGKILL ? 0 : cfg->grace_ms;
    e.since_parent_ms = ms_since(&act->seen);
    e.detail = detail;
    /* A log that cannot be written is the launcher's to report (at start,
     * where it can check): the program's stderr is not ours to fill. */
    og_event_write(path, &e);
}
