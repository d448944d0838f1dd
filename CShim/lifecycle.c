/*
 * Where the guard starts: the constructor of every process that loads the
 * library, and the atfork child handler of every fork() (fork-only workers run
 * no constructor, and neither the watcher thread nor PR_SET_PDEATHSIG survives
 * fork). Also what exec and spawn need to know about this process.
 *
 * Who is the parent? getppid() at constructor time can already be a reaper if
 * the parent died between fork and constructor, so exec passes the real one in
 * ORPHANGUARD_PARENT (parent_hint.c). A parent that differs from getppid()
 * and is gone means we are already orphaned; one that is still alive means
 * the variable is stale (it came through a program that does not load us,
 * such as a static binary) and getppid() is right.
 *
 * The watcher thread (watcher.c) guards the process; PR_SET_PDEATHSIG
 * (pdeathsig.c) is the kernel's backstop where it cannot run.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "og.h"

static bool g_active;
static bool g_excluded;
static bool g_threadless; /* a process that must stay single-threaded */
static struct og_proc g_self;
static struct og_proc g_parent;
static bool g_parent_from_main;
static pthread_t g_main_thread;
static char g_library[PATH_MAX];
static const char *g_vars[OG_VAR_COUNT + 1]; /* + the log's entry */
static size_t g_nvars;

bool og_active(void) { return g_active; }

/* Are we this process's main thread (not a vfork child, which shares our memory)? */
static bool in_main_thread(void)
{
    return getpid() == g_self.pid && pthread_equal(pthread_self(), g_main_thread);
}

/* Records what the main thread holds now (pdeathsig.c keeps the record). */
static void note_main_pdeathsig(void)
{
    int armed = 0;
    if (in_main_thread() && prctl(PR_GET_PDEATHSIG, &armed, 0, 0, 0) == 0)
        og_pdeathsig_note_main(armed);
}
bool og_in_vfork_child(void) { return g_active && getpid() != g_self.pid; }

/* ---- the parent's identity ---------------------------------------------- */

/* Start time of pid from /proc; 0 if it is gone. Async-signal-safe. */
static unsigned long long proc_start(pid_t pid)
{
    char state;
    unsigned long long start;
    return og_proc_stat(pid, &state, &start) ? start : 0;
}

/* Is pid alive (not a zombie) with this start time? */
static bool proc_alive(pid_t pid, unsigned long long start)
{
    char state;
    unsigned long long actual;
    if (!og_proc_stat(pid, &state, &actual))
        return false;
    return state != 'Z' && state != 'X' && (start == 0 || actual == start);
}

/* ---- injection for exec and spawn --------------------------------------- */

static void fill_inject(struct og_inject *inject, const char *parent_entry)
{
    inject->library = g_library;
    inject->vars = g_vars;
    inject->nvars = g_nvars;
    inject->parent = parent_entry[0] ? parent_entry : NULL;
}

/* A parent outside our pid namespace (getppid() is 0) can be neither named
 * nor polled: only the kernel's signal reaches us. The namespace's init drops
 * every signal it has no handler for, that one included: only SIGKILL, forced
 * when it comes from an ancestor namespace, ends it, and its death ends the
 * whole namespace. A process that setns() or nsenter -p put into the namespace
 * is no init and gets the configured signal. */
static void arm_pdeathsig_for_parent_outside(void)
{
    og_pdeathsig_arm(getpid() == 1 ? SIGKILL : og_config()->signal);
}

/* A process born by a raw clone() (bubblewrap's pid-namespace init, container
 * runtimes) ran no atfork handler, so g_self still names the process it was
 * cloned from, and its children would take that one, dead or outside their
 * pid namespace, for their parent. fork and posix_spawn run in ordinary
 * context, where this is set right; a vfork child never gets here. */
static void refresh_identity(void)
{
    pid_t pid = getpid();
    if (!g_active || pid == g_self.pid)
        return;
    pid_t ppid = getppid();
    if (ppid != g_self.pid) {
        g_parent.pid = ppid;
        g_parent.start = 0;
    } else {
        g_parent = g_self;
    }
    g_parent_from_main = false;
    g_self.pid = pid;
    g_self.start = 0;
    /* Cloned straight into a new pid namespace: nothing armed the kernel's
     * signal, and only it can tell us the parent outside has gone. */
    if (ppid == 0 && !g_excluded && pthread_equal(pthread_self(), g_main_thread))
        arm_pdeathsig_for_parent_outside();
}

/* The signal the new image will use: its own ORPHANGUARD_SIGNAL if the
 * environment names one, else ours; 0 if that environment disables us. */
static int signal_for(char *const envp[])
{
    const char *disable = og_config_value(envp, OG_VAR_DISABLE);
    if (disable && og_flag_set(disable))
        return 0;
    const char *value = og_config_value(envp, OG_VAR_SIGNAL);
    return value ? og_signal_effective(value) : og_config()->signal;
}

void og_inject_for_exec(struct og_inject *inject, char *parent_buf, size_t len, char *const envp[])
{
    struct og_proc parent;
    bool from_main;
    if (getpid() != g_self.pid) {
        /* A vfork child: it shares our memory and thread pointer, so g_self is
         * its parent and pthread_self() is the thread that called vfork. Only
         * the (idempotent) start time may be written here. */
        if (!g_self.start)
            g_self.start = proc_start(g_self.pid);
        parent = g_self;
        from_main = pthread_equal(pthread_self(), g_main_thread);
    } else {
        /* A fork child (the atfork handler made g_parent its parent) or a
         * plain exec, which keeps the parent. */
        if (!g_parent.start)
            g_parent.start = proc_start(g_parent.pid);
        parent = g_parent;
        from_main = g_parent_from_main;
    }
    /* The watcher thread does not survive exec. Arming covers the window
     * until the new image's constructor (which disarms it again) and static
     * images, which never run one. */
    int sig = signal_for(envp);
    if (sig && getppid() == 0 && getpid() == 1)
        sig = SIGKILL; /* the new image is a pid namespace's init */
    int armed_for_child = og_pdeathsig_for_exec(sig, from_main && !g_excluded);
    og_parent_hint_format(parent_buf, len, parent, from_main, armed_for_child, getpid());
    fill_inject(inject, parent_buf);
    note_main_pdeathsig(); /* it stays armed if the exec fails */
}

void og_inject_for_spawn(struct og_inject *inject, char *parent_buf, size_t len)
{
    refresh_identity();
    if (!g_self.start)
        g_self.start = proc_start(g_self.pid);
    og_parent_hint_format(parent_buf, len, g_self, pthread_equal(pthread_self(), g_main_thread), 0, 0);
    fill_inject(inject, parent_buf);
}

/* ---- start-up ---------------------------------------------------------- */

static bool find_library_path(void)
{
    Dl_info info;
    if (!dladdr((void *)&og_active, &info) || !info.dli_fname || !info.dli_fname[0])
        return false;
    if (info.dli_fname[0] == '/') {
        /* By hand, as og_has_prefix says why. */
        size_t n = 0;
        for (; info.dli_fname[n]; n++) {
            if (n + 1 >= sizeof(g_library))
                return false;
            g_library[n] = info.dli_fname[n];
        }
        g_library[n] = '\0';
        return true;
    }
    /* A relative LD_PRELOAD entry would not load from a child's directory. */
    return realpath(info.dli_fname, g_library) != NULL;
}

static void collect_given_vars(void)
{
    for (int v = 0; v < OG_VAR_COUNT; v++)
        if (og_config()->given[v][0])
            g_vars[g_nvars++] = og_config()->given[v];
    if (og_config_log(og_config()))
        g_vars[g_nvars++] = og_config()->log_given;
}

static void watch_parent(struct og_proc parent, bool from_main, int armed_by_exec)
{
    int sig = og_config()->signal;
    /* With SIGKILL there is nothing to report first and no grace to wait
     * for: where it can, the kernel acts at once (the line is not printed). */
    bool kernel_kills = from_main && sig == SIGKILL;
    if (kernel_kills)
        og_pdeathsig_arm(SIGKILL);
    bool gone = getppid() != parent.pid;
    if (!g_threadless && og_watch_start(parent, from_main, gone)) {
        if (!kernel_kills)
            og_pdeathsig_wake_on_parent_death(from_main, armed_by_exec);
    } else {
        og_pdeathsig_without_watcher(parent, from_main, sig);
    }
}

/* The fork child inherits our memory but not the watcher thread. */
static void after_fork_in_child(void)
{
    if (!g_active)
        return;
    int saved_errno = errno;
    /* The child's only thread is a copy of the forking thread. */
    bool from_main = pthread_equal(pthread_self(), g_main_thread);
    g_main_thread = pthread_self();
    g_parent = g_self;
    g_parent_from_main = from_main;
    g_self.pid = getpid();
    g_self.start = 0;
    og_pdeathsig_forget_after_fork();
    /* A fork child of a zygote is not the program that asked. */
    g_threadless = og_config()->watch == OG_WATCH_KERNEL;
    og_watch_forget_after_fork();
    og_mark_main_thread();
    if (!g_excluded) {
        if (getppid() == 0) {
            if (from_main)
                arm_pdeathsig_for_parent_outside();
        } else {
            watch_parent(g_parent, from_main, 0);
        }
    }
    errno = saved_errno;
}

/* Chromium-based programs (Chrome, Electron, CEF) abort their zygote unless
 * it is single-threaded: it counts its threads by the link count of
 * /proc/self/task, a check no interposed call announces, before it forks
 * renderers with a raw clone(). The zygote gets no watcher thread; the
 * kernel's PR_SET_PDEATHSIG (armed as where no thread can start, and by
 * Chromium itself) ends it with the browser. */
static bool must_stay_single_threaded(int argc, char **argv)
{
    for (int i = 1; argv && i < argc; i++)
        if (argv[i] && !strcmp(argv[i], "--type=zygote"))
            return true;
    return false;
}

/* Does `environ` hold any ORPHANGUARD_* entry? */
static bool environ_names_ours(void)
{
    for (char **e = environ; e && *e; e++)
        if (og_has_prefix(*e, OG_ENV_PREFIX))
            return true;
    return false;
}

/* glibc passes the program's argc and argv to every constructor. */
__attribute__((constructor)) static void orphanguard_init(int argc, char **argv)
{
    int saved_errno = errno;
    /* Settings first: the ones exec added count, and are passed on. A
     * process that inherited LD_PRELOAD alone has neither settings nor
     * anything of ours to take out of its environment. */
    bool ours = environ_names_ours();
    og_config_load(ours ? environ : NULL, og_warn_line);
    const struct og_config *cfg = og_config();
    char hint_value[96] = "";
    if (ours)
        og_env_restore(hint_value, sizeof(hint_value));

    struct og_parent_hint hint = og_parent_hint_parse(hint_value);
    /* An environment a static program passed on to a child it forked: the
     * kernel cleared in that child what exec had armed. */
    if (hint.armed_in != getpid())
        hint.armed_signal = 0;
    if (cfg->disabled) {
        /* exec armed it for us; a disabled program must outlive its parent. */
        og_pdeathsig_disarm_if(hint.armed_signal);
        goto out;
    }
    if (!find_library_path())
        goto out;
    collect_given_vars();
    og_record_init(argv);
    g_main_thread = pthread_self();
    g_self.pid = getpid();
    g_self.start = 0; /* read from /proc when a child first needs it */
    note_main_pdeathsig(); /* what exec, the launcher or setpriv --pdeathsig armed */
    g_active = true;
    pthread_atfork(refresh_identity, NULL, after_fork_in_child);
    og_mark_main_thread();

    /* The name matters only to an exclusion list and to messages. */
    char comm[17] = "";
    if (cfg->exclude[0] || cfg->verbose)
        prctl(PR_GET_NAME, comm, 0, 0, 0);
    g_excluded = cfg->exclude[0] && og_name_listed(cfg->exclude, comm);
    if (g_excluded) {
        /* exec armed it for us; an excluded program must outlive its parent. */
        og_pdeathsig_disarm_if(hint.armed_signal);
        og_debug("%s is excluded: not watching its parent", comm);
        goto out;
    }

    g_threadless = cfg->watch == OG_WATCH_KERNEL || must_stay_single_threaded(argc, argv);
    if (g_threadless)
        og_debug("%s runs without a watcher thread: relying on PR_SET_PDEATHSIG", comm);

    pid_t ppid = getppid();
    g_parent_from_main = hint.present && hint.from_main;
    if (ppid == 0) {
        /* The parent is outside our pid namespace. */
        if (g_parent_from_main)
            arm_pdeathsig_for_parent_outside();
        og_debug("parent outside this pid namespace: relying on PR_SET_PDEATHSIG");
        goto out;
    }
    if (hint.present && hint.proc.pid != ppid && !proc_alive(hint.proc.pid, hint.proc.start)) {
        /* Already orphaned: act at once. */
        g_parent = hint.proc;
        if (g_threadless || !og_watch_start(g_parent, g_parent_from_main, true))
            og_pdeathsig_without_watcher(g_parent, g_parent_from_main, cfg->signal);
        goto out;
    }
    if (hint.present && hint.proc.pid == ppid) {
        g_parent = hint.proc;
    } else {
        g_parent.pid = ppid;
        g_parent.start = 0;
        g_parent_from_main = false;
    }
    watch_parent(g_parent, g_parent_from_main, hint.armed_signal);
out:
    errno = saved_errno;
}
