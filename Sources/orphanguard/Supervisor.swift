import Glibc
import LauncherSys

/// Runs CMD as a child subreaper: forwards signals, reaps every zombie, ends re-parented orphans,
/// and when CMD exits ends whatever is left, then reports CMD's status.
///
/// It sleeps in sigwaitinfo, so it wakes only for a signal (SIGCHLD: one of its children exited), a
/// grace period running out, or a look for orphans. A process re-parented to a subreaper sends it
/// nothing: orphans of processes that run the library are their own watchers' business, but
/// orphans of processes without it (static and Go binaries, setuid programs) are found only by
/// looking at our children. So after each event the launcher looks again and again, less and less
/// often (0.1 s, doubling to 3.2 s), and then not at all; while its tree holds a process without
/// the library it looks every 0.1 s.
final class Supervisor {
    struct Policy {
        var signal: Int32
        var graceMilliseconds: Int
        var forwardToGroup: Bool
        var quiet: Bool
        var verbose: Bool
        var excluded: [String]
    }

    /// CMD could not be started at all (vfork failed).
    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Signals passed on to CMD. SIGCHLD drives reaping; the job-control stops are handled apart.
    static let forwarded: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
                                     SIGALRM, SIGPIPE, SIGPWR, SIGURG, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO]
    static let stops: [Int32] = [SIGTSTP, SIGTTIN, SIGTTOU]

    /// Looks for orphans after an event: first this soon, then twice as late each time, up to the last.
    static let firstLookMilliseconds = 100
    static let lastLookMilliseconds = 3_200

    private let policy: Policy
    private var child: pid_t = 0
    private var childStatus: Int32?
    /// Processes being ended, until reaped: the time after which they get SIGKILL (.max once sent).
    private var ending: [pid_t: Int] = [:]
    /// Claims (CShim/claim.h) on processes we signalled, held until they are reaped.
    private var claims: [pid_t: Int32] = [:]
    /// Re-parented processes that opted out of the guard.
    private var spared: Set<pid_t> = []
    /// When to look for orphans next (nil: not until an event), and the pause after that.
    private var nextLook: Int?
    private var lookInterval = Supervisor.firstLookMilliseconds
    /// A process without the library last seen in the tree, and its start time.
    private var unguarded: (pid: pid_t, start: UInt64)?
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
    func run(_ argv: [String], environment: UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> Int32 {
        let subreaper = og_launcher_become_subreaper()
        if subreaper != 0 {
            report("cannot become a child subreaper (\(String(cString: strerror(subreaper)))); orphans of dead parents are not adopted")
        }
        sigemptyset(&handled)
        for sig in Self.forwarded + Self.stops + [SIGCHLD] { sigaddset(&handled, sig) }
        if let parentDeath { sigaddset(&handled, parentDeath.signal) }
        // Blocked, then taken with sigwaitinfo: no handler runs at an awkward moment.
        try systemCall("sigprocmask") { sigprocmask(SIG_BLOCK, &handled, &original) }
        if let parentDeath { sigdelset(&original, parentDeath.signal) } // blocked since our exec; not CMD's
        if let code = try spawn(argv, environment: environment) { return code }
        // Claims are descriptors, one per process being ended.
        _ = og_launcher_raise_descriptor_limit()
        supervise()
        endRemaining()
        claims.values.forEach { close($0) }
        return exitCode(childStatus ?? 0)
    }

    /// Starts CMD; nil, or the exit code to leave with when it cannot be run.
    private func spawn(_ argv: [String], environment: UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> Int32? {
        // An ORPHANGUARD_PARENT entry that the child fills in, saying which signal we arm as CMD's
        // PR_SET_PDEATHSIG: the library in CMD then arms its SIGCONT wake-up instead and its watcher
        // sends the one signal, as after an exec of its own.
        let hintLength = 96
        let hint = calloc(hintLength, 1).map { $0.assumingMemoryBound(to: CChar.self) }
        defer { free(hint) }
        var pid: pid_t = 0
        var execErrno: Int32 = 0
        let inherited = entryCount(environment)
        let err = withPointerArray(count: argv.count) { cArgv in
            for index in argv.indices { cArgv[index] = strdup(argv[index]) }
            defer { for index in argv.indices { free(cArgv[index]) } }
            return withPointerArray(count: inherited + 1) { cEnv in
                cEnv.update(from: environment, count: inherited)
                cEnv[inherited] = hint
                return og_launcher_spawn(argv[0], cArgv, cEnv, &self.original, policy.signal,
                                         policy.forwardToGroup ? 1 : 0, hint, hintLength, &pid, &execErrno)
            }
        }
        if err != 0 {
            throw StartFailure(description: "cannot start \(argv[0]): \(String(cString: strerror(err)))")
        }
        if execErrno != 0 {
            report("cannot run '\(argv[0])': \(String(cString: strerror(execErrno)))")
            return execErrno == ENOENT || execErrno == ENOTDIR ? 127 : 126
        }
        child = pid
        debug("started \(argv[0]) as \(pid)")
        return nil
    }

    // MARK: - while CMD runs

    private func supervise() {
        var info = siginfo_t()
        lookSoon()
        while childStatus == nil {
            let sig = waitForSignal(&info, until: [nextLook, nextKill].compactMap { $0 }.min())
            if sig > 0 {
                handle(sig, info: &info)
                lookSoon()
            }
            reap()
            if childStatus != nil { break }
            adoptOrphans()
            escalate()
            if let due = nextLook, due <= nowMilliseconds() { lookLater() }
        }
    }

    /// sigwaitinfo, or sigtimedwait until `deadline` (monotonic ms); the signal, or -1.
    private func waitForSignal(_ info: inout siginfo_t, until deadline: Int?) -> Int32 {
        guard let deadline else { return sigwaitinfo(&handled, &info) }
        let left = max(0, deadline - nowMilliseconds())
        var timeout = timespec(tv_sec: left / 1000, tv_nsec: (left % 1000) * 1_000_000)
        return sigtimedwait(&handled, &info, &timeout)
    }

    private func lookSoon() {
        lookInterval = Self.firstLookMilliseconds
        nextLook = nowMilliseconds() + lookInterval
    }

    /// After a look: again in 0.1 s while a process without the library is in the tree, else later.
    private func lookLater() {
        if let known = unguarded, ProcFS.stat(known.pid).map({ $0.start == known.start && $0.state != UInt8(ascii: "Z") }) != true {
            unguarded = nil
        }
        if unguarded == nil, let pid = ProcFS.unguardedBelow(getpid()), let stat = ProcFS.stat(pid) {
            unguarded = (pid, stat.start)
            debug("\(pid) (\(ProcFS.comm(pid))) runs without the library: looking for orphans every \(Self.firstLookMilliseconds) ms")
        }
        if unguarded != nil {
            lookInterval = Self.firstLookMilliseconds
        } else if lookInterval < Self.lastLookMilliseconds {
            lookInterval *= 2
        } else {
            nextLook = nil
            return
        }
        nextLook = nowMilliseconds() + lookInterval
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
            if let claim = claims.removeValue(forKey: pid) { close(claim) }
            if pid == child { childStatus = status }
        }
    }

    /// Orphans re-parented to us had a parent that died: the library (if loaded) ends them; those
    /// without it (static binaries, setuid programs) are ended here.
    private func adoptOrphans() {
        for pid in ProcFS.ownChildren() where pid != child && ending[pid] == nil && !spared.contains(pid) {
            guard let stat = ProcFS.stat(pid), stat.state != UInt8(ascii: "Z") else { continue }
            let name = ProcFS.comm(pid)
            if policy.excluded.contains(name) || ProcFS.optedOut(pid, name: name) {
                spared.insert(pid)
                debug("\(pid) (\(name)) was re-parented to us but opted out; leaving it")
                continue
            }
            startEnding(pid, start: stat.start, stopped: stat.state == UInt8(ascii: "T"), name: name,
                        reason: "the parent of \(pid) exited")
            lookSoon()
        }
    }

    /// The configured signal now, unless it was sent already; SIGKILL after the grace period. Who
    /// sends it is decided by the claim (CShim/claim.h): the process's own watcher may notice its
    /// parent's death at the same moment, and takes the same claim first. A stopped process gets
    /// SIGCONT as well: stopped, it would hold the signal until SIGKILL, and its watcher would not run.
    private func startEnding(_ pid: pid_t, start: UInt64, stopped: Bool, name: String, reason: String) {
        let claim = og_launcher_claim(pid, start)
        if claim >= 0 { claims[pid] = claim }
        let libraryClaimed = claim == -EADDRINUSE
        // Without a library of its own to take the claim, the kernel may have sent it (exec armed
        // PR_SET_PDEATHSIG). The claim goes again: a library that comes up after all acts on its own.
        let kernelSent = !libraryClaimed && ProcFS.kernelSent(pid, signal: policy.signal) && !ProcFS.hasWatcher(pid)
        if kernelSent, let held = claims.removeValue(forKey: pid) { close(held) }
        // The library's own escalation comes first: ours follows a moment later.
        ending[pid] = nowMilliseconds() + policy.graceMilliseconds + (libraryClaimed ? 500 : 0)
        if libraryClaimed || kernelSent {
            debug("\(reason); \(libraryClaimed ? "its library" : "the kernel (PR_SET_PDEATHSIG)") already sent \(Signals.name(policy.signal)) to \(pid) (\(name)): not sending it again")
        } else {
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
            ending[pid] = .max
        }
    }

    /// When the next grace period runs out.
    private var nextKill: Int? { ending.values.filter { $0 != .max }.min() }

    // MARK: - after CMD exited

    /// Ends every remaining descendant with the same policy and waits until all are reaped. Whatever
    /// CMD left comes to us, a subreaper, as its parents die: our own children are all there is to
    /// end, and each death among them (SIGCHLD) may bring the next ones.
    private func endRemaining() {
        var info = siginfo_t()
        let giveUp = nowMilliseconds() + policy.graceMilliseconds + 5000
        while true {
            reap()
            var left = false
            for pid in ProcFS.ownChildren() {
                guard let stat = ProcFS.stat(pid), stat.state != UInt8(ascii: "Z") else {
                    left = true // a zombie, reaped on the next round
                    continue
                }
                left = true
                if ending[pid] == nil {
                    startEnding(pid, start: stat.start, stopped: stat.state == UInt8(ascii: "T"),
                                name: ProcFS.comm(pid), reason: "command \(child) exited")
                }
            }
            escalate()
            if !left || nowMilliseconds() >= giveUp { break }
            _ = waitForSignal(&info, until: min(giveUp, nextKill ?? giveUp))
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
