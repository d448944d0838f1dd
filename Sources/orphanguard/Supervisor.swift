import Glibc
import LauncherSys

/// Runs CMD as a child subreaper: forwards signals, reaps every zombie, ends re-parented orphans,
/// and when CMD exits ends whatever is left, then reports CMD's status.
final class Supervisor {
    struct Policy {
        var signal: Int32
        var graceMilliseconds: Int
        var forwardToGroup: Bool
        var quiet: Bool
        var verbose: Bool
        var excluded: [String]
    }

    /// Signals passed on to CMD. SIGCHLD drives reaping; the job-control stops are handled apart.
    static let forwarded: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
                                     SIGALRM, SIGPIPE, SIGPWR, SIGURG, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO]
    static let stops: [Int32] = [SIGTSTP, SIGTTIN, SIGTTOU]

    /// How often re-parented orphans are looked for.
    static let scanMilliseconds = 100

    private let policy: Policy
    private var child: pid_t = 0
    private var childStatus: Int32?
    /// Processes being ended: the time after which they get SIGKILL.
    private var ending: [pid_t: Int] = [:]
    /// Re-parented processes that opted out of the guard.
    private var spared: Set<pid_t> = []
    private var handled = sigset_t()
    private var original = sigset_t()

    /// Under `--isolate`, in the namespace's init (Isolation.swift): the signal the init gets when the
    /// launcher outside dies, and the check that it did. CMD then gets the configured signal, as a
    /// CMD started by the launcher gets it from its PR_SET_PDEATHSIG.
    var parentDeath: (signal: Int32, confirm: () -> Bool)?

    init(policy: Policy) {
        self.policy = policy
    }

    /// Starts CMD and supervises until it and every other descendant are gone; returns the exit code.
    func run(_ argv: [String], environment: [String]) throws -> Int32 {
        let subreaper = og_launcher_become_subreaper()
        if subreaper != 0 {
            report("cannot become a child subreaper (\(String(cString: strerror(subreaper)))); orphans of dead parents are not adopted")
        }
        sigemptyset(&handled)
        for sig in Self.forwarded + Self.stops + [SIGCHLD] { sigaddset(&handled, sig) }
        if let parentDeath { sigaddset(&handled, parentDeath.signal) }
        // Blocked, then taken with sigtimedwait: no handler runs at an awkward moment.
        try systemCall("sigprocmask") { sigprocmask(SIG_BLOCK, &handled, &original) }
        if let parentDeath { sigdelset(&original, parentDeath.signal) } // blocked since our exec; not CMD's
        try spawn(argv, environment: environment)
        supervise()
        endRemaining()
        return exitCode(childStatus ?? 0)
    }

    private func spawn(_ argv: [String], environment: [String]) throws {
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnv = environment.map { strdup($0) } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        var execErrno: Int32 = 0
        let err = og_launcher_spawn(argv[0], &cArgv, &cEnv, &original, policy.signal,
                                    policy.forwardToGroup ? 1 : 0, &pid, &execErrno)
        if err != 0 {
            fail("cannot start \(argv[0]): \(String(cString: strerror(err)))")
        }
        if execErrno != 0 {
            report("cannot run '\(argv[0])': \(String(cString: strerror(execErrno)))")
            exit(execErrno == ENOENT || execErrno == ENOTDIR ? 127 : 126)
        }
        child = pid
        debug("started \(argv[0]) as \(pid)")
    }

    // MARK: - while CMD runs

    private func supervise() {
        var info = siginfo_t()
        while childStatus == nil {
            var timeout = timespec(tv_sec: 0, tv_nsec: Self.scanMilliseconds * 1_000_000)
            let sig = sigtimedwait(&handled, &info, &timeout)
            if sig > 0 { handle(sig, info: &info) }
            reap()
            if childStatus != nil { break }
            adoptOrphans()
            escalate()
        }
    }

    private func handle(_ sig: Int32, info: inout siginfo_t) {
        if sig == SIGCHLD { return }
        // A terminal's signal (Ctrl-C, Ctrl-\) went to the whole foreground group, CMD included.
        let fromTerminal = og_siginfo_code(&info) == SI_KERNEL
        let target = policy.forwardToGroup ? -child : child
        if let parentDeath, sig == parentDeath.signal {
            if parentDeath.confirm() {
                kill(target, policy.signal)
                if ProcFS.isStopped(child) { kill(target, SIGCONT) }
            }
            return
        }
        if Self.stops.contains(sig) {
            // Ctrl-Z: CMD stops by itself (or is told to); stop with it so the shell sees the job stop.
            if !fromTerminal || policy.forwardToGroup { kill(target, sig) }
            kill(getpid(), SIGSTOP)
            return
        }
        if fromTerminal && !policy.forwardToGroup { return }
        debug("forwarding \(Signals.name(sig)) to \(policy.forwardToGroup ? "process group " : "")\(child)")
        kill(target, sig)
    }

    /// Reaps every exited child: CMD, adopted orphans, anything re-parented to us.
    private func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid < 0 && errno == EINTR { continue }
            if pid <= 0 { return }
            ending[pid] = nil
            spared.remove(pid)
            if pid == child { childStatus = status }
        }
    }

    /// Orphans re-parented to us had a parent that died: the library (if loaded) ends them; those
    /// without it (static binaries, setuid programs) are ended here.
    private func adoptOrphans() {
        for pid in ProcFS.ownChildren() where pid != child && ending[pid] == nil && !spared.contains(pid) {
            if ProcFS.isZombieOrGone(pid) { continue }
            let name = ProcFS.comm(pid)
            if policy.excluded.contains(name) || ProcFS.optedOut(pid, name: name) {
                spared.insert(pid)
                debug("\(pid) (\(name)) was re-parented to us but opted out; leaving it")
                continue
            }
            startEnding(pid, name: name, reason: "the parent of \(pid) exited")
        }
    }

    /// Signal now (unless the library in it is already doing that), SIGKILL after the grace period.
    /// A stopped process gets SIGCONT as well: stopped, it would hold the signal until SIGKILL, and
    /// its watcher thread would not run.
    private func startEnding(_ pid: pid_t, name: String, reason: String) {
        let libraryActs = ProcFS.hasWatcher(pid)
        let stopped = ProcFS.isStopped(pid)
        // Give the library's own escalation a moment before ours.
        ending[pid] = nowMilliseconds() + policy.graceMilliseconds + (libraryActs ? 500 : 0)
        if !libraryActs {
            if !policy.quiet {
                report("\(reason); sending \(Signals.name(policy.signal)) to \(pid) (\(name))")
            }
            kill(pid, policy.signal)
        }
        if stopped { kill(pid, SIGCONT) }
    }

    private func escalate() {
        let now = nowMilliseconds()
        for (pid, deadline) in ending where deadline <= now {
            if !ProcFS.isZombieOrGone(pid) {
                if !policy.quiet { report("\(pid) (\(ProcFS.comm(pid))) still running after the grace period; sending SIGKILL") }
                kill(pid, SIGKILL)
            }
            ending[pid] = nil
        }
    }

    // MARK: - after CMD exited

    /// Ends every remaining descendant with the same policy and waits until all are reaped.
    private func endRemaining() {
        let me = getpid()
        for pid in ProcFS.descendants(of: me) where ending[pid] == nil && !ProcFS.isZombieOrGone(pid) {
            startEnding(pid, name: ProcFS.comm(pid), reason: "command \(child) exited")
        }
        var info = siginfo_t()
        let giveUp = nowMilliseconds() + policy.graceMilliseconds + 5000
        while nowMilliseconds() < giveUp {
            reap()
            escalate()
            let left = ProcFS.descendants(of: me).filter { !ProcFS.isZombieOrGone($0) }
            if left.isEmpty { break }
            // Late arrivals (forked while we were signalling) get the same treatment.
            for pid in left where ending[pid] == nil {
                startEnding(pid, name: ProcFS.comm(pid), reason: "command \(child) exited")
            }
            var timeout = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            _ = sigtimedwait(&handled, &info, &timeout)
        }
        reap()
    }

    private func exitCode(_ status: Int32) -> Int32 {
        if og_wait_exited(status) != 0 { return og_wait_exit_status(status) }
        if og_wait_signaled(status) != 0 { return 128 + og_wait_term_signal(status) }
        return 1
    }

    private func debug(_ message: String) {
        if policy.verbose { report(message) }
    }
}
