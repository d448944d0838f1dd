import ArgumentParser
import Glibc
import LauncherSys

/// `orphanguard doctor`: the first command on a new machine. Checks what the guard relies on, one
/// line each with what a failure means, and ends with a real trial: a guarded child whose parent is
/// SIGKILLed, timed until it is gone.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check what the guard relies on here, and try it end to end.",
        discussion: """
        Exit status: 0 the guard fully works; 1 it works, with the limits named in the lines marked \
        'limit'; 2 it cannot work here (the lines marked 'FAIL' say why).
        """
    )

    @Flag(name: .long, help: "One JSON object: every check with its status and detail, the verdict, the exit status.")
    var json = false

    enum Status: String {
        case ok, info, limit
        case fail = "FAIL"
    }

    struct Check {
        let name: String
        let status: Status
        let detail: String
    }

    func run() throws {
        var checks: [Check] = []
        let library = Result { try Library.locate() }
        checks.append(libraryCheck(library))
        checks.append(glibcCheck())
        checks.append(loaderCheck())
        let pidfd = pidfdCheck()
        checks.append(pidfd)
        checks.append(exitInfoCheck(pidfdWorks: pidfd.status == .ok))
        checks.append(closeRangeCheck())
        checks.append(subreaperCheck())
        checks.append(seccompCheck())
        checks.append(procCheck())
        checks += namespaceChecks()
        checks.append(preloadCheck(library: try? library.get()))
        checks.append(trialCheck(library: try? library.get()))
        let code: Int32 = checks.contains { $0.status == .fail } ? 2 : checks.contains { $0.status == .limit } ? 1 : 0
        let verdict = ["the guard fully works here", "the guard works here, with the limits named above",
                       "the guard cannot work here"][Int(code)]
        if json {
            let entries = checks.map { JSON.object([("check", .string($0.name)), ("status", .string($0.status.rawValue.lowercased())),
                                                    ("detail", .string($0.detail))]) }
            print(JSON.object([("checks", .array(entries)), ("verdict", .string(verdict)), ("exit", .int(Int(code)))]).text)
        } else {
            for check in checks {
                print(check.status.rawValue.padding(6) + check.name.padding(18) + check.detail)
            }
            print("\(verdict) (exit \(code))")
        }
        Glibc.exit(code)
    }

    private func describe(_ err: Int32) -> String { String(cString: strerror(err)) }

    private func libraryCheck(_ library: Result<String, Error>) -> Check {
        switch library {
        case .success(let path): return Check(name: "library", status: .ok, detail: path)
        case .failure(let error): return Check(name: "library", status: .fail, detail: "\(error): nothing can be guarded")
        }
    }

    private func glibcCheck() -> Check {
        guard let version = og_doctor_glibc_version() else {
            return Check(name: "glibc", status: .fail, detail: "this launcher does not run on glibc; the library needs it")
        }
        return Check(name: "glibc", status: .ok, detail: "glibc \(String(cString: version))")
    }

    /// Programs are loaded by the interpreter their ELF header names: glibc's ld-linux, or musl's
    /// ld-musl in Alpine-style images, which cannot load a library built against glibc.
    private func loaderCheck() -> Check {
        switch ELFFile.interpreter("/bin/sh") {
        case .failure(let err):
            return Check(name: "loader", status: .info, detail: "cannot read /bin/sh (\(ProcRead.describe(err))); the trial below shows whether the library loads")
        case .success(nil):
            return Check(name: "loader", status: .limit, detail: "/bin/sh is a static binary: the shell itself cannot be guarded; what it starts dynamically linked can")
        case .success(let interpreter?):
            if interpreter.contains("ld-musl") {
                return Check(name: "loader", status: .fail, detail: "programs load through \(interpreter) (musl): the library, built against glibc, cannot be loaded")
            }
            guard access(interpreter, R_OK) == 0 else {
                return Check(name: "loader", status: .fail, detail: "programs name the loader \(interpreter), which is missing: \(describe(errno))")
            }
            return Check(name: "loader", status: .ok, detail: "programs load through \(interpreter) (glibc's)")
        }
    }

    private func pidfdCheck() -> Check {
        let err = og_doctor_pidfd_open()
        guard err != 0 else {
            return Check(name: "pidfd_open", status: .ok, detail: "watchers sleep on the parent's pidfd: no wake-ups while idle")
        }
        return Check(name: "pidfd_open", status: .limit,
                     detail: "denied (\(describe(err))): watchers poll getppid() every poll interval (0.1 s): orphans end up to that late")
    }

    private func exitInfoCheck(pidfdWorks: Bool) -> Check {
        guard pidfdWorks else {
            return Check(name: "PIDFD_GET_INFO", status: .limit, detail: "not tried without pidfd_open: a reaped parent's exit status is unknown, "
                + "so an orphan whose parent exited is signalled without the 0.25 s given to helpers that end at EOF")
        }
        var hasExitStatus: Int32 = 0
        let err = og_doctor_pidfd_exit_info(&hasExitStatus)
        if err == 0 && hasExitStatus != 0 {
            return Check(name: "PIDFD_GET_INFO", status: .ok, detail: "a reaped parent's exit status is known (Linux 6.15)")
        }
        let why = err == 0 ? "no exit status after the reap (Linux 6.13-6.14)" : "unavailable (\(describe(err)); Linux < 6.13 or seccomp)"
        return Check(name: "PIDFD_GET_INFO", status: .limit,
                     detail: "\(why): an orphan whose parent exited and was reaped at once is signalled without the 0.25 s given to helpers that end at EOF")
    }

    private func closeRangeCheck() -> Check {
        let err = og_doctor_close_range_unshare()
        guard err != 0 else {
            return Check(name: "close_range", status: .ok, detail: "CLOSE_RANGE_UNSHARE: the watcher's descriptors stay out of the program's table")
        }
        return Check(name: "close_range", status: .limit,
                     detail: "CLOSE_RANGE_UNSHARE unavailable (\(describe(err))): the watcher's two descriptors sit in the program's table at numbers >= 256, close-on-exec")
    }

    private func subreaperCheck() -> Check {
        let err = og_doctor_subreaper()
        guard err != 0 else {
            return Check(name: "subreaper", status: .ok, detail: "PR_SET_CHILD_SUBREAPER: orphanguard run adopts setsid escapees and children of static parents")
        }
        return Check(name: "subreaper", status: .limit,
                     detail: "PR_SET_CHILD_SUBREAPER fails (\(describe(err))): orphanguard run cannot adopt orphans; the library alone guards")
    }

    private func seccompCheck() -> Check {
        guard let status = readFile("/proc/self/status") else {
            return Check(name: "seccomp", status: .info, detail: "unknown: /proc/self/status is unreadable")
        }
        let lines = String(decoding: status, as: UTF8.self).split(separator: "\n")
        let mode = lines.first { $0.hasPrefix("Seccomp:") }?.split(separator: "\t").last.map(String.init) ?? "?"
        let filters = lines.first { $0.hasPrefix("Seccomp_filters:") }?.split(separator: "\t").last.map(String.init)
        switch mode {
        case "0": return Check(name: "seccomp", status: .ok, detail: "none")
        case "2": return Check(name: "seccomp", status: .info,
                               detail: "filter mode (filters: \(filters ?? "?"); inherited by everything started here): the other checks show what it allows")
        default: return Check(name: "seccomp", status: .info, detail: "mode \(mode)")
        }
    }

    /// procfs on /proc, and its hidepid option (from the mount's super options in mountinfo).
    private func procCheck() -> Check {
        guard og_doctor_is_procfs("/proc") == 1, let mountinfo = readFile("/proc/self/mountinfo", limit: 1 << 20) else {
            return Check(name: "/proc", status: .limit, detail: "not mounted (or hidden): start times cannot be read (orphans still end); "
                + "a process whose main thread exits while others run stays until killed; orphanguard ps cannot look")
        }
        var options = ""
        for line in String(decoding: mountinfo, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[4] == "/proc", let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count else { continue }
            options = String(fields[dash + 3])
        }
        let hidepid = options.split(separator: ",").first { $0.hasPrefix("hidepid=") }.map { String($0.dropFirst(8)) }
        if let hidepid, !["0", "off"].contains(hidepid) {
            return Check(name: "/proc", status: .limit, detail: "mounted with hidepid=\(hidepid): other users' processes are hidden: a parent owned by "
                + "another user has no readable start time, and orphanguard ps shows only your processes")
        }
        return Check(name: "/proc", status: .ok, detail: "procfs (\(options.isEmpty ? "options unknown" : options))")
    }

    private func namespaceChecks() -> [Check] {
        let user = og_doctor_user_namespace(), pid = og_doctor_pid_namespace()
        return [
            Check(name: "user namespaces", status: .info, detail: user == 0
                ? "creatable: unshare -U, bwrap and rootless containers work under the guard (the watcher is parked around the call)"
                : "not creatable (\(describe(user))): the guard does not need them; sandboxes that do fail with or without it"),
            Check(name: "pid namespaces", status: .info, detail: pid == 0
                ? "creatable: an init in one is guarded by PR_SET_PDEATHSIG(SIGKILL); its parent is outside its view"
                : "not creatable (\(describe(pid))): the guard does not need them"),
        ]
    }

    /// An LD_PRELOAD already set: the launcher keeps its entries (after the library), so a missing
    /// one makes the loader complain in every process.
    private func preloadCheck(library: String?) -> Check {
        var notes: [String] = []
        var status = Status.ok
        if let disable = getenv("ORPHANGUARD_DISABLE").map({ String(cString: $0) }), ["1", "true", "yes"].contains(disable.lowercased()) {
            status = .limit
            notes.append("ORPHANGUARD_DISABLE=\(disable) is set: nothing started from this environment is guarded")
        }
        let value = getenv("LD_PRELOAD").map { String(cString: $0) } ?? ""
        let entries = value.split(whereSeparator: { $0 == ":" || $0 == " " }).map(String.init)
        if entries.isEmpty {
            notes.insert("LD_PRELOAD is not set", at: 0)
        }
        let ours = entries.filter { $0 == library || $0 == Library.fileName || $0.hasSuffix("/" + Library.fileName) }
        if let first = ours.first {
            notes.append(first == library ? "LD_PRELOAD already holds the library (manual mode is on); orphanguard run keeps one copy"
                                          : "LD_PRELOAD holds another copy of the library, \(first); orphanguard run replaces it with \(library ?? "its own")")
        }
        let missing = entries.filter { !ours.contains($0) && access($0.contains("/") ? $0 : "/lib/" + $0, R_OK) != 0 && !$0.contains("$") }
        if !missing.isEmpty {
            status = .limit
            notes.append("LD_PRELOAD names \(missing.joined(separator: ", ")), which cannot be read: the loader prints an error in every program started from here")
        }
        let others = entries.filter { !ours.contains($0) && !missing.contains($0) }
        if !others.isEmpty {
            notes.append("also preloads \(others.joined(separator: ", ")) (kept, after the library)")
        }
        return Check(name: "LD_PRELOAD", status: status, detail: notes.joined(separator: "; "))
    }

    /// A shell, then `sleep`, started by a short-lived parent, with the library preloaded; the parent is
    /// SIGKILLed and the child timed until it is gone (the default policy: SIGTERM at once).
    private func trialCheck(library: String?) -> Check {
        guard let library else {
            return Check(name: "end-to-end", status: .fail, detail: "not tried: no library")
        }
        let environment = ["PATH=/usr/bin:/bin", "LD_PRELOAD=" + library, "ORPHANGUARD_GRACE=1"]
        var pointers = environment.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        var trial = og_doctor_trial()
        let err = og_doctor_trial(&pointers, 4000, &trial)
        let stderrText = withUnsafeBytes(of: trial.stderr_text) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if err != 0 {
            return Check(name: "end-to-end", status: .fail, detail: "the trial could not run: \(describe(err))")
        }
        if stderrText.contains("ld.so") || stderrText.contains("cannot be preloaded") {
            let line = stderrText.split(separator: "\n").first.map(String.init) ?? stderrText
            return Check(name: "end-to-end", status: .fail, detail: "the loader could not load the library: \(line)")
        }
        let ms = String(format1: Double(trial.micros) / 1000)
        guard trial.ended != 0 else {
            return Check(name: "end-to-end", status: .fail, detail: "a guarded child was still running \(ms) ms after its parent was SIGKILLed")
        }
        if trial.end_signal != 0 && trial.end_signal != SIGTERM {
            return Check(name: "end-to-end", status: .fail,
                         detail: "a guarded child died of \(Signals.name(trial.end_signal)), not of the library's SIGTERM: the library crashes it")
        }
        let how = trial.end_signal != 0 ? "by SIGTERM" : "(its end signal unknown: not reaped here)"
        let watcher = trial.watcher_seen != 0 ? "its watcher thread" : "the library (no watcher thread seen: /proc hidden or none started)"
        return Check(name: "end-to-end", status: .ok,
                     detail: "a guarded child ended \(how) \(ms) ms after its parent was SIGKILLed, through \(watcher)")
    }
}
