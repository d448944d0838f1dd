import ArgumentParser
@testable import orphanguard
import XCTest

/// The quick parser of `run` (QuickRun.swift) gives what ArgumentParser gives, or steps aside.
final class QuickRunTests: XCTestCase {
    private func fields(_ run: RunRequest) -> [String] {
        let o = run.options
        return [o.signal?.text, o.grace?.text, o.pollInterval?.text, o.scope?.rawValue, o.watch?.rawValue, o.exclude,
                run.isolate?.rawValue, run.isolateInit.map { "\($0)" }].map { $0 ?? "-" }
            + ["\(o.quiet)", "\(o.verbose)", "\(run.processGroup)"] + run.command
    }

    func testSameResultAsArgumentParser() throws {
        let lines: [[String]] = [
            ["run", "--", "/bin/true"],
            ["run", "--grace", "2", "--signal=INT", "--", "sleep", "1", "--grace", "3"],
            ["run", "--quiet", "--pgroup", "--scope", "group", "--watch=kernel", "--exclude", "sshd,tmux", "--", "x"],
            ["run", "--verbose", "--poll-interval", "0.5", "--signal", "RTMIN+1", "--", "-x", "--"],
            ["run", "--isolate=auto", "--", "x"], ["run", "--isolate", "off", "--", "x"],
        ]
        for line in lines {
            let quick = try XCTUnwrap(QuickRun.parse(line), "\(line)")
            let parsed = try XCTUnwrap(try Orphanguard.parseAsRoot(line) as? Run).request
            XCTAssertEqual(fields(quick), fields(parsed), "\(line)")
        }
    }

    /// Everything ArgumentParser explains (or parses in ways this parser does not) is left to it.
    func testStepsAsideForEverythingElse() {
        let lines: [[String]] = [
            ["run"], ["run", "--"], ["run", "sleep", "1"], ["run", "--help", "--", "x"], ["run", "-h", "--", "x"],
            ["--version"], ["env"], ["run", "--bogus", "--", "x"], ["run", "--grace", "-1", "--", "x"],
            ["run", "--signal", "stop", "--", "x"], ["run", "--grace", "1", "--grace", "2", "--", "x"],
            ["run", "--quiet", "--verbose", "--", "x"], ["run", "--scope", "--", "x"], ["run", "--quiet=1", "--", "x"],
            ["run", "--scope", "-x", "--", "x"], ["run", "--signal", "--", "x"],
            ["run", "--scope", "all", "--", "x"], ["run", "--grace", "2.-1", "--", "x"], ["run", "--isolate=maybe", "--", "x"],
        ]
        for line in lines {
            XCTAssertNil(QuickRun.parse(line), "\(line)")
        }
    }

    /// An option added to GuardOptions or Run must be taught to QuickRun too (or it would read an
    /// option it never set).
    func testKnowsEveryOption() {
        let known = Set(QuickRun.valued.keys).union(QuickRun.flags)
        let properties = Mirror(reflecting: GuardOptions()).children.compactMap(\.label)
            + Mirror(reflecting: Run()).children.compactMap(\.label).filter { $0 != "_options" && $0 != "_command" }
        for label in properties {
            let name = label.dropFirst().reduce(into: "") { out, c in
                out += c.isUppercase ? "-" + c.lowercased() : String(c)
            }
            let option = name == "process-group" ? "pgroup" : name
            XCTAssertTrue(known.contains(option), "QuickRun does not know --\(option)")
        }
    }
}
