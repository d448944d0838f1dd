import ArgumentParser
import Glibc

/// `orphanguard run [options] -- CMD [ARGS...]`
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", // given, not derived from the type name at every start (a costly reflection)
        abstract: "Run CMD with every process it starts guarded, and supervise the whole tree.",
        discussion: """
        CMD runs with liborphanguard.so preloaded (prepended to LD_PRELOAD). The launcher is a child \
        subreaper: it ends processes re-parented to it, forwards signals to CMD, reaps zombies (also as a \
        container's PID 1), and when CMD exits ends whatever is left. With --isolate the job runs in its \
        own pid namespace, under an init that does the same inside, and the kernel ends it all if the \
        launcher is killed. Exit status: CMD's, 128+N if CMD died of signal N, 127 if CMD was not found, \
        126 if it could not be executed, 2 for launcher errors.
        """
    )

    @OptionGroup var options: GuardOptions

    @Flag(name: .customLong("pgroup"),
          help: "Start CMD in its own process group and forward every signal to that whole group.")
    var processGroup = false

    @Flag(name: .customLong("clean-shm"),
          help: "At job end, remove what the job's processes created in /dev/shm and left there (shm_open, sem_open).")
    var cleanShm = false

    @Option(name: .long, help: ArgumentHelp(
        "on (a bare --isolate): run the job in its own pid namespace, so nothing in it outlives the launcher, or exit 2 where none can be made; auto: the same, or a warning and no isolation. (default: $ORPHANGUARD_ISOLATE, else off)",
        valueName: "on|auto|off"))
    var isolate: IsolationMode?

    /// The namespace's init under --isolate (the launcher again), with its lifeline's descriptor.
    @Option(name: .customLong("isolate-init"), help: .hidden)
    var isolateInit: Int32?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else {
            throw ValidationError("no command given after '--': orphanguard run [options] -- CMD [ARGS...]")
        }
        if isolateInit != nil && getpid() != 1 {
            throw ValidationError("--isolate-init is used by --isolate itself, in the namespace it makes")
        }
        if IsolationMode.resolve(option: isolate) == nil {
            throw ValidationError("\(IsolationMode.variable): expected 1, 0 or auto, got '\(String(cString: getenv(IsolationMode.variable)))'")
        }
    }

    func run() throws {
        let library = try Library.locate()
        if isolateInit == nil, let mode = IsolationMode.resolve(option: isolate), mode != .off,
           let status = Isolation.launch(mode: mode, arguments: CommandLine.arguments) {
            Glibc.exit(status)
        }
        var environment = EventLog.prepare(childEnvironment(library: library))
        // Tracked for --clean-shm, and for the log's report.
        let registry = cleanShm || environment.contains(where: { $0.hasPrefix("ORPHANGUARD_LOG=") }) ? ShmRegistry() : nil
        if let registry { environment = environment.filter { !$0.hasPrefix("ORPHANGUARD_SHM_REGISTRY=") } + ["ORPHANGUARD_SHM_REGISTRY=" + registry.file] }
        // What CMD's library will use, inherited variables included: the launcher acts the same way.
        let settings = Settings(environment: environment)
        let supervisor = Supervisor(policy: .init(
            signal: settings.signal,
            graceMilliseconds: settings.graceMilliseconds,
            forwardToGroup: processGroup,
            quiet: settings.quiet,
            verbose: settings.verbose,
            excluded: settings.excludedNames,
            log: EventLog(environment: environment),
            mode: isolateInit == nil ? "run" : "isolate",
            settings: settings.summary,
            sharedMemory: registry,
            cleanShm: cleanShm
        ))
        if let isolateInit {
            Isolation.becomeInit(supervisor, lifeline: isolateInit, graceMilliseconds: settings.graceMilliseconds)
        }
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
