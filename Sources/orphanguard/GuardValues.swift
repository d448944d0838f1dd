import Glibc
import ArgumentParser
import OrphanguardCore

/// GuardOptions' values, as plain stored properties. Constructing GuardOptions builds one
/// ArgumentParser property wrapper per option, and each instantiates generic metadata whose
/// requirements the runtime checks by scanning every protocol conformance in the executable: about
/// a third of the launcher's start-up instructions, and pages touched. `run`'s quick path
/// (QuickRun.swift) fills these instead; ArgumentParser's path copies them out of GuardOptions.
struct GuardValues {
    var signal: SignalArg?
    var grace: Seconds?
    var pollInterval: Seconds?
    var scope: Scope?
    var watch: Watch?
    var exclude: String?
    var log: String?
    var quiet = false
    var verbose = false

    /// What the library would ignore with a warning (a signal that stops a process, a poll interval
    /// out of range, an exclusion list too long) is an error here.
    func validate() throws {
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
}
