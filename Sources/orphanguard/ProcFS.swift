import Glibc

/// What the launcher reads from /proc about its descendants.
enum ProcFS {
    struct Stat {
        let state: UInt8
        let ppid: pid_t
    }

    static func stat(_ pid: pid_t) -> Stat? {
        guard let bytes = readFile("/proc/\(pid)/stat", limit: 1024),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // comm may hold spaces and parentheses: fields restart after the last ')'.
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 2, let ppid = pid_t(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return Stat(state: fields[0].first ?? 0, ppid: ppid)
    }

    /// The direct children of this (single-threaded) process.
    static func ownChildren() -> [pid_t] {
        let me = getpid()
        if let bytes = readFile("/proc/\(me)/task/\(me)/children") {
            return bytes.split(separator: UInt8(ascii: " ")).compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
        }
        return allParents().filter { $0.value == me }.map(\.key)
    }

    /// Every process's parent.
    static func allParents() -> [pid_t: pid_t] {
        var result: [pid_t: pid_t] = [:]
        guard let dir = opendir("/proc") else { return result }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard let pid = pid_t(name), let stat = stat(pid) else { continue }
            result[pid] = stat.ppid
        }
        return result
    }

    /// All live descendants of `root`, parents before children.
    static func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for (pid, ppid) in allParents() { children[ppid, default: []].append(pid) }
        var result: [pid_t] = []
        var queue = children[root] ?? []
        while !queue.isEmpty {
            let pid = queue.removeFirst()
            result.append(pid)
            queue.append(contentsOf: children[pid] ?? [])
        }
        return result
    }

    static func comm(_ pid: pid_t) -> String {
        guard let bytes = readFile("/proc/\(pid)/comm", limit: 64) else { return "?" }
        return String(decoding: bytes.prefix(while: { $0 != UInt8(ascii: "\n") }), as: UTF8.self)
    }

    /// Does pid run the library's watcher thread (so the library is ending it)?
    static func hasWatcher(_ pid: pid_t) -> Bool {
        guard let dir = opendir("/proc/\(pid)/task") else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.first?.isNumber == true, readFile("/proc/\(pid)/task/\(name)/comm", limit: 32)
                .map({ String(decoding: $0, as: UTF8.self) }) == "orphanguard\n" {
                return true
            }
        }
        return false
    }

    /// Did the process opt out in its (initial) environment, as the library reads it: with
    /// ORPHANGUARD_DISABLE=1, or by listing its own name in ORPHANGUARD_EXCLUDE?
    static func optedOut(_ pid: pid_t, name: String) -> Bool {
        guard let bytes = readFile("/proc/\(pid)/environ", limit: 1 << 20) else { return false }
        return orphanguard.optedOut(environment: bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) },
                                    name: name)
    }

    static func isZombieOrGone(_ pid: pid_t) -> Bool {
        guard let stat = stat(pid) else { return true }
        return stat.state == UInt8(ascii: "Z") || stat.state == UInt8(ascii: "X")
    }

    /// Stopped by a signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU); its watcher thread is stopped too.
    static func isStopped(_ pid: pid_t) -> Bool {
        stat(pid)?.state == UInt8(ascii: "T")
    }
}
