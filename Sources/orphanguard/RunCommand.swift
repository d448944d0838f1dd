import ArgumentParser
import Glibc

/// `orphanguard run [options] -- CMD [ARGS...]`
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run CMD with every process it starts guarded, and supervise the whole tree.",
        discussion: """
        CMD runs with liborphanguard.so preloaded (prepended to LD_PRELOAD). The launcher is a child \
        subreaper: it ends processes re-parented to it, forwards signals to CMD, reaps zombies (also as a \
        container's PID 1), and when CMD exits ends whatever is left. Exit status: CMD's, 128+N if CMD died \
        of signal N, 127 if CMD was not found, 126 if it could not be executed, 2 for launcher errors.
        """
    )

    @OptionGroup var options: GuardOptions

    @Flag(name: .customLong("pgroup"),
          help: "Start CMD in its own process group and forward every signal to that whole group.")
    var processGroup = false

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else {
            throw ValidationError("no command given after '--': orphanguard run [options] -- CMD [ARGS...]")
        }
    }

    func run() throws {
        let library = try Library.locate()
        let environment = childEnvironment(library: library)
        // What CMD's library will use, inherited variables included: the launcher acts the same way.
        let settings = Settings(environment: environment)
        let supervisor = Supervisor(policy: .init(
            signal: settings.signal,
            graceMilliseconds: settings.graceMilliseconds,
            forwardToGroup: processGroup,
            quiet: settings.quiet,
            verbose: settings.verbose,
            excluded: settings.excludedNames
        ))
        let status = try supervisor.run(command, environment: environment)
        Glibc.exit(status)
    }

    /// Our environment with the settings given as options, prepared by the library's own builder: the
    /// library first in LD_PRELOAD and ASan's link-order check off (given back to CMD by the library's
    /// constructor).
    private func childEnvironment(library: String) -> [String] {
        let own = currentEnvironment().filter { !$0.hasPrefix("ORPHANGUARD_LIBRARY=") }
        return preloadedEnvironment(options.applied(to: own), library: library)
    }
}
