import Foundation
import TestSupport
import XCTest

/// Programs that need a single-threaded caller (namespaces, dropping privileges), and trees whose
/// parent is a namespace's PID 1.
final class NamespaceTests: XCTestCase {
    func testUnshareUserNamespaceStillWorks() throws {
        let plain = try runCommand(["/usr/bin/unshare", "-U", "-r", "true"], environment: guardedEnvironment())
        XCTAssertEqual(plain.status, 0, plain.err)
        let status = try runCommand(["/usr/bin/unshare", "-U", "-r", "sh", "-c", "id -u; exit 3"], environment: guardedEnvironment())
        XCTAssertEqual(status.status, 3, status.err)
        XCTAssertEqual(status.out, "0\n")
        XCTAssertEqual(status.err, "")
    }

    /// Entering a mount or a time namespace needs a single-threaded caller (EINVAL, EUSERS).
    func testNsenterMountAndTimeNamespacesStillWork() throws {
        try requireRoot()
        // A process of our own in a new mount and time namespace to enter.
        let holder = try Child(["/usr/bin/unshare", "-m", "--time", "--fork", "/bin/sh", "-c", "echo ready holder $$; exec sleep 60"],
                               environment: guardedEnvironment(preload: false))
        defer { holder.signal(SIGKILL) }
        XCTAssertEqual(holder.readLines(prefix: "ready", count: 1, timeout: 15).count, 1)
        guard let target = ProcessTable.descendants(of: holder.pid).first else { return XCTFail("no namespaces to enter") }
        defer { killLeftovers([target]) }
        for flag in ["-m", "-T"] {
            let result = try runCommand(["/usr/bin/nsenter", "-t", "\(target.pid)", flag, "true"], environment: guardedEnvironment())
            XCTAssertEqual(result.status, 0, "nsenter \(flag): \(result.err)")
            XCTAssertEqual(result.err, "", flag)
        }
    }

    /// Dropping privileges as single-threaded programs do (keep capabilities across setresuid, then
    /// setresgid) must not abort: glibc aborts if any thread, the watcher included, fails the call.
    /// A program that can no longer see the library (a chroot, a sandbox's mount namespace; here a
    /// tmpfs over its directory) starts children quietly by every way of starting them: no loader
    /// error line for the LD_PRELOAD entry, which they do not get. One started from the main thread
    /// still dies with its parent, through PR_SET_PDEATHSIG.
    func testChildrenThatCannotSeeTheLibraryStartQuietly() throws {
        try requireRoot()
        let directory = (Paths.library as NSString).deletingLastPathComponent
        let root = try Child(["/usr/bin/unshare", "-m", Fixtures.python, Fixtures.script("hidden_library.py"), directory],
                             environment: guardedEnvironment())
        let seen = root.readLines(prefix: "", count: 5, timeout: 15)
        XCTAssertEqual(seen, Array(repeating: "none", count: 5), root.stderrText())
        let leaf = root.readyPids(count: 1)
        XCTAssertEqual(leaf.count, 1, root.stderrText())
        defer { killLeftovers(leaf) }
        XCTAssertEqual(root.stderrText(), "")
        assertGoneAfterKilling(root, leaf, "child without the library (PR_SET_PDEATHSIG)")
    }

    func testPrivilegeDroppingProgramsStillWork() throws {
        try requireRoot()
        let drop = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        for argv in [drop + ["id", "-u"], ["/usr/sbin/runuser", "-u", "nobody", "--", "id", "-u"]] {
            let result = try runCommand(argv, environment: guardedEnvironment())
            XCTAssertEqual(result.status, 0, "\(argv[0]): \(result.err)")
            XCTAssertEqual(result.out, "65534\n")
            XCTAssertEqual(result.err, "")
        }
        try assertTreeDies("c/fork-exec under setpriv", drop + [try Fixtures.binary("tree"), "fork-exec"], ready: 2)
    }

    /// After dropping privileges, a program may no longer be allowed to read the library (here: a copy
    /// in a directory only root may enter, as root's home is). What it execs then starts quietly,
    /// without our LD_PRELOAD entry, instead of with the loader's error line.
    func testChildOfAUserWhoCannotReadTheLibraryStartsQuietly() throws {
        try requireRoot()
        let folder = NSTemporaryDirectory() + "orphanguard-private-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let copy = folder + "/liborphanguard.so"
        try FileManager.default.copyItem(atPath: Paths.library, toPath: copy)
        var env = guardedEnvironment()
        env["LD_PRELOAD"] = copy
        let result = try runCommand(["/usr/sbin/runuser", "-u", "nobody", "--", "/bin/sh", "-c", "echo ${LD_PRELOAD:-none}"],
                                    environment: env)
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(result.out, "none\n")
        XCTAssertEqual(result.err, "")
    }

    /// A process that changed its own ids still has a watcher afterwards, and it still acts.
    /// Dropping privileges also clears PR_SET_PDEATHSIG; the library arms its own again, so a dropped
    /// process that is stopped when its parent dies is still continued and ended.
    func testWatcherSurvivesSetuidInTheSameProcess() throws {
        try requireRoot()
        for stopped in [false, true] {
            try assertDroppedProcessDiesWithParent(stopped: stopped)
        }
    }

    private func assertDroppedProcessDiesWithParent(stopped: Bool) throws {
        let script = """
        import os, signal
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        print("ready dropped", os.getpid(), flush=True)
        signal.pause()
        """
        // In a session of its own: in its parent's process group the kernel would continue it itself.
        let root = try Child(["/bin/sh", "-c", "setsid '\(Fixtures.python)' -c '\(script)' & echo ready sh $$; wait"],
                             environment: guardedEnvironment())
        let ready = root.readyProcesses(count: 2)
        guard let dropped = ready.first(where: { $0.role == "dropped" })?.id else {
            return XCTFail("no ready line from the dropped process: \(root.stderrText())")
        }
        defer { killLeftovers([dropped]) }
        XCTAssertTrue(sleepUntil(timeout: 5) { ProcessTable.threadNames(of: dropped.pid).contains("orphanguard") })
        if stopped {
            kill(dropped.pid, SIGSTOP)
            XCTAssertTrue(sleepUntil(timeout: 5) { ProcStat.read(dropped.pid)?.state == "T" })
        }
        root.signal(SIGKILL)
        XCTAssertNotNil(waitAllGone([dropped], timeout: 5), "the dropped process (stopped: \(stopped)) outlived its parent")
    }

    /// PID 1 as the real parent is no reason to kill; a parent that dies under PID 1 is.
    func testParentIsPid1OfANamespace() throws {
        try requireRoot()
        let tree = try Fixtures.binary("tree")
        let root = try Child(["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/sh", "-c",
                              "'\(tree)' fork-exec & wait"], environment: guardedEnvironment(["ORPHANGUARD_GRACE": "1"]))
        XCTAssertEqual(root.readyPids(count: 0).count, 0)
        var all: [ProcessID] = []
        func withArgument(_ argument: String) -> ProcessID? {
            all.first {
                let cmdline = (try? String(contentsOfFile: "/proc/\($0.pid)/cmdline", encoding: .utf8)) ?? ""
                return cmdline.split(separator: "\0").dropFirst().first.map(String.init) == argument
            }
        }
        // Until the leaf has exec'd, the fork child still reads as a second "fork-exec".
        var parent: ProcessID?, leaf: ProcessID?
        let found = sleepUntil(timeout: 10) {
            all = ProcessTable.descendants(of: root.pid)
            leaf = withArgument("leaf")
            parent = withArgument("fork-exec")
            return leaf != nil && parent != nil
        }
        defer { killLeftovers(all); root.signal(SIGKILL) }
        guard found, let parent, let leaf else {
            return XCTFail("tree not found in \(all)")
        }
        // The tree's parent is the namespace's PID 1 (sh): it lives on.
        XCTAssertFalse(sleepUntil(timeout: 0.5) { !parent.isAlive || !leaf.isAlive })
        kill(parent.pid, SIGKILL)
        let ms = waitAllGone([leaf], timeout: 5)
        XCTAssertNotNil(ms, "leaf re-parented to PID 1 survived")
        print("teardown pid-namespace leaf SIGKILL: \(String(format: "%.1f", ms ?? -1)) ms")
    }

    /// A namespace's init ignores every signal it has no handler for, the kernel's PR_SET_PDEATHSIG
    /// included, unless it is SIGKILL. The init and everything in its namespace still go when the
    /// process outside that made it dies. bwrap clones its init with a raw clone(), which runs no
    /// atfork handler: the processes it starts must not take bwrap's parent for theirs (a false kill).
    /// unshare --pid and nsenter --pid start their children in another pid namespace; after that the
    /// kernel lets them create no thread. They must still die with their own parent, and so must what
    /// they started. Their watcher keeps running (unshare blocks SIGTERM while it waits, so the grace
    /// period's SIGKILL ends it), unless the same call needed it parked: `unshare --user --pid` cannot
    /// start it again and leaves PR_SET_PDEATHSIG(SIGKILL). A process nsenter put into the namespace is
    /// no init: it gets the configured signal.
    func testPidNamespaceWrappersDieWithTheirParent() throws {
        try requireRoot()
        let tree = try Fixtures.binary("tree")
        let target = try Child(["/usr/bin/unshare", "--pid", "--fork", "/bin/sh", "-c", "echo ready target; exec sleep 300"],
                               environment: guardedEnvironment(preload: false))
        defer { target.signal(SIGKILL) }
        XCTAssertEqual(target.readLines(prefix: "ready", count: 1, timeout: 15).count, 1)
        guard let holder = ProcessTable.descendants(of: target.pid).first else { return XCTFail("no namespace to enter") }
        defer { killLeftovers([holder]) }
        let wrappers = [
            ("unshare --pid --fork", "/usr/bin/unshare --pid --fork --mount-proc"),
            ("unshare --user --pid --fork", "/usr/bin/unshare --user --map-root-user --pid --fork"),
            ("nsenter --pid", "/usr/bin/nsenter -t \(holder.pid) --pid"),
        ]
        for (name, wrapper) in wrappers {
            let root = try Child(["/bin/sh", "-c", "\(wrapper) '\(tree)' fork-exec & wait"],
                                 environment: guardedEnvironment(["ORPHANGUARD_GRACE": "1"]))
            XCTAssertEqual(root.readLines(prefix: "ready", count: 2, timeout: 15).count, 2, "\(name): \(root.stderrText())")
            let inside = ProcessTable.descendants(of: root.pid)
            defer { killLeftovers(inside) }
            XCTAssertEqual(inside.count, 3, "\(name): the wrapper, the tree's parent and its leaf")
            assertGoneAfterKilling(root, inside, "\(name) after its parent's SIGKILL (grace 1 s), \(inside.count) processes")
        }
    }

    func testNamespaceInitDiesWithTheProcessThatMadeIt() throws {
        try requireRoot()
        // unshare --fork ignores SIGTERM while it waits for its child, so only SIGKILL ends it.
        try assertNamespaceInitDies("unshare --pid", ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc"], signals: [SIGKILL])
    }

    func testBubblewrapNamespaceInitDiesWithTheProcessThatMadeIt() throws {
        try requireRoot()
        let bwrap = try requireTool("bubblewrap", at: ["/usr/bin/bwrap"], install: "apt-get install bubblewrap")
        try assertNamespaceInitDies("bwrap --unshare-pid", [bwrap, "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc"],
                                    signals: [SIGKILL, SIGTERM])
    }

    /// `maker` starts a fork-exec tree as a new pid namespace's init; each signal sent to `maker`
    /// must end everything inside.
    private func assertNamespaceInitDies(_ name: String, _ maker: [String], signals: [Int32]) throws {
        let argv = maker + [try Fixtures.binary("tree"), "fork-exec"]
        for sig in signals {
            let root = try Child(argv, environment: guardedEnvironment())
            // Pids in the lines are the namespace's own: count the lines, find the processes outside.
            XCTAssertEqual(root.readLines(prefix: "ready", count: 2, timeout: 15).count, 2, "\(name): \(root.stderrText())")
            let inside = ProcessTable.descendants(of: root.pid)
            defer { killLeftovers(inside) }
            XCTAssertGreaterThanOrEqual(inside.count, 2, name)
            XCTAssertFalse(sleepUntil(timeout: 0.3) { inside.contains { !$0.isAlive } }, "\(name): a false kill")
            XCTAssertEqual(root.stderrText(), "", name)
            root.signal(sig)
            let ms = waitAllGone(inside, timeout: 5)
            XCTAssertNotNil(ms, "\(name): \(inside.filter(\.isAlive)) outlived the process that made the namespace")
            print("teardown \(name) after SIG\(sig == SIGKILL ? "KILL" : "TERM"), \(inside.count) processes: \(String(format: "%.1f", ms ?? -1)) ms")
        }
    }
}
