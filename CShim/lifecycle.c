/*
 * Where the guard starts: the constructor of every process that loads the
 * library, and the atfork child handler of every fork() (fork-only workers run
 * no constructor, and neither the watcher thread nor PR_SET_PDEATHSIG survives
 * fork).
 *
 * Who is the parent? getppid() at constructor time can already be a reaper if
 * the parent died between fork and constructor, so exec passes the real one in
 * ORPHANGUARD_PARENT=<pid>:<start time>:<forked from its main thread>:<signal
 * exec armed PR_SET_PDEATHSIG with>:<the pid it was armed in>. The last two
 * also tell the launcher, in /proc/PID/environ, that a process that runs no
 * library (a static image) got the kernel's signal. A parent that differs from
 * getppid() and is gone means we are already orphaned; one that is still alive
 * means the variable is stale (it came through a program that does not load us,
 * such as a static binary) and getppid() is right.
 *
 * PR_SET_PDEATHSIG fires when the parent *thread* that forked us exits, so it is
 * armed only where that thread was the parent's main thread. With the
 * configured signal only where the watcher thread cannot run: before exec
 * (static children, and the window until the constructor), in a pid
 * namespace's init, or when the thread cannot be created. Beside a running
 * watcher it carries SIGCONT, which only wakes a stopped process.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "og.h"

static struct og_config g_cfg;
static bool g_active;
static bool g_excluded;
static bool g_threadless; /* a process that must stay single-threaded */
static struct og_proc g_self;
static struct og_proc g_parent;
static bool g_parent_from_main;
/* The PR_SET_PDEATHSIG signal this process armed for itself (0: none), to
 * arm again where the kernel clears it. */
static int g_armed;
/* What PR_SET_PDEATHSIG holds for the main thread, whoever armed it: the kernel sends it to the
 * process when the parent dies. A new thread starts with none, so the watcher cannot ask
 * prctl(PR_GET_PDEATHSIG) itself; the main thread records it wherever it changes. */
static _Atomic int g_main_pdeathsig;
static pthread_t g_main_thread;
static char g_library[PATH_MAX];
static const char *g_vars[OG_VAR_COUNT];
static size_t g_nvars;

bool og_active(void) { return g_active; }
int og_main_thread_pdeathsig(void) { return atomic_load(&g_main_pdeathsig); }

/* Are we this process's main thread (not a vfork child, which shares our memory)? */
static bool in_main_thread(void)
{
    return getpid() == g_self.pid && pthread_equal(pthread_self(), g_main_thread);
}

/* Records what the main thread holds now. */
static void note_main_pdeathsig(void)
{
    int armed = 0;
    if (in_main_thread() && prctl(PR_GET_PDEATHSIG, &armed, 0, 0, 0) == 0)
        atomic_store(&g_main_pdeathsig, armed);
}
bool og_in_vfork_child(void) { return g_active && getpid() != g_self.pid; }
const struct og_config *og_config(void) { return &g_cfg; }

/* ---- /proc/PID/stat, async-signal-safe ------------------------------- */

static size_t format_uint(char *out, unsigned long long value)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

const char *og_stat_read(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t got;
    do
        got = read(fd, buf, len - 1);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got <= 0)
        return NULL;
    buf[got] = '\0';
    /* comm may hold spaces and parentheses: fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

bool og_stat_field(const char *fields, int n, unsigned long long *value)
{
    for (int field = 3; field < n; fields++) {
        if (!*fields)
            return false;
        if (*fields == ' ')
            field++;
    }
    if (*fields < '0' || *fields > '9')
        return false;
    *value = 0;
    for (; *fields >= '0' && *fields <= '9'; fields++)
        *value = *value * 10 + (unsigned)(*fields - '0');
    return true;
}

/* Reads state and start time of pid; false if it does not exist. */
static bool read_stat(pid_t pid, char *state, unsigned long long *start)
{
    char path[40] = "/proc/";
    size_t len = 6 + format_uint(path + 6, (unsigned long long)pid);
    memcpy(path + len, "/stat", 6);
    char buf[1024];
    const char *fields = og_stat_read(path, buf, sizeof(buf));
    if (!fields || !og_stat_field(fields, 22, start))
        return false;
    *state = fields[0];
    return true;
}

unsigned long long og_proc_start(pid_t pid)
{
    char state;
    unsigned long long start;
    return read_stat(pid, &state, &start) ? start : 0;
}

bool og_proc_alive(pid_t pid, unsigned long long start)
{
    char state;
    unsigned long long actual;
    if (!read_stat(pid, &state, &actual))
        return false;
    return state != 'Z' && state != 'X' && (start == 0 || actual == start);
}

/* ---- ORPHANGUARD_PARENT ----------------------------------------------- */

struct parent_hint {
    bool present;
    struct og_proc proc;
    bool from_main;
    int armed_signal; /* what exec armed PR_SET_PDEATHSIG with in us, 0 if nothing */
};

static struct parent_hint parse_hint(const char *value)
{
    struct parent_hint hint = {0};
    unsigned long long fields[5] = {0};
    int i = 0;
    for (const char *p = value; i < 5; p++) {
        if (*p >= '0' && *p <= '9') {
            fields[i] = fields[i] * 10 + (unsigned)(*p - '0');
            if (fields[i] > (1ULL << 62))
                return hint;
        } else if (*p == ':' || *p == '\0') {
            i++;
            if (*p == '\0')
                break;
        } else {
            return hint;
        }
    }
    if (i != 5 || fields[0] == 0 || fields[0] > INT_MAX || fields[3] > 64 || fields[4] > INT_MAX)
        return hint;
    hint.present = true;
    hint.proc.pid = (pid_t)fields[0];
    hint.proc.start = fields[1];
    hint.from_main = fields[2] == 1;
    /* An environment a static program passed on to a child it forked:
     * nothing was armed in that child. */
    hint.armed_signal = fields[4] == (unsigned long long)getpid() ? (int)fields[3] : 0;
    return hint;
}

static void format_hint(char *buf, size_t len, struct og_proc parent, bool from_main, int armed_signal,
                        pid_t armed_in)
{
    char tmp[96] = OG_ENV_PARENT "=";
    size_t n = sizeof(OG_ENV_PARENT);
    n += format_uint(tmp + n, (unsigned long long)parent.pid);
    tmp[n++] = ':';
    n += format_uint(tmp + n, parent.start);
    tmp[n++] = ':';
    tmp[n++] = from_main ? '1' : '0';
    tmp[n++] = ':';
    n += format_uint(tmp + n, (unsigned long long)armed_signal);
    tmp[n++] = ':';
    n += format_uint(tmp + n, (unsigned long long)(armed_signal ? armed_in : 0));
    tmp[n] = '\0';
    if (n < len)
        memcpy(buf, tmp, n + 1);
    else if (len)
        buf[0] = '\0';
}

/* ---- injection for exec and spawn --------------------------------------- */

static void fill_inject(struct og_inject *inject, const char *parent_entry)
{
    inject->library = g_library;
    inject->vars = g_vars;
    inject->nvars = g_nvars;
    inject->parent = parent_entry[0] ? parent_entry : NULL;
}

/* Not for a vfork child, which shares g_armed with its parent. The record changes first: a
 * watcher acting in between then believes the new signal armed, and sends its own where the old
 * one may have gone out too (a double, at worst), never the other way round (none at all). */
static void arm_pdeathsig(int sig)
{
    bool main_thread = in_main_thread();
    if (main_thread)
        atomic_store(&g_main_pdeathsig, sig);
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) == 0)
        g_armed = sig;
    else if (main_thread)
        note_main_pdeathsig();
}

/* A parent outside our pid namespace (getppid() is 0) can be neither named
 * nor polled: only the kernel's signal reaches us. The namespace's init drops
 * every signal it has no handler for, that one included: only SIGKILL, forced
 * when it comes from an ancestor namespace, ends it, and its death ends the
 * whole namespace. A process that setns() or nsenter -p put into the namespace
 * is no init and gets the configured signal. */
static void arm_pdeathsig_for_parent_outside(void)
{
    arm_pdeathsig(getpid() == 1 ? SIGKILL : g_cfg.signal);
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
    int sig = g_cfg.signal;
    for (char *const *e = envp; e && *e; e++) {
        if (!strncmp(*e, "ORPHANGUARD_DISABLE=", 20) && og_flag_set(*e + 20))
            return 0;
        if (!strncmp(*e, "ORPHANGUARD_SIGNAL=", 19)) {
            int parsed = og_signal_parse(*e + 19);
            if (parsed > 0)
                sig = parsed;
        }
    }
    return sig;
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
            g_self.start = og_proc_start(g_self.pid);
        parent = g_self;
        from_main = pthread_equal(pthread_self(), g_main_thread);
    } else {
        /* A fork child (the atfork handler made g_parent its parent) or a
         * plain exec, which keeps the parent. */
        if (!g_parent.start)
            g_parent.start = og_proc_start(g_parent.pid);
        parent = g_parent;
        from_main = g_parent_from_main;
    }
    /* The watcher thread does not survive exec. Arming covers the window
     * until the new image's constructor (which disarms it again) and static
     * images, which never run one. A signal someone else armed (setpriv
     * --pdeathsig, bwrap --die-with-parent) is left as it is. */
    int armed = 0, sig = signal_for(envp);
    if (sig && getppid() == 0 && getpid() == 1)
        sig = SIGKILL; /* the new image is a pid namespace's init */
    prctl(PR_GET_PDEATHSIG, &armed, 0, 0, 0);
    if (armed == SIGCONT && prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) == 0)
        armed = 0; /* the watcher's wake-up, which goes with the watcher */
    if (from_main && !g_excluded && sig && (armed == 0 || armed == sig) &&
        prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) == 0)
        armed = sig;
    else if (armed != sig)
        armed = 0;
    format_hint(parent_buf, len, parent, from_main, armed, getpid());
    fill_inject(inject, parent_buf);
    note_main_pdeathsig(); /* it stays armed if the exec fails */
}

void og_inject_for_spawn(struct og_inject *inject, char *parent_buf, size_t len)
{
    refresh_identity();
    if (!g_self.start)
        g_self.start = og_proc_start(g_self.pid);
    format_hint(parent_buf, len, g_self, pthread_equal(pthread_self(), g_main_thread), 0, 0);
    fill_inject(inject, parent_buf);
}

/* ---- start-up ---------------------------------------------------------- */

static bool find_library_path(void)
{
    Dl_info info;
    if (!dladdr((void *)&og_active, &info) || !info.dli_fname || !info.dli_fname[0])
        return false;
    if (info.dli_fname[0] == '/') {
        if (strlen(info.dli_fname) >= sizeof(g_library))
            return false;
        strcpy(g_library, info.dli_fname);
        return true;
    }
    /* A relative LD_PRELOAD entry would not load from a child's directory. */
    return realpath(info.dli_fname, g_library) != NULL;
}

static void collect_given_vars(void)
{
    for (int v = 0; v < OG_VAR_COUNT; v++)
        if (g_cfg.given[v][0])
            g_vars[g_nvars++] = g_cfg.given[v];
}

/* The watcher is the primary guard: it can report, escalate and never signals
 * twice. PR_SET_PDEATHSIG is the backstop where no watcher runs; the one exec
 * armed for the window before this constructor is disarmed again. */
static void disarm_if(int armed_by_exec)
{
    int armed = 0;
    if (armed_by_exec && prctl(PR_GET_PDEATHSIG, &armed, 0, 0, 0) == 0 && armed == armed_by_exec)
        arm_pdeathsig(0);
}

/* A stopped process (SIGSTOP, Ctrl-Z, SIGTTIN) stops its watcher with it and
 * would stay stopped after its parent's death, for good. The kernel's SIGCONT
 * on that death resumes it and the watcher acts. SIGCONT ends nothing, and a
 * running process without a handler for it does not notice it. */
static void arm_wake_on_parent_death(bool from_main, int armed_by_exec)
{
    if (!from_main && !armed_by_exec)
        return; /* nothing of ours armed, nothing to arm */
    int armed = 0;
    if (prctl(PR_GET_PDEATHSIG, &armed, 0, 0, 0) != 0 || (armed != 0 && armed != armed_by_exec))
        return; /* someone else's choice: setpriv --pdeathsig, the launcher */
    arm_pdeathsig(from_main ? SIGCONT : 0);
}

/* No watcher thread runs here: none could be created, or none may be (the
 * kernel refuses new threads to a process that setns() or unshare() moved
 * into another pid namespace for its children). The kernel's signal guards
 * it instead, where that is safe. */
static void guard_without_watcher(struct og_proc parent, bool from_main, int sig)
{
    if (!from_main)
        return;
    arm_pdeathsig(sig);
    /* Armed too late if the parent is already gone. */
    if (getppid() != parent.pid)
        kill(getpid(), sig);
}

/* A process whose children go to another pid namespace waits for that
 * namespace's init, which only SIGKILL ends, and may well block SIGTERM while
 * it waits (util-linux's unshare does): without a watcher to escalate, the
 * configured signal could leave both running. */
void og_watcher_lost(bool children_in_other_pid_namespace)
{
    if (g_active && !g_excluded)
        guard_without_watcher(g_parent, g_parent_from_main,
                              children_in_other_pid_namespace ? SIGKILL : g_cfg.signal);
}

/* A change of effective ids or capabilities clears PR_SET_PDEATHSIG in every
 * thread it reaches: the setuid family calls this afterwards to arm ours
 * again, as it was. */
void og_after_credentials_change(void)
{
    int armed = 0;
    if (g_armed && prctl(PR_GET_PDEATHSIG, &armed, 0, 0, 0) == 0 && armed == 0)
        arm_pdeathsig(g_armed);
}

static void watch_parent(struct og_proc parent, bool from_main, int armed_by_exec)
{
    /* With SIGKILL there is nothing to report first and no grace to wait
     * for: where it can, the kernel acts at once (the line is not printed). */
    bool kernel_kills = from_main && g_cfg.signal == SIGKILL;
    if (kernel_kills)
        arm_pdeathsig(SIGKILL);
    bool gone = getppid() != parent.pid;
    if (!g_threadless && og_watch_start(parent, gone)) {
        if (!kernel_kills)
            arm_wake_on_parent_death(from_main, armed_by_exec);
    } else {
        guard_without_watcher(parent, from_main, g_cfg.signal);
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
    g_armed = 0; /* the kernel does not pass PR_SET_PDEATHSIG to a fork child */
    atomic_store(&g_main_pdeathsig, 0);
    /* A fork child of a zygote is not the program that asked. */
    g_threadless = g_cfg.watch == OG_WATCH_KERNEL;
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

/* glibc passes the program's argc and argv to every constructor. */
__attribute__((constructor)) static void orphanguard_init(int argc, char **argv)
{
    int saved_errno = errno;
    og_resolve_exec_next();
    /* Settings first: the ones exec added count, and are passed on. */
    og_config_parse(&g_cfg, environ, og_warn_line);
    char hint_value[96];
    og_env_restore(hint_value, sizeof(hint_value));

    struct parent_hint hint = parse_hint(hint_value);
    if (g_cfg.disabled) {
        /* exec armed it for us; a disabled program must outlive its parent. */
        disarm_if(hint.armed_signal);
        goto out;
    }
    if (!find_library_path())
        goto out;
    collect_given_vars();
    g_main_thread = pthread_self();
    g_self.pid = getpid();
    g_self.start = 0; /* read from /proc when a child first needs it */
    note_main_pdeathsig(); /* what exec, the launcher or setpriv --pdeathsig armed */
    g_active = true;
    pthread_atfork(refresh_identity, NULL, after_fork_in_child);
    og_mark_main_thread();

    char comm[17] = "";
    prctl(PR_GET_NAME, comm, 0, 0, 0);
    g_excluded = g_cfg.exclude[0] && og_name_listed(g_cfg.exclude, comm);
    if (g_excluded) {
        /* exec armed it for us; an excluded program must outlive its parent. */
        disarm_if(hint.armed_signal);
        og_debug("%s is excluded: not watching its parent", comm);
        goto out;
    }

    g_threadless = g_cfg.watch == OG_WATCH_KERNEL || must_stay_single_threaded(argc, argv);
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
    if (hint.present && hint.proc.pid != ppid && !og_proc_alive(hint.proc.pid, hint.proc.start)) {
        g_parent = hint.proc;
        og_watch_start(g_parent, true);
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
