import ArgumentParser

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

    /// The same values, plain.
    var request: RunRequest {
        RunRequest(options: options.values, processGroup: processGroup, cleanShm: cleanShm, isolate: isolate,
                   isolateInit: isolateInit, command: command)
    }

    func validate() throws {
        try request.validate()
    }

    func run() throws {
        try request.run()
    }
}
