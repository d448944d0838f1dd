import Glibc
import OrphanguardCore

/// What the launcher reads from /proc about its descendants.
enum ProcFS {
    struct Stat {
        /// Field 2, between the parentheses (it may hold spaces and parentheses itself).
        let comm: String
        let state: UInt8
        let ppid: pid_t
        /// Field 22, in clock ticks since boot: with the pid, names the process for good.
        let start: UInt64
        /// Field 9, the kernel's task flags.
        let flags: UInt

        /// PF_EXITING: the process is ending (it has already closed its descriptors, its claim among
        /// them, and /proc no longer shows its arguments) but is no zombie yet.
        var exiting: Bool { flags & 0x4 != 0 }
    }

    /// /proc/PID/stat, read by the library's own reader (CShim/proc_stat.c).
    static func stat(_ pid: pid_t) -> Stat? {
        var buffer = [CChar](repeating: 0, count: 1024)
        return buffer.withUnsafeMutableBufferPointer { buf -> Stat? in
            guard let base = buf.baseAddress, let fields = og_stat_read("/proc/\(pid)/stat", base, buf.count) else { return nil }
            var ppid: UInt64 = 0, start: UInt64 = 0, flags: UInt64 = 0
            guard og_stat_field(fields, 4, &ppid), og_stat_field(fields, 22, &start), og_stat_field(fields, 9, &flags) else {
                return nil
            }
            // og_stat_read leaves "PID (comm) " before the fields.
            let head = UnsafeBufferPointer(start: base, count: fields - UnsafePointer(base)).map { UInt8(bitPattern: $0) }
            let open = head.firstIndex(of: UInt8(ascii: "(")).map { $0 + 1 } ?? 0
            let close = head.lastIndex(of: UInt8(ascii: ")")) ?? open
            return Stat(comm: String(decoding: head[open..<max(open, close)], as: UTF8.self),
                        state: UInt8(bitPattern: fields.pointee), ppid: pid_t(ppid), start: start, flags: UInt(flags))
        }
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

    /// The threads of pid.
    static func tasks(_ pid: pid_t) -> [String] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var result: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.first?.isNumber == true { result.append(name) }
        }
        return result
    }

    /// Is there a live process below `root` that runs no watcher thread (a static or Go binary, a
    /// setuid program, a process excluded or without a thread of its own)? Nobody would notice its
    /// children being orphaned: they are re-parented to us silently. Walks the tree through each
    /// thread's `children` file (the processes it forked), not every process on the machine.
    static func unguardedBelow(_ root: pid_t) -> pid_t? {
        var queue: [pid_t] = [root]
        while let pid = queue.popLast() {
            var watched = false
            for task in tasks(pid) {
                let base = "/proc/\(pid)/task/\(task)/"
                if !watched, readFile(base + "comm", limit: 32).map({ String(decoding: $0, as: UTF8.self) }) == "orphanguard\n" {
                    watched = true
                }
                if let bytes = readFile(base + "children") {
                    queue += bytes.split(separator: UInt8(ascii: " ")).compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
                }
            }
            if pid != root, !watched, !isZombieOrGone(pid) { return pid }
        }
        return nil
    }

    /// Did the kernel already send `signal` to this orphan? Exec armed it as PR_SET_PDEATHSIG in this
    /// very process (the library's ORPHANGUARD_PARENT says so in the initial environment, which the
    /// process cannot take back), and the kernel sends it when the parent dies. Asked about processes
    /// that run no library of their own to take the claim: a static image, one between exec and the
    /// library's constructor, or one the library left to the kernel (--watch kernel).
    static func kernelSent(_ pid: pid_t, signal: Int32) -> Bool {
        guard let bytes = readFile("/proc/\(pid)/environ", limit: 1 << 20) else { return false }
        let prefix = Array("ORPHANGUARD_PARENT=".utf8)
        guard let entry = bytes.split(separator: 0).first(where: { $0.starts(with: prefix) }) else { return false }
        let hint = og_parent_hint_parse(String(decoding: entry.dropFirst(prefix.count), as: UTF8.self))
        return hint.present && hint.armed_signal == signal && hint.armed_in == pid
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

    /// Is the process ending already? PF_EXITING in its flags, or a signal pending that it neither
    /// blocks, ignores nor handles and whose default is to end it: the process is on its way out,
    /// and its watcher thread (whose private descriptor table holds the library's claim) may be gone
    /// before the main thread is flagged.
    static func dying(_ pid: pid_t) -> Bool {
        guard let stat = stat(pid) else { return true }
        if stat.exiting || stat.state == UInt8(ascii: "Z") || stat.state == UInt8(ascii: "X") { return true }
        guard let bytes = readFile("/proc/\(pid)/status", limit: 8192) else { return true }
        var masks: [String: UInt64] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, ["SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"].contains(String(parts[0])) else { continue }
            masks[String(parts[0])] = UInt64(parts[1].trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16)
        }
        func bit(_ sig: Int32) -> UInt64 { 1 << UInt64(sig - 1) }
        let harmless = [SIGCHLD, SIGCONT, SIGURG, SIGWINCH, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].reduce(UInt64(0)) { $0 | bit($1) }
        let pending = (masks["SigPnd"] ?? 0) | (masks["ShdPnd"] ?? 0)
        let deliverable = pending & ~((masks["SigBlk"] ?? 0) | (masks["SigIgn"] ?? 0) | (masks["SigCgt"] ?? 0))
        return pending & bit(SIGKILL) != 0 || deliverable & ~harmless != 0
    }

    static func isZombieOrGone(_ pid: pid_t) -> Bool {
        guard let stat = stat(pid) else { return true }
        return stat.state == UInt8(ascii: "Z") || stat.state == UInt8(ascii: "X")
    }

    /// Stopped by a signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU); its watcher thread is stopped too.
    static func isStopped(_ pid: pid_t) -> Bool {
        stat(pid)?.state == UInt8(ascii: "T")
    }

    /// Why a process outlives its SIGKILL, for the report: its state, where it sleeps in the kernel
    /// (`wchan`), and the device files it holds that keep driver memory allocated (GPUs, RDMA).
    static func stuckDetail(_ pid: pid_t, state: UInt8) -> String {
        let states: [UInt8: String] = [UInt8(ascii: "D"): "uninterruptible sleep", UInt8(ascii: "T"): "stopped",
                                       UInt8(ascii: "t"): "traced", UInt8(ascii: "R"): "running", UInt8(ascii: "S"): "sleeping"]
        let letter = String(UnicodeScalar(state))
        var parts = ["state \(letter)" + (states[state].map { " (\($0))" } ?? "")]
        let wchan = readFile("/proc/\(pid)/wchan", limit: 256).map { String(decoding: $0, as: UTF8.self) } ?? ""
        parts.append("wchan " + (wchan.isEmpty || wchan == "0" ? "unknown" : wchan))
        var devices: [String] = []
        for fd in ProcRead.directory("/proc/\(pid)/fd") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink("/proc/\(pid)/fd/\(fd)", &buffer, buffer.count - 1)
            guard count > 0 else { continue }
            let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if ["/dev/nvidia", "/dev/dri/", "/dev/infiniband/"].contains(where: { target.hasPrefix($0) }), !devices.contains(target) {
                devices.append(target)
            }
        }
        parts.append(devices.isEmpty ? "holds no GPU or RDMA device" : "holds " + devices.joined(separator: ", "))
        return parts.joined(separator: "; ")
    }
}
