import Glibc
import OrphanguardCore

/// The launcher's side of CShim's core (OrphanguardCore): the rules the library applies in every
/// guarded process, called here instead of being written a second time in Swift.

/// A NULL-terminated C array of strings (an argv, an envp) in memory of its own. A Swift array of
/// optional pointers would do, but the runtime builds its generic metadata at its first use: about
/// 40,000 instructions, a tenth of what `run` spends.
typealias CStringPointers = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

/// `body` gets room for `count` pointers and the NULL after them, all NULL at first.
func withPointerArray<T>(count: Int, _ body: (CStringPointers) throws -> T) rethrows -> T {
    let array = CStringPointers.allocate(capacity: count + 1)
    array.initialize(repeating: nil, count: count + 1)
    defer { array.deallocate() }
    return try body(array)
}

/// The number of entries before the NULL of a C array.
func entryCount(_ array: UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Int {
    var count = 0
    while array[count] != nil { count += 1 }
    return count
}

/// Calls `body` with `strings` as a NULL-terminated C array, as an envp.
func withCStringArray<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    withPointerArray(count: strings.count) { array in
        for index in strings.indices { array[index] = strdup(strings[index]) }
        defer { for index in strings.indices { free(array[index]) } }
        return body(UnsafePointer(array))
    }
}

/// The strings of a NULL-terminated C array.
func environmentStrings(_ array: UnsafePointer<UnsafeMutablePointer<CChar>?>) -> [String] {
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
        self = withCStringArray(environment) { Settings(envp: $0, warn: warn) }
    }

    init(envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, warn: ((og_warning) -> Void)? = nil) {
        var config = og_config()
        if var warn {
            withUnsafeMutablePointer(to: &warn) { context in
                og_config_parse(&config, envp, { context, warning in
                    guard let context else { return }
                    context.assumingMemoryBound(to: ((og_warning) -> Void).self).pointee(warning.pointee)
                }, context)
            }
        } else {
            og_config_parse(&config, envp, nil, nil)
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
    withCStringArray(environment) { envp in withPreloadedEnvironment(envp, library: library) { environmentStrings($0) } }
}

/// The same for a C environment: `body` gets it as a NULL-terminated C array, valid during the call.
func withPreloadedEnvironment<T>(_ envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, library: String,
                                 _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    library.withCString { path in
        var inject = og_inject(library: path, vars: nil, nvars: 0, parent: nil)
        return withBuilt(envp, size: og_env_unguarded_size(envp), { og_env_build_without_library(envp, path, $0, $1) }) {
            withoutCopies in
            withBuilt(withoutCopies, size: og_env_size(withoutCopies, &inject), { og_env_build(withoutCopies, &inject, $0, $1) },
                      body)
        }
    }
}

/// `body` gets what one of the library's builders makes of `envp`, in a buffer of the size it asks
/// for; `envp` itself if it cannot.
private func withBuilt<T>(_ envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, size: Int,
                          _ builder: (UnsafeMutableRawPointer, Int) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                          _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<UnsafeRawPointer>.alignment)
    defer { buffer.deallocate() }
    guard let built = builder(buffer, size) else { return body(envp) }
    return body(UnsafePointer(built))
}

/// Did a process with this environment and name opt out of the guard?
func optedOut(environment: [String], name: String) -> Bool {
    withCStringArray(environment) { og_opted_out($0, name) }
}

/// The current process's environment.
func currentEnvironment() -> [String] {
    environmentStrings(environ)
}

/// `body` gets the current environment as a NULL-terminated C array: environ's own entries (not
/// copied) but those that start with one of `dropping`, then copies of `adding`.
func withCurrentEnvironment<T>(dropping prefixes: [String], adding: [String],
                               _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    let own = entryCount(environ)
    return withPointerArray(count: own + adding.count) { array in
        var count = 0
        for index in 0..<own {
            guard let entry = environ[index], !prefixes.contains(where: { strncmp(entry, $0, $0.utf8.count) == 0 }) else {
                continue
            }
            array[count] = entry
            count += 1
        }
        let firstAdded = count
        for variable in adding {
            array[count] = strdup(variable)
            count += 1
        }
        defer { for index in firstAdded..<count { free(array[index]) } }
        return body(UnsafePointer(array))
    }
}

enum Signals {
    /// "SIGTERM", "SIG34".
    static func name(_ number: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 24)
        return String(cString: og_signal_name(number, &buffer, buffer.count))
    }
}
