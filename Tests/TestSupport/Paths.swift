import Foundation

/// Where the built products and the fixture sources are.
public enum Paths {
    /// The products folder (`.build/debug`): the test bundle runs from it.
    public static let products: String = {
        let exe = Bundle.main.executablePath ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent == "MacOS" || dir.pathExtension == "xctest" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }()

    public static var launcher: String { products + "/orphanguard" }
    public static var library: String { products + "/orphanguard_LauncherSys.resources/liborphanguard.so" }

    /// The package root, from this file's location (Tests/TestSupport/Paths.swift).
    public static let packageRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    public static var fixtures: String { packageRoot + "/Tests/Fixtures" }
}
