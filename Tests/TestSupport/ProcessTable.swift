import Foundation

/// A process identified by pid and start time, so a reused pid is never mistaken for it.
public struct ProcessID: Hashable, CustomStringConvertible {
    public let pid: Int32
    public let startTime: UInt64

    public init?(pid: Int32) {
        guard let stat = ProcStat.read(pid) else { return nil }
        self.pid = pid
        self.startTime = stat.startTime
    }

    /// Alive means: exists, same start time, not a zombie.
    public var isAlive: Bool {
        guard let stat = ProcStat.read(pid) else { return false }
        return stat.startTime == startTime && stat.state != "Z" && stat.state != "X"
    }

    public var description: String { "\(pid)" }
}

/// The fields of /proc/PID/stat the tests use.
public struct ProcStat {
    public let state: Character
    public let ppid: Int32
    public let pgrp: Int32
    public let session: Int32
    public let startTime: UInt64

    public static func read(_ pid: Int32) -> ProcStat? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // comm may contain spaces and parentheses: fields restart after the last ')'.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first,
              let ppid = Int32(fields[1]), let pgrp = Int32(fields[2]), let session = Int32(fields[3]),
              let start = UInt64(fields[19]) else { return nil }
        return ProcStat(state: state, ppid: ppid, pgrp: pgrp, session: session, startTime: start)
    }
}

public enum ProcessTable {
    /// Every live process's pid and parent.
    public static func parents() -> [Int32: Int32] {
        var result: [Int32: Int32] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let stat = ProcStat.read(pid) else { continue }
            result[pid] = stat.ppid
        }
        return result
    }

    /// All descendants of pid (not pid itself), as of now.
    public static func descendants(of pid: Int32) -> [ProcessID] {
        let table = parents()
        var children: [Int32: [Int32]] = [:]
        for (child, parent) in table { children[parent, default: []].append(child) }
        var result: [ProcessID] = []
        var queue = children[pid] ?? []
        while let next = queue.popLast() {
            if let id = ProcessID(pid: next) { result.append(id) }
            queue.append(contentsOf: children[next] ?? [])
        }
        return result
    }

    /// Names of the threads of pid (/proc/PID/task/*/comm).
    public static func threadNames(of pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap {
            (try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
