import ArgumentParser
import OrphanguardCore

/// The values of the launcher's options, each refused by swift-argument-parser (exit 2) when the
/// library's own parser (CShim/config.c) would refuse it.

/// A signal name (TERM, SIGTERM, term, RTMIN+2) or number, as the library reads it.
struct SignalArg: ExpressibleByArgument {
    let text: String
    let number: Int32

    init?(argument: String) {
        let number = og_signal_parse(argument)
        guard number > 0 else { return nil }
        self.text = argument
        self.number = number
    }
}

/// Seconds as the library reads them: digits, optionally a point and up to 3 decimals, at most a day.
struct Seconds: ExpressibleByArgument {
    let text: String
    let milliseconds: Int

    init?(argument: String) {
        var milliseconds = 0
        guard og_seconds_parse(argument, 0, 86_400_000, &milliseconds) else { return nil }
        self.text = argument
        self.milliseconds = milliseconds
    }
}

enum Scope: String, ExpressibleByArgument, CaseIterable {
    case process, group
}

enum Watch: String, ExpressibleByArgument, CaseIterable {
    case auto, poll, kernel
}
