import Foundation

/// A process started by a test, with its stdout read line by line under deadlines
/// (fixtures announce themselves with ready lines) and its stderr collected.
public final class Child {
    public let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private var buffer = Data()

    public var pid: Int32 { process.processIdentifier }

    public init(_ argv: [String], environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = environment
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// The next stdout line, or nil if none arrives within `timeout` seconds.
    public func readLine(timeout: Double) -> String? {
        let fd = stdoutPipe.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(left * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let got = read(fd, &chunk, chunk.count)
            if got <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<got])
        }
    }

    /// Reads lines until `count` lines starting with `prefix` arrived; returns them (fewer on timeout).
    public func readLines(prefix: String, count: Int, timeout: Double) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        var lines: [String] = []
        while lines.count < count, let line = readLine(timeout: deadline.timeIntervalSinceNow) {
            if line.hasPrefix(prefix) { lines.append(line) }
        }
        return lines
    }

    /// The processes announced by `ready <role> <pid>` lines, each identified (with its start time) as
    /// soon as its line arrives. A process that is already gone by then is left out.
    public func readyPids(count: Int, timeout: Double = 15) -> [ProcessID] {
        readyProcesses(count: count, timeout: timeout).map(\.id)
    }

    /// The same, with each line's role.
    public func readyProcesses(count: Int, timeout: Double = 15) -> [(role: String, id: ProcessID)] {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = 0
        var result: [(role: String, id: ProcessID)] = []
        while seen < count, let line = readLine(timeout: deadline.timeIntervalSinceNow) {
            let fields = line.split(separator: " ")
            guard fields.first == "ready" else { continue }
            seen += 1
            if fields.count >= 3, let pid = Int32(fields[fields.count - 1]), let id = ProcessID(pid: pid) {
                result.append((String(fields[1]), id))
            }
        }
        return result
    }

    /// Waits for the process to exit; its exit status (or 128+signal), nil on timeout.
    public func waitExit(timeout: Double) -> Int32? {
        guard sleepUntil(timeout: timeout, { !process.isRunning }) else { return nil }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus
                                                             : process.terminationStatus
    }

    /// Everything written to stderr so far (non-blocking).
    public func stderrText() -> String {
        let fd = stderrPipe.fileHandleForReading.fileDescriptor
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 0) > 0 else { break }
            let got = read(fd, &chunk, chunk.count)
            if got <= 0 { break }
            data.append(contentsOf: chunk[0..<got])
        }
        return String(decoding: data, as: UTF8.self)
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// The environment of a guarded process: a minimal base plus LD_PRELOAD and `extra`.
public func guardedEnvironment(_ extra: [String: String] = [:], preload: Bool = true) -> [String: String] {
    var env: [String: String] = [
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": NSTemporaryDirectory(),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    ]
    if let python = ProcessInfo.processInfo.environment["PYENV_ROOT"] {
        env["PATH"] = python + "/shims:" + env["PATH"]!
    }
    if preload { env["LD_PRELOAD"] = Paths.library }
    env.merge(extra) { _, new in new }
    return env
}
