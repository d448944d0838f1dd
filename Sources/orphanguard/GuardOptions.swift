import ArgumentParser
import Glibc
import OrphanguardCore

/// The library's settings, one option per ORPHANGUARD_* variable.
struct GuardOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional,
            help: "Signal sent to a process whose parent died: a name (TERM, SIGINT, kill) or a number. (default: TERM)")
    var signal: SignalArg?

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("Seconds between that signal and SIGKILL, up to 3 decimals. (default: 5)", valueName: "seconds"))
    var grace: Seconds?

    @Option(name: .customLong("poll-interval"), parsing: .unconditional,
            help: ArgumentHelp("Seconds between getppid() checks where pidfd is unavailable, 0.001 to 60. (default: 0.1)",
                               valueName: "seconds"))
    var pollInterval: Seconds?

    @Option(name: .long, help: "process: signal just the orphan; group: its whole process group. (default: process)")
    var scope: Scope?

    @Option(name: .long, help: "auto: pidfd, else polling; poll: always poll getppid(); kernel: no watcher thread, PR_SET_PDEATHSIG only. (default: auto)")
    var watch: Watch?

    @Option(name: .long, help: "Comma-separated program names (as in /proc/PID/comm) that may outlive their parent.")
    var exclude: String?

    @Option(name: .long, help: ArgumentHelp("Append a JSON Lines record of every action to FILE (ORPHANGUARD_LOG).", valueName: "file"))
    var log: String?

    @Flag(name: .long, help: "Print nothing, not even when a process is ended.")
    var quiet = false

    @Flag(name: .long, help: "Also print start-up and watch details.")
    var verbose = false

    /// What the library would ignore with a warning (a signal that stops a process, a poll interval
    /// out of range, an exclusion list too long) is an error here.
    mutating func validate() throws {
        if quiet && verbose {
            throw ValidationError("--quiet and --verbose exclude each other")
        }
        var problem: String?
        _ = Settings(environment: variables.map { "\($0.name)=\($0.value)" }) { warning in
            guard problem == nil else { return }
            problem = Self.message(for: warning)
        }
        if let problem { throw ValidationError(problem) }
    }

    /// The option's name and what is wrong with its value, from the library's warning.
    private static func message(for warning: og_warning) -> String {
        let value = String(cString: warning.value)
        let reason = String(cString: warning.problem)
        switch warning.var {
        case OG_VAR_SIGNAL: return "--signal: \(Signals.name(og_signal_parse(warning.value))) \(reason)"
        case OG_VAR_GRACE: return "--grace: '\(value)' is \(reason)"
        case OG_VAR_POLL_INTERVAL: return "--poll-interval: '\(value)' is \(reason)"
        case OG_VAR_EXCLUDE: return "--exclude: \(reason)"
        default: return "\(String(cString: og_config_name(warning.var))): '\(value)': \(reason)"
        }
    }

    /// The ORPHANGUARD_* variables for the options given.
    var variables: [(name: String, value: String)] {
        var result: [(String, String)] = []
        if let signal { result.append(("ORPHANGUARD_SIGNAL", signal.text)) }
        if let grace { result.append(("ORPHANGUARD_GRACE", grace.text)) }
        if let pollInterval { result.append(("ORPHANGUARD_POLL_INTERVAL", pollInterval.text)) }
        if let scope { result.append(("ORPHANGUARD_SCOPE", scope.rawValue)) }
        if let watch { result.append(("ORPHANGUARD_WATCH", watch.rawValue)) }
        if let exclude { result.append(("ORPHANGUARD_EXCLUDE", exclude)) }
        if let log { result.append(("ORPHANGUARD_LOG", Self.absolute(log))) }
        if quiet { result.append(("ORPHANGUARD_QUIET", "1")) }
        if verbose { result.append(("ORPHANGUARD_VERBOSE", "1")) }
        return result
    }

    /// Every process of the tree opens the log from its own working directory.
    private static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }

    /// `environment` with these options' variables in place of any it had.
    func applied(to environment: [String]) -> [String] {
        let names = variables.map { $0.name + "=" }
        return environment.filter { entry in !names.contains { entry.hasPrefix($0) } }
            + variables.map { "\($0.name)=\($0.value)" }
    }
}
