import ArgumentParser

/// `orphanguard run` parsed without ArgumentParser's start-up. Its reflection and protocol
/// conformance lookups cost about 9 of the 10 million instructions that the launcher spends on
/// `run -- /bin/true`, several times tini's whole start-up, and that cost is paid by every wrapped
/// command in a script or an `srun`. This parser accepts only long options in their plain forms
/// (`--grace 2`, `--grace=2`), then `--`, then CMD. It fills the `RunRequest` that `Run` makes
/// (plain values: constructing `Run` alone, its property wrappers, costs a third of the start-up) and
/// checks it with the same `validate()`s. Anything else goes to ArgumentParser, which explains it: help, `--version`,
/// short or unknown names, a repeated option, a missing or bad value.
enum QuickRun {
    /// GuardOptions' options that take a value, and whether that value may start with '-' (their
    /// `parsing: .unconditional`).
    static let valued: [String: Bool] = ["signal": true, "grace": true, "poll-interval": true,
                                         "scope": false, "watch": false, "exclude": false, "log": false,
                                         "isolate": false, "isolate-init": false]
    /// GuardOptions' flags, and Run's.
    static let flags: Set<String> = ["quiet", "verbose", "pgroup", "clean-shm"]

    /// The `RunRequest` that `arguments` (without the program name) asks for, or nil.
    static func parse(_ arguments: [String]) -> RunRequest? {
        guard arguments.first == "run", let end = arguments.firstIndex(of: "--"), end + 1 < arguments.count else {
            return nil
        }
        var values: [String: String] = [:]
        var given: Set<String> = []
        var index = 1
        while index < end {
            let argument = arguments[index]
            guard argument.hasPrefix("--") else { return nil }
            let body = argument.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            let inline = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
            if let dashAllowed = valued[name] {
                var value = inline
                if value == nil, index + 1 < end {
                    index += 1
                    value = arguments[index]
                }
                guard let value, dashAllowed || !value.hasPrefix("-"), values.updateValue(value, forKey: name) == nil else {
                    return nil
                }
            } else if flags.contains(name), inline == nil, given.insert(name).inserted {
            } else {
                return nil
            }
            index += 1
        }
        var run = RunRequest()
        var options = GuardValues()
        // A value the option's type refuses is left to ArgumentParser, which says why.
        guard let signal = typed(values["signal"], { SignalArg(argument: $0) }),
              let grace = typed(values["grace"], { Seconds(argument: $0) }),
              let pollInterval = typed(values["poll-interval"], { Seconds(argument: $0) }),
              let scope = typed(values["scope"], { Scope(argument: $0) }),
              let watch = typed(values["watch"], { Watch(argument: $0) }),
              let isolate = typed(values["isolate"], { IsolationMode(argument: $0) }),
              let isolateInit = typed(values["isolate-init"], { Int32($0) }) else { return nil }
        options.signal = signal
        options.grace = grace
        options.pollInterval = pollInterval
        options.scope = scope
        options.watch = watch
        options.exclude = values["exclude"]
        options.log = values["log"]
        options.quiet = given.contains("quiet")
        options.verbose = given.contains("verbose")
        run.options = options
        run.processGroup = given.contains("pgroup")
        run.cleanShm = given.contains("clean-shm")
        run.isolate = isolate
        run.isolateInit = isolateInit
        run.command = Array(arguments[(end + 1)...])
        do {
            try run.options.validate()
            try run.validate()
        } catch {
            return nil
        }
        return run
    }

    /// .some(nil) for an option not given, .some(value) for a valid one, nil for an invalid one.
    private static func typed<T>(_ text: String?, _ make: (String) -> T?) -> T?? {
        guard let text else { return .some(nil) }
        guard let value = make(text) else { return nil }
        return .some(value)
    }
}
