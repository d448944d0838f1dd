import Foundation
import PackagePlugin

/// Builds CShim/ into liborphanguard.so with the C compiler alone, so the library
/// NEEDs libc.so.6 and nothing else (no libswiftCore, no Swift RUNPATH or start-up
/// object). The output is not a source file, so SwiftPM copies it into the
/// resource bundle of the target this plugin is attached to.
@main
struct BuildPreloadLibrary: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let shim = context.package.directoryURL.appending(path: "CShim")
        let entries = try FileManager.default.contentsOfDirectory(atPath: shim.path).sorted()
        let sources = entries.filter { $0.hasSuffix(".c") }.map { shim.appending(path: $0) }
        let include = shim.appending(path: "include")
        let publicHeaders = try FileManager.default.contentsOfDirectory(atPath: include.path).sorted()
            .filter { $0.hasSuffix(".h") }.map { include.appending(path: $0) }
        let headers = entries.filter { $0.hasSuffix(".h") || $0.hasSuffix(".map") }.map { shim.appending(path: $0) }
            + publicHeaders
        let output = context.pluginWorkDirectoryURL.appending(path: "liborphanguard.so")
        let compiler = try cCompiler(context)
        let flags = [
            "-shared", "-fPIC", "-O2", "-g", "-std=gnu11",
            "-Wall", "-Wextra", "-Werror=implicit-function-declaration",
            "-fvisibility=hidden", "-fno-strict-aliasing",
            "-Wl,--version-script=" + shim.appending(path: "exports.map").path,
            "-Wl,--as-needed",
            "-pthread", "-o", output.path,
        ]
        return [
            .buildCommand(
                displayName: "Building liborphanguard.so with \(compiler.lastPathComponent)",
                executable: compiler,
                arguments: flags + sources.map(\.path),
                inputFiles: sources + headers,
                outputFiles: [output]
            ),
        ]
    }

    /// The system C compiler (gcc on Debian) if present, else the toolchain's clang.
    private func cCompiler(_ context: PluginContext) throws -> URL {
        for candidate in ["/usr/bin/cc", "/usr/bin/gcc"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return URL(fileURLWithPath: candidate)
        }
        return try context.tool(named: "clang").url
    }
}
