import Foundation
import XCTest

/// What a test needs from the machine. On a developer's machine a missing tool skips the test with the
/// command that installs it; with ORPHANGUARD_TEST_STRICT=1 (CI) the same test fails instead, so CI
/// never counts a skipped test as a passing one.
public enum Requirement {
    public static let strict = ProcessInfo.processInfo.environment["ORPHANGUARD_TEST_STRICT"] == "1"

    /// The error a test throws when `reason` holds: an XCTSkip, or in strict mode a failure.
    public static func unmet(_ reason: String) -> Error {
        strict ? Unmet(description: reason + " (a failure, not a skip: ORPHANGUARD_TEST_STRICT=1)") : XCTSkip(reason)
    }

    public struct Unmet: Error, CustomStringConvertible {
        public let description: String
    }
}

/// The first executable of `candidates`; skips (strict: fails) with `<name> is not installed: <install>`.
@discardableResult
public func requireTool(_ name: String, at candidates: [String], install: String) throws -> String {
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw Requirement.unmet("\(name) is not installed: \(install)")
    }
    return found
}

/// Skips (strict: fails) the calling test unless it runs as root (unshare, setpriv, mounts, other users' limits).
public func requireRoot() throws {
    guard geteuid() == 0 else { throw Requirement.unmet("needs root: run the tests as root (sudo swift test)") }
}
