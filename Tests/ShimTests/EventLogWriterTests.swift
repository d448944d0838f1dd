import Foundation
import TestSupport
import XCTest

/// The event log's record writer (CShim/event_log.c), through a small C driver built with it: the
/// record's exact layout, escaping, the size bound, concurrent appends, and every bad path.
final class EventLogWriterTests: XCTestCase {
    private func driver() throws -> String {
        try Fixtures.binary("event_log_writer", flags: [Paths.packageRoot + "/CShim/event_log.c"])
    }

    private func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try runCommand([try driver()] + args, environment: guardedEnvironment(preload: false))
    }

    private func folder() throws -> String {
        let path = NSTemporaryDirectory() + "orphanguard-eventlog-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testRecordLayoutAndEscaping() throws {
        let result = try run(["format"])
        XCTAssertEqual(result.status, 0)
        let expected = #"{"time":"2025-12-01T23:50:01.123456Z","host":"node\"1","job":"job-1","slurm_job":"4242","#
            + #""torchelastic_run":null,"event":"parent_gone","action":"signal","writer":"library","pid":5678,"#
            + #""start_time":123456,"comm":"py\"thon","argv":["python3","-c","print(\"a\\b\")\n\t\u0001","café \ufffd\ufffd"],"#
            + #""uid":1000,"parent_pid":1234,"parent_end":"signal","parent_exit_code":null,"parent_signal":"SIGKILL","#
            + #""signal":"SIGTERM","grace_ms":5000,"since_parent_ms":0,"exit_code":null,"exit_signal":null,"count":null,"#
            + #""duration_ms":null,"detail":null,"truncated":false,"slurm_step":"0"}"# + "\n"
        XCTAssertEqual(result.out, expected)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        XCTAssertEqual(object["argv"] as? [String], ["python3", "-c", "print(\"a\\b\")\n\t\u{1}", "café \u{FFFD}\u{FFFD}"])
    }

    /// The job ids come from ORPHANGUARD_JOB, SLURM_JOB_ID and TORCHELASTIC_RUN_ID, each its own field.
    func testJobIdsFromTheEnvironment() throws {
        var env = guardedEnvironment(["ORPHANGUARD_JOB": "og-1", "SLURM_JOB_ID": "77", "SLURM_STEP_ID": "3",
                                       "ORPHANGUARD_JOBX": "no"], preload: false)
        var result = try runCommand([try driver(), "job"], environment: env)
        XCTAssertTrue(result.out.contains(#""host":null,"job":"og-1","slurm_job":"77","torchelastic_run":null,"#), result.out)
        XCTAssertTrue(result.out.contains(#""slurm_step":"3"}"#), result.out)
        env = guardedEnvironment(["TORCHELASTIC_RUN_ID": "run\"x"], preload: false)
        result = try runCommand([try driver(), "job"], environment: env)
        XCTAssertTrue(result.out.contains(#""job":null,"slurm_job":null,"torchelastic_run":"run\"x","#), result.out)
    }

    /// Strings far beyond a line's room are cut (never mid-escape) and the record says so.
    func testOversizedStringsAreCutUnderPipeBuf() throws {
        let result = try run(["huge"])
        XCTAssertEqual(result.status, 0)
        XCTAssertLessThan(result.out.utf8.count, 4096)
        XCTAssertEqual(result.out.filter { $0 == "\n" }.count, 1)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        XCTAssertEqual(object["truncated"] as? Bool, true)
        XCTAssertTrue((object["detail"] as? String)?.allSatisfy { $0 == "\"" } == true)
    }

    func testAppendsOneLinePerRecord() throws {
        let log = try folder() + "/events.jsonl"
        for _ in 0..<2 { XCTAssertEqual(try run(["write", log]).out, "errno 0\n") }
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for line in lines { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8))) }
    }

    /// 200 processes append long records at the same moment: 200 whole lines, none torn.
    func testConcurrentWritersNeverInterleave() throws {
        let log = try folder() + "/events.jsonl"
        XCTAssertEqual(try run(["burst", log, "200"]).out, "errno 0\n")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "")
        XCTAssertEqual(lines.count - 1, 200)
        var pids = Set<Int>()
        for line in lines.dropLast() {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line.prefix(200)))
            pids.insert(object["pid"] as? Int ?? 0)
            XCTAssertGreaterThan(line.utf8.count, 1000)
        }
        XCTAssertEqual(pids.count, 200)
    }

    /// Each bad path returns its errno and writes nothing anywhere; nothing crashes.
    func testBadPathsReturnTheirErrno() throws {
        let dir = try folder()
        XCTAssertEqual(try run(["write", dir + "/missing/events.jsonl"]).out, "errno \(ENOENT)\n")
        XCTAssertEqual(try run(["write", dir]).out, "errno \(EISDIR)\n")
        XCTAssertEqual(try run(["write", "/dev/null"]).out, "errno \(EINVAL)\n")
        let fifo = dir + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertEqual(try run(["write", fifo]).out, "errno \(ENXIO)\n", "a FIFO nobody reads")
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer { close(reader) }
        XCTAssertEqual(try run(["write", fifo]).out, "errno \(EINVAL)\n", "a FIFO with a reader")
        var byte: UInt8 = 0
        XCTAssertLessThanOrEqual(read(reader, &byte, 1), 0, "something was written into the FIFO")
        XCTAssertEqual(try run(["write", ""]).out, "errno 0\n")
    }

    /// A full filesystem: ENOSPC, and the file keeps what it had.
    func testFullDiskReturnsEnospc() throws {
        try requireRoot()
        let dir = try folder()
        let script = "mount -t tmpfs -o size=4k none \"$1\" && head -c 4096 /dev/zero > \"$1/log\"; "
            + "\"$0\" write \"$1/log\"; stat -c %s \"$1/log\""
        let result = try runCommand(["/usr/bin/unshare", "--mount", "--", "/bin/sh", "-c", script, try driver(), dir],
                                    environment: guardedEnvironment(preload: false))
        XCTAssertEqual(result.out, "errno \(ENOSPC)\n4096\n", result.err)
    }
}
