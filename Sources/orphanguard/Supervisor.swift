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
        /// The event log, if one is set (EventLog.swift).
        var log: EventLog?
        /// How the job is run, for job_start: "run", or "isolate" for the init of --isolate.
        var mode = "run"
        /// The settings in force, for job_start.
        var settings = ""
        /// The job's shared-memory registry, and whether to remove what it names at the end.
        var sharedMemory: ShmRegistry?
        var cleanShm = false
    }

    /// A process still present this long after its SIGKILL is reported (still_alive).
    static let unkillableMilliseconds = 2_000

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
    private var log: EventLog? { policy.log }
    private var startedAt = 0
    private var commandName = ""
    /// Processes ended after CMD's exit, how many of them died of SIGKILL, and when CMD was reaped.
    private var leftovers: Set<pid_t> = []
    private var leftoversKilled = 0
    private var commandEndedAt = 0
    /// When the launcher sent SIGKILL, until the process is reaped or reported as unkillable.
    private var killedAt: [pid_t: Int] = [:]
    private var reportedUnkillable: Set<pid_t> = []
    /// Processes found already dying when the launcher came to end them: given nothing, recorded by no one here.
    private var endingAlready: Set<pid_t> = []
    /// Reaped processes that a signal ended which the launcher did not send (pid, start, name, signal):
    /// recorded as ended_by_kernel at job end unless their library recorded what it did.
    private var endedUnseen: [(pid: pid_t, start: UInt64, comm: String, signal: String)] = []

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
        startedAt = nowMilliseconds()
        commandName = argv[0].split(separator: "/").last.map(String.init) ?? argv[0]
        defer { policy.sharedMemory?.remove() }
        if let code = try spawn(argv, environment: environment) { return code }
        var start = EventLog.Record("job_start", process: child, start: ProcFS.stat(child)?.start ?? 0)
        start.argv = argv
        start.signal = Signals.name(policy.signal)
        start.graceMilliseconds = policy.graceMilliseconds
        start.detail = "mode=\(policy.mode) \(policy.settings)"
        log?.write(start)
        // Claims are descriptors, one per process being ended.
        _ = og_launcher_raise_descriptor_limit()
        supervise()
        endRemaining()
        claims.values.forEach { close($0) }
        let status = childStatus ?? 0
        summarize(status)
        return exitCode(status)
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
            let sig = waitForSignal(&info, until: [nextLook, nextKill, nextUnkillableCheck].compactMap { $0 }.min())
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
            // With a log, the zombie is named before it goes: its start time and name are in /proc
            // until it is reaped.
            var zombie: ProcFS.Stat?
            var zombieName = ""
            let pid: pid_t
            if log != nil {
                let next = og_launcher_peek_exited()
                if next == -EINTR { continue }
                if next <= 0 { return }
                zombie = ProcFS.stat(next)
                zombieName = ProcFS.comm(next)
                pid = waitpid(next, &status, WNOHANG)
            } else {
                pid = waitpid(-1, &status, WNOHANG)
            }
            if pid < 0 && errno == EINTR { continue }
            if pid <= 0 { return }
            // Ended by the launcher's hand (a process already dying was only watched).
            let wasEnding = ending.removeValue(forKey: pid) != nil && endingAlready.remove(pid) == nil
            spared.remove(pid)
            if let claim = claims.removeValue(forKey: pid) { close(claim) }
            let killedBy = og_wait_signaled(status) != 0 ? og_wait_term_signal(status) : 0
            // Its status alone may not say: a fatal signal that arrived first is the one reported.
            let sentKill = killedAt.removeValue(forKey: pid) != nil || reportedUnkillable.remove(pid) != nil
            if pid == child {
                childStatus = status
                commandEndedAt = nowMilliseconds()
            } else if leftovers.contains(pid) {
                if (killedBy == SIGKILL || sentKill) && policy.signal != SIGKILL { leftoversKilled += 1 }
            } else if !wasEnding, killedBy != 0, let zombie {
                endedUnseen.append((pid, zombie.start, zombieName, Signals.name(killedBy)))
            }
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
                var record = EventLog.Record("orphan_adopted", action: "excluded", process: pid, start: stat.start)
                record.detail = "opted out (ORPHANGUARD_DISABLE or ORPHANGUARD_EXCLUDE): left running"
                log?.write(record)
                continue
            }
            startEnding(pid, start: stat.start, stopped: stat.state == UInt8(ascii: "T"), name: name,
                        reason: "the parent of \(pid) exited", event: "orphan_adopted")
            lookSoon()
        }
    }

    /// The configured signal now, unless it was sent already; SIGKILL after the grace period. Who
    /// sends it is decided by the claim (CShim/claim.h): the process's own watcher may notice its
    /// parent's death at the same moment, and takes the same claim first. A stopped process gets
    /// SIGCONT as well: stopped, it would hold the signal until SIGKILL, and its watcher would not run.
    private func startEnding(_ pid: pid_t, start: UInt64, stopped: Bool, name: String, reason: String, event: String) {
        // A process that is already ending (its library may have just sent the signal, and its
        // claim may be gone with its watcher thread) gets nothing and no record; should it hang in
        // its exit (a driver's close), the grace period's SIGKILL and the unkillable report follow.
        if ProcFS.dying(pid) {
            ending[pid] = nowMilliseconds() + policy.graceMilliseconds
            endingAlready.insert(pid)
            leftovers.remove(pid)
            return
        }
        // Named before the signal: it may end the process at once.
        var record = log.map { _ in EventLog.Record(event, process: pid, start: start) }
        let claim = og_launcher_claim(pid, start)
        if claim >= 0 { claims[pid] = claim }
        if claim >= 0, ProcFS.dying(pid) {
            if let held = claims.removeValue(forKey: pid) { close(held) }
            ending[pid] = nowMilliseconds() + policy.graceMilliseconds
            endingAlready.insert(pid)
            leftovers.remove(pid)
            return
        }
        let libraryClaimed = claim == -EADDRINUSE
        // Without a library of its own to take the claim, the kernel may have sent it (exec armed
        // PR_SET_PDEATHSIG). The claim goes again: a library that comes up after all acts on its own.
        let kernelSent = !libraryClaimed && ProcFS.kernelSent(pid, signal: policy.signal) && !ProcFS.hasWatcher(pid)
        if kernelSent, let held = claims.removeValue(forKey: pid) { close(held) }
        // The library's own escalation comes first: ours follows a moment later.
        ending[pid] = nowMilliseconds() + policy.graceMilliseconds + (libraryClaimed ? 500 : 0)
        record?.signal = Signals.name(policy.signal)
        record?.graceMilliseconds = policy.signal == SIGKILL ? 0 : policy.graceMilliseconds
        record?.action = libraryClaimed ? "library" : kernelSent ? "kernel" : "signal"
        record?.detail = reason
        if let record { log?.write(record) }
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
                if let log, let stat = ProcFS.stat(pid) {
                    var record = EventLog.Record("sigkill_after_grace", process: pid, start: stat.start)
                    record.signal = "SIGKILL"
                    record.graceMilliseconds = policy.graceMilliseconds
                    log.write(record)
                }
                kill(pid, SIGKILL)
                killedAt[pid] = now
            }
            ending[pid] = .max
        }
        reportUnkillable(now)
    }

    /// A process still there well after its SIGKILL sleeps in the kernel where no signal reaches it
    /// (uninterruptible sleep in a driver, typically a GPU's): said once, with what holds it.
    private func reportUnkillable(_ now: Int) {
        for (pid, at) in killedAt where now - at >= Self.unkillableMilliseconds {
            killedAt[pid] = nil
            reportedUnkillable.insert(pid)
            guard let stat = ProcFS.stat(pid), stat.state != UInt8(ascii: "Z") else { continue }
            let what = ProcFS.stuckDetail(pid, state: stat.state)
            report("\(pid) (\(ProcFS.comm(pid))) is still present \(now - at) ms after SIGKILL: \(what)")
            var record = EventLog.Record("still_alive", process: pid, start: stat.start)
            record.signal = "SIGKILL"
            record.detail = what
            log?.write(record)
        }
    }

    /// When the next unkillable check is due.
    private var nextUnkillableCheck: Int? { killedAt.values.min().map { $0 + Self.unkillableMilliseconds } }

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
                    leftovers.insert(pid)
                    startEnding(pid, start: stat.start, stopped: stat.state == UInt8(ascii: "T"),
                                name: ProcFS.comm(pid), reason: "command \(child) exited", event: "leftover_ended")
                }
            }
            escalate()
            if !left || nowMilliseconds() >= giveUp { break }
            _ = waitForSignal(&info, until: [giveUp, nextKill, nextUnkillableCheck].compactMap { $0 }.min())
        }
        reap()
    }

    /// The job's last records and, unless quiet, one line when leftovers were ended:
    /// `orphanguard: torchrun exited with 137 (SIGKILL); ended 6 leftover processes (6 on SIGTERM, 0 needed SIGKILL) in 41 ms`.
    private func summarize(_ status: Int32) {
        let code = exitCode(status)
        let signal = og_wait_signaled(status) != 0 ? Signals.name(og_wait_term_signal(status)) : nil
        if let log {
            let recorded = endedUnseen.isEmpty ? [] : log.libraryRecords()
            for ended in endedUnseen where !recorded.contains("\(ended.pid)/\(ended.start)") {
                var record = EventLog.Record("ended_by_kernel")
                record.pid = ended.pid
                record.start = ended.start
                record.comm = ended.comm
                record.exitSignal = ended.signal
                record.detail = "ended by \(ended.signal), which neither the launcher nor its library sent: PR_SET_PDEATHSIG (its parent died before its library's watcher ran) or another process"
                log.write(record)
            }
        }
        if !leftovers.isEmpty, !policy.quiet {
            let count = leftovers.count
            let took = nowMilliseconds() - (commandEndedAt > 0 ? commandEndedAt : startedAt)
            report("\(commandName) exited with \(code)\(signal.map { " (\($0))" } ?? ""); ended \(count) leftover process\(count == 1 ? "" : "es") (\(count - leftoversKilled) on \(Signals.name(policy.signal)), \(leftoversKilled) needed SIGKILL) in \(took) ms")
        }
        reportSharedMemory()
        if let log {
            var end = EventLog.Record("job_end", process: child, start: 0)
            end.comm = commandName
            end.argv = nil
            end.uid = Int(getuid())
            end.exitCode = og_wait_exited(status) != 0 ? Int(og_wait_exit_status(status)) : -1
            end.exitSignal = signal
            end.count = leftovers.count
            end.durationMilliseconds = nowMilliseconds() - startedAt
            log.write(end)
        }
    }

    /// What the job's processes left in /dev/shm (ShmRegistry): removed with --clean-shm, else named.
    private func reportSharedMemory() {
        guard let registry = policy.sharedMemory else { return }
        defer { registry.remove() }
        let left = registry.leftovers()
        guard !left.isEmpty else { return }
        var removed: [ShmRegistry.Entry] = []
        if policy.cleanShm {
            for entry in left {
                if unlink(entry.path) == 0 || errno == ENOENT { removed.append(entry) }
                else { report("--clean-shm: cannot remove \(entry.path): \(String(cString: strerror(errno)))") }
            }
        }
        let kept = left.filter { entry in !removed.contains { $0.path == entry.path } }
        for (entries, action) in [(removed, "removed"), (kept, "left")] where !entries.isEmpty {
            let names = entries.map(\.path).joined(separator: ", ")
            let total = ShmRegistry.size(entries.reduce(0) { $0 + $1.bytes })
            if !policy.quiet {
                report(action == "removed"
                    ? "removed \(entries.count) shared memory entr\(entries.count == 1 ? "y" : "ies") the job left (\(total)): \(names)"
                    : "the job left \(entries.count) shared memory entr\(entries.count == 1 ? "y" : "ies") (\(total)), taken until removed or reboot: \(names)\(policy.cleanShm ? "" : "; --clean-shm removes them")")
            }
            var record = EventLog.Record(action == "removed" ? "shm_removed" : "shm_left")
            record.count = entries.count
            record.detail = names
            log?.write(record)
        }
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
