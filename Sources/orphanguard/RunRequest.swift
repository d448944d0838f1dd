import ArgumentParser
import Glibc

/// What `orphanguard run` was asked to do, in plain values, and doing it: `Run` (ArgumentParser's
/// path) and QuickRun (the quick path) both end here, so that the quick path never constructs
/// ArgumentParser's property wrappers (see GuardValues).
struct RunRequest {
    var options = GuardValues()
    var processGroup = false
    var isolate: IsolationMode?
    var isolateInit: Int32?
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

    func run() throws -> Never {
        let library = try Library.locate()
        if isolateInit == nil, let mode = IsolationMode.resolve(option: isolate), mode != .off,
           let status = Isolation.launch(mode: mode, arguments: CommandLine.arguments) {
            Glibc.exit(status)
        }
        // Our environment with the settings given as options, prepared by the library's own builder:
        // the library first in LD_PRELOAD and ASan's link-order check off (given back to CMD by the
        // library's constructor). C strings throughout: a start pays for no copies of it.
        let variables = options.variables
        let status = withCurrentEnvironment(dropping: ["ORPHANGUARD_LIBRARY="] + variables.map { $0.name + "=" },
                                            adding: variables.map { "\($0.name)=\($0.value)" }) { own in
            withPreloadedEnvironment(own, library: library) { environment in
                // What CMD's library will use, inherited variables included: the launcher acts the same way.
                let settings = Settings(envp: environment)
                let supervisor = Supervisor(policy: .init(
                    signal: settings.signal,
                    graceMilliseconds: settings.graceMilliseconds,
                    forwardToGroup: processGroup,
                    quiet: settings.quiet,
                    verbose: settings.verbose,
                    excluded: settings.excludedNames
                ))
                if let isolateInit {
                    Isolation.becomeInit(supervisor, lifeline: isolateInit, graceMilliseconds: settings.graceMilliseconds)
                }
                return Result { try supervisor.run(command, environment: environment) }
            }
        }
        Glibc.exit(try status.get())
    }
}
