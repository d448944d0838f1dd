import Glibc
import OrphanguardCore

/// The launcher's side of CShim's core (OrphanguardCore): the rules the library applies in every
/// guarded process, called here instead of being written a second time in Swift.

/// Calls `body` with `strings` as a NULL-terminated C array, as an envp.
func withCStringArray<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// The strings of a NULL-terminated C array.
private func strings(_ array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> [String] {
    var result: [String] = []
    var cursor = array
    while let entry = cursor.pointee {
        result.append(String(cString: entry))
        cursor += 1
    }
    return result
}

/// The settings a process with this environment runs with, as the library decides them.
struct Settings {
    let config: og_config

    /// Parses `environment` as the library's constructor does; `warn` gets each value it ignores.
    init(environment: [String], warn: ((og_warning) -> Void)? = nil) {
        var config = og_config()
        withCStringArray(environment) { envp in
            guard var warn else { return og_config_parse(&config, envp, nil, nil) }
            withUnsafeMutablePointer(to: &warn) { context in
                og_config_parse(&config, envp, { context, warning in
                    guard let context else { return }
                    context.assumingMemoryBound(to: ((og_warning) -> Void).self).pointee(warning.pointee)
                }, context)
            }
        }
        self.config = config
    }

    var signal: Int32 { config.signal }
    var graceMilliseconds: Int { config.grace_ms }
    var quiet: Bool { config.quiet }
    var verbose: Bool { config.verbose }
    /// The settings in force, as job_start records them.
    var summary: String {
        let scope = config.scope == OG_SCOPE_GROUP ? "group" : "process"
        let watch = config.watch == OG_WATCH_POLL ? "poll" : config.watch == OG_WATCH_KERNEL ? "kernel" : "auto"
        let exclude = excludedNames.joined(separator: ",")
        return "signal=\(Signals.name(signal)) grace_ms=\(graceMilliseconds) poll_ms=\(config.poll_ms) scope=\(scope) watch=\(watch)"
            + (exclude.isEmpty ? "" : " exclude=\(exclude)")
    }

    var excludedNames: [String] {
        withUnsafeBytes(of: config.exclude) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            .split(separator: ",").map(String.init)
    }
}

/// `environment` with `library` first in LD_PRELOAD (any other copy of it taken out) and ASan's
/// link-order check off, marked in ORPHANGUARD_ADDED so that CMD gets its own value back.
func preloadedEnvironment(_ environment: [String], library: String) -> [String] {
    library.withCString { path in
        var inject = og_inject(library: path, vars: nil, nvars: 0, parent: nil)
        let withoutCopies = build(environment, size: { og_env_unguarded_size($0) }) {
            og_env_build_without_library($0, path, $1, $2)
        }
        return build(withoutCopies, size: { og_env_size($0, &inject) }) { og_env_build($0, &inject, $1, $2) }
    }
}

/// What one of the library's builders makes of `environment`, in a buffer of the size it asks for;
/// `environment` itself if it cannot.
private func build(_ environment: [String], size: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Int,
                   _ builder: (UnsafePointer<UnsafeMutablePointer<CChar>?>, UnsafeMutableRawPointer, Int)
                       -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    withCStringArray(environment) { envp in
        let bytes = size(envp)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: MemoryLayout<UnsafeRawPointer>.alignment)
        defer { buffer.deallocate() }
        guard let built = builder(envp, buffer, bytes) else { return environment }
        return strings(built)
    }
}

/// Did a process with this environment and name opt out of the guard?
func optedOut(environment: [String], name: String) -> Bool {
    withCStringArray(environment) { og_opted_out($0, name) }
}

/// The current process's environment.
func currentEnvironment() -> [String] {
    strings(environ)
}

enum Signals {
    /// "SIGTERM", "SIG34".
    static func name(_ number: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 24)
        return String(cString: og_signal_name(number, &buffer, buffer.count))
    }
}
