import Foundation
import TestSupport
import XCTest

/// `orphanguard ps` on a real guarded tree: a shell whose children are a static binary, an excluded
/// program, one with its own signal and grace, and one that polls.
final class PsTests: XCTestCase {
    private let base = guardedEnvironment(preload: false)

    private func ps(_ args: [String], asNobody: Bool = false) throws -> (status: Int32, json: [String: Any], err: String) {
        let prefix = asNobody ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : []
        let result = try runCommand(prefix + [Paths.launcher, "ps"] + args + ["--json"], environment: base)
        let object = (try? JSONSerialization.jsonObject(with: Data(result.out.utf8))) as? [String: Any]
        return (result.status, try XCTUnwrap(object, result.out + result.err), result.err)
    }

    private func staticLeaf() throws -> String {
        do {
            return try Fixtures.binary("static_leaf", static: true)
        } catch {
            if ProcessInfo.processInfo.environment["ORPHANGUARD_TEST_STRICT"] == "1" {
                XCTFail("a static libc is not installed: apt-get install libc6-dev")
            }
            throw XCTSkip("a static libc is not installed: apt-get install libc6-dev")
        }
    }

    func testTreeMarksEachProcess() throws {
        let leaf = try staticLeaf()
        let script = """
            '\(leaf)' & ORPHANGUARD_EXCLUDE=sleep sleep 100 & ORPHANGUARD_SIGNAL=INT ORPHANGUARD_GRACE=2.5 sleep 101 &
            ORPHANGUARD_WATCH=poll sleep 102 & echo "ready sh $$"; wait
            """
        let root = try Child(["/bin/sh", "-c", script], environment: guardedEnvironment())
        // The static leaf announces itself too, maybe first.
        let shell = try XCTUnwrap(root.readyProcesses(count: 2).first { $0.role == "sh" }?.id, root.stderrText())
        var children: [ProcessID] = []
        defer { killLeftovers(children + [shell]) }
        // Each child has exec'd (its name is no longer sh) and its watcher, where it has one, runs.
        XCTAssertTrue(sleepUntil(timeout: 10) {
            children = ProcessTable.descendants(of: shell.pid)
            let names = children.map { (try? String(contentsOfFile: "/proc/\($0.pid)/comm", encoding: .utf8)) ?? "" }
            return names.filter { $0 == "sleep\n" }.count == 3 && names.contains { $0.hasPrefix("static_leaf") }
                && ProcessTable.threadNames(of: shell.pid).contains("orphanguard")
                && children.filter { ProcessTable.threadNames(of: $0.pid).contains("orphanguard") }.count == 2
        }, "the tree did not come up: \(root.stderrText())")

        let result = try ps(["--tree", String(shell.pid)])
        XCTAssertEqual(result.status, 0, result.err)
        let processes = try XCTUnwrap(result.json["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.count, 5)
        let byPid = Dictionary(uniqueKeysWithValues: processes.map { (($0["pid"] as? Int) ?? 0, $0) })
        let top = try XCTUnwrap(byPid[Int(shell.pid)])
        XCTAssertEqual(top["guarded"] as? Bool, true)
        XCTAssertEqual(top["how"] as? String, "pidfd")
        XCTAssertEqual(top["watches"] as? Int, Int(getpid()))
        XCTAssertEqual(top["signal"] as? String, "SIGTERM")
        XCTAssertEqual(top["grace_ms"] as? Int, 5000)
        for child in children {
            let entry = try XCTUnwrap(byPid[Int(child.pid)])
            let environ = (try? String(contentsOfFile: "/proc/\(child.pid)/environ", encoding: .utf8)) ?? ""
            let reason = entry["reason"] as? String ?? ""
            if (entry["comm"] as? String)?.hasPrefix("static_leaf") == true {
                XCTAssertEqual(entry["guarded"] as? Bool, false)
                XCTAssertTrue(reason.hasPrefix("static binary"), reason)
            } else if environ.contains("ORPHANGUARD_EXCLUDE=sleep") {
                XCTAssertEqual(entry["guarded"] as? Bool, false)
                XCTAssertTrue(reason.hasPrefix("ORPHANGUARD_EXCLUDE lists sleep"), reason)
            } else if environ.contains("ORPHANGUARD_SIGNAL=INT") {
                XCTAssertEqual(entry["how"] as? String, "pidfd")
                XCTAssertEqual(entry["signal"] as? String, "SIGINT")
                XCTAssertEqual(entry["grace_ms"] as? Int, 2500)
                XCTAssertEqual(entry["watches"] as? Int, Int(shell.pid))
            } else {
                XCTAssertEqual(entry["how"] as? String, "poll")
                XCTAssertEqual(entry["watches"] as? Int, Int(shell.pid))
            }
        }

        // The plain listing shows the guarded ones and none of the others.
        let listing = try ps([])
        let listed = Set((listing.json["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int })
        let guardedPids = Set(processes.filter { $0["guarded"] as? Bool == true }.compactMap { $0["pid"] as? Int })
        XCTAssertEqual(guardedPids.count, 3)
        XCTAssertTrue(guardedPids.isSubset(of: listed), "\(guardedPids) not in \(listed)")
        XCTAssertTrue(listed.isDisjoint(with: Set(byPid.keys).subtracting(guardedPids)))

        // The text form names every process with its mark.
        let text = try runCommand([Paths.launcher, "ps", "--tree", String(shell.pid)], environment: base)
        XCTAssertEqual(text.out.split(separator: "\n").count, 5, text.out)
        XCTAssertTrue(text.out.hasPrefix("\(shell.pid) sh"), text.out)
        XCTAssertEqual(text.out.components(separatedBy: "not guarded: ").count - 1, 2, text.out)
    }

    /// A process started without the library: "started before the guard". (Under `orphanguard run`
    /// the tests themselves are guarded and would pass the library on; a disabled shell does not,
    /// and env drops both variables for sleep.)
    func testUnguardedProcessSaysWhy() throws {
        var env = base
        env["ORPHANGUARD_DISABLE"] = "1"
        let plain = try Child(["/bin/sh", "-c", "echo ready sh $$; exec env -u LD_PRELOAD -u ORPHANGUARD_DISABLE sleep 100"],
                              environment: env)
        let pid = try XCTUnwrap(plain.readyPids(count: 1).first)
        defer { killLeftovers([pid]) }
        XCTAssertTrue(sleepUntil(timeout: 5) { (try? String(contentsOfFile: "/proc/\(pid.pid)/comm", encoding: .utf8)) == "sleep\n" })
        let result = try ps(["--tree", String(pid.pid)])
        let entry = try XCTUnwrap((result.json["processes"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["guarded"] as? Bool, false)
        XCTAssertEqual(entry["reason"] as? String, "started before the guard: no LD_PRELOAD naming the library")
    }

    /// As a normal user: your own guarded processes are shown in full; other users' are counted as
    /// unreadable, on stderr.
    func testNormalUserSeesOwnProcessesAndIsToldWhatItCouldNotRead() throws {
        try requireRoot()
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        // A copy nobody may read, wherever the build folder is.
        let folder = NSTemporaryDirectory() + "orphanguard-ps-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let library = folder + "/liborphanguard.so"
        try FileManager.default.copyItem(atPath: Paths.library, toPath: library)
        chmod(library, 0o644)
        let root = try Child(nobody + ["/bin/sh", "-c", "sleep 100 & echo \"ready sh $$\"; wait"],
                             environment: guardedEnvironment(["LD_PRELOAD": library]))
        let shell = try XCTUnwrap(root.readyPids(count: 1).first, root.stderrText())
        var sleeper: [ProcessID] = []
        defer { killLeftovers(sleeper + [shell]) }
        XCTAssertTrue(sleepUntil(timeout: 10) {
            sleeper = ProcessTable.descendants(of: shell.pid)
            return sleeper.count == 1 && ProcessTable.threadNames(of: sleeper[0].pid).contains("orphanguard")
        })
        let tree = try ps(["--tree", String(shell.pid)], asNobody: true)
        let processes = tree.json["processes"] as? [[String: Any]] ?? []
        XCTAssertEqual(processes.map { $0["how"] as? String }, ["pidfd", "pidfd"], "\(processes)")
        XCTAssertEqual(processes.map { $0["unreadable"] as? [String] ?? ["?"] }, [[], []])

        let listing = try ps([], asNobody: true)
        XCTAssertEqual(listing.status, 0, listing.err)
        let listed = Set((listing.json["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int })
        XCTAssertTrue(listed.isSuperset(of: [Int(shell.pid)] + sleeper.map { Int($0.pid) }), "\(listed)")
        XCTAssertGreaterThan(listing.json["unreadable"] as? Int ?? 0, 0)
        XCTAssertTrue(listing.err.contains("could not be read (Permission denied): not yours"), listing.err)
    }

    func testBadInput() throws {
        for (args, message) in [(["--tree", "0"], "--tree: '0' is not a process id"), (["--tree", "x"], "--tree"),
                                (["--tree", "2147483647"], "--tree: no process 2147483647")] {
            let result = try runCommand([Paths.launcher, "ps"] + args, environment: base)
            XCTAssertEqual(result.status, 2, "\(args)")
            XCTAssertTrue(result.err.hasPrefix("orphanguard: ") && result.err.contains(message), result.err)
        }
    }
}
