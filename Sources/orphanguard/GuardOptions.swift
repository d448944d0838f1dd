import ArgumentParser

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

    /// Checked on the plain values, which `run`'s quick path checks alike.
    mutating func validate() throws {
        try values.validate()
    }

    var values: GuardValues {
        GuardValues(signal: signal, grace: grace, pollInterval: pollInterval, scope: scope, watch: watch,
                    exclude: exclude, log: log, quiet: quiet, verbose: verbose)
    }

    /// The ORPHANGUARD_* variables for the options given.
    var variables: [(name: String, value: String)] { values.variables }
}
