import Foundation
import TestSupport
import XCTest

/// The guard holds where the machine takes away what the watcher would use: pidfd_open denied by
/// seccomp, no room for a thread under RLIMIT_NPROC, /proc hidden, a stopped process.
final class AdverseConditionsTests: XCTestCase {
    /// Container profiles may deny pidfd_open; the watcher then polls getppid() (default 100 ms).
    func testSeccompDenyingPidfdFallsBackToPolling() throws {
        let deny = try Fixtures.binary("deny_syscall")
        let tree = try Fixtures.binary("tree")
        for errno in ["38", "1"] { // ENOSYS, EPERM
            let ms = try assertTreeDies("c/fork-exec, pidfd_open fails with errno \(errno)",
                                        [deny, "pidfd_open", errno, tree, "fork-exec"], ready: 2)
            XCTAssertLessThan(ms ?? .infinity, 2000)
        }
    }

    /// Older container profiles deny faccessat2 with EPERM, which glibc does not fall back from. The
    /// library asks it whether a child could load the library; such an answer must not cost the
    /// child its guard.
    func testSeccompDenyingFaccessat2KeepsChildrenGuarded() throws {
        let deny = try Fixtures.binary("deny_syscall")
        let tree = try Fixtures.binary("tree")
        let root = try Child([deny, "faccessat2", "1", tree, "fork-exec"], environment: guardedEnvironment())
        let announced = root.readyProcesses(count: 2)
        guard let leaf = announced.first(where: { $0.role == "leaf" })?.id else {
            return XCTFail("no leaf announced: \(root.stderrText())")
        }
        defer { killLeftovers([leaf]) }
        XCTAssertTrue(sleepUntil(timeout: 5) { ProcessTable.threadNames(of: leaf.pid).contains("orphanguard") },
                      "the leaf runs without the library")
        root.signal(SIGKILL)
        XCTAssertNotNil(waitAllGone([leaf], timeout: 5))
        let stderr = root.stderrText()
        XCTAssertTrue(stderr.contains("sending SIGTERM to \(leaf.pid) "), stderr)
        XCTAssertFalse(stderr.contains("ld.so"), stderr)
    }

    /// Without close_range (kernels before 5.9) the watcher's descriptors sit in the program's own table,
    /// at numbers from 256. A program that closes every descriptor it did not open, and reuses the
    /// numbers for files of its own, must not look like a parent's death; its parent's death still ends it.
    func testProgramClosingTheWatchersDescriptorsIsNoFalseKill() throws {
        let deny = try Fixtures.binary("deny_syscall")
        let script = try "'\(deny)' close_range 38 '\(Fixtures.python)' '\(Fixtures.script("fd_closer.py"))' & wait"
        let root = try Child(["/bin/sh", "-c", script], environment: guardedEnvironment(["ORPHANGUARD_POLL_INTERVAL": "0.05"]))
        let closer = root.readyPids(count: 1)
        XCTAssertEqual(closer.count, 1, root.stderrText())
        defer { killLeftovers(closer) }
        XCTAssertFalse(sleepUntil(timeout: 0.5) { closer.contains { !$0.isAlive } }, "a false kill: \(root.stderrText())")
        XCTAssertEqual(root.stderrText(), "")
        assertGoneAfterKilling(root, closer, "after the watcher's descriptors were closed (poll 0.05 s)")
    }

    /// A stopped process (SIGSTOP, Ctrl-Z) stops its watcher with it. The kernel's SIGCONT on the
    /// parent's death wakes it, and the watcher ends it gracefully: with a 60 s grace no SIGKILL comes
    /// in time, so only the configured SIGTERM can end it within the deadline. The child is in a
    /// session of its own, like a torchrun rank: in its parent's process group the kernel would send
    /// SIGHUP and SIGCONT itself, to the stopped members of a group its parent's death orphans.
    func testStoppedChildEndsWhenItsParentDies() throws {
        let tree = try Fixtures.binary("tree")
        let root = try Child([tree, "setsid"], environment: guardedEnvironment(["ORPHANGUARD_GRACE": "60"]))
        let announced = root.readyProcesses(count: 2)
        guard let leaf = announced.first(where: { $0.role == "leaf" })?.id else {
            return XCTFail("no leaf announced: \(root.stderrText())")
        }
        defer { killLeftovers([leaf]) }
        kill(leaf.pid, SIGSTOP)
        XCTAssertTrue(sleepUntil(timeout: 5) { ProcStat.read(leaf.pid)?.state == "T" })
        assertGoneAfterKilling(root, [leaf], "c/setsid, leaf stopped", timeout: 10)
        _ = root.waitExit(timeout: 5)
    }

    /// RLIMIT_NPROC counts threads: with room for the child but not for its watcher, the child runs
    /// unwatched and the kernel's PR_SET_PDEATHSIG, armed instead, still ends it.
    func testNoRoomForTheWatcherThreadFallsBackToPdeathsig() throws {
        try requireRoot()
        let tree = try Fixtures.binary("tree")
        let nobodyThreads = ProcessTable.parents().keys.filter { pid in
            var info = stat()
            return stat("/proc/\(pid)", &info) == 0 && info.st_uid == 65534
        }.map { ProcessTable.threadNames(of: $0).count }.reduce(0, +)
        // The parent, its watcher, the child: the child's own watcher is one too many.
        let limit = String(nobodyThreads + 3)
        let argv = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                    "/usr/bin/prlimit", "--nproc=\(limit)", "--", tree, "fork-exec"]
        let env = guardedEnvironment(["ORPHANGUARD_VERBOSE": "1"])
        let root = try Child(argv, environment: env)
        let announced = root.readyProcesses(count: 2)
        XCTAssertEqual(announced.count, 2, root.stderrText())
        guard let leaf = announced.first(where: { $0.role == "leaf" })?.id else { return }
        defer { killLeftovers([leaf]) }
        XCTAssertFalse(ProcessTable.threadNames(of: leaf.pid).contains("orphanguard"))
        root.signal(SIGKILL)
        let ms = waitAllGone([leaf], timeout: 5)
        XCTAssertNotNil(ms, "leaf without a watcher outlived its parent")
        print("teardown without a watcher thread (RLIMIT_NPROC): \(String(format: "%.1f", ms ?? -1)) ms")
        XCTAssertTrue(root.stderrText().contains("cannot start the watcher thread"))
    }

    /// With /proc hidden (a tmpfs over it) the library cannot read start times; the watcher does
    /// not need them.
    func testHiddenProcStillEndsOrphans() throws {
        try requireRoot()
        let tree = try Fixtures.binary("tree")
        for method in ["fork-exec", "posix_spawnp-empty-env", "vfork-exec"] {
            let argv = ["/usr/bin/unshare", "--mount", "--", "/bin/sh", "-c",
                        "mount -t tmpfs none /proc && exec \"$0\" \"$1\"", tree, method]
            try assertTreeDies("c/\(method), /proc hidden", argv, ready: 2)
        }
    }
}
