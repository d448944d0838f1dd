import Glibc

/// Signal names as the library reads them: TERM, SIGTERM, term, 15, RTMIN+2.
enum Signals {
    static let names: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("IOT", SIGIOT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL),
        ("USR1", SIGUSR1), ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM),
        ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP),
        ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU),
        ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO),
        ("POLL", SIGPOLL), ("PWR", SIGPWR), ("SYS", SIGSYS),
    ]

    /// Signals that stop or continue a process: no use as the action on an orphan.
    static let jobControl: Set<Int32> = [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT]

    static var realtimeMin: Int32 { __libc_current_sigrtmin() }
    static var realtimeMax: Int32 { __libc_current_sigrtmax() }

    static func number(_ text: String) -> Int32? {
        if let value = Int32(text), text.allSatisfy(\.isNumber) {
            return (1...realtimeMax).contains(value) ? value : nil
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let entry = names.first(where: { $0.0 == name }) { return entry.1 }
        for (prefix, base, sign) in [("RTMIN", realtimeMin, Int32(1)), ("RTMAX", realtimeMax, Int32(-1))] where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if rest.isEmpty { return base }
            guard rest.first == (sign > 0 ? "+" : "-"), let offset = Int32(rest.dropFirst()), offset >= 0 else { return nil }
            let value = base + sign * offset
            return (realtimeMin...realtimeMax).contains(value) ? value : nil
        }
        return nil
    }

    static func name(_ number: Int32) -> String {
        if let entry = names.first(where: { $0.1 == number && $0.0 != "IOT" && $0.0 != "POLL" }) { return "SIG" + entry.0 }
        return "SIG\(number)"
    }
}
