import ArgumentParser
import Glibc

/// What `orphanguard run` was asked to do, in plain values, and doing it: `Run` (ArgumentParser's
/// path) and QuickRun (the quick path) both end here, so that the quick path never constructs
/// ArgumentParser's property wrappers (see GuardValues).
struct RunRequest {
    var options = GuardValues()
    var processGroup = false
    var cleanShm = false
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
        var dropping = ["ORPHANGUARD_LIBRARY="] + variables.map { $0.name + "=" }
        var adding = variables.map { "\($0.name)=\($0.value)" }
        // The event log: a job id for it, or, when it cannot be written, one warning and no log.
        let logPath = variables.first { $0.name == "ORPHANGUARD_LOG" }?.value ?? getenv("ORPHANGUARD_LOG").map { String(cString: $0) }
        var logged = false
        if let logPath, !logPath.isEmpty {
            if let err = EventLog.check(logPath) {
                report("cannot write the event log \(logPath): \(EventLog.describe(err)); the job runs without it")
                dropping.append("ORPHANGUARD_LOG=")
                adding.removeAll { $0.hasPrefix("ORPHANGUARD_LOG=") }
            } else {
                logged = true
                if getenv("ORPHANGUARD_JOB") == nil { adding.append("ORPHANGUARD_JOB=" + EventLog.newJobId()) }
            }
        }
        // What the job's processes create in /dev/shm, tracked for --clean-shm and for the log's report.
        let registry = cleanShm || logged ? ShmRegistry() : nil
        if let registry {
            dropping.append("ORPHANGUARD_SHM_REGISTRY=")
            adding.append("ORPHANGUARD_SHM_REGISTRY=" + registry.file)
        }
        let status = withCurrentEnvironment(dropping: dropping, adding: adding) { own in
            withPreloadedEnvironment(own, library: library) { environment in
                // What CMD's library will use, inherited variables included: the launcher acts the same way.
                let settings = Settings(envp: environment)
                let supervisor = Supervisor(policy: .init(
                    signal: settings.signal,
                    graceMilliseconds: settings.graceMilliseconds,
                    forwardToGroup: processGroup,
                    quiet: settings.quiet,
                    verbose: settings.verbose,
                    excluded: settings.excludedNames,
                    log: logged ? EventLog(environment: environmentStrings(environment)) : nil,
                    mode: isolateInit == nil ? "run" : "isolate",
                    settings: settings.summary,
                    sharedMemory: registry,
                    cleanShm: cleanShm
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
