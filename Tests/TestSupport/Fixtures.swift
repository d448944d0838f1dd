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
        let output = folder + "/" + key
        var args = flags + ["-O1", "-g", "-pthread", "-o", output, Paths.fixtures + "/\(name).c"]
        if isStatic { args.insert("-static", at: 0) }
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        cc.arguments = args
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else {
            throw NSError(domain: "Fixtures", code: Int(cc.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "cc failed for \(name).c"])
        }
        built[key] = output
        return output
    }

    /// Path of a Python fixture script.
    public static func script(_ name: String) -> String { Paths.fixtures + "/" + name }

    /// The python3 to run fixtures with.
    public static let python: String = {
        for candidate in ["/usr/local/bin/python3", "/usr/bin/python3"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        if let root = ProcessInfo.processInfo.environment["PYENV_ROOT"] {
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: root + "/versions")) ?? []
            if let v = versions.sorted().last { return root + "/versions/\(v)/bin/python3" }
        }
        return "/usr/bin/python3"
    }()
}
