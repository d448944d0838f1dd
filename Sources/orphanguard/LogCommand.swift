import ArgumentParser
import Glibc

/// `orphanguard log FILE`: what the guard did, from its event log (ORPHANGUARD_LOG / --log), per job.
struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize an event log: per job, what ended, by which signal, how long each took.",
        discussion: """
        FILE holds JSON Lines records (README: "Seeing what it did"). Lines that are not records are \
        skipped and counted on stderr. Exit status: 0; 1 when lines were skipped; 2 when FILE cannot be read.
        """
    )

    @Argument(help: "The event log (JSON Lines).")
    var file: String

    @Option(name: .long, help: "Only this job: its orphanguard job id, SLURM job id or torchelastic run id.")
    var job: String?

    @Flag(name: .long, help: "Print the job's records as they are in the file, one per line, instead of a table.")
    var json = false

    func run() throws {
        let bytes: [UInt8]
        switch ProcRead.bytes(file, limit: Int.max) {
        case .success(let content): bytes = content
        case .failure(let err): fail("\(file): cannot read the log: \(ProcRead.describe(err))")
        }
        var records: [(line: Substring, record: JSON)] = []
        var malformed: [Int] = []
        let text = String(decoding: bytes, as: UTF8.self)
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            guard let record = try? JSON.parse(String(line)), case .object = record, record["event"]?.stringValue != nil else {
                malformed.append(index + 1)
                continue
            }
            if let job, !Self.jobIds(record).contains(job) { continue }
            records.append((line, record))
        }
        if json {
            for entry in records { print(entry.line) }
        } else {
            printTables(records.map(\.record))
        }
        if !malformed.isEmpty {
            let shown = malformed.prefix(5).map(String.init).joined(separator: ", ") + (malformed.count > 5 ? ", …" : "")
            report("\(file): skipped \(malformed.count) line\(malformed.count == 1 ? "" : "s") that \(malformed.count == 1 ? "is" : "are") not a record (line \(shown))")
            Glibc.exit(1)
        }
    }

    static func jobIds(_ record: JSON) -> [String] {
        ["job", "slurm_job", "torchelastic_run"].compactMap { record[$0]?.stringValue }
    }

    private static func jobKey(_ record: JSON) -> String {
        jobIds(record).first ?? "(no job id)"
    }

    /// One process's records: keyed by host, pid and start time, so a reused pid is another process.
    private struct Ended {
        var pid: Int
        var comm: String
        var parent: String
        var what: String
        var signal: String
        var took: Int?
        var neededKill = false
    }

    private func printTables(_ records: [JSON]) {
        var order: [String] = []
        var byJob: [String: [JSON]] = [:]
        for record in records {
            let key = Self.jobKey(record)
            if byJob[key] == nil { order.append(key) }
            byJob[key, default: []].append(record)
        }
        if order.isEmpty {
            print(job.map { "no records for job \($0)" } ?? "no records")
        }
        for (index, key) in order.enumerated() {
            if index > 0 { print("") }
            printJob(key, byJob[key] ?? [])
        }
    }

    private func printJob(_ key: String, _ records: [JSON]) {
        let times = records.compactMap { $0["time"]?.stringValue }
        let hosts = Set(records.compactMap { $0["host"]?.stringValue }).sorted()
        var header = "job \(key)"
        if let slurm = records.lazy.compactMap({ $0["slurm_job"]?.stringValue }).first, slurm != key { header += " (SLURM job \(slurm))" }
        if !hosts.isEmpty { header += " on " + hosts.joined(separator: ", ") }
        if let first = times.min(), let last = times.max() { header += ": \(first) to \(last)" }
        print(header)
        var processes: [String: Ended] = [:]
        var processOrder: [String] = []
        var endings: [String] = []
        for record in records {
            let event = record["event"]?.stringValue ?? "?"
            switch event {
            case "job_start":
                let argv = (record["argv"].flatMap { value -> [JSON]? in if case .array(let items) = value { return items } else { return nil } } ?? [])
                    .compactMap(\.stringValue).joined(separator: " ")
                print("  started: \(argv.isEmpty ? "?" : argv)" + (record["detail"]?.stringValue.map { " (\($0))" } ?? ""))
                continue
            case "job_end":
                var line = "  ended: CMD " + Self.ending(code: record["exit_code"]?.intValue, signal: record["exit_signal"]?.stringValue)
                if let count = record["count"]?.intValue { line += "; the launcher ended \(count) leftover process\(count == 1 ? "" : "es")" }
                if let ms = record["duration_ms"]?.intValue { line += "; the job ran \(Self.duration(ms))" }
                endings.append(line)
                continue
            default:
                break
            }
            let pid = record["pid"]?.intValue ?? 0
            let id = "\(record["host"]?.stringValue ?? "")/\(pid)/\(record["start_time"]?.intValue ?? 0)"
            var entry = processes[id] ?? Ended(pid: pid, comm: record["comm"]?.stringValue ?? "?", parent: Self.parent(record),
                                              what: "", signal: "", took: nil)
            if processes[id] == nil { processOrder.append(id) }
            switch event {
            case "sigkill_after_grace":
                entry.neededKill = true
                if entry.what.isEmpty { entry.what = "signal" }
            case "parent_gone":
                entry.what = record["action"]?.stringValue ?? "parent_gone"
                entry.signal = record["signal"]?.stringValue ?? entry.signal
            case "ended_by_kernel":
                entry.what = event
                entry.signal = record["exit_signal"]?.stringValue ?? entry.signal
            default:
                if entry.what.isEmpty || event == "still_alive" { entry.what = event }
                if let signal = record["signal"]?.stringValue { entry.signal = signal }
            }
            if let ms = record["since_parent_ms"]?.intValue { entry.took = max(entry.took ?? 0, ms) }
            processes[id] = entry
        }
        defer { endings.forEach { print($0) } }
        guard !processOrder.isEmpty else { return }
        print("  " + "PID".padding(8) + "COMM".padding(17) + "PARENT".padding(18) + "WHAT".padding(17) + "SIGNAL".padding(20) + "TOOK")
        for id in processOrder {
            guard let p = processes[id] else { continue }
            let signal = p.neededKill ? (p.signal.isEmpty ? "SIGKILL" : p.signal + ", SIGKILL") : (p.signal.isEmpty ? "-" : p.signal)
            print("  " + String(p.pid).padding(8) + p.comm.padding(17) + p.parent.padding(18) + p.what.padding(17) + signal.padding(20)
                  + (p.took.map(Self.duration) ?? "?"))
        }
        let all = processOrder.compactMap { processes[$0] }
        let signalled = all.filter { $0.what == "signal" || $0.what == "leftover_ended" }.count
        var parts = ["\(signalled) signalled", "\(all.filter(\.neededKill).count) needed SIGKILL"]
        for (what, label) in [("excluded", "excluded"), ("wait_eof", "left to end at EOF"), ("ended_by_kernel", "ended by the kernel"),
                              ("orphan_adopted", "adopted"), ("still_alive", "still alive after SIGKILL")] {
            let count = all.filter { $0.what == what }.count
            if count > 0 { parts.append("\(count) \(label)") }
        }
        print("  \(all.count) process\(all.count == 1 ? "" : "es"): " + parts.joined(separator: ", "))
    }

    private static func parent(_ record: JSON) -> String {
        guard let pid = record["parent_pid"]?.intValue else { return "?" }
        if let signal = record["parent_signal"]?.stringValue { return "\(pid) (\(signal))" }
        if let code = record["parent_exit_code"]?.intValue { return "\(pid) (exit \(code))" }
        return "\(pid)"
    }

    private static func ending(code: Int?, signal: String?) -> String {
        if let signal { return "died of \(signal)" }
        if let code { return "exited with \(code)" }
        return "ended (status unknown)"
    }

    private static func duration(_ ms: Int) -> String {
        ms < 10_000 ? "\(ms) ms" : String(format1: Double(ms) / 1000) + " s"
    }
}
