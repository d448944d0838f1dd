import Glibc
import OrphanguardCore

/// The launcher's side of the event log (`--log FILE` / ORPHANGUARD_LOG): its records, written by the
/// library's own writer (CShim/event_log.c) so both sides share one format and one append rule.
final class EventLog {
    /// One record's fields; nil and -1 are written as null.
    struct Record {
        var event: String
        var action: String?
        var pid: pid_t = 0
        var start: UInt64 = 0
        var comm: String?
        var argv: [String]?
        var uid: Int = -1
        var parentPid: pid_t = 0
        var signal: String?
        var graceMilliseconds: Int = -1
        var exitCode: Int = -1
        var exitSignal: String?
        var count: Int = -1
        var durationMilliseconds: Int = -1
        var detail: String?

        init(_ event: String, action: String? = nil) {
            self.event = event
            self.action = action
        }

        /// A record about a live (or zombie) process: its start time, name, arguments and uid from /proc.
        init(_ event: String, action: String? = nil, process pid: pid_t, start: UInt64) {
            self.init(event, action: action)
            self.pid = pid
            self.start = start
            comm = ProcFS.comm(pid)
            argv = readFile("/proc/\(pid)/cmdline", limit: 2048).flatMap { bytes in
                bytes.isEmpty ? nil :
                bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast(bytes.last == 0 ? 1 : 0)
                    .map { String(decoding: $0, as: UTF8.self) }
            }
            var st = stat()
            if fstatat(AT_FDCWD, "/proc/\(pid)", &st, 0) == 0 { uid = Int(st.st_uid) }
        }
    }

    let path: String
    let job: String
    private let slurmJob: String?
    private let slurmStep: String?
    private let torchelasticRun: String?
    /// The file's size when the job started: the library's records of this job come after it.
    private(set) var startOffset: off_t = 0

    /// The log `environment` names (ORPHANGUARD_LOG, ORPHANGUARD_JOB as CMD gets them), or nil.
    init?(environment: [String]) {
        func value(_ name: String) -> String? {
            environment.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
        }
        guard let path = value("ORPHANGUARD_LOG"), !path.isEmpty, let job = value("ORPHANGUARD_JOB") else { return nil }
        self.path = path
        self.job = job
        slurmJob = value("SLURM_JOB_ID")
        slurmStep = value("SLURM_STEP_ID")
        torchelasticRun = value("TORCHELASTIC_RUN_ID")
        var st = stat()
        if fstatat(AT_FDCWD, path, &st, 0) == 0 { startOffset = st.st_size }
    }

    /// Can records be appended to path? nil, or the errno that says why not. Opens (creating) the
    /// file as every writer will (event_log.c).
    static func check(_ path: String) -> Int32? {
        guard path.hasPrefix("/") else { return EINVAL }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return errno }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return EINVAL }
        var fs = statvfs()
        if fstatvfs(fd, &fs) == 0, fs.f_bavail == 0, getuid() != 0 || fs.f_bfree == 0 { return ENOSPC }
        return nil
    }

    /// A fresh job id: 16 hex digits from the kernel's random source.
    static func newJobId() -> String {
        let value = UInt64.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Appends one record; 0 or the errno of the write (event_log.h).
    @discardableResult
    func write(_ record: Record) -> Int32 {
        var owned: [UnsafeMutablePointer<CChar>?] = []
        defer { owned.forEach { free($0) } }
        func c(_ text: String?) -> UnsafePointer<CChar>? {
            guard let text else { return nil }
            let copy = strdup(text)
            owned.append(copy)
            return UnsafePointer(copy)
        }
        var e = og_event_init(c(record.event)!, c("launcher")!)
        e.action = c(record.action)
        e.job = c(job)
        e.slurm_job = c(slurmJob)
        e.slurm_step = c(slurmStep)
        e.torchelastic_run = c(torchelasticRun)
        e.pid = record.pid
        e.start_time = record.start
        e.comm = c(record.comm)
        e.uid = Int64(record.uid)
        e.parent_pid = record.parentPid
        e.signal = c(record.signal)
        e.grace_ms = record.graceMilliseconds
        e.exit_code = Int32(record.exitCode)
        e.exit_signal = c(record.exitSignal)
        e.count = record.count
        e.duration_ms = record.durationMilliseconds
        e.detail = c(record.detail)
        let argv: [UnsafePointer<CChar>?]? = record.argv.map { $0.map { c($0) } + [nil] }
        return path.withCString { cPath in
            guard let argv else { return og_event_write(cPath, &e) }
            return argv.withUnsafeBufferPointer { items in
                e.argv = UnsafePointer(items.baseAddress)
                return og_event_write(cPath, &e)
            }
        }
    }

    /// Why a log cannot be written, for the one warning at start.
    static func describe(_ err: Int32) -> String {
        switch err {
        case ENOENT: return "its folder does not exist"
        case EISDIR: return "it is a directory"
        case ENXIO, EINVAL: return "it is not a regular file (a FIFO or a device)"
        case ENOSPC: return "the disk is full"
        default: return String(cString: strerror(err))
        }
    }

    /// The library's records of this job (written since the job started) about these processes,
    /// by pid and start time.
    func libraryRecords() -> Set<String> {
        guard let bytes = readFile(path, limit: Int.max), bytes.count >= Int(startOffset) else { return [] }
        var found: Set<String> = []
        for line in bytes[Int(startOffset)...].split(separator: UInt8(ascii: "\n")) {
            guard let record = try? JSON.parse(String(decoding: line, as: UTF8.self)),
                  record["writer"]?.stringValue == "library", record["job"]?.stringValue == job,
                  let pid = record["pid"]?.intValue else { continue }
            found.insert("\(pid)/\(record["start_time"]?.intValue ?? 0)")
        }
        return found
    }
}
