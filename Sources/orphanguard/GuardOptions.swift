import ArgumentParser
import Glibc

/// The library's settings, one option per ORPHANGUARD_* variable.
struct GuardOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional,
            help: "Signal sent to a process whose parent died: a name (TERM, SIGINT, kill) or a number. (default: TERM)")
    var signal: String?

    @Option(name: .long, parsing: .unconditional,
            help: "Seconds between that signal and SIGKILL, up to 3 decimals. (default: 5)")
    var grace: String?

    @Option(name: .customLong("poll-interval"), parsing: .unconditional,
            help: "Seconds between getppid() checks where pidfd is unavailable, 0.001 to 60. (default: 0.1)")
    var pollInterval: String?

    @Option(name: .long, help: "process: signal just the orphan; group: its whole process group. (default: process)")
    var scope: String?

    @Option(name: .long, help: "auto: pidfd, else polling; poll: always poll getppid(); kernel: no watcher thread, PR_SET_PDEATHSIG only. (default: auto)")
    var watch: String?

    @Option(name: .long, help: "Comma-separated program names (as in /proc/PID/comm) that may outlive their parent.")
    var exclude: String?

    @Flag(name: .long, help: "Print nothing, not even when a process is ended.")
    var quiet = false

    @Flag(name: .long, help: "Also print start-up and watch details.")
    var verbose = false

    mutating func validate() throws {
        if let signal {
            guard let number = Signals.number(signal) else {
                throw ValidationError("--signal: '\(signal)' is not a signal name or number")
            }
            if Signals.jobControl.contains(number) {
                throw ValidationError("--signal: \(Signals.name(number)) stops or continues a process instead of ending it")
            }
        }
        if let grace, Seconds.milliseconds(grace, in: 0...86_400_000) == nil {
            throw ValidationError("--grace: '\(grace)' is not a number of seconds from 0 to 86400")
        }
        if let pollInterval, Seconds.milliseconds(pollInterval, in: 1...60_000) == nil {
            throw ValidationError("--poll-interval: '\(pollInterval)' is not a number of seconds from 0.001 to 60")
        }
        if let scope, !["process", "group"].contains(scope) {
            throw ValidationError("--scope: expected 'process' or 'group', got '\(scope)'")
        }
        if let watch, !["auto", "poll", "kernel"].contains(watch) {
            throw ValidationError("--watch: expected 'auto', 'poll' or 'kernel', got '\(watch)'")
        }
        if let exclude, exclude.utf8.count > 255 {
            throw ValidationError("--exclude: longer than 255 characters")
        }
        if quiet && verbose {
            throw ValidationError("--quiet and --verbose exclude each other")
        }
    }

    /// The ORPHANGUARD_* variables for the options given.
    var variables: [(name: String, value: String)] {
        var result: [(String, String)] = []
        if let signal { result.append(("ORPHANGUARD_SIGNAL", signal)) }
        if let grace { result.append(("ORPHANGUARD_GRACE", grace)) }
        if let pollInterval { result.append(("ORPHANGUARD_POLL_INTERVAL", pollInterval)) }
        if let scope { result.append(("ORPHANGUARD_SCOPE", scope)) }
        if let watch { result.append(("ORPHANGUARD_WATCH", watch)) }
        if let exclude { result.append(("ORPHANGUARD_EXCLUDE", exclude)) }
        if quiet { result.append(("ORPHANGUARD_QUIET", "1")) }
        if verbose { result.append(("ORPHANGUARD_VERBOSE", "1")) }
        return result
    }

    var signalNumber: Int32 { signal.flatMap(Signals.number) ?? SIGTERM }
    var graceMilliseconds: Int { grace.flatMap { Seconds.milliseconds($0, in: 0...86_400_000) } ?? 5000 }
    var excludedNames: [String] { exclude?.split(separator: ",").map(String.init) ?? [] }
}

/// Seconds as the library reads them: digits, optionally a point and up to 3 decimals.
enum Seconds {
    static func milliseconds(_ text: String, in range: ClosedRange<Int>) -> Int? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.count <= 6,
              whole.allSatisfy(\.isASCII), let seconds = Int(whole) else { return nil }
        var fraction = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.count), digits.allSatisfy(\.isASCII), let value = Int(digits) else { return nil }
            fraction = value * [1, 100, 10, 1][digits.count]
        }
        let ms = seconds * 1000 + fraction
        return range.contains(ms) ? ms : nil
    }
}
