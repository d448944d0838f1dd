import Foundation
import TestSupport
import XCTest

/// An ORPHANGUARD_SIGNAL the library refuses (one that stops or continues a process, or is no signal)
/// loses nothing: every guard, the watcher and the PR_SET_PDEATHSIG armed before exec alike, uses the
/// default signal instead.
final class RefusedSignalTests: XCTestCase {
    static let refused = ["STOP", "TSTP", "TTIN", "TTOU", "CONT", "SIGCONT", "0", "65", "garbage"]

    /// The root runs under a subreaper fixture that reports how each orphan it adopts ended: the leaf,
    /// a dynamic image (watcher) or a static one (only the kernel's signal), must end by SIGTERM once
    /// its parent is SIGKILLed.
    func testRefusedSignalEndsStaticAndDynamicChildrenWithTheDefault() throws {
        let reaper = try Fixtures.binary("reaper")
        let tree = try Fixtures.binary("tree")
        let staticLeaf = try Fixtures.binary("static_leaf", static: true)
        for value in Self.refused {
            for (kind, argv) in [("dynamic", [tree, "fork-exec"]), ("static", [tree, "static", staticLeaf])] {
                let env = guardedEnvironment(["ORPHANGUARD_SIGNAL": value, "ORPHANGUARD_GRACE": "30",
                                              "ORPHANGUARD_QUIET": "1"])
                let root = try Child([reaper] + argv, environment: env)
                let announced = root.readyProcesses(count: 2)
                guard let parent = announced.first(where: { $0.role == "parent" })?.id,
                      let leaf = announced.first(where: { $0.role != "parent" })?.id else {
                    XCTFail("\(value)/\(kind): not announced: \(announced) \(root.stderrText())")
                    continue
                }
                defer { killLeftovers([parent, leaf]) }
                kill(parent.pid, SIGKILL)
                let ended = root.readLines(prefix: "reaped \(leaf.pid) ", count: 1, timeout: 10)
                XCTAssertEqual(ended, ["reaped \(leaf.pid) signal \(SIGTERM)"],
                               "ORPHANGUARD_SIGNAL=\(value), \(kind) child (state \(ProcStat.read(leaf.pid)?.state ?? "-"))")
            }
        }
    }

    /// The launcher takes ORPHANGUARD_SIGNAL from its environment as the library does: a refused value
    /// arms CMD's PR_SET_PDEATHSIG with the default too, so a static CMD ends by SIGTERM when the
    /// launcher is SIGKILLed.
    func testRefusedSignalInTheLaunchersEnvironmentMeansTheDefault() throws {
        let reaper = try Fixtures.binary("reaper")
        let staticLeaf = try Fixtures.binary("static_leaf", static: true)
        for value in Self.refused {
            let env = guardedEnvironment(["ORPHANGUARD_SIGNAL": value, "ORPHANGUARD_QUIET": "1"], preload: false)
            let root = try Child([reaper, Paths.launcher, "run", "--", staticLeaf], environment: env)
            guard let leaf = root.readyPids(count: 1).first,
                  let launcher = ProcStat.read(leaf.pid).flatMap({ ProcessID(pid: $0.ppid) }) else {
                XCTFail("\(value): CMD not announced: \(root.stderrText())")
                continue
            }
            defer { killLeftovers([launcher, leaf]) }
            kill(launcher.pid, SIGKILL)
            let ended = root.readLines(prefix: "reaped \(leaf.pid) ", count: 1, timeout: 10)
            XCTAssertEqual(ended, ["reaped \(leaf.pid) signal \(SIGTERM)"], "ORPHANGUARD_SIGNAL=\(value) under the launcher")
        }
    }
}
