import ArgumentParser
import Glibc

/// `eval "$(orphanguard env)"`: guard everything a shell starts from now on, without the launcher.
struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print shell commands that preload the library (and the given settings) for the manual mode.",
        discussion: """
        Also exports ASAN_OPTIONS with verify_asan_link_order=0 (appended to the current value), without \
        which programs built with gcc's -fsanitize=address refuse to start behind a preloaded library.
        """
    )

    enum Shell: String, ExpressibleByArgument, CaseIterable {
        case sh, fish
    }

    @OptionGroup var options: GuardOptions

    @Option(name: .long, help: "Syntax of the commands: sh (POSIX sh, bash, zsh) or fish.")
    var shell: Shell = .sh

    func run() throws {
        let library = try Library.locate()
        let own = currentEnvironment()
        let guarded = preloadedEnvironment(own, library: library)
        // The loader reads the last LD_PRELOAD, ASan the first ASAN_OPTIONS.
        func value(_ name: String, in environment: [String]) -> String? {
            let entries = environment.filter { $0.hasPrefix(name + "=") }
            return (name == "LD_PRELOAD" ? entries.last : entries.first).map { String($0.dropFirst(name.count + 1)) }
        }
        var variables = [("LD_PRELOAD", value("LD_PRELOAD", in: guarded) ?? library)]
            + options.variables.map { ($0.name, $0.value) }
        // The shell's own children are exec'd by a shell without the library, so they get ASan's
        // switch from here, visibly: a marker telling them to drop it would also drop a value the
        // user sets later.
        if let asan = value("ASAN_OPTIONS", in: guarded), asan != value("ASAN_OPTIONS", in: own) {
            variables.append(("ASAN_OPTIONS", asan))
        }
        for (name, value) in variables {
            switch shell {
            case .sh: print("export \(name)=\(quoted(value))")
            case .fish: print("set -gx \(name) \(quoted(value))")
            }
        }
    }

    /// Single quotes, with embedded single quotes closed, escaped and reopened (valid in sh and fish).
    private func quoted(_ value: String) -> String {
        "'" + value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}

/// `orphanguard lib`: the library's path, e.g. for LD_PRELOAD by hand or a Dockerfile.
struct Lib: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lib", abstract: "Print the path of liborphanguard.so.")

    func run() throws {
        print(try Library.locate())
    }
}
