import Glibc
import LauncherSys

/// What /proc says about one process's guard, as far as the caller may read it: for `orphanguard ps`.
///
/// The library leaves these traces: it is mapped (/proc/PID/maps); its watcher thread is named
/// `orphanguard` and holds a pidfd of the parent it watches (`Pid:` in the fdinfo of
/// /proc/PID/task/TID/fd, the thread's own descriptor table) beside a signalfd; the settings it read
/// are in the environment the process started with (/proc/PID/environ).
struct GuardState {
    enum How: String {
        case pidfd, poll
        case kernelOnly = "kernel-only"
        /// A watcher thread runs but its descriptors could not be read.
        case watcher
    }

    let pid: pid_t
    let ppid: pid_t
    let comm: String
    let startTicks: UInt64
    /// nil when not guarded (see `reason`) or when that could not be read.
    var how: How?
    var watchedParent: pid_t?
    var signal = "SIGTERM"
    var graceMilliseconds = 5000
    /// Why it is not guarded.
    var reason: String?
    /// What could not be read, as "FILE: strerror".
    var unreadable: [String] = []
    /// Something was unreadable for lack of permission (another user's process, or not dumpable).
    var denied = false

    var guarded: Bool { how != nil }

    /// Seconds since the process started.
    var ageSeconds: Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard let uptime = readFile("/proc/uptime", limit: 64),
              let seconds = Double(String(decoding: uptime.prefix(while: { $0 != UInt8(ascii: " ") }), as: UTF8.self)),
              ticks > 0 else { return 0 }
        return max(0, seconds - Double(startTicks) / ticks)
    }

    /// Reads pid's state; nil when the process is gone or /proc does not show it.
    static func read(_ pid: pid_t) -> GuardState? {
        guard let stat = ProcFS.stat(pid) else { return nil }
        var state = GuardState(pid: pid, ppid: stat.ppid, comm: stat.comm, startTicks: stat.start)
        let environment = state.readEnvironment()
        state.applySettings(environment)
        switch ProcRead.bytes("/proc/\(pid)/maps") {
        case .failure(let err) where err.code == ENOENT || err.code == ESRCH:
            return nil // ended while we looked
        case .failure(let err):
            state.note("/proc/\(pid)/maps", err)
            state.reason = "cannot tell: /proc/\(pid)/maps is unreadable"
        case .success(let maps):
            if mapsHoldLibrary(maps) {
                state.classifyLoaded(environment)
            } else {
                state.classifyUnloaded(environment)
            }
        }
        return state
    }

    private mutating func note(_ file: String, _ err: ProcRead.Errno) {
        unreadable.append("\(file): \(ProcRead.describe(err))")
        if err.code == EACCES || err.code == EPERM { denied = true }
    }

    private mutating func readEnvironment() -> [String: String]? {
        switch ProcRead.bytes("/proc/\(pid)/environ", limit: 1 << 20) {
        case .failure(let err):
            note("/proc/\(pid)/environ", err)
            return nil
        case .success(let bytes):
            var result: [String: String] = [:]
            for entry in bytes.split(separator: 0) {
                guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
                let name = String(decoding: entry[entry.startIndex..<equals], as: UTF8.self)
                if result[name] == nil { result[name] = String(decoding: entry[(equals + 1)...], as: UTF8.self) }
            }
            return result
        }
    }

    /// The signal and grace period the library read at start-up, decided by the library's own parser.
    private mutating func applySettings(_ environment: [String: String]?) {
        guard let environment else { return }
        let settings = Settings(environment: environment.filter { $0.key.hasPrefix("ORPHANGUARD_") }.map { "\($0.key)=\($0.value)" })
        signal = Signals.name(settings.signal)
        graceMilliseconds = settings.graceMilliseconds
    }

    /// A mapping of the library (rebuilt or replaced since: "(deleted)").
    private static func mapsHoldLibrary(_ maps: [UInt8]) -> Bool {
        let suffixes = ["/" + Library.fileName, "/" + Library.fileName + " (deleted)"].map { Array($0.utf8) }
        return maps.split(separator: UInt8(ascii: "\n")).contains { line in
            suffixes.contains { line.count >= $0.count && Array(line.suffix($0.count)) == $0 }
        }
    }

    private mutating func classifyLoaded(_ environment: [String: String]?) {
        let entries = (environment ?? [:]).filter { $0.key.hasPrefix("ORPHANGUARD_") }.map { "\($0.key)=\($0.value)" }
        if Settings(environment: entries).config.disabled {
            reason = "ORPHANGUARD_DISABLE=\(environment?["ORPHANGUARD_DISABLE"] ?? ""): the library is inert here"
            return
        }
        if optedOut(environment: entries, name: comm) {
            reason = "ORPHANGUARD_EXCLUDE lists \(comm): not watched (its children are)"
            return
        }
        let watchers = watcherThreads()
        if watchers.isEmpty {
            how = .kernelOnly
            watchedParent = ppid
            return
        }
        for tid in watchers {
            switch watcherDescriptors(tid) {
            case .failure(let err):
                note("/proc/\(pid)/task/\(tid)/fd", err)
                how = how ?? .watcher
            case .success(let found) where found.isWatcher:
                how = found.parent == nil ? .poll : .pidfd
                watchedParent = found.parent ?? ppid
                return
            case .success:
                continue // the stand-in for a finished main thread (last_thread.c) opens nothing
            }
        }
        // Threads named orphanguard but none with a watcher's descriptors: no live watcher.
        if how == nil {
            how = .kernelOnly
            watchedParent = ppid
        }
    }

    private mutating func classifyUnloaded(_ environment: [String: String]?) {
        let exe = "/proc/\(pid)/exe"
        switch ELFFile.interpreter(exe) {
        case .failure(let err):
            note(exe, err)
        case .success(nil):
            reason = "static binary (no PT_INTERP): ignores LD_PRELOAD; only PR_SET_PDEATHSIG or the launcher ends it"
            return
        case .success:
            break
        }
        if secureExecution(exe) {
            reason = "setuid, setgid or file capabilities: the loader ignores LD_PRELOAD"
            return
        }
        guard let environment else {
            reason = reason ?? "cannot tell: the environment is unreadable"
            return
        }
        let preload = environment["LD_PRELOAD"] ?? ""
        let named = preload.split(whereSeparator: { $0 == ":" || $0 == " " })
            .map(String.init).filter { $0 == Library.fileName || $0.hasSuffix("/" + Library.fileName) }
        if let path = named.first {
            reason = "LD_PRELOAD names \(path), which the loader could not load (unreadable or missing there)"
        } else {
            reason = "started before the guard: no LD_PRELOAD naming the library"
        }
    }

    /// The kernel's AT_SECURE for the process (set for setuid/setgid and file-capability programs),
    /// or, where auxv is unreadable, the set-id bits and capability attribute of its file.
    private mutating func secureExecution(_ exe: String) -> Bool {
        if case .success(let auxv) = ProcRead.bytes("/proc/\(pid)/auxv", limit: 4096) {
            let words = stride(from: 0, to: auxv.count - 15, by: 16).map { offset in
                (word(auxv, offset), word(auxv, offset + 8))
            }
            if let secure = words.first(where: { $0.0 == 23 /* AT_SECURE */ }) { return secure.1 != 0 }
        }
        var info = stat()
        if stat(exe, &info) == 0, info.st_mode & (S_ISUID | S_ISGID) != 0 { return true }
        return og_ps_file_capabilities(exe) == 1
    }

    private func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }

    /// Threads named like the watcher (the watcher, or the stand-in of last_thread.c).
    private func watcherThreads() -> [pid_t] {
        ProcRead.directory("/proc/\(pid)/task").compactMap { name in
            guard let tid = pid_t(name), let comm = readFile("/proc/\(pid)/task/\(name)/comm", limit: 32),
                  comm == Array("orphanguard\n".utf8) else { return nil }
            return tid
        }
    }

    private struct Descriptors {
        var isWatcher = false
        var parent: pid_t?
    }

    /// The watcher's signalfd marks it; its pidfd names the parent.
    private func watcherDescriptors(_ tid: pid_t) -> Result<Descriptors, ProcRead.Errno> {
        let base = "/proc/\(pid)/task/\(tid)"
        guard let dir = opendir(base + "/fd") else { return .failure(ProcRead.Errno(errno)) }
        closedir(dir)
        var found = Descriptors()
        for fd in ProcRead.directory(base + "/fd") {
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink(base + "/fd/" + fd, &target, target.count - 1)
            guard length > 0 else { continue }
            let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link == "anon_inode:[signalfd]" { found.isWatcher = true }
            if link == "anon_inode:[pidfd]" || link.hasPrefix("pidfd:"),
               let info = readFile(base + "/fdinfo/" + fd, limit: 4096) {
                let text = String(decoding: info, as: UTF8.self)
                for line in text.split(separator: "\n") where line.hasPrefix("Pid:") {
                    found.parent = pid_t(line.dropFirst(4).trimmingCharacters(in: " \t"))
                }
                found.isWatcher = true
            }
        }
        return .success(found)
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        String(drop(while: { set.contains($0) }).reversed().drop(while: { set.contains($0) }).reversed())
    }
}


