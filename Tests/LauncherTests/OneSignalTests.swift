import Foundation
import TestSupport
import XCTest

/// One signal per death: a process whose parent dies is sent the configured signal once, whoever
/// notices first (its own watcher, the launcher, the kernel's PR_SET_PDEATHSIG). The fixture
/// (term_counter.c) logs every delivery and lingers after the first, so a second send is a second
/// line. Most trials use a realtime signal, which the kernel queues once per send (two SIGTERMs sent
/// before the first is handled would merge into one delivery and hide a double).
final class OneSignalTests: XCTestCase {
    private let base = guardedEnvironment(preload: false)
    private let repetitions = 6

    private func freshLog(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "orphanguard-count-\(getpid())-\(name)"
        unlink(path)
        return path
    }

    /// How many deliveries each announced process logged.
    private func deliveries(_ log: String, _ ids: [ProcessID]) -> [Int32: Int] {
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        var counts: [Int32: Int] = [:]
        for id in ids { counts[id.pid] = lines.filter { $0 == "\(id.pid)" }.count }
        return counts
    }

    /// Polls until `log` holds `lines` lines (deliveries), up to 10 s: a shell line for fixtures.
    private func awaitLines(_ log: String, _ lines: Int) -> String {
        "i=0; while [ \"$(cat '\(log)' 2>/dev/null | wc -l)\" -lt \(lines) ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done"
    }

    /// The launcher SIGKILLed: CMD gets the kernel's PR_SET_PDEATHSIG (armed by the launcher) or its
    /// watcher's signal, not both.
    func testCommandGetsOneSignalWhenTheLauncherIsKilled() throws {
        let counter = try Fixtures.binary("term_counter")
        for (signal, runs) in [("RTMIN+1", repetitions), ("TERM", repetitions / 2)] {
            for run in 0..<runs {
                let log = freshLog("cmd-\(run)")
                defer { unlink(log) }
                let launcher = try Child([Paths.launcher, "run", "--signal", signal, "--grace", "3", "--",
                                          counter, log, "300", "leaf"], environment: base)
                let ready = launcher.readyPids(count: 1)
                XCTAssertEqual(ready.count, 1)
                defer { killLeftovers(ready) }
                launcher.signal(SIGKILL)
                XCTAssertNotNil(waitAllGone(ready, timeout: 10), "CMD survived the launcher")
                XCTAssertEqual(deliveries(log, ready), [ready[0].pid: 1], "\(signal), run \(run)")
            }
        }
    }

    /// Library first: CMD's child (a counting parent) is SIGKILLed; its children's watchers send at
    /// once, and CMD exits only once all three logged it, so the launcher, ending what CMD left, comes
    /// second and finds each claim taken.
    func testOrphansGetOneSignalWhenTheirLibraryComesFirst() throws {
        let counter = try Fixtures.binary("term_counter")
        try assertParentKilledOnce(children: "child") { log in
            "'\(counter)' '\(log)' 1500 parent 3 & echo ready sh $$; wait; \(self.awaitLines(log, 3))"
        } sentBy: { parent, child in
            ["parent \(parent.pid) exited; sending SIG35 to \(child.pid) ", "its library already sent SIG35 to \(child.pid) "]
        }
    }

    /// Launcher first: CMD (the counting parent) exits normally; its children's watchers wait 0.25 s
    /// for them to end on their own, while the launcher ends them at once and takes each claim; the
    /// watchers find it taken.
    func testOrphansGetOneSignalWhenTheLauncherComesFirst() throws {
        let counter = try Fixtures.binary("term_counter")
        for run in 0..<repetitions {
            let log = freshLog("launcher-first-\(run)")
            defer { unlink(log) }
            let launcher = try Child([Paths.launcher, "run", "--verbose", "--signal", "RTMIN+1", "--grace", "5", "--",
                                      counter, log, "300", "parent-exit", "3"], environment: base)
            let ready = launcher.readyProcesses(count: 4)
            XCTAssertEqual(ready.count, 4)
            defer { killLeftovers(ready.map(\.id)) }
            let children = ready.filter { $0.role == "child" }.map(\.id)
            XCTAssertEqual(launcher.waitExit(timeout: 10), 0)
            XCTAssertTrue(children.allSatisfy { !$0.isAlive })
            XCTAssertEqual(deliveries(log, children), Dictionary(uniqueKeysWithValues: children.map { ($0.pid, 1) }), "run \(run)")
            let err = launcher.stderrText()
            for id in children {
                XCTAssertTrue(err.contains("exited; sending SIG35 to \(id.pid) "), err)
                XCTAssertTrue(err.contains("the launcher already sent SIG35 to \(id.pid) "), err)
            }
        }
    }

    /// Static children, guarded only by the PR_SET_PDEATHSIG exec armed, of a parent without a watcher
    /// thread (--watch kernel: a parent with a second thread would make the kernel send twice, see the
    /// README): the kernel sends, and the launcher, adopting them while CMD runs, stands aside.
    func testStaticOrphansGetOnlyTheKernelsSignal() throws {
        let counter = try Fixtures.binary("term_counter")
        let staticCounter = try Fixtures.binary("term_counter", static: true)
        try assertParentKilledOnce(children: "leaf") { log in
            "ORPHANGUARD_WATCH=kernel '\(counter)' '\(log)' 1500 parent 3 '\(staticCounter)' & echo ready sh $$; wait; \(self.awaitLines(log, 3)); sleep 0.3"
        } sentBy: { _, child in
            ["the kernel (PR_SET_PDEATHSIG) already sent SIG35 to \(child.pid) "]
        }
    }

    /// Runs `script(log)` as CMD (it announces itself, a counting parent and its three `children`),
    /// SIGKILLs the parent, and asserts that each child logged one delivery and that the launcher's
    /// stderr holds the lines `sentBy` names for it; `repetitions` times.
    private func assertParentKilledOnce(children role: String, _ script: (String) -> String,
                                        sentBy: (ProcessID, ProcessID) -> [String]) throws {
        for run in 0..<repetitions {
            let log = freshLog("\(role)-\(run)")
            defer { unlink(log) }
            let launcher = try Child([Paths.launcher, "run", "--verbose", "--signal", "RTMIN+1", "--grace", "5", "--",
                                      "/bin/sh", "-c", script(log)], environment: base)
            let ready = launcher.readyProcesses(count: 5)
            XCTAssertEqual(ready.count, 5)
            defer { killLeftovers(ready.map(\.id)) }
            let parent = try XCTUnwrap(ready.first { $0.role == "parent" }?.id)
            let children = ready.filter { $0.role == role }.map(\.id)
            kill(parent.pid, SIGKILL)
            XCTAssertNotNil(waitAllGone(children, timeout: 10), "orphans survived")
            XCTAssertEqual(launcher.waitExit(timeout: 10), 0)
            XCTAssertEqual(deliveries(log, children), Dictionary(uniqueKeysWithValues: children.map { ($0.pid, 1) }), "run \(run)")
            let err = launcher.stderrText()
            for child in children {
                for line in sentBy(parent, child) { XCTAssertTrue(err.contains(line), err) }
            }
        }
    }
}
