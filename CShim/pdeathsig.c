/*
 * PR_SET_PDEATHSIG, the kernel's backstop where no watcher thread runs.
 *
 * It fires when the parent *thread* that forked us exits, so callers arm it
 * only where that thread was the parent's main thread (`from_main`). The
 * watcher is the primary guard: it can report, escalate and never signals
 * twice. The kernel's signal carries the configured signal only where the
 * watcher cannot run: before exec (static children, and the window until the
 * new constructor), in a pid namespace's init, or when the thread cannot be
 * created. Beside a running watcher it carries SIGCONT, which only wakes a
 * stopped process. A signal someone else armed (setpriv --pdeathsig, bwrap
 * --die-with-parent, the launcher) is left as it is.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "og.h"

/* The signal this process armed for itself (0: none), to arm again where
 * the kernel clears it. A vfork child shares it with its parent and must not
 * write it. */
static int g_armed;
/* What PR_SET_PDEATHSIG holds for the main thread, whoever armed it: what the
 * kernel sends when the parent dies. A new thread starts with none, so the
 * watcher cannot ask prctl(PR_GET_PDEATHSIG) itself; the main thread records
 * it wherever it changes. */
static _Atomic int g_main_pdeathsig;

int og_main_thread_pdeathsig(void) { return atomic_load(&g_main_pdeathsig); }
void og_pdeathsig_note_main(int sig) { atomic_store(&g_main_pdeathsig, sig); }

/* The record changes first: a watcher acting in between then believes the new
 * signal armed and sends its own where the old one may have gone out too (a
 * double, at worst), never the other way round (none at all). */
void og_pdeathsig_arm(int sig)
{
    bool main_thread = syscall(SYS_gettid) == getpid();
    if (main_thread)
        og_pdeathsig_note_main(sig);
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) == 0) {
        g_armed = sig;
    } else if (main_thread) {
        int found = 0;
        if (prctl(PR_GET_PDEATHSIG, &found, 0, 0, 0) == 0)
            og_pdeathsig_note_main(found);
    }
}

void og_pdeathsig_forget_after_fork(void)
{
    g_armed = 0; /* the kernel does not pass PR_SET_PDEATHSIG to a fork child */
    og_pdeathsig_note_main(0);
}

int og_pdeathsig_for_exec(int sig, bool may_arm)
{
    int found = 0;
    prctl(PR_GET_PDEATHSIG, &found, 0, 0, 0);
    if (found == SIGCONT && prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) == 0)
        found = 0; /* the watcher's wake-up, which goes with the watcher */
    if (may_arm && sig && (found == 0 || found == sig) && prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) == 0)
        return sig;
    /* Someone else's signal counts for the new image only if it is the one
     * the new image would send itself. */
    return found == sig ? sig : 0;
}

void og_pdeathsig_disarm_if(int armed_by_exec)
{
    int found = 0;
    if (armed_by_exec && prctl(PR_GET_PDEATHSIG, &found, 0, 0, 0) == 0 && found == armed_by_exec)
        og_pdeathsig_arm(0);
}

/* A stopped process (SIGSTOP, Ctrl-Z, SIGTTIN) stops its watcher with it and
 * would stay stopped after its parent's death, for good. The kernel's SIGCONT
 * on that death resumes it and the watcher acts. SIGCONT ends nothing, and a
 * running process without a handler for it does not notice it. */
void og_pdeathsig_wake_on_parent_death(bool from_main, int armed_by_exec)
{
    if (!from_main && !armed_by_exec)
        return; /* nothing of ours armed, nothing to arm */
    int found = 0;
    if (prctl(PR_GET_PDEATHSIG, &found, 0, 0, 0) != 0 || (found != 0 && found != armed_by_exec))
        return; /* someone else's choice: setpriv --pdeathsig, the launcher */
    og_pdeathsig_arm(from_main ? SIGCONT : 0);
}

void og_pdeathsig_without_watcher(struct og_proc parent, bool from_main, int sig)
{
    if (!from_main)
        return;
    og_pdeathsig_arm(sig);
    /* Armed too late if the parent is already gone. */
    if (getppid() != parent.pid)
        kill(getpid(), sig);
}

/* A change of effective ids or capabilities clears PR_SET_PDEATHSIG in every
 * thread it reaches: the setuid family calls this afterwards to arm ours
 * again, as it was. */
void og_after_credentials_change(void)
{
    int found = 0;
    if (g_armed && prctl(PR_GET_PDEATHSIG, &found, 0, 0, 0) == 0 && found == 0)
        og_pdeathsig_arm(g_armed);
}
