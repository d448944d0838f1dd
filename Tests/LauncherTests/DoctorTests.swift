import Foundation
import TestSupport
import XCTest

/// `orphanguard doctor`: each check that can be forced here, with the exit status it must give.
final class DoctorTests: XCTestCase {
    private let base = guardedEnvironment(preload: false)

    /// The lines of `doctor`, keyed by check name: (status, detail).
    private func doctor(_ prefix: [String] = [], environment: [String: String]? = nil) throws
        -> (status: Int32, checks: [String: (status: String, detail: String)], out: String) {
        let result = try runCommand(prefix + [Paths.launcher, "doctor", "--json"], environment: environment ?? base, timeout: 60)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any], result.out + result.err)
        var checks: [String: (String, String)] = [:]
        for entry in object["checks"] as? [[String: String]] ?? [] {
            checks[entry["check"] ?? "?"] = (entry["status"] ?? "?", entry["detail"] ?? "")
        }
        XCTAssertEqual(object["exit"] as? Int, Int(result.status))
        return (result.status, checks, result.out)
    }

    private let names = ["library", "glibc", "loader", "pidfd_open", "PIDFD_GET_INFO", "close_range", "subreaper", "seccomp",
                         "/proc", "user namespaces", "pid namespaces", "LD_PRELOAD", "end-to-end"]

    /// On a plain machine every check runs and the trial ends a guarded child; an older kernel may
    /// name limits (exit 1), never a failure.
    func testPlainMachineWorks() throws {
        let run = try doctor()
        XCTAssertTrue([0, 1].contains(run.status), run.out)
        XCTAssertEqual(Set(run.checks.keys), Set(names))
        XCTAssertEqual(run.checks["end-to-end"]?.status, "ok", run.out)
        XCTAssertTrue(run.checks["end-to-end"]?.detail.contains("ended by SIGTERM") == true, run.out)
        XCTAssertEqual(run.checks["LD_PRELOAD"]?.status, "ok")
        XCTAssertEqual(run.checks["loader"]?.status, "ok")
        let text = try runCommand([Paths.launcher, "doctor"], environment: base, timeout: 60)
        XCTAssertEqual(text.status, run.status)
        XCTAssertEqual(text.out.split(separator: "\n").count, names.count + 1, text.out)
        XCTAssertTrue(text.out.contains("(exit \(run.status))\n"), text.out)
    }

    /// seccomp denying pidfd_open: the watcher polls, which is a named limit; the trial still passes.
    func testSeccompDenyingPidfdIsALimit() throws {
        let deny = try Fixtures.binary("deny_syscall")
        for errno in ["38", "1"] {
            let run = try doctor([deny, "pidfd_open", errno])
            XCTAssertEqual(run.status, 1, run.out)
            XCTAssertEqual(run.checks["pidfd_open"]?.status, "limit", run.out)
            XCTAssertTrue(run.checks["pidfd_open"]?.detail.contains("poll getppid()") == true, run.out)
            XCTAssertEqual(run.checks["seccomp"]?.status, "info", run.out)
            XCTAssertTrue(run.checks["seccomp"]?.detail.hasPrefix("filter mode") == true, run.out)
            XCTAssertEqual(run.checks["end-to-end"]?.status, "ok", run.out)
        }
    }

    /// /proc hidden by a tmpfs: a named limit; orphans still end. The Swift runtime finds its own
    /// arguments through /proc/self/maps, so the tmpfs keeps /proc/self, from a procfs mounted
    /// elsewhere; every other process is hidden from the library.
    func testHiddenProcIsALimit() throws {
        try requireRoot()
        let real = NSTemporaryDirectory() + "orphanguard-realproc-\(getpid())"
        try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: true)
        defer { rmdir(real) }
        let script = """
            mount -t proc proc "$1" && mount -t tmpfs none /proc && ln -s "$1/self" /proc/self && exec "$0" doctor --json
            """
        var env = base
        env["ORPHANGUARD_LIBRARY"] = Paths.library
        let result = try runCommand(["/usr/bin/unshare", "--mount", "--", "/bin/sh", "-c", script, Paths.launcher, real], environment: env, timeout: 60)
        XCTAssertEqual(result.status, 1, result.out + result.err)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any], result.out)
        let checks = (object["checks"] as? [[String: String]] ?? []).reduce(into: [String: [String: String]]()) { $0[$1["check"] ?? ""] = $1 }
        XCTAssertEqual(checks["/proc"]?["status"], "limit", result.out)
        XCTAssertTrue(checks["/proc"]?["detail"]?.hasPrefix("not mounted (or hidden)") == true, result.out)
        XCTAssertEqual(checks["end-to-end"]?["status"], "ok", result.out)
    }

    /// An LD_PRELOAD entry that does not exist: the loader complains in every program, a named limit.
    func testBadPreloadIsALimit() throws {
        var env = base
        env["LD_PRELOAD"] = "/nonexistent/libmissing.so"
        let run = try doctor(environment: env)
        XCTAssertEqual(run.status, 1, run.out)
        XCTAssertEqual(run.checks["LD_PRELOAD"]?.status, "limit")
        XCTAssertTrue(run.checks["LD_PRELOAD"]?.detail.contains("/nonexistent/libmissing.so") == true)
        XCTAssertEqual(run.checks["end-to-end"]?.status, "ok", run.out)
    }

    /// LD_PRELOAD already holding the library (manual mode) is fine and said so.
    func testPreloadHoldingTheLibraryIsReported() throws {
        var env = base
        env["LD_PRELOAD"] = Paths.library
        let run = try doctor(environment: env)
        XCTAssertEqual(run.checks["LD_PRELOAD"]?.status, "ok", run.out)
        XCTAssertTrue(run.checks["LD_PRELOAD"]?.detail.contains("manual mode is on") == true, run.out)
    }

    /// No library: the guard cannot work (exit 2), and the trial is not attempted.
    func testMissingLibraryCannotWork() throws {
        var env = base
        env["ORPHANGUARD_LIBRARY"] = "/nonexistent/liborphanguard.so"
        let run = try doctor(environment: env)
        XCTAssertEqual(run.status, 2, run.out)
        XCTAssertEqual(run.checks["library"]?.status, "fail")
        XCTAssertEqual(run.checks["end-to-end"]?.status, "fail")
    }

    /// A truncated library passes the launcher's header checks but crashes what loads it: the trial
    /// shows it and the guard cannot work.
    func testUnloadableLibraryFailsTheTrial() throws {
        let broken = NSTemporaryDirectory() + "orphanguard-doctor-\(getpid())/liborphanguard.so"
        try FileManager.default.createDirectory(atPath: (broken as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: (broken as NSString).deletingLastPathComponent) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Paths.library)).prefix(4096))
        bytes += [UInt8](repeating: 0, count: 64) // headers intact, the segments they point to missing
        try Data(bytes).write(to: URL(fileURLWithPath: broken))
        var env = base
        env["ORPHANGUARD_LIBRARY"] = broken
        let run = try doctor(environment: env)
        XCTAssertEqual(run.status, 2, run.out)
        XCTAssertEqual(run.checks["end-to-end"]?.status, "fail", run.out)
        // The loader maps what the headers promise and the process dies of SIGBUS on first touch.
        XCTAssertTrue(run.checks["end-to-end"]?.detail.contains("the library crashes it") == true, run.out)
    }
}
