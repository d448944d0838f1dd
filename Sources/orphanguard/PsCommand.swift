import ArgumentParser
import Glibc

/// `orphanguard ps`: which processes on this machine are guarded, how, and against which parent;
/// with `--tree PID`, a whole subtree with the reason for each process that is not.
struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List guarded processes: the parent each watches, how, the signal and grace in force.",
        discussion: """
        Reads /proc: as a normal user it sees your own processes; the others are counted on stderr as \
        unreadable. How: pidfd (the watcher sleeps on the parent's pidfd), poll (it compares getppid() \
        every poll interval), kernel-only (no watcher thread: PR_SET_PDEATHSIG alone). The signal and \
        grace are those the process started with (ORPHANGUARD_SIGNAL, ORPHANGUARD_GRACE, or the defaults).
        """
    )

    @Option(name: .long, help: "Show the subtree of PID, every process marked guarded or not, with the reason when not.")
    var tree: Int32?

    @Flag(name: .long, help: "JSON instead of a table.")
    var json = false

    func validate() throws {
        if let tree, tree <= 0 {
            throw ValidationError("--tree: '\(tree)' is not a process id")
        }
    }

    func run() throws {
        let table = ProcessTable.read()
        guard !table.parents.isEmpty else { fail("cannot list processes: /proc is not mounted or shows nothing") }
        if let root = tree {
            guard table.parents[root] != nil else { fail("--tree: no process \(root)") }
            showTree(root, table)
        } else {
            showGuarded(table)
        }
    }

    private func showGuarded(_ table: ProcessTable) {
        let me = getpid()
        var unreadable = 0
        var rows: [GuardState] = []
        for pid in table.parents.keys.sorted() where pid != me {
            guard let state = GuardState.read(pid) else { continue }
            if state.guarded { rows.append(state) }
            if state.denied && !state.guarded { unreadable += 1 }
        }
        if json {
            print(JSON.object([("processes", .array(rows.map(\.json))), ("unreadable", .int(unreadable))]).text)
        } else {
            print("PID".padding(8) + "COMM".padding(17) + "WATCHES".padding(9) + "HOW".padding(12) + "SIGNAL".padding(10)
                  + "GRACE".padding(8) + "AGE")
            for row in rows {
                print(String(row.pid).padding(8) + row.comm.padding(17) + (row.watchedParent.map(String.init) ?? "?").padding(9)
                      + (row.how?.rawValue ?? "?").padding(12) + row.signal.padding(10) + seconds(row.graceMilliseconds).padding(8)
                      + age(row.ageSeconds))
            }
        }
        if unreadable > 0 {
            report("\(unreadable) process\(unreadable == 1 ? "" : "es") could not be read (Permission denied)"
                   + (geteuid() == 0 ? "" : ": not yours; run as root to see them"))
        }
    }

    private func showTree(_ root: pid_t, _ table: ProcessTable) {
        var entries: [(depth: Int, last: [Bool], state: GuardState)] = []
        func walk(_ pid: pid_t, _ last: [Bool]) {
            guard let state = GuardState.read(pid) else { return }
            entries.append((last.count, last, state))
            let children = (table.children[pid] ?? []).sorted()
            for (index, child) in children.enumerated() {
                walk(child, last + [index == children.count - 1])
            }
        }
        walk(root, [])
        if json {
            print(JSON.object([("root", .int(Int(root))), ("processes", .array(entries.map { $0.state.json }))]).text)
            return
        }
        for entry in entries {
            var prefix = ""
            for (level, isLast) in entry.last.enumerated() {
                prefix += level == entry.last.count - 1 ? (isLast ? "└─ " : "├─ ") : (isLast ? "   " : "│  ")
            }
            let state = entry.state
            let what: String
            if let how = state.how {
                what = "guarded: \(how.rawValue), watches \(state.watchedParent.map(String.init) ?? "?"), \(state.signal), grace "
                    + seconds(state.graceMilliseconds)
            } else {
                what = "not guarded: " + (state.reason ?? "unknown")
            }
            let unread = state.unreadable.isEmpty ? "" : " (could not read " + state.unreadable.joined(separator: ", ") + ")"
            print((prefix + "\(state.pid) \(state.comm)").padding(30) + what + unread)
        }
    }

    private func seconds(_ ms: Int) -> String {
        ms % 1000 == 0 ? "\(ms / 1000)s" : String(format1: Double(ms) / 1000) + "s"
    }

    private func age(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60 < 10 ? "0" : "")\(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60 < 10 ? "0" : "")\(s % 3600 / 60)m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }
}

extension GuardState {
    var json: JSON {
        .object([
            ("pid", .int(Int(pid))), ("ppid", .int(Int(ppid))), ("comm", .string(comm)),
            ("guarded", .bool(guarded)), ("how", how.map { .string($0.rawValue) } ?? .null),
            ("watches", watchedParent.map { .int(Int($0)) } ?? .null),
            ("signal", guarded ? .string(signal) : .null), ("grace_ms", guarded ? .int(graceMilliseconds) : .null),
            ("age_s", .int(Int(ageSeconds))), ("reason", reason.map(JSON.string) ?? .null),
            ("unreadable", .array(unreadable.map(JSON.string))),
        ])
    }
}

/// Every process's parent, and the reverse, as /proc shows them now.
struct ProcessTable {
    var parents: [pid_t: pid_t] = [:]
    var children: [pid_t: [pid_t]] = [:]

    static func read() -> ProcessTable {
        var table = ProcessTable()
        for name in ProcRead.directory("/proc") {
            guard let pid = pid_t(name), let stat = ProcFS.stat(pid) else { continue }
            table.parents[pid] = stat.ppid
            table.children[stat.ppid, default: []].append(pid)
        }
        return table
    }
}
