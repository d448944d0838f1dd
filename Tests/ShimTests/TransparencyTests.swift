import Foundation
import TestSupport
import XCTest

/// Do no harm: a guarded program sees what it would see without the library.
final class TransparencyTests: XCTestCase {
    private func leafEnvironment(_ method: String, _ env: [String: String]) throws -> [String] {
        let root = try Child([Fixtures.python, Fixtures.script("py_spawn.py"), method, try Fixtures.binary("tree")],
                             environment: env)
        defer {
            killLeftovers(ProcessTable.descendants(of: root.pid))
            root.signal(SIGKILL)
        }
        var lines: [String] = []
        while let line = root.readLine(timeout: 15), !line.hasPrefix("ready leaf") {
            if line.hasPrefix("env ") { lines.append(String(line.dropFirst(4))) }
        }
        return lines
    }

    /// Popen(env={}): the child sees no variables but LD_PRELOAD (CPython's own test tolerates that),
    /// even though its settings were passed on.
    func testEmptyEnvironmentStaysEmpty() throws {
        let env = guardedEnvironment(["ORPHANGUARD_GRACE": "1.5", "ORPHANGUARD_SIGNAL": "INT"])
        let seen = try leafEnvironment("popen-env-empty", env)
        XCTAssertEqual(seen, ["LD_PRELOAD=\(Paths.library)"])
    }

    /// bash defines its own getenv/unsetenv, which the loader binds the library's calls to and which
    /// ignore the environment until the shell has started: the variables exec added must still be gone
    /// before bash reads them. Every shell sees what it sees without the library, plus LD_PRELOAD.
    func testShellsSeeTheirParentsEnvironment() throws {
        let env = guardedEnvironment(["ORPHANGUARD_GRACE": "1.5", "ASAN_OPTIONS": "detect_leaks=0"])
        for shell in ["/bin/bash", "/bin/sh"] {
            for given in ["", "ASAN_OPTIONS=halt_on_error=1"] {
                let script = "exec env -i \(given) \(shell) -c 'exec env'"
                let plain = try runCommand(["/bin/sh", "-c", script], environment: guardedEnvironment(preload: false))
                let guarded = try runCommand(["/bin/sh", "-c", script], environment: env)
                XCTAssertEqual(guarded.status, 0, guarded.err)
                // Under `orphanguard run` the test runner is guarded too and puts its own library into
                // the plain run: LD_PRELOAD is compared on its own.
                let lines = { (text: String) in
                    text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("LD_PRELOAD=") }.sorted()
                }
                XCTAssertEqual(lines(guarded.out), lines(plain.out), "\(shell) given \(given)")
                XCTAssertEqual(guarded.out.split(separator: "\n").filter { $0.hasPrefix("LD_PRELOAD=") },
                               ["LD_PRELOAD=\(Paths.library)"], "\(shell) given \(given)")
            }
        }
    }

    /// An explicit environment keeps its own LD_PRELOAD entries after ours.
    func testExistingPreloadEntriesAreKept() throws {
        let other = "/usr/lib/x86_64-linux-gnu/libm.so.6"
        let env = guardedEnvironment(["EXTRA_PRELOAD": other])
        let seen = try leafEnvironment("popen-env-explicit", env)
        XCTAssertEqual(seen.sorted(), ["FIXTURE=1", "LD_PRELOAD=\(Paths.library):\(other)"])
    }

    /// An environment that just fits the kernel's limit on exec arguments runs as it does without the
    /// library, by every way of starting a program: what the library would add does not fit, so that
    /// child starts with its own environment (unguarded) instead of failing with E2BIG.
    func testEnvironmentAtTheKernelsLimitStillStarts() throws {
        let script = Fixtures.script("full_environment.py")
        let largest = try runCommand([Fixtures.python, script, "largest"], environment: guardedEnvironment(preload: false))
        let size = largest.out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(Int(size), largest.out + largest.err)
        for method in ["execve", "posix_spawn", "subprocess"] {
            let result = try runCommand([Fixtures.python, script, method, size], environment: guardedEnvironment())
            XCTAssertEqual(result.out, "0\n", "\(method) with \(size) bytes: \(result.err)")
            XCTAssertEqual(result.err, "", method)
        }
    }

    /// Where the library runs popen() itself (the program dropped LD_PRELOAD from its environment), a
    /// later popen() child does not keep an earlier stream's pipe open, as POSIX requires: otherwise
    /// pclose() of the earlier writer would wait forever for its reader to see EOF.
    func testPopenChildrenDoNotHoldEarlierStreams() throws {
        let fixture = try Fixtures.binary("popen_pair")
        for argv in [[fixture], [fixture, "unset-preload"]] {
            let result = try runCommand(argv, environment: guardedEnvironment())
            XCTAssertEqual(result.status, 0, "\(argv): \(result.err)")
            XCTAssertEqual(result.out, "0 0\n", "\(argv)")
        }
    }

    /// Chromium's zygote (Chrome, Electron, CEF) aborts unless it is single-threaded, counting its
    /// threads by the link count of /proc/self/task. A program started with Chromium's --type=zygote
    /// gets no watcher thread and passes that check; the same check in any other program sees the
    /// watcher. The zygote still dies with its parent, through PR_SET_PDEATHSIG.
    func testChromiumZygoteStaysSingleThreaded() throws {
        let fixture = try Fixtures.binary("single_thread_check")
        let renderer = try runCommand([fixture, "--type=renderer"], environment: guardedEnvironment())
        XCTAssertEqual(renderer.status, 3, "the check does not see the watcher: \(renderer.err)")
        let root = try Child(["/bin/sh", "-c", "'\(fixture)' --type=zygote --wait & wait"], environment: guardedEnvironment())
        let zygote = root.readyPids(count: 1)
        XCTAssertEqual(zygote.count, 1, root.stderrText())
        defer { killLeftovers(zygote) }
        assertGoneAfterKilling(root, zygote, "single-threaded zygote (PR_SET_PDEATHSIG)")
    }

    /// ORPHANGUARD_WATCH=kernel: no watcher thread in any process (Python 3.12+ warns at os.fork() in
    /// a multi-threaded process); PR_SET_PDEATHSIG alone ends a child with its parent.
    func testKernelWatchModeStartsNoThread() throws {
        let fixture = try Fixtures.binary("single_thread_check")
        let env = guardedEnvironment(["ORPHANGUARD_WATCH": "kernel"])
        let single = try runCommand([fixture, "--type=renderer"], environment: env)
        XCTAssertEqual(single.status, 0, single.err)
        let root = try Child(["/bin/sh", "-c", "'\(fixture)' --type=worker --wait & wait"], environment: env)
        let worker = root.readyPids(count: 1)
        XCTAssertEqual(worker.count, 1, root.stderrText())
        defer { killLeftovers(worker) }
        XCTAssertEqual(ProcessTable.threadNames(of: root.pid).count, 1, "the shell has a watcher thread")
        assertGoneAfterKilling(root, worker, "ORPHANGUARD_WATCH=kernel (PR_SET_PDEATHSIG)")
    }

    /// Settings injected into an explicit environment still apply in the child.
    func testSettingsReachChildrenOfExplicitEnvironments() throws {
        let env = guardedEnvironment(["ORPHANGUARD_SIGNAL": "INT"])
        let root = try Child([try Fixtures.binary("tree"), "execle-empty-env"], environment: env)
        XCTAssertEqual(root.readyPids(count: 2).count, 2)
        let tree = ProcessTable.descendants(of: root.pid)
        defer { killLeftovers(tree) }
        root.signal(SIGKILL)
        XCTAssertNotNil(waitAllGone(tree, timeout: 5))
        XCTAssertTrue(root.stderrText().contains("sending SIGINT"))
    }

    /// A healthy guarded process prints nothing and has exactly the descriptors it has without the
    /// library; its watcher thread is named orphanguard.
    func testHealthyProcessIsQuietWithNamedWatcherAndNoExtraDescriptors() throws {
        func descriptors(preload: Bool) throws -> (threads: [[String]], fds: [[Int]], stderr: String) {
            let root = try Child([try Fixtures.binary("tree"), "fork-exec"], environment: guardedEnvironment(preload: preload))
            XCTAssertEqual(root.readyPids(count: 2).count, 2)
            let tree = ProcessTable.descendants(of: root.pid)
            defer { killLeftovers(tree); root.signal(SIGKILL) }
            let pids = [root.pid] + tree.map(\.pid)
            // The watcher names itself once it is scheduled, which can be after the ready line.
            if preload {
                _ = sleepUntil(timeout: 2) {
                    pids.allSatisfy { ProcessTable.threadNames(of: $0).contains("orphanguard") }
                }
            }
            let fds = try pids.map {
                try FileManager.default.contentsOfDirectory(atPath: "/proc/\($0)/fd").compactMap(Int.init).sorted()
            }
            return (pids.map(ProcessTable.threadNames(of:)), fds, root.stderrText())
        }
        let plain = try descriptors(preload: false)
        let guarded = try descriptors(preload: true)
        // Numbers above 2 are inherited from the test runner and differ between runs: compare counts.
        XCTAssertEqual(guarded.fds.map(\.count), plain.fds.map(\.count), "\(guarded.fds) vs \(plain.fds)")
        XCTAssertEqual(guarded.stderr, "")
        for names in guarded.threads {
            XCTAssertEqual(names.sorted(), ["orphanguard", "tree"])
        }
    }

    func testActionLineAndQuiet() throws {
        for quiet in [false, true] {
            var extra = ["ORPHANGUARD_GRACE": "1"]
            if quiet { extra["ORPHANGUARD_QUIET"] = "1" }
            let root = try Child([try Fixtures.binary("tree"), "fork-exec"], environment: guardedEnvironment(extra))
            let ready = root.readyPids(count: 2)
            let tree = ProcessTable.descendants(of: root.pid)
            defer { killLeftovers(tree) }
            root.signal(SIGKILL)
            XCTAssertNotNil(waitAllGone(tree, timeout: 5))
            _ = root.waitExit(timeout: 5)
            let leaf = ready.first { $0.pid != root.pid }!
            let stderr = root.stderrText()
            if quiet {
                XCTAssertEqual(stderr, "")
            } else {
                XCTAssertEqual(stderr, "orphanguard: parent \(root.pid) exited; sending SIGTERM to \(leaf.pid) (tree)\n")
            }
        }
    }

    /// Bad values: one warning line each, defaults used, the host runs normally.
    func testBadConfigurationWarnsAndKeepsDefaults() throws {
        let bad = ["ORPHANGUARD_SIGNAL": "BOGUS", "ORPHANGUARD_GRACE": "abc",
                   "ORPHANGUARD_POLL_INTERVAL": "0", "ORPHANGUARD_SCOPE": "everything"]
        let result = try runCommand(["/bin/true"], environment: guardedEnvironment(bad))
        XCTAssertEqual(result.status, 0)
        let lines = result.err.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, result.err)
        XCTAssertTrue(result.err.contains("ignoring ORPHANGUARD_SIGNAL=\"BOGUS\""))
        XCTAssertTrue(result.err.contains("ignoring ORPHANGUARD_GRACE=\"abc\": not a number of seconds from 0 to 86400; using 5"))
        XCTAssertTrue(result.err.contains("ignoring ORPHANGUARD_POLL_INTERVAL=\"0\""))
        XCTAssertTrue(result.err.contains("ignoring ORPHANGUARD_SCOPE=\"everything\""))
        let negative = try runCommand(["/bin/sh", "-c", "exit 7"], environment: guardedEnvironment(["ORPHANGUARD_GRACE": "-1"]))
        XCTAssertEqual(negative.status, 7)
        XCTAssertEqual(negative.err.split(separator: "\n").count, 1, negative.err)
        let stop = try runCommand(["/bin/true"], environment: guardedEnvironment(["ORPHANGUARD_SIGNAL": "SIGSTOP"]))
        XCTAssertEqual(stop.err, "orphanguard: ignoring ORPHANGUARD_SIGNAL=\"SIGSTOP\": stops or continues a process instead of ending it; using SIGTERM\n")
        // The defaults apply: SIGTERM, so the action line names it.
        let root = try Child([try Fixtures.binary("tree"), "fork-exec"], environment: guardedEnvironment(["ORPHANGUARD_SIGNAL": "BOGUS"]))
        XCTAssertEqual(root.readyPids(count: 2).count, 2)
        let tree = ProcessTable.descendants(of: root.pid)
        defer { killLeftovers(tree) }
        root.signal(SIGKILL)
        XCTAssertNotNil(waitAllGone(tree, timeout: 5))
        XCTAssertTrue(root.stderrText().contains("sending SIGTERM"))
    }

    /// The documented opt-out: nothing is watched, the child outlives its parent.
    func testDisableLetsDaemonsOutliveTheirParent() throws {
        for extra in [["ORPHANGUARD_DISABLE": "1"], ["ORPHANGUARD_EXCLUDE": "tree"]] {
            let root = try Child([try Fixtures.binary("tree"), "fork"], environment: guardedEnvironment(extra))
            XCTAssertEqual(root.readyPids(count: 2).count, 2)
            let tree = ProcessTable.descendants(of: root.pid)
            defer { killLeftovers(tree) }
            XCTAssertTrue(ProcessTable.threadNames(of: root.pid).allSatisfy { $0 != "orphanguard" })
            root.signal(SIGKILL)
            // Still alive a good while after the parent died.
            XCTAssertFalse(sleepUntil(timeout: 0.5) { tree.contains { !$0.isAlive } }, "\(extra)")
        }
    }

    /// Opting out in the environment of one child: a guarded shell starts a daemon that way.
    func testDisableGivenToOneChildLetsItOutliveItsParent() throws {
        // The daemon announces itself after its exec: until then it is the shell's guarded fork child.
        let script = "ORPHANGUARD_DISABLE=1 /bin/sh -c 'echo ready daemon $$; exec sleep 300' & echo ready sh $$; wait"
        let root = try Child(["/bin/sh", "-c", script], environment: guardedEnvironment())
        let ready = root.readyProcesses(count: 2)
        let daemon = try XCTUnwrap(ready.first { $0.role == "daemon" }?.id)
        defer { killLeftovers([daemon]) }
        root.signal(SIGKILL)
        XCTAssertFalse(sleepUntil(timeout: 0.5) { !daemon.isAlive }, "the opted-out daemon was ended")
    }

    /// After a normal exit, helpers that end by themselves at EOF (multiprocessing's resource tracker
    /// and forkserver) get a moment to do so: nothing is printed, nothing is signalled.
    func testHelpersOfANormalExitEndQuietly() throws {
        for method in ["spawn", "forkserver", "spawn", "forkserver", "spawn", "forkserver"] {
            let result = try runCommand([Fixtures.python, Fixtures.script("mp_pool.py"), method],
                                        environment: guardedEnvironment(), timeout: 30)
            XCTAssertEqual(result.status, 0, result.err)
            XCTAssertEqual(result.out, "[1, 4, 9]\n")
            XCTAssertEqual(result.err, "", method)
        }
    }

    /// glibc ends a process when its last thread ends; the watcher must not keep it alive (or lose
    /// its buffered output): a main thread leaving with pthread_exit(), and a fork child whose only
    /// thread returns from a worker's start routine.
    func testProcessEndsWithItsLastThread() throws {
        let cases: [([String], String)] = [
            ([try Fixtures.binary("main_thread_exit")], "main leaving\nworker done\n"),
            ([try Fixtures.python, Fixtures.script("fork_from_thread.py")], "end of main\nend of thread\n"),
        ]
        // Ten times each: the fork child's watcher may not have started yet when its thread returns.
        for (argv, output) in cases + cases + cases + cases + cases + cases + cases + cases + cases + cases {
            let start = Date()
            let result = try runCommand(argv, environment: guardedEnvironment(), timeout: 10)
            XCTAssertEqual(result.status, 0, "\(argv.last!): \(result.err)")
            XCTAssertEqual(result.out, output, argv.last!)
            XCTAssertEqual(result.err, "")
            print("\(argv.last!): ended \(String(format: "%.0f", millisecondsSince(start))) ms after its start")
        }
    }

    /// A child spawned from a thread that then exits must not be killed (PR_SET_PDEATHSIG fires on
    /// thread exit).
    func testSpawningThreadExitIsNoFalseKill() throws {
        for argv in [[try Fixtures.binary("tree"), "thread-spawn"],
                     [try Fixtures.python, Fixtures.script("py_spawn.py"), "thread-popen"]] {
            let root = try Child(argv, environment: guardedEnvironment())
            XCTAssertEqual(root.readyPids(count: 2).count, 2)
            let tree = ProcessTable.descendants(of: root.pid)
            defer { killLeftovers(tree) }
            XCTAssertFalse(sleepUntil(timeout: 0.5) { tree.contains { !$0.isAlive } }, "false kill: \(argv)")
            root.signal(SIGKILL)
            XCTAssertNotNil(waitAllGone(tree, timeout: 5))
        }
    }

    /// The library searches PATH itself for execvp and friends (no dlsym in a vfork child): found,
    /// not found, found only after a directory that refuses it, a script without a #! line, an empty
    /// entry (the current directory), no PATH at all: the outcome is glibc's.
    func testExecvpSearchesPathAsGlibcDoes() throws {
        let probe = try Fixtures.binary("execvp_probe")
        let dir = NSTemporaryDirectory() + "orphanguard-path-\(getpid())"
        let refusing = dir + "/refusing"
        try FileManager.default.createDirectory(atPath: refusing, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fm = FileManager.default
        XCTAssertTrue(fm.createFile(atPath: dir + "/script", contents: Data("echo script \"$0\" \"$@\"\n".utf8),
                                    attributes: [.posixPermissions: 0o755]))
        XCTAssertTrue(fm.createFile(atPath: refusing + "/echo", contents: Data("x".utf8), attributes: [.posixPermissions: 0o644]))
        let cases: [(path: String?, argv: [String])] = [
            ("/usr/bin:/bin", ["echo", "hi"]), ("/nonexistent:/bin", ["echo", "hi"]), ("/usr/bin", ["no-such-program"]),
            (refusing + ":/bin", ["echo", "hi"]), (refusing, ["echo", "hi"]), (dir, ["script", "a", "b"]),
            (dir, ["script"]), (":" + dir, ["script"]), (nil, ["echo", "hi"]), (dir, [""]), (dir, ["./script"]),
        ]
        for (path, argv) in cases {
            var results: [String] = []
            for preload in [false, true] {
                var env = guardedEnvironment(preload: preload)
                env["PATH"] = path
                let result = try runCommand([probe] + argv, environment: env)
                results.append("\(result.status) \(result.out) \(result.err)")
            }
            XCTAssertEqual(results[1], results[0], "PATH=\(path ?? "(unset)") \(argv)")
        }
    }
}
