import Foundation
import TestSupport
import XCTest

/// The event log end to end (`run --log`, ORPHANGUARD_LOG): real trees killed by real signals, the
/// records read back with JSONSerialization; the summary line; bad log paths.
final class EventLogTests: XCTestCase {
    private let base = guardedEnvironment(preload: false)
    private static let fields = ["time", "host", "job", "slurm_job", "torchelastic_run", "event", "action", "writer", "pid",
                                 "start_time", "comm", "argv", "uid", "parent_pid", "parent_end", "parent_exit_code",
                                 "parent_signal", "signal", "grace_ms", "since_parent_ms", "exit_code", "exit_signal",
                                 "count", "duration_ms", "detail", "truncated", "slurm_step"]

    private func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "orphanguard-events-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Every line of the log as a JSON object with every documented field, in order.
    private func records(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { raw in
            let object = try JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])
            guard let record = object as? [String: Any] else {
                XCTFail("not an object: \(raw)", file: file, line: line)
                return [:]
            }
            XCTAssertEqual(Set(record.keys), Set(Self.fields), String(raw), file: file, line: line)
            let order = Self.fields.compactMap { raw.range(of: "\"\($0)\":")?.lowerBound }
            XCTAssertEqual(order, order.sorted(), "fields out of order: \(raw)", file: file, line: line)
            return record
        }
    }

    /// A torchrun-shaped job (an agent, 4 ranks in sessions of their own, 2 fork-only workers each)
    /// whose agent, CMD, is SIGKILLed: one record saying who sent each process its one signal (its
    /// library, or the launcher), every field filled as documented, job_start and job_end around them.
    func testTorchrunTreeWhoseAgentIsKilled() throws {
        let folder = try temporaryFolder()
        let logPath = folder + "/events.jsonl"
        let child = try Child([Paths.launcher, "run", "--log", logPath, "--grace", "3", "--",
                               Fixtures.python, Fixtures.script("torchrun_tree.py"), "agent"], environment: base)
        let ready = child.readyProcesses(count: 13)
        XCTAssertEqual(ready.count, 13)
        guard let agent = ready.first(where: { $0.role == "agent" })?.id else { return XCTFail("no agent") }
        let ranks = ready.filter { $0.role == "rank" }.map(\.id), workers = ready.filter { $0.role == "worker" }.map(\.id)
        addTeardownBlock { killLeftovers(ready.map(\.id)) }
        // Every watcher running before the kill, so each process has its library.
        XCTAssertTrue(sleepUntil(timeout: 10) { (ranks + workers).allSatisfy { ProcessTable.threadNames(of: $0.pid).contains("orphanguard") } })
        kill(agent.pid, SIGKILL)
        XCTAssertEqual(child.waitExit(timeout: 20), 137)
        let all = try records(logPath)
        let job = all.first?["job"] as? String
        XCTAssertNotNil(job)
        XCTAssertTrue(all.allSatisfy { $0["job"] as? String == job && $0["host"] as? String == ProcessInfo.processInfo.hostName })
        XCTAssertEqual(all.filter { $0["event"] as? String == "job_start" }.count, 1)
        let start = try XCTUnwrap(all.first)
        XCTAssertEqual(start["event"] as? String, "job_start")
        XCTAssertEqual(start["pid"] as? Int, Int(agent.pid))
        XCTAssertEqual((start["argv"] as? [String])?.last, "agent")
        let end = try XCTUnwrap(all.last)
        XCTAssertEqual(end["event"] as? String, "job_end")
        XCTAssertEqual(end["exit_signal"] as? String, "SIGKILL")
        XCTAssertEqual(end["count"] as? Int, all.filter { $0["event"] as? String == "leftover_ended" }.count)
        XCTAssertNotNil(end["duration_ms"] as? Int)

        for id in ranks + workers {
            let mine = all.filter { $0["pid"] as? Int == Int(id.pid) }
            // The one signal: from its library (parent_gone, "sent by the library") or from the launcher.
            let sent = mine.filter {
                ($0["writer"] as? String == "library" && $0["event"] as? String == "parent_gone" && $0["detail"] as? String == "sent by the library")
                    || ($0["writer"] as? String == "launcher" && $0["action"] as? String == "signal")
            }
            XCTAssertEqual(sent.count, 1, "\(id): \(mine)")
            XCTAssertFalse(mine.contains { $0["event"] as? String == "sigkill_after_grace" }, "\(id) ended on SIGTERM")
            for record in mine {
                XCTAssertEqual(record["start_time"] as? Int, Int(id.startTime), "\(record)")
                XCTAssertEqual(record["comm"] as? String, "python3", "\(record)")
                XCTAssertEqual(record["uid"] as? Int, Int(getuid()), "\(record)")
                XCTAssertEqual(record["signal"] as? String, "SIGTERM", "\(record)")
                XCTAssertEqual(record["grace_ms"] as? Int, 3000, "\(record)")
                // null when the launcher read /proc as the process was exiting
                if let argv = record["argv"] as? [String] { XCTAssertTrue(argv.contains("rank"), "\(record)") }
                guard record["writer"] as? String == "library" else { continue }
                let since = try XCTUnwrap(record["since_parent_ms"] as? Int, "\(record)")
                XCTAssertTrue((0..<3000).contains(since), "\(record)")
                if ranks.contains(id) {
                    XCTAssertEqual(record["parent_pid"] as? Int, Int(agent.pid), "\(record)")
                    XCTAssertEqual(record["parent_end"] as? String, "signal", "\(record)")
                    XCTAssertEqual(record["parent_signal"] as? String, "SIGKILL", "\(record)")
                } else {
                    XCTAssertTrue(ranks.map { Int($0.pid) }.contains(record["parent_pid"] as? Int ?? 0), "\(record)")
                }
            }
        }
        XCTAssertNotNil(waitAllGone(ranks + workers, timeout: 5), "left alive")
    }

    /// 200 processes orphaned at the same moment, each writing its record: 200 whole JSON lines.
    func testTwoHundredOrphansAtOnceWriteWholeLines() throws {
        let folder = try temporaryFolder()
        let logPath = folder + "/events.jsonl"
        let script = """
            import subprocess, sys, time
            children = [subprocess.Popen(["sleep", "60"]) for _ in range(200)]
            for c in children: print("ready child", c.pid, flush=True)
            print("ready parent", __import__("os").getpid(), flush=True)
            time.sleep(60)
            """
        // The orphans go to a subreaper of the test's own that only reaps: under an outer launcher
        // (CI runs the suite under `orphanguard run`) they would go to it, and it may claim some
        // first; it keeps no log of this test's job.
        let reaper = """
            import ctypes, os, subprocess, sys
            ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
            subprocess.Popen([sys.executable, "-c", sys.argv[1]])
            while True:
                try:
                    os.wait()
                except ChildProcessError:
                    break
            """
        let child = try Child([try Fixtures.python, "-c", reaper, script],
                              environment: guardedEnvironment(["ORPHANGUARD_LOG": logPath, "ORPHANGUARD_JOB": "burst",
                                                               "ORPHANGUARD_QUIET": "1"]))
        addTeardownBlock { child.signal(SIGKILL) }
        let ready = child.readyProcesses(count: 201, timeout: 30)
        let children = ready.filter { $0.role == "child" }.map(\.id)
        addTeardownBlock { killLeftovers(children) }
        XCTAssertEqual(children.count, 200)
        let parent = try XCTUnwrap(ready.first { $0.role == "parent" })
        XCTAssertTrue(sleepUntil(timeout: 20) { children.allSatisfy { ProcessTable.threadNames(of: $0.pid).contains("orphanguard") } })
        kill(parent.id.pid, SIGKILL)
        XCTAssertNotNil(waitAllGone(children, timeout: 20), "left alive")
        let all = try records(logPath)
        XCTAssertEqual(all.count, 200)
        XCTAssertEqual(Set(all.compactMap { $0["pid"] as? Int }), Set(children.map { Int($0.pid) }))
        XCTAssertTrue(all.allSatisfy { $0["event"] as? String == "parent_gone" && $0["job"] as? String == "burst"
                                       && $0["parent_signal"] as? String == "SIGKILL" && ($0["argv"] as? [String]) == ["sleep", "60"] })
    }

    /// A log that cannot be written: one warning, and the job runs as without a log (CMD does not
    /// get ORPHANGUARD_LOG, so no process tries it again).
    func testBadLogPathWarnsOnceAndTheJobRuns() throws {
        let folder = try temporaryFolder()
        let fifo = folder + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        var cases: [(path: String, reason: String, user: [String])] = [
            (folder + "/missing/events.jsonl", "its folder does not exist", []),
            (folder, "it is a directory", []),
            (fifo, "it is not a regular file (a FIFO or a device)", []),
        ]
        // Unwritable: a folder only root may write to, for a user who is not root.
        let locked = folder + "/locked"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        chmod(folder, 0o755)
        if getuid() == 0 {
            chmod(locked, 0o755)
            cases.append((locked + "/events.jsonl", "Permission denied", ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]))
        } else {
            chmod(locked, 0o555)
            cases.append((locked + "/events.jsonl", "Permission denied", []))
        }
        for entry in cases {
            let result = try runCommand(entry.user + [Paths.launcher, "run", "--log", entry.path, "--",
                                                      "/bin/sh", "-c", "echo ran ${ORPHANGUARD_LOG-without-log}; exit 3"],
                                        environment: base)
            XCTAssertEqual(result.status, 3, entry.path)
            XCTAssertEqual(result.out, "ran without-log\n", entry.path)
            XCTAssertEqual(result.err, "orphanguard: cannot write the event log \(entry.path): \(entry.reason); the job runs without it\n")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: locked + "/events.jsonl"))
    }

    /// A relative --log is made absolute (every process opens it from its own working directory),
    /// and CMD gets the job id.
    func testRelativeLogAndJobId() throws {
        let folder = try temporaryFolder()
        let result = try runCommand(["/bin/sh", "-c", "cd '\(folder)' && exec '\(Paths.launcher)' run --log rel.jsonl -- /bin/sh -c 'echo $ORPHANGUARD_LOG $ORPHANGUARD_JOB'"],
                                    environment: base)
        XCTAssertEqual(result.status, 0, result.err)
        let words = result.out.split(separator: " ").map(String.init)
        XCTAssertEqual(words.first, folder + "/rel.jsonl")
        let job = words.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        XCTAssertEqual(job.count, 16)
        let all = try records(folder + "/rel.jsonl")
        XCTAssertEqual(all.map { $0["event"] as? String }, ["job_start", "job_end"])
        XCTAssertTrue(all.allSatisfy { $0["job"] as? String == job })
        XCTAssertEqual(all.last?["exit_code"] as? Int, 0)
        XCTAssertEqual(all.last?["count"] as? Int, 0)
        XCTAssertEqual(result.err, "", "a clean job stays silent")
    }

    /// The summary line when CMD leaves processes behind; none when nothing was left, none with --quiet.
    func testSummaryLine() throws {
        let folder = try temporaryFolder()
        let logPath = folder + "/events.jsonl"
        let left = try runCommand([Paths.launcher, "run", "--log", logPath, "--grace", "0.5", "--", "/bin/sh", "-c",
                                   "sleep 30 & sleep 30 & (trap '' TERM; exec sleep 31) & sleep 0.2; exit 4"],
                                  environment: base)
        XCTAssertEqual(left.status, 4)
        let line = try XCTUnwrap(left.err.split(separator: "\n").last.map(String.init), left.err)
        let pattern = #"^orphanguard: sh exited with 4; ended 3 leftover processes \(2 on SIGTERM, 1 needed SIGKILL\) in [0-9]+ ms$"#
        XCTAssertNotNil(line.range(of: pattern, options: .regularExpression), left.err)
        let all = try records(logPath)
        XCTAssertEqual(all.filter { $0["event"] as? String == "leftover_ended" }.count, 3)
        XCTAssertEqual(all.filter { $0["event"] as? String == "sigkill_after_grace" }.compactMap { ($0["argv"] as? [String])?.last }, ["31"])
        XCTAssertEqual(all.last?["count"] as? Int, 3)
        XCTAssertEqual(all.last?["exit_code"] as? Int, 4)

        // The launcher told to stop: it passes SIGTERM on to CMD, and the line follows CMD's end.
        let stopped = try Child([Paths.launcher, "run", "--grace", "0.3", "--", "/bin/sh", "-c",
                                 "(trap '' TERM; exec sleep 31) & echo \"ready sleeper $!\"; wait"], environment: base)
        let sleeper = try XCTUnwrap(stopped.readyPids(count: 1).first)
        addTeardownBlock { killLeftovers([sleeper]) }
        // Every watcher running first, so the one SIGTERM reaches sh and not a launcher still starting.
        XCTAssertTrue(sleepUntil(timeout: 10) { ProcessTable.threadNames(of: sleeper.pid).contains("orphanguard") })
        stopped.signal(SIGTERM)
        XCTAssertEqual(stopped.waitExit(timeout: 10), 143)
        let stopLine = stopped.stderrText().split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertNotNil(stopLine.range(of: #"^orphanguard: sh exited with 143 \(SIGTERM\); ended 1 leftover process \(0 on SIGTERM, 1 needed SIGKILL\) in [0-9]+ ms$"#,
                                       options: .regularExpression), stopLine)

        let quiet = try runCommand([Paths.launcher, "run", "--quiet", "--", "/bin/sh", "-c", "sleep 30 & exit 0"], environment: base)
        XCTAssertEqual(quiet.err, "")
        let clean = try runCommand([Paths.launcher, "run", "--", "/bin/sh", "-c", "exit 0"], environment: base)
        XCTAssertEqual(clean.err, "")
    }

    /// A leftover SIGKILL cannot end: a task frozen by the cgroup v1 freezer sleeps uninterruptibly
    /// (state D) with SIGKILL pending until it is thawed. The launcher reports it 2 s after its
    /// SIGKILL (stderr and a still_alive record) and ends normally once it is gone.
    func testUnkillableLeftoverIsReported() throws {
        try requireRoot()
        let freezer = "/sys/fs/cgroup/freezer"
        guard FileManager.default.fileExists(atPath: freezer + "/freezer.state") || FileManager.default.fileExists(atPath: freezer + "/tasks") else {
            throw XCTSkip("no cgroup v1 freezer at \(freezer) (cgroup v2 lets SIGKILL end a frozen task): nothing here makes a process SIGKILL cannot end")
        }
        let folder = try temporaryFolder()
        let logPath = folder + "/events.jsonl", go = folder + "/go"
        let group = freezer + "/orphanguard-test-\(getpid())"
        XCTAssertEqual(mkdir(group, 0o755), 0)
        func write(_ text: String, _ file: String) { try? text.write(toFile: group + "/" + file, atomically: false, encoding: .utf8) }
        addTeardownBlock {
            write("THAWED", "freezer.state")
            _ = sleepUntil(timeout: 5) { rmdir(group) == 0 }
        }
        let child = try Child([Paths.launcher, "run", "--log", logPath, "--grace", "0.2", "--", "/bin/sh", "-c",
                               "sleep 300 & echo \"ready sleep $!\"; while [ ! -e '\(go)' ]; do sleep 0.02; done"],
                              environment: base)
        let sleeper = try XCTUnwrap(child.readyPids(count: 1).first)
        addTeardownBlock { killLeftovers([sleeper]) }
        write("\(sleeper.pid)", "cgroup.procs")
        write("FROZEN", "freezer.state")
        XCTAssertTrue(sleepUntil(timeout: 5) { (try? String(contentsOfFile: group + "/freezer.state", encoding: .utf8))?.hasPrefix("FROZEN") == true })
        FileManager.default.createFile(atPath: go, contents: nil)
        var stillAlive: [String: Any]?
        XCTAssertTrue(sleepUntil(timeout: 10, interval: 0.02) {
            stillAlive = (try? self.records(logPath))?.first { $0["event"] as? String == "still_alive" }
            return stillAlive != nil
        })
        write("THAWED", "freezer.state")
        XCTAssertEqual(child.waitExit(timeout: 10), 0)
        let record = try XCTUnwrap(stillAlive)
        XCTAssertEqual(record["pid"] as? Int, Int(sleeper.pid))
        XCTAssertEqual(record["start_time"] as? Int, Int(sleeper.startTime))
        XCTAssertEqual(record["comm"] as? String, "sleep")
        let detail = record["detail"] as? String ?? ""
        XCTAssertTrue(detail.hasPrefix("state D (uninterruptible sleep); wchan "), detail)
        XCTAssertTrue(detail.hasSuffix("; holds no GPU or RDMA device"), detail)
        let err = child.stderrText()
        XCTAssertNotNil(err.range(of: "orphanguard: \(sleeper.pid) \\(sleep\\) is still present [0-9]+ ms after SIGKILL: state D", options: .regularExpression), err)
        XCTAssertNotNil(err.range(of: #"orphanguard: sh exited with 0; ended 1 leftover process \(0 on SIGTERM, 1 needed SIGKILL\) in [0-9]+ ms\n$"#, options: .regularExpression), err)
    }

    /// Real multiprocessing shared memory in a SIGKILLed tree (--signal KILL, so multiprocessing's
    /// resource tracker dies too and cannot clean up): the launcher names what the job left in
    /// /dev/shm, and --clean-shm removes it. A segment that existed before the job, which the job
    /// only opened (O_CREAT without O_EXCL), is never named or removed.
    func testSharedMemoryLeftByAKilledTree() throws {
        let folder = try temporaryFolder()
        let tag = "\(getpid())\(UUID().uuidString.prefix(6))"
        let foreign = "og_test_\(tag)_foreign"
        let foreignPath = "/dev/shm/" + foreign
        XCTAssertTrue(FileManager.default.createFile(atPath: foreignPath, contents: Data(count: 4096)))
        addTeardownBlock {
            unlink(foreignPath)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [] where name.hasPrefix("og_test_\(tag)") {
                unlink("/dev/shm/" + name)
            }
        }
        // Its status change time well before the job's start.
        let created = Date()
        _ = sleepUntil(timeout: 1) { Date().timeIntervalSince(created) > 0.1 }
        for clean in [false, true] {
            let logPath = folder + "/events-\(clean).jsonl"
            let child = try Child([Paths.launcher, "run", "--signal", "KILL", "--log", logPath] + (clean ? ["--clean-shm"] : []) + ["--",
                                   Fixtures.python, Fixtures.script("shm_tree.py"), tag + (clean ? "c" : "k"), "reuse", foreign],
                                  environment: base)
            let ready = child.readyProcesses(count: 3)
            XCTAssertEqual(ready.count, 3)
            addTeardownBlock { killLeftovers(ready.map(\.id)) }
            guard let agent = ready.first(where: { $0.role == "agent" })?.id else { return XCTFail("no agent") }
            let segments = ready.filter { $0.role == "worker" }.map { "/dev/shm/og_test_\(tag)\(clean ? "c" : "k")_\($0.id.pid)" }
            XCTAssertTrue(segments.allSatisfy { FileManager.default.fileExists(atPath: $0) })
            kill(agent.pid, SIGKILL)
            XCTAssertEqual(child.waitExit(timeout: 20), 137)
            let err = child.stderrText()
            let names = segments.sorted().joined(separator: ", ")
            let line = clean ? "orphanguard: removed 2 shared memory entries the job left (2.0 MiB): "
                             : "orphanguard: the job left 2 shared memory entries (2.0 MiB), taken until removed or reboot: "
            let reported = err.split(separator: "\n").first { $0.hasPrefix(line) }.map { String($0.dropFirst(line.count)) }
            XCTAssertEqual(reported.map { $0.replacingOccurrences(of: "; --clean-shm removes them", with: "").components(separatedBy: ", ").sorted().joined(separator: ", ") }, names, err)
            XCTAssertEqual(segments.filter { FileManager.default.fileExists(atPath: $0) }.count, clean ? 0 : 2)
            XCTAssertTrue(FileManager.default.fileExists(atPath: foreignPath), "another job's segment stays")
            XCTAssertFalse(err.contains(foreign), err)
            let record = try records(logPath).first { $0["event"] as? String == (clean ? "shm_removed" : "shm_left") }
            XCTAssertEqual(record?["count"] as? Int, 2)
        }
    }
}
