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
        let library: String
        do {
            library = try Library.locate()
        } catch {
            fail("\(error)")
        }
        let supervisor = Supervisor(policy: .init(
            signal: options.signalNumber,
            graceMilliseconds: options.graceMilliseconds,
            forwardToGroup: processGroup,
            quiet: options.quiet,
            verbose: options.verbose,
            excluded: options.excludedNames
        ))
        let status = try supervisor.run(command, environment: childEnvironment(library: library))
        Glibc.exit(status)
    }

    /// Our environment with the library prepended to LD_PRELOAD, the settings given as options, and
    /// ASan's link-order check off (given back to CMD by the library's constructor).
    private func childEnvironment(library: String) -> [String] {
        var entries: [String] = []
        var current: String?
        var asanIndex: Int?
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if text.hasPrefix("LD_PRELOAD=") {
                if current == nil { current = String(text.dropFirst("LD_PRELOAD=".count)) }
            } else if !options.variables.contains(where: { text.hasPrefix($0.name + "=") }),
                      !text.hasPrefix("ORPHANGUARD_LIBRARY="), !text.hasPrefix("ORPHANGUARD_ADDED="),
                      !text.hasPrefix("ORPHANGUARD_PARENT=") {
                if asanIndex == nil, text.hasPrefix(AsanLinkOrder.variable + "=") { asanIndex = entries.count }
                entries.append(text)
            }
            cursor += 1
        }
        entries.append("LD_PRELOAD=" + Library.preloadValue(library: library, current: current))
        entries += options.variables.map { "\($0.name)=\($0.value)" }
        let asanCurrent = asanIndex.map { String(entries[$0].dropFirst(AsanLinkOrder.variable.count + 1)) }
        if let asan = AsanLinkOrder.adjusted(current: asanCurrent) {
            let entry = AsanLinkOrder.variable + "=" + asan.value
            if let asanIndex { entries[asanIndex] = entry } else { entries.append(entry) }
            entries.append("ORPHANGUARD_ADDED=" + asan.added)
        }
        return entries
    }
}
