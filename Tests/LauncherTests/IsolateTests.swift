import Foundation
import TestSupport
import XCTest

/// `orphanguard run --isolate`: what escapes the default guard when the launcher is SIGKILLed is
/// gone within the grace period (plus 100 ms) under --isolate, as root and as an unprivileged user.
/// Fixtures print namespace pids under --isolate, so the processes are taken from /proc outside:
/// the launcher's descendants once every ready line has arrived.
extension LauncherTests {
    /// A way to escape the default guard once the launcher is SIGKILLed.
    private struct Escape {
        let name: String
        let command: [String]
        let ready: Int
        var rootOnly = false
        /// Done to the tree before the launcher is killed (stopping a process).
        var prepare: ([ProcessID]) -> Void = { _ in }
    }

    private static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

    private func escapes() throws -> [Escape] {
        let background = { (argv: [String]) in ["/bin/sh", "-c", argv.map { "'\($0)'" }.joined(separator: " ") + " & wait"] }
        var result = [
            Escape(name: "static child of a static parent",
                   command: background([try Fixtures.binary("static_orphaner", static: true), "600000"]), ready: 2),
            Escape(name: "child forked from a non-main thread of a static parent",
                   command: background([try Fixtures.binary("static_thread_child", static: true)]), ready: 2),
            Escape(name: "LD_PRELOAD dropped (raw execve), then a double fork",
                   command: background([try Fixtures.python, Fixtures.script("unguarded_double_fork.py")]), ready: 1),
            Escape(name: "static pair ignoring SIGTERM",
                   command: ["/bin/sh", "-c", "trap '' TERM; '\(try Fixtures.binary("static_orphaner", static: true))' 600000 & wait"], ready: 2),
            // In a session of its own, so no orphaned-process-group SIGHUP ends it.
            Escape(name: "stopped process (spawned from a thread, own session)",
                   command: ["/usr/bin/setsid", try Fixtures.binary("tree"), "thread-spawn"],
                   ready: 2, prepare: { tree in
                       for id in tree where Self.commandLine(id.pid).contains("leaf") { kill(id.pid, SIGSTOP) }
                       XCTAssertTrue(sleepUntil(timeout: 5) {
                           tree.contains { Self.commandLine($0.pid).contains("leaf") && ProcStat.read($0.pid)?.state == "T" }
                       })
                   }),
        ]
        if let go = try goOrphaner() {
            result.insert(Escape(name: "Go child of a Go parent", command: background([go, "600000"]), ready: 2), at: 1)
        }
        if geteuid() == 0 {
            result.append(Escape(name: "setuid program (setuid nobody)", command: background([try setuidCopy(), "leaf"]),
                                 ready: 1, rootOnly: true))
        }
        return result
    }

    private static func commandLine(_ pid: Int32) -> String {
        (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
    }

    /// The tree fixture, setuid to nobody: the loader ignores LD_PRELOAD and the kernel clears
    /// PR_SET_PDEATHSIG when root runs it.
    private func setuidCopy() throws -> String {
        let copy = (try Fixtures.binary("tree")) + "-setuid"
        if !FileManager.default.fileExists(atPath: copy) {
            try FileManager.default.copyItem(atPath: try Fixtures.binary("tree"), toPath: copy)
            XCTAssertEqual(chown(copy, 65534, 65534), 0)
            XCTAssertEqual(chmod(copy, 0o4755), 0)
        }
        return copy
    }

    private func goOrphaner() throws -> String? {
        guard let go = ["/usr/bin/go", "/usr/local/go/bin/go"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            if ProcessInfo.processInfo.environment["ORPHANGUARD_TEST_STRICT"] == "1" {
                XCTFail("go is not installed: apt-get install golang-go")
            }
            return nil
        }
        let work = NSTemporaryDirectory() + "orphanguard-go-isolate-\(getpid())"
        let binary = work + "/go_orphaner"
        if FileManager.default.isExecutableFile(atPath: binary) { return binary }
        var env = base
        env["HOME"] = work
        env["GOCACHE"] = work + "/cache"
        env["GOPATH"] = work + "/path"
        env["CGO_ENABLED"] = "0"
        let build = try runCommand([go, "build", "-o", binary, Paths.fixtures + "/go_orphaner/main.go"], environment: env, timeout: 300)
        XCTAssertEqual(build.status, 0, build.err)
        chmod(work, 0o755)
        return binary
    }

    /// Runs one escape under the launcher, SIGKILLs the launcher, and waits for the tree to go:
    /// under --isolate it must be gone within the grace period plus 100 ms.
    private func trial(_ escape: Escape, isolate: Bool, prefix: [String] = [], grace: Double = 1) throws -> (count: Int, survivors: Int, ms: Double?) {
        let argv = prefix + [Paths.launcher, "run", "--grace", String(grace)] + (isolate ? ["--isolate"] : []) + ["--"] + escape.command
        let root = try Child(argv, environment: base)
        let lines = root.readLines(prefix: "ready", count: escape.ready, timeout: 15)
        XCTAssertEqual(lines.count, escape.ready, "\(escape.name): \(root.stderrText())")
        let tree = ProcessTable.descendants(of: root.pid)
        defer { killLeftovers(tree) }
        escape.prepare(tree)
        root.signal(SIGKILL)
        let ms = waitAllGone(tree, timeout: isolate ? grace + 2 : grace + 1.5)
        let survivors = tree.filter(\.isAlive).count
        if isolate {
            XCTAssertNotNil(ms, "\(escape.name): \(survivors) of \(tree.count) outlived the launcher under --isolate")
            XCTAssertLessThanOrEqual(ms ?? .infinity, grace * 1000 + 100, "\(escape.name): later than the grace period plus 100 ms")
        }
        return (tree.count, survivors, ms)
    }

    private func userNamespacesAllowed() throws -> Bool {
        let probe = try runCommand(Self.nobody + ["/usr/bin/unshare", "--user", "--pid", "--fork", "--mount", "/bin/true"], environment: base)
        return probe.status == 0
    }

    /// The matrix in the README: each escape with the default guard and with --isolate (root).
    func testIsolateEndsEveryEscapeWhenTheLauncherIsSIGKILLed() throws {
        try requireRoot()
        for escape in try escapes() {
            let plain = try trial(escape, isolate: false)
            let isolated = try trial(escape, isolate: true)
            print("escape matrix | \(escape.name) | default: \(plain.survivors) of \(plain.count) survive | --isolate: \(isolated.survivors) of \(isolated.count) survive, gone in \(String(format: "%.1f", isolated.ms ?? -1)) ms (grace 1 s)")
        }
    }

    /// The same escapes as an unprivileged user, through a user namespace.
    func testIsolateEndsEveryEscapeRootless() throws {
        try requireRoot()
        try XCTSkipUnless(try userNamespacesAllowed(), "unprivileged user namespaces are not allowed on this kernel")
        for escape in try escapes() where !escape.rootOnly {
            let isolated = try trial(escape, isolate: true, prefix: Self.nobody)
            print("escape rootless | \(escape.name) | --isolate: gone in \(String(format: "%.1f", isolated.ms ?? -1)) ms (grace 1 s)")
        }
    }

    /// A SIGTERM handler that spends half a second on a checkpoint finishes it when the launcher is
    /// SIGKILLed, and the job is gone within the grace period.
    func testIsolateCheckpointFinishesInsideGrace() throws {
        try requireRoot()
        for prefix in [[], try userNamespacesAllowed() ? Self.nobody : nil].compactMap({ $0 }) {
            let file = NSTemporaryDirectory() + "orphanguard-isolate-checkpoint-\(getpid())-\(prefix.count)"
            try? FileManager.default.removeItem(atPath: file)
            let escape = Escape(name: "checkpoint", command: ["/bin/sh", "-c",
                                "'\(try Fixtures.python)' '\(Fixtures.script("checkpoint.py"))' '\(file)' & wait"], ready: 1)
            let result = try trial(escape, isolate: true, prefix: prefix, grace: 2)
            XCTAssertEqual(result.survivors, 0)
            XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "started\ndone\n", "as \(prefix.isEmpty ? "root" : "nobody")")
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    /// The namespace's init SIGKILLed: the kernel ends everything in it at once, and the launcher
    /// exits 128+9. A checkpointing SIGTERM handler gets no chance then (it does when the launcher
    /// is SIGKILLed): why the init is a process of its own, below a launcher that stays outside.
    func testIsolateInitSIGKILLedEndsEverythingAtOnce() throws {
        let orphaner = try Fixtures.binary("static_orphaner", static: true)
        let file = NSTemporaryDirectory() + "orphanguard-isolate-init-checkpoint-\(getpid())"
        try? FileManager.default.removeItem(atPath: file)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let root = try launcher(["run", "--grace", "5", "--isolate", "--", "/bin/sh", "-c",
                                 "'\(orphaner)' 600000 & '\(try Fixtures.binary("tree"))' thread-spawn & " +
                                 "'\(try Fixtures.python)' '\(Fixtures.script("checkpoint.py"))' '\(file)' & wait"])
        XCTAssertEqual(root.readLines(prefix: "ready", count: 5, timeout: 15).count, 5, root.stderrText())
        let tree = ProcessTable.descendants(of: root.pid)
        defer { killLeftovers(tree) }
        let initProcess = try XCTUnwrap(tree.first { ProcStat.read($0.pid)?.ppid == root.pid })
        kill(initProcess.pid, SIGKILL)
        let ms = waitAllGone(tree, timeout: 5)
        XCTAssertNotNil(ms, "survivors: \(tree.filter(\.isAlive))")
        XCTAssertLessThan(ms ?? .infinity, 1000, "not at once (grace is 5 s)")
        print("teardown init SIGKILLed under --isolate, \(tree.count) processes: \(String(format: "%.1f", ms ?? -1)) ms")
        XCTAssertEqual(root.waitExit(timeout: 5), 128 + SIGKILL)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "the checkpoint handler ran")
    }

    /// The launcher SIGKILLed at any moment of the start-up (before the init has armed its signal,
    /// before CMD is started): nothing of the job is left.
    func testIsolateLauncherSIGKILLedDuringStartUp() throws {
        let marker = "\(1000 + getpid() % 1000).5"
        let sleepers = {
            ProcessTable.parents().keys.filter { Self.commandLine($0) == "sleep\u{0}\(marker)\u{0}" }
        }
        for delay in stride(from: 0, through: 40_000, by: 2_000) {
            let root = try launcher(["run", "--grace", "0.2", "--isolate", "--", "/bin/sleep", marker])
            usleep(UInt32(delay))
            root.signal(SIGKILL)
            _ = root.waitExit(timeout: 5)
        }
        XCTAssertTrue(sleepUntil(timeout: 3) { sleepers().isEmpty }, "left: \(sleepers())")
        for pid in sleepers() { kill(pid, SIGKILL) }
    }

    /// Rootless: what CMD sees of its ids, and a file's owner, are the same with and without
    /// --isolate; supplementary groups show as the overflow group (65534) but still grant access.
    func testIsolateKeepsTheCallersIds() throws {
        try requireRoot()
        try XCTSkipUnless(try userNamespacesAllowed(), "unprivileged user namespaces are not allowed on this kernel")
        let folder = NSTemporaryDirectory() + "orphanguard-isolate-ids-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o1777])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let script = "id; grep -E '^(Uid|Gid):' /proc/self/status; touch \(folder)/f; stat -c '%u:%g' \(folder)/f; rm \(folder)/f; ps -o user=,group= -p $$"
        var outputs: [String] = []
        for isolate in [false, true] {
            let result = try runCommand(Self.nobody + [Paths.launcher, "run"] + (isolate ? ["--isolate"] : []) + ["--", "/bin/sh", "-c", script], environment: base)
            XCTAssertEqual(result.status, 0, result.err)
            outputs.append(result.out)
        }
        print("ids rootless, without and with --isolate:\n\(outputs[0])\(outputs[1])", terminator: "")
        XCTAssertEqual(outputs[0], outputs[1])

        let secret = folder + "/video-only"
        XCTAssertTrue(FileManager.default.createFile(atPath: secret, contents: Data("secret\n".utf8)))
        XCTAssertEqual(chown(secret, 0, 44), 0)
        XCTAssertEqual(chmod(secret, 0o640), 0)
        let withGroups = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--groups=44", "--", Paths.launcher, "run", "--isolate", "--",
                          "/bin/sh", "-c", "id; grep '^Groups:' /proc/self/status; cat \(secret)"]
        let grouped = try runCommand(withGroups, environment: base)
        print("ids rootless with a supplementary group, --isolate:\n\(grouped.out)", terminator: "")
        XCTAssertEqual(grouped.out, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\nGroups:\t65534 \nsecret\n", grouped.err)
    }

    /// Inside, ps and /proc show the namespace: the init as PID 1 and CMD as PID 2.
    func testIsolateShowsTheNamespacesProcesses() throws {
        let result = try runLauncher(["run", "--isolate", "--", "/bin/sh", "-c", "echo $$; cat /proc/1/comm; ls /proc | grep -c '^[0-9]'"])
        XCTAssertEqual(result.status, 0, result.err)
        let lines = result.out.split(separator: "\n")
        XCTAssertEqual(lines.first, "2")
        XCTAssertEqual(lines.dropFirst().first, "orphanguard")
        XCTAssertLessThanOrEqual(Int(lines.last ?? "") ?? 99, 4, result.out)
    }

    /// CMD's environment, descriptors, working directory, limits and groups are what it gets without
    /// --isolate (the init's lifeline is not inherited).
    func testIsolateChangesNothingElseCMDSees() throws {
        // Both from one shell, so both inherit the same descriptors from the test process.
        let script = "env | sort; ls /proc/self/fd; pwd; umask; ulimit -a; id -G; cat /proc/self/cgroup; readlink /proc/self/ns/net"
        let both = try runCommand(["/bin/sh", "-c", "\"$0\" run -- /bin/sh -c \"$1\"; echo ===; \"$0\" run --isolate -- /bin/sh -c \"$1\"",
                                   Paths.launcher, script], environment: base)
        XCTAssertEqual(both.status, 0, both.err)
        let halves = both.out.components(separatedBy: "===\n")
        XCTAssertEqual(halves.count, 2, both.out)
        XCTAssertEqual(halves.last, halves.first, both.err)
    }

    func testIsolateExitStatusAndSignalsPassThrough() throws {
        try assertEveryExitStatusPassesThrough([Paths.launcher, "run", "--isolate", "--"])
        for (signal, name) in [(SIGTERM, "TERM"), (SIGKILL, "KILL"), (SIGSEGV, "SEGV")] {
            let result = try runLauncher(["run", "--isolate", "--", "/bin/sh", "-c", "kill -\(name) $$"])
            XCTAssertEqual(result.status, 128 + signal, result.err)
        }
        let missing = try runLauncher(["run", "--isolate", "--", "no-such-command-here"])
        XCTAssertEqual(missing.status, 127)
        XCTAssertEqual(missing.err, "orphanguard: cannot run 'no-such-command-here': No such file or directory\n")
        let notExecutable = try runLauncher(["run", "--isolate", "--", Fixtures.script("checkpoint.py")])
        XCTAssertEqual(notExecutable.status, 126, notExecutable.err)

        var env = base
        env["ORPHANGUARD_ISOLATE"] = "1"
        try assertSignalsAreForwarded(environment: env, firstLine: "ready sh 2")
    }

    func testIsolateTerminalCtrlZAndCtrlC() throws {
        try assertTerminalJobAsWithoutLauncher(options: ["--isolate"])
    }

    /// user.max_user_namespaces=0 (set in a user namespace of the test's own, so the machine's setting
    /// is untouched): rootless --isolate exits 2 naming the sysctl; auto runs without isolation.
    func testIsolateWithUserNamespacesDisabledBySysctl() throws {
        try requireRoot()
        let limited = [try Fixtures.python, Fixtures.script("userns_limit.py")] + Self.nobody
        let strict = try runCommand(limited + [Paths.launcher, "run", "--isolate", "--", "/bin/sh", "-c", "echo started"], environment: base)
        XCTAssertEqual(strict.status, 2, strict.err)
        XCTAssertEqual(strict.out, "")
        XCTAssertEqual(strict.err, "orphanguard: --isolate: cannot create the job's namespaces: user namespaces are disabled (sysctl user.max_user_namespaces=0) (clone: No space left on device)\n")
        let auto = try runCommand(limited + [Paths.launcher, "run", "--isolate=auto", "--", "/bin/sh", "-c", "echo $$"], environment: base)
        XCTAssertEqual(auto.status, 0, auto.err)
        XCTAssertNotEqual(auto.out, "2\n", "ran isolated")
        XCTAssertEqual(auto.err, "orphanguard: --isolate=auto: cannot create the job's namespaces: user namespaces are disabled (sysctl user.max_user_namespaces=0) (clone: No space left on device); running without isolation\n")
    }

    /// Root without CAP_SYS_ADMIN (a container's root) may not make a pid namespace by itself: a user
    /// namespace mapping root to itself is made first, and CMD still runs as root, pid 2.
    func testIsolateAsRootWithoutCapSysAdmin() throws {
        try requireRoot()
        let result = try runCommand(["/usr/bin/setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", "--",
                                     Paths.launcher, "run", "--isolate", "--", "/bin/sh", "-c", "echo $$; id -u; cat /proc/self/uid_map"],
                                    environment: base)
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(result.out.split(whereSeparator: \.isWhitespace), ["2", "0", "0", "0", "1"], result.out)
    }

    /// Where a seccomp filter denies new namespaces (as a container's default profile does):
    /// --isolate exits 2 before starting anything, with the reason; auto warns once and runs.
    func testIsolateWithoutNamespacesExitsTwoOrFallsBack() throws {
        let deny = try Fixtures.binary("deny_syscall")
        let marker = NSTemporaryDirectory() + "orphanguard-isolate-marker-\(getpid())"
        defer { unlink(marker) }
        let users = [[], geteuid() == 0 ? Self.nobody : nil].compactMap { $0 }
        for prefix in users {
            let strict = try runCommand([deny, "namespaces", "1"] + prefix + [Paths.launcher, "run", "--isolate", "--", "/usr/bin/touch", marker],
                                        environment: base)
            XCTAssertEqual(strict.status, 2)
            XCTAssertTrue(strict.err.hasPrefix("orphanguard: --isolate: cannot create the job's namespaces: a seccomp filter denies new namespaces"), strict.err)
            XCTAssertEqual(strict.err.split(separator: "\n").count, 1, strict.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "started despite exit 2")

            var env = base
            env["ORPHANGUARD_ISOLATE"] = "auto"
            let auto = try runCommand([deny, "namespaces", "1"] + prefix + [Paths.launcher, "run", "--", "/bin/sh", "-c", "echo $$; exit 3"],
                                      environment: env)
            XCTAssertEqual(auto.status, 3)
            XCTAssertNotEqual(auto.out, "2\n", "ran isolated")
            XCTAssertTrue(auto.err.hasPrefix("orphanguard: --isolate=auto: cannot create the job's namespaces: a seccomp filter"), auto.err)
            XCTAssertTrue(auto.err.hasSuffix("; running without isolation\n"), auto.err)
            XCTAssertEqual(auto.err.split(separator: "\n").count, 1, auto.err)
        }
        var env = base
        env["ORPHANGUARD_ISOLATE"] = "maybe"
        let bad = try runLauncher(["run", "--", "true"], environment: env)
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.err, "orphanguard: ORPHANGUARD_ISOLATE: expected 1, 0 or auto, got 'maybe'\n")
        for spelling in [["--isolate"], ["--isolate=on"], ["--isolate", "on"], ["--grace", "1", "--isolate"]] {
            let result = try runLauncher(["run"] + spelling + ["--", "/bin/sh", "-c", "echo $$"])
            XCTAssertEqual(result.out, "2\n", "\(spelling): \(result.err)")
        }
        let off = try runLauncher(["run", "--isolate", "off", "--", "/bin/sh", "-c", "echo $$"], environment: env.merging(["ORPHANGUARD_ISOLATE": "1"]) { $1 })
        XCTAssertNotEqual(off.out, "2\n", "--isolate off wins over ORPHANGUARD_ISOLATE=1")
        let badOption = try runLauncher(["run", "--isolate=sometimes", "--", "true"])
        XCTAssertEqual(badOption.status, 2)
        XCTAssertTrue(badOption.err.contains("--isolate"), badOption.err)
    }
}
