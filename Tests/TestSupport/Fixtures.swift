import Foundation

/// Compiles the C fixtures in Tests/Fixtures once per test run, into a private folder.
public enum Fixtures {
    private static let lock = NSLock()
    private static var built: [String: String] = [:]
    private static let folder: String = {
        let dir = NSTemporaryDirectory() + "orphanguard-fixtures-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Path of the binary built from Tests/Fixtures/<name>.c (statically linked if `static`).
    public static func binary(_ name: String, static isStatic: Bool = false, flags: [String] = []) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let key = ([name] + (isStatic ? ["static"] : []) + flags.map { $0.filter(\.isLetter) }).joined(separator: "-")
        if let path = built[key] { return path }
        let cc = try requireTool("cc", at: ["/usr/bin/cc"], install: "apt-get install gcc libc6-dev")
        if isStatic { try requireStaticLibc(cc) }
        let output = folder + "/" + key
        var args = flags + ["-O1", "-g", "-pthread", "-o", output, Paths.fixtures + "/\(name).c"]
        if isStatic { args.insert("-static", at: 0) }
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: cc)
        compile.arguments = args
        try compile.run()
        compile.waitUntilExit()
        guard compile.terminationStatus == 0 else {
            throw NSError(domain: "Fixtures", code: Int(compile.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "cc failed for \(name).c"])
        }
        built[key] = output
        return output
    }

    /// `cc -static` needs libc.a, which only libc6-dev ships; cc prints the bare name when it has none.
    private static func requireStaticLibc(_ cc: String) throws {
        let result = try runCommand([cc, "-print-file-name=libc.a"], environment: ProcessInfo.processInfo.environment)
        guard result.status == 0, result.out.hasPrefix("/") else {
            throw Requirement.unmet("a static libc (libc.a) is not installed: apt-get install libc6-dev")
        }
    }

    /// Path of a Python fixture script.
    public static func script(_ name: String) -> String { Paths.fixtures + "/" + name }

    /// The python3 to run fixtures with; skips (strict: fails) the test where there is none.
    public static var python: String {
        get throws {
            guard let found = pythonPath else { throw Requirement.unmet("python3 is not installed: apt-get install python3") }
            return found
        }
    }

    private static let pythonPath: String? = {
        var candidates = ["/usr/local/bin/python3", "/usr/bin/python3"]
        if let root = ProcessInfo.processInfo.environment["PYENV_ROOT"] {
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: root + "/versions")) ?? []
            candidates += versions.sorted().reversed().map { root + "/versions/\($0)/bin/python3" }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}
