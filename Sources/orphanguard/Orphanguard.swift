import ArgumentParser
import Glibc

/// `orphanguard`: run a command so that nothing it starts outlives its parent.
struct Orphanguard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orphanguard",
        abstract: "Make every process of a job end when its own parent dies.",
        version: "orphanguard " + version,
        subcommands: [Run.self, Env.self, Lib.self, Doctor.self, Ps.self, Log.self]
    )
}

/// Launcher errors exit 2 with one line on stderr; help and --version exit 0.
@main
enum Entry {
    static func main() {
        do {
            let arguments = IsolationMode.normalized(Array(CommandLine.arguments.dropFirst()))
            if let run = QuickRun.parse(arguments) {
                try run.run()
            }
            var command = try Orphanguard.parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = Orphanguard.exitCode(for: error)
            if code == .success {
                print(Orphanguard.fullMessage(for: error))
                exit(0)
            }
            fail(Orphanguard.message(for: error))
        }
    }
}

/// Prints `orphanguard: <reason>` on stderr and exits 2.
func fail(_ reason: String) -> Never {
    let line = "orphanguard: " + reason.split(separator: "\n").joined(separator: "; ") + "\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(2)
}

/// One line on stderr, prefixed like the library's.
func report(_ message: String) {
    let line = "orphanguard: " + message + "\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}
