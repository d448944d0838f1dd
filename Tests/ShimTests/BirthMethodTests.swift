import Foundation
import TestSupport
import XCTest

/// Every way a process is born keeps the guard: kill the parent, every descendant goes.
final class BirthMethodTests: XCTestCase {
    private func cTree(_ method: String, extra: [String] = []) throws -> [String] {
        [try Fixtures.binary("tree"), method] + extra
    }

    func testCTreeMethodsDieWithSIGKILLedParent() throws {
        let methods = ["fork", "fork-exec", "vfork-exec", "posix_spawn", "posix_spawnp-empty-env",
                       "execle-empty-env", "execvpe-explicit-env", "execl", "execlp", "setsid",
                       "thread-spawn", "system", "system-unset-preload", "popen", "popen-unset-preload"]
        for method in methods {
            try assertTreeDies("c/\(method)", try cTree(method), ready: 2)
        }
    }

    func testCTreeMethodsDieWithSIGTERMedParent() throws {
        for method in ["fork", "fork-exec", "vfork-exec", "posix_spawn", "setsid", "system", "popen"] {
            try assertTreeDies("c/\(method)", try cTree(method), ready: 2, signal: SIGTERM)
        }
    }

    func testPythonSpawnMethods() throws {
        let script = Fixtures.script("py_spawn.py")
        let cases: [(String, Int)] = [("popen", 2), ("popen-env-empty", 2), ("popen-env-explicit", 2),
                                      ("popen-close-fds-false", 2), ("thread-popen", 2),
                                      ("mp-fork", 3), ("mp-spawn", 3), ("mp-forkserver", 3)]
        for (method, ready) in cases {
            try assertTreeDies("python/\(method)", [Fixtures.python, script, method], ready: ready)
        }
    }

    func testTorchrunShapedTreeDiesWhenAgentIsSIGKILLed() throws {
        // agent + 4 ranks (own sessions) + 8 fork-only workers + 1 static child = 14 ready lines.
        let argv = try [Fixtures.python, Fixtures.script("torchrun_tree.py"), "agent",
                    try Fixtures.binary("static_leaf", static: true)]
        try assertTreeDies("torchrun-shaped", argv, ready: 14)
        try assertTreeDies("torchrun-shaped", argv, ready: 14, signal: SIGTERM)
    }

    func testStaticChildOfGuardedParentDies() throws {
        try assertTreeDies("c/static", try cTree("static", extra: [try Fixtures.binary("static_leaf", static: true)]), ready: 2)
    }

    func testPollFallbackEndsOrphans() throws {
        let env = guardedEnvironment(["ORPHANGUARD_WATCH": "poll", "ORPHANGUARD_POLL_INTERVAL": "0.05"])
        try assertTreeDies("c/fork-exec (poll)", try cTree("fork-exec"), ready: 2, environment: env)
    }

    /// A child that ignores SIGTERM is SIGKILLed once the grace period is over, and says so.
    func testGraceThenSIGKILL() throws {
        let root = try Child([try Fixtures.binary("tree"), "fork-exec-stubborn"],
                             environment: guardedEnvironment(["ORPHANGUARD_GRACE": "0.3"]))
        XCTAssertEqual(root.readyPids(count: 2).count, 2)
        let tree = ProcessTable.descendants(of: root.pid)
        defer { killLeftovers(tree) }
        root.signal(SIGKILL)
        let start = Date()
        // SIGTERM is ignored: still alive shortly after the parent died…
        XCTAssertFalse(sleepUntil(timeout: 0.15) { tree.allSatisfy { !$0.isAlive } })
        // …and gone once the 0.3 s grace is over.
        let ms = waitAllGone(tree, timeout: 5)
        XCTAssertNotNil(ms)
        let total = millisecondsSince(start)
        print("teardown grace 0.3 s, SIGTERM ignored: \(String(format: "%.1f", total)) ms")
        XCTAssertGreaterThanOrEqual(total, 290)
        let stderr = root.stderrText()
        XCTAssertTrue(stderr.contains("still running 300 ms after SIGTERM; sending SIGKILL"), stderr)
    }
}
