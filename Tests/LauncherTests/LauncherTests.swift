import Foundation
import TestSupport
import XCTest

/// End-to-end tests of the built `orphanguard` binary.
final class LauncherTests: XCTestCase {
    let base = guardedEnvironment(preload: false)

    func launcher(_ args: [String], environment: [String: String]? = nil) throws -> Child {
        try Child([Paths.launcher] + args, environment: environment ?? base)
    }

    func runLauncher(_ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, out: String, err: String) {
        try runCommand([Paths.launcher] + args, environment: environment ?? base)
    }

    func testExitStatusPassesThrough() throws {
        try assertEveryExitStatusPassesThrough([Paths.launcher, "run", "--"])
        for (signal, name) in [(SIGTERM, "TERM"), (SIGKILL, "KILL"), (SIGSEGV, "SEGV")] {
            let result = try runLauncher(["run", "--", "/bin/sh", "-c", "kill -\(name) $$"])
            XCTAssertEqual(result.status, 128 + signal, result.err)
        }
    }

    func testCommandNotFoundOrNotExecutable() throws {
        let missing = try runLauncher(["run", "--", "no-such-command-here"])
        XCTAssertEqual(missing.status, 127)
        XCTAssertEqual(missing.err, "orphanguard: cannot run 'no-such-command-here': No such file or directory\n")
        let notExecutable = try runLauncher(["run", "--", Fixtures.script("checkpoint.py")])
        XCTAssertEqual(notExecutable.status, 126)
        XCTAssertTrue(notExecutable.err.hasPrefix("orphanguard: cannot run "), notExecutable.err)
    }

    func testBadInputExitsTwoWithOneLine() throws {
        let cases: [([String], String)] = [
            (["run"], "no command given after '--'"),
            (["run", "sleep", "1"], "no command given after '--'"),
            (["run", "--bogus", "--", "true"], "Unknown option '--bogus'"),
            (["run", "--signal", "BOGUS", "--", "true"], "The value 'BOGUS' is invalid for '--signal <signal>'"),
            (["run", "--signal", "stop", "--", "true"], "--signal: SIGSTOP stops or continues a process instead of ending it"),
            (["run", "--grace", "-1", "--", "true"], "The value '-1' is invalid for '--grace <seconds>'"),
            (["run", "--grace", "abc", "--", "true"], "The value 'abc' is invalid for '--grace <seconds>'"),
            (["run", "--poll-interval", "0", "--", "true"], "--poll-interval: '0'"),
            (["run", "--scope", "all", "--", "true"], "The value 'all' is invalid for '--scope <scope>'. Please provide one of 'process' and 'group'."),
            (["frobnicate"], "Unexpected argument 'frobnicate'"),
        ]
        for (args, message) in cases {
            let result = try runLauncher(args)
            XCTAssertEqual(result.status, 2, "\(args)")
            XCTAssertTrue(result.err.hasPrefix("orphanguard: "), "\(args): \(result.err)")
            XCTAssertTrue(result.err.contains(message), "\(args): \(result.err)")
            XCTAssertEqual(result.err.split(separator: "\n").count, 1, "\(args): \(result.err)")
        }
    }

    /// The launcher reads a value exactly as the library does: what every guarded process would
    /// ignore (with a warning, falling back to the default) is refused before anything is spawned.
    func testValuesTheLibraryRefusesAreRefused() throws {
        let marker = NSTemporaryDirectory() + "orphanguard-refused-\(getpid())"
        let cases = [["--grace", "2.-1"], ["--grace", "+1"], ["--grace", "1.2345"], ["--grace", " 1"],
                     ["--poll-interval", "+0.5"], ["--poll-interval", "61"], ["--signal", "+15"],
                     ["--signal", "RTMIN+-1"], ["--signal", "cont"], ["--signal", "65"]]
        for option in cases {
            let result = try runLauncher(["run"] + option + ["--", "/usr/bin/touch", marker])
            XCTAssertEqual(result.status, 2, "\(option): \(result.err)")
            XCTAssertTrue(result.err.hasPrefix("orphanguard: ") && result.err.contains("'\(option[1])'") ||
                          result.err.contains("SIGCONT"), "\(option): \(result.err)")
            XCTAssertEqual(result.err.split(separator: "\n").count, 1, "\(option): \(result.err)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "spawned despite \(option)")
            unlink(marker)
        }
    }

    /// Another copy of the library in LD_PRELOAD (a stale path from an older install) gives way to
    /// the one the launcher found, which comes first; other entries stay.
    func testOtherCopiesOfTheLibraryGiveWay() throws {
        let libPath = try runLauncher(["lib"]).out.trimmingCharacters(in: .newlines)
        var env = base
        env["LD_PRELOAD"] = "/stale/liborphanguard.so:/usr/lib/x86_64-linux-gnu/libm.so.6 \(libPath)"
        let exports = try runLauncher(["env"], environment: env)
        XCTAssertTrue(exports.out.hasPrefix("export LD_PRELOAD='\(libPath):/usr/lib/x86_64-linux-gnu/libm.so.6'\n"),
                      exports.out)
        let run = try runLauncher(["run", "--", "/bin/sh", "-c", "echo \"$LD_PRELOAD\""], environment: env)
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(run.out, "\(libPath):/usr/lib/x86_64-linux-gnu/libm.so.6\n")
    }

    /// A missing or unusable library is reported before anything is spawned.
    func testBadLibraryIsReportedBeforeSpawning() throws {
        let marker = NSTemporaryDirectory() + "orphanguard-marker-\(getpid())"
        let truncated = NSTemporaryDirectory() + "orphanguard-truncated-\(getpid()).so"
        XCTAssertTrue(FileManager.default.createFile(atPath: truncated, contents: Data([0x7f, 0x45, 0x4c, 0x46])))
        defer { unlink(truncated) }
        let cases = ["/nonexistent/liborphanguard.so": "cannot read the library: No such file or directory",
                     "/etc/passwd": "not an ELF file", truncated: "not an ELF file",
                     Fixtures.script("checkpoint.py"): "not an ELF file", "/tmp": "not a regular file",
                     "/bin/true": "a program, not a shared library"]
        for (library, reason) in cases {
            var env = base
            env["ORPHANGUARD_LIBRARY"] = library
            let result = try runLauncher(["run", "--", "/usr/bin/touch", marker], environment: env)
            XCTAssertEqual(result.status, 2, library)
            XCTAssertEqual(result.err, "orphanguard: \(library): \(reason)\n")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "spawned despite \(library)")
        }
    }

    func testLibAndEnvAndVersion() throws {
        let lib = try runLauncher(["lib"])
        XCTAssertEqual(lib.status, 0)
        XCTAssertEqual(URL(fileURLWithPath: lib.out.trimmingCharacters(in: .newlines)).resolvingSymlinksInPath().path,
                       URL(fileURLWithPath: Paths.library).resolvingSymlinksInPath().path)
        var env = base
        env["LD_PRELOAD"] = "/usr/lib/x86_64-linux-gnu/libm.so.6"
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        let exports = try runLauncher(["env", "--grace", "2", "--signal", "INT"], environment: env)
        let libPath = lib.out.trimmingCharacters(in: .newlines)
        XCTAssertEqual(exports.out, """
            export LD_PRELOAD='\(libPath):/usr/lib/x86_64-linux-gnu/libm.so.6'
            export ORPHANGUARD_SIGNAL='INT'
            export ORPHANGUARD_GRACE='2'
            export ASAN_OPTIONS='detect_leaks=0:verify_asan_link_order=0'

            """)
        let fish = try runLauncher(["env", "--shell", "fish"])
        XCTAssertTrue(fish.out.hasPrefix("set -gx LD_PRELOAD '\(libPath)"), fish.out)
        let version = try runLauncher(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.out.hasPrefix("orphanguard "))
    }

    /// CMD built with gcc's -fsanitize=address starts under the launcher and sees its own ASAN_OPTIONS,
    /// also when the launcher itself runs with the library loaded (its exec then passes through it).
    func testAsanProgramRunsUnderTheLauncher() throws {
        let program = try Fixtures.binary("asan_env", flags: ["-fsanitize=address"])
        for own in [nil, "detect_leaks=0"] {
            for guarded in [false, true] {
                var env = base
                env["ASAN_OPTIONS"] = own
                env["LD_PRELOAD"] = guarded ? Paths.library : nil
                let result = try runLauncher(["run", "--", program], environment: env)
                XCTAssertEqual(result.status, 0, result.err)
                XCTAssertEqual(result.out, "ASAN_OPTIONS \(own ?? "(unset)")\n", "launcher guarded: \(guarded)")
            }
        }
    }

    /// Manual mode: after eval "$(orphanguard env)", what the shell starts is guarded.
    func testManualEnvMode() throws {
        let tree = try Fixtures.binary("tree")
        let script = "eval \"$('\(Paths.launcher)' env --grace 1)\"; exec '\(tree)' fork-exec"
        try assertLauncherTreeDies("manual env mode", ["/bin/sh", "-c", script], ready: 2, direct: true)
    }

    func testSignalsAreForwarded() throws {
        try assertSignalsAreForwarded(environment: base, firstLine: nil)
    }

    /// USR1 and HUP sent to the launcher reach CMD's traps; HUP's trap exits 9, which comes back.
    /// `firstLine`: the ready line expected (nil: any one).
    func assertSignalsAreForwarded(environment: [String: String], firstLine: String?, file: StaticString = #filePath, line: UInt = #line) throws {
        let child = try launcher(["run", "--", "/bin/sh", "-c",
                                  "trap 'echo got USR1' USR1; trap 'echo got HUP; exit 9' HUP; echo ready sh $$; while :; do sleep 0.02; done"],
                                 environment: environment)
        let ready = child.readLine(timeout: 10)
        XCTAssertEqual(ready?.hasPrefix("ready sh "), true, file: file, line: line)
        if let firstLine { XCTAssertEqual(ready, firstLine, file: file, line: line) }
        child.signal(SIGUSR1)
        XCTAssertEqual(child.readLine(timeout: 5), "got USR1", file: file, line: line)
        child.signal(SIGHUP)
        XCTAssertEqual(child.readLine(timeout: 5), "got HUP", file: file, line: line)
        XCTAssertEqual(child.waitExit(timeout: 10), 9, file: file, line: line)
    }

    /// On a terminal, Ctrl-Z stops the job and Ctrl-C ends it, exactly as without the launcher.
    func testTerminalCtrlZAndCtrlC() throws {
        try assertTerminalJobAsWithoutLauncher(options: [])
    }

    func assertTerminalJobAsWithoutLauncher(options: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let job = ["/bin/sh", "-c", "echo ready >&3; while :; do sleep 0.05; done"]
        let harness = [try Fixtures.python, Fixtures.script("terminal_job.py")]
        let plain = try runCommand(harness + job, environment: base)
        let guarded = try runCommand(harness + [Paths.launcher, "run"] + options + ["--"] + job, environment: base)
        XCTAssertEqual(plain.out, "stopped True\nstatus 130\n", plain.err, file: file, line: line)
        XCTAssertEqual(guarded.out, plain.out, guarded.err, file: file, line: line)
    }

    func testZombiesAreReaped() throws {
        let child = try launcher(["run", "--", "/bin/sh", "-c",
                                  "for i in 1 2 3 4 5; do (sleep 0.05 &) ; done; echo ready sh $$; sleep 60"])
        XCTAssertEqual(child.readyPids(count: 1).count, 1)
        defer { killLeftovers(ProcessTable.descendants(of: child.pid)); child.signal(SIGKILL) }
        // The five sleeps were re-parented to the launcher; they exit and must not stay zombies.
        let reaped = sleepUntil(timeout: 5) {
            ProcessTable.descendants(of: child.pid).allSatisfy { ProcStat.read($0.pid)?.state != "Z" }
                && ProcessTable.descendants(of: child.pid).count == 2
        }
        XCTAssertTrue(reaped, "\(ProcessTable.descendants(of: child.pid))")
    }

    /// A static parent's static child has neither the library nor PR_SET_PDEATHSIG: only the
    /// subreaper ends it.
    func testStaticOrphanOfStaticParentIsEnded() throws {
        let orphaner = try Fixtures.binary("static_orphaner", static: true)
        let child = try launcher(["run", "--grace", "1", "--", orphaner, "200"])
        let ready = child.readyProcesses(count: 2)
        XCTAssertEqual(ready.count, 2)
        defer { killLeftovers(ready.map(\.id)) }
        let parent = try XCTUnwrap(ready.first { $0.role == "parent" }?.id)
        let orphan = try XCTUnwrap(ready.first { $0.role == "orphan" }?.id)
        XCTAssertTrue(sleepUntil(timeout: 5) { !parent.isAlive })
        let ms = waitAllGone([orphan], timeout: 5)
        XCTAssertNotNil(ms, "static orphan survived")
        print("teardown static orphan adopted by the launcher: \(String(format: "%.1f", ms ?? -1)) ms after its parent exited")
        XCTAssertEqual(child.waitExit(timeout: 10), 0)
        XCTAssertTrue(child.stderrText().contains("sending SIGTERM to \(orphan.pid) (static_orphaner)"))
    }

    /// The seed case: a statically linked Go parent whose Go child is left behind.
    func testGoChildOfExitedGoParentIsEnded() throws {
        let go = try requireTool("go", at: ["/usr/bin/go", "/usr/local/go/bin/go"], install: "apt-get install golang-go")
        let work = NSTemporaryDirectory() + "orphanguard-go-\(getpid())"
        let binary = work + "/go_orphaner"
        var env = base
        env["HOME"] = work
        env["GOCACHE"] = work + "/cache"
        env["GOPATH"] = work + "/path"
        env["CGO_ENABLED"] = "0"
        let build = try runCommand([go, "build", "-o", binary, Paths.fixtures + "/go_orphaner/main.go"],
                                   environment: env, timeout: 300)
        XCTAssertEqual(build.status, 0, build.err)
        let child = try launcher(["run", "--grace", "1", "--", "/bin/sh", "-c", "'\(binary)' 200; sleep 30"])
        let ready = child.readyProcesses(count: 2)
        XCTAssertEqual(ready.count, 2)
        defer { killLeftovers(ready.map(\.id)); child.signal(SIGKILL) }
        let parent = try XCTUnwrap(ready.first { $0.role == "go-parent" }?.id)
        let orphan = try XCTUnwrap(ready.first { $0.role == "go-child" }?.id)
        XCTAssertTrue(sleepUntil(timeout: 5) { !parent.isAlive })
        let ms = waitAllGone([orphan], timeout: 5)
        XCTAssertNotNil(ms, "Go child of the exited Go parent survived")
        print("teardown Go orphan adopted by the launcher: \(String(format: "%.1f", ms ?? -1)) ms after its parent exited")
    }

    /// Double-forked setsid escapees do not outlive their parent either.
    func testSetsidEscapeeIsEnded() throws {
        let child = try launcher(["run", "--grace", "1", "--", "/bin/sh", "-c",
                                  "(setsid /bin/sh -c 'echo ready escapee $$; exec sleep 300' & sleep 0.3); echo ready sh $$; sleep 60"])
        let ready = child.readyProcesses(count: 2)
        XCTAssertEqual(ready.count, 2)
        defer { killLeftovers(ready.map(\.id)); child.signal(SIGKILL) }
        let escapee = try XCTUnwrap(ready.first { $0.role == "escapee" }?.id)
        XCTAssertNotNil(waitAllGone([escapee], timeout: 5), "setsid escapee survived")
    }

    /// Daemons that opted out (ORPHANGUARD_DISABLE=1, or their name in ORPHANGUARD_EXCLUDE) and are
    /// re-parented to the launcher while CMD runs are left alone, as the library leaves them. Each
    /// opts out before its parent forks it (see the README on daemons).
    func testOptedOutDaemonsAreSparedWhileCommandRuns() throws {
        let script = """
            ORPHANGUARD_DISABLE=1 /bin/sh -c 'sleep 301 & echo ready daemon $!'
            ORPHANGUARD_EXCLUDE=sh /bin/sh -c '(echo ready daemon $(/bin/sh -c "echo \\$PPID"); sleep 302; :) &'
            echo ready sh $$; sleep 60
            """
        let child = try launcher(["run", "--grace", "1", "--", "/bin/sh", "-c", script])
        let ready = child.readyProcesses(count: 3)
        XCTAssertEqual(ready.count, 3)
        let daemons = ready.filter { $0.role == "daemon" }.map(\.id)
        defer { killLeftovers(ready.map(\.id)); child.signal(SIGKILL) }
        XCTAssertTrue(sleepUntil(timeout: 5) { daemons.allSatisfy { ProcStat.read($0.pid)?.ppid == child.pid } })
        // Several adoption scans (every 100 ms) later, both still run.
        XCTAssertFalse(sleepUntil(timeout: 0.5) { daemons.contains { !$0.isAlive } })
    }

    /// When CMD exits, whatever it left behind (here: a child that opted out of the library) is
    /// ended, and the launcher exits with CMD's status.
    func testLeftoversAreEndedWhenCommandExits() throws {
        let child = try launcher(["run", "--grace", "1", "--", "/bin/sh", "-c",
                                  "ORPHANGUARD_DISABLE=1 sleep 300 & echo ready bg $!; exit 5"])
        let ready = child.readyPids(count: 1)
        XCTAssertEqual(ready.count, 1)
        defer { killLeftovers(ready) }
        let start = Date()
        XCTAssertEqual(child.waitExit(timeout: 10), 5)
        XCTAssertTrue(ready.allSatisfy { !$0.isAlive })
        print("teardown leftovers at exit: launcher done \(String(format: "%.1f", millisecondsSince(start))) ms after the first ready line")
    }

    /// A stopped leftover holds any signal but SIGKILL, and its watcher is stopped with it: the
    /// launcher continues it, so it ends by the configured signal long before a 60 s grace runs out.
    /// The leaf is spawned from a thread that has exited, so the kernel's SIGCONT is not armed for it.
    func testStoppedLeftoverIsContinuedAndEnded() throws {
        let tree = try Fixtures.binary("tree")
        let child = try launcher(["run", "--grace", "60", "--", tree, "thread-spawn"])
        let announced = child.readyProcesses(count: 2)
        guard let leaf = announced.first(where: { $0.role == "leaf" })?.id,
              let parent = announced.first(where: { $0.role == "parent" })?.id else {
            return XCTFail("ready lines: \(announced) \(child.stderrText())")
        }
        defer { killLeftovers([leaf]) }
        kill(leaf.pid, SIGSTOP)
        XCTAssertTrue(sleepUntil(timeout: 5) { ProcStat.read(leaf.pid)?.state == "T" })
        kill(parent.pid, SIGKILL)
        let ms = waitAllGone([leaf], timeout: 10)
        XCTAssertNotNil(ms, "the stopped leaf was not ended")
        XCTAssertEqual(child.waitExit(timeout: 10), 128 + SIGKILL, child.stderrText())
        print("teardown stopped leftover under the launcher: \(String(format: "%.1f", ms ?? -1)) ms")
    }

    func testWholeTreeGoesWhenLauncherIsSIGKILLed() throws {
        let argv = try ["run", "--grace", "2", "--", Fixtures.python, Fixtures.script("torchrun_tree.py"), "agent",
                    try Fixtures.binary("static_leaf", static: true)]
        try assertLauncherTreeDies("launcher SIGKILL, torchrun-shaped", argv, ready: 14)
    }

    /// Graceful policy: a SIGTERM handler that spends half a second saving state finishes it,
    /// whether the TERM is forwarded by the launcher or sent by the library to an orphan.
    func testCheckpointFinishesInsideGrace() throws {
        let file = NSTemporaryDirectory() + "orphanguard-checkpoint-\(getpid())"
        try? FileManager.default.removeItem(atPath: file)
        let forwarded = try launcher(["run", "--", Fixtures.python, Fixtures.script("checkpoint.py"), file])
        XCTAssertEqual(forwarded.readyPids(count: 1).count, 1)
        forwarded.signal(SIGTERM)
        XCTAssertEqual(forwarded.waitExit(timeout: 10), 0)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "started\ndone\n")

        try? FileManager.default.removeItem(atPath: file)
        let script = try "'\(Fixtures.python)' '\(Fixtures.script("checkpoint.py"))' '\(file)' & echo ready sh $$; wait"
        let orphaned = try launcher(["run", "--", "/bin/sh", "-c", script])
        let ready = orphaned.readyPids(count: 2)
        XCTAssertEqual(ready.count, 2)
        defer { killLeftovers(ready) }
        let shell = try XCTUnwrap(ready.first { ProcStat.read($0.pid)?.ppid == orphaned.pid })
        kill(shell.pid, SIGKILL)
        XCTAssertNotNil(waitAllGone(ready, timeout: 10))
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "started\ndone\n")
    }

    /// As a container's PID 1: exit statuses pass through, orphans are reaped, signals forwarded.
    func testContainerEntrypointInPidNamespace() throws {
        try requireRoot()
        let unshare = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", Paths.launcher, "run", "--"]
        try assertEveryExitStatusPassesThrough(unshare)
        let zombies = try runCommand(unshare + ["/bin/sh", "-c", """
            for i in 1 2 3; do (sleep 0.05 &); done; sleep 0.5
            for s in /proc/[0-9]*/stat; do read -r line < $s 2>/dev/null; case "$line" in *') Z '*) echo zombie;; esac; done
            exit 7
            """], environment: base)
        XCTAssertEqual(zombies.status, 7, zombies.err)
        XCTAssertFalse(zombies.out.contains("zombie"), zombies.out)

        let child = try Child(unshare + ["/bin/sh", "-c", "trap 'exit 42' TERM; echo ready sh $$; while :; do sleep 0.02; done"],
                              environment: base)
        XCTAssertEqual(child.readLines(prefix: "ready", count: 1, timeout: 10).count, 1)
        let entrypoint = try XCTUnwrap(ProcessTable.descendants(of: child.pid).first { ProcStat.read($0.pid)?.ppid == child.pid })
        kill(entrypoint.pid, SIGTERM)
        XCTAssertEqual(child.waitExit(timeout: 10), 42)
    }

    // MARK: -

    /// Runs `prefix sh -c 'exit N'` for N in 0...255 from one shell loop (one process start each, not
    /// a test-harness round trip) and asserts that each status comes back unchanged and silently.
    func assertEveryExitStatusPassesThrough(_ prefix: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let quoted = prefix.map { "'\($0)'" }.joined(separator: " ")
        let loop = """
            code=0
            while [ $code -le 255 ]; do
                err=$(\(quoted) /bin/sh -c "exit $code" 2>&1); got=$?
                [ "$got" = "$code" ] && [ -z "$err" ] || echo "exit $code came back as $got: $err"
                code=$((code + 1))
            done
            echo checked $code
            """
        let result = try runCommand(["/bin/sh", "-c", loop], environment: base, timeout: 120)
        XCTAssertEqual(result.out, "checked 256\n", file: file, line: line)
    }

    /// Starts the launcher (or, with `direct`, argv itself), waits for `ready` lines, SIGKILLs the root and
    /// asserts that every descendant is gone.
    private func assertLauncherTreeDies(_ name: String, _ argv: [String], ready: Int, direct: Bool = false) throws {
        let root = direct ? try Child(argv, environment: base) : try launcher(argv)
        let announced = root.readyPids(count: ready)
        XCTAssertEqual(announced.count, ready, name)
        let tree = Array(Set(ProcessTable.descendants(of: root.pid) + announced.filter { $0.pid != root.pid }))
        defer { killLeftovers(tree) }
        root.signal(SIGKILL)
        let ms = waitAllGone(tree, timeout: 10)
        XCTAssertNotNil(ms, "\(name): survivors \(tree.filter(\.isAlive))")
        print("teardown \(name) \(tree.count) processes: \(String(format: "%.1f", ms ?? -1)) ms")
    }
}
