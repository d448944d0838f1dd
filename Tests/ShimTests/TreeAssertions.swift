import Foundation
import TestSupport
import XCTest

/// Starts `argv` guarded, waits for `ready` lines, kills the root with `sig` and asserts that every
/// descendant is gone within `timeout`. Prints the measured teardown time.
@discardableResult
func assertTreeDies(_ name: String, _ argv: [String], ready: Int, signal sig: Int32 = SIGKILL,
                    environment: [String: String] = guardedEnvironment(["ORPHANGUARD_GRACE": "2"]),
                    timeout: Double = 10, file: StaticString = #filePath, line: UInt = #line) throws -> Double? {
    let root = try Child(argv, environment: environment)
    let announced = root.readyPids(count: ready)
    XCTAssertEqual(announced.count, ready, "\(name): ready lines", file: file, line: line)
    let tree = Array(Set(ProcessTable.descendants(of: root.pid) + announced.filter { $0.pid != root.pid }))
    XCTAssertFalse(tree.isEmpty, "\(name): no descendants", file: file, line: line)
    defer { killLeftovers(tree) }
    root.signal(sig)
    let ms = waitAllGone(tree, timeout: timeout)
    let survivors = tree.filter(\.isAlive)
    XCTAssertNotNil(ms, "\(name): still alive after \(timeout) s: \(survivors)", file: file, line: line)
    if let ms {
        print("teardown \(name) \(sig == SIGKILL ? "SIGKILL" : "SIG\(sig)") \(tree.count) processes: \(String(format: "%.1f", ms)) ms")
    }
    _ = root.waitExit(timeout: 5)
    return ms
}

/// SIGKILLs `root`, asserts that every one of `ids` is gone within `timeout`, and prints the time
/// under `name`.
@discardableResult
func assertGoneAfterKilling(_ root: Child, _ ids: [ProcessID], _ name: String, timeout: Double = 5,
                            file: StaticString = #filePath, line: UInt = #line) -> Double? {
    root.signal(SIGKILL)
    let ms = waitAllGone(ids, timeout: timeout)
    XCTAssertNotNil(ms, "\(name): \(ids.filter(\.isAlive)) outlived their parent", file: file, line: line)
    if let ms {
        print("teardown \(name): \(String(format: "%.1f", ms)) ms")
    }
    return ms
}
