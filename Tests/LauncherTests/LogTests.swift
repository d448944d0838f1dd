import Foundation
import TestSupport
import XCTest

/// `orphanguard log` on a hand-written event log (Tests/Fixtures/sample_events.jsonl): two jobs, a
/// process that needed SIGKILL, an excluded one, one left to end at EOF, one the kernel ended, and
/// three lines that are not records.
final class LogTests: XCTestCase {
    private let base = guardedEnvironment(preload: false)
    private let sample = Fixtures.script("sample_events.jsonl")

    private func log(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try runCommand([Paths.launcher, "log"] + args, environment: base)
    }

    private func temporary(_ content: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "orphanguard-log-\(getpid())-\(UUID().uuidString.prefix(8)).jsonl"
        try Data(content).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { unlink(path) }
        return path
    }

    func testTablePerJob() throws {
        let result = try log([sample])
        XCTAssertEqual(result.status, 1, "skipped lines give exit 1")
        XCTAssertEqual(result.out, """
            job og-7f3a (SLURM job 4242) on node1: 2026-12-01T03:00:00.000100Z to 2026-12-01T03:10:05.100000Z
              started: torchrun --nproc-per-node 2 train.py (signal=SIGTERM grace=5000ms scope=process watch=auto)
              PID     COMM             PARENT            WHAT             SIGNAL              TOOK
              201     python3          200 (SIGKILL)     signal           SIGTERM             0 ms
              202     python3          200 (SIGKILL)     signal           SIGTERM, SIGKILL    5001 ms
              203     tensorboard      201 (SIGTERM)     excluded         -                   0 ms
              204     python3          201 (exit 0)      wait_eof         -                   250 ms
              205     sleep            201               ended_by_kernel  SIGTERM             3 ms
              5 processes: 2 signalled, 1 needed SIGKILL, 1 excluded, 1 left to end at EOF, 1 ended by the kernel
              ended: CMD died of SIGKILL; the launcher ended 1 leftover process; the job ran 605.1 s

            job og-b2c9 on node2: 2026-12-01T04:00:00.000001Z to 2026-12-01T04:00:00.000001Z
              PID     COMM             PARENT            WHAT             SIGNAL              TOOK
              301     dataloader ✓     300 (exit 3)      signal           SIGINT              250 ms
              1 process: 1 signalled, 0 needed SIGKILL

            """)
        XCTAssertEqual(result.err, "orphanguard: \(sample): skipped 3 lines that are not a record (line 4, 9, 12)\n")
    }

    /// --job matches the job id, the SLURM job id or the torchelastic run id; --json passes the
    /// records through byte for byte.
    func testJobFilterAndJsonPassThrough() throws {
        let lines = try String(contentsOfFile: sample, encoding: .utf8).split(separator: "\n").map(String.init)
        let first = lines.filter { $0.contains("\"job\":\"og-7f3a\"") }
        XCTAssertEqual(first.count, 8)
        for id in ["og-7f3a", "4242"] {
            let result = try log([sample, "--job", id, "--json"])
            XCTAssertEqual(result.out, first.joined(separator: "\n") + "\n", id)
        }
        let second = try log([sample, "--job", "og-b2c9"])
        XCTAssertTrue(second.out.hasPrefix("job og-b2c9 on node2"), second.out)
        XCTAssertFalse(second.out.contains("og-7f3a"))
        let none = try log([sample, "--job", "nope"])
        XCTAssertEqual(none.out, "no records for job nope\n")
    }

    /// Garbage of every kind is counted, never a crash; a clean log exits 0; an unreadable one 2.
    func testMalformedInputIsCountedNeverACrash() throws {
        var garbage: [UInt8] = Array("\u{0}\u{1}{\"event\":\"x\"\n".utf8) + [0xff, 0xfe, 0x0a]
        garbage += Array(String(repeating: "[", count: 100_000).utf8) + [0x0a]
        // A number too big for a double is not a record either.
        garbage += Array("{\"event\":\"parent_gone\",\"pid\":1e999,\"comm\":\"\\ud800\"}\n".utf8)
        garbage += Array("{\"event\":\"parent_gone\",\"pid\":\"x\",\"argv\":{}}\n".utf8)
        garbage += Array(String(repeating: "x", count: 1 << 20).utf8)
        let path = try temporary(garbage)
        let result = try log([path])
        XCTAssertEqual(result.status, 1, result.err)
        XCTAssertTrue(result.err.contains("skipped 5 lines that are not a record (line 1, 2, 3, 4, 6)"), result.err)
        XCTAssertTrue(result.out.contains("1 process: "), result.out)

        let empty = try log([try temporary([])])
        XCTAssertEqual(empty.status, 0)
        XCTAssertEqual(empty.out, "no records\n")

        let missing = try log(["/nonexistent/events.jsonl"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.err, "orphanguard: /nonexistent/events.jsonl: cannot read the log: No such file or directory\n")
        let directory = try log([NSTemporaryDirectory()])
        XCTAssertEqual(directory.status, 2)
        XCTAssertTrue(directory.err.contains("cannot read the log: Is a directory"), directory.err)
    }
}
