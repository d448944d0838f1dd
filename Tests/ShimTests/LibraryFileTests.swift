import Foundation
import TestSupport
import XCTest

/// The library is loaded into every guarded process: it must NEED libc alone and export only the
/// interposed libc functions. Its constructor is its own: the launcher links the same core files
/// (OrphanguardCore) without it.
final class LibraryFileTests: XCTestCase {
    func testNeedsOnlyLibc() throws {
        let result = try runCommand(["/usr/bin/readelf", "-d", Paths.library], environment: guardedEnvironment(preload: false))
        XCTAssertEqual(result.status, 0, result.err)
        let needed = result.out.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        XCTAssertEqual(needed.count, 1, result.out)
        XCTAssertTrue(needed.first?.contains("[libc.so.6]") ?? false, result.out)
        XCTAssertFalse(result.out.contains("RUNPATH") || result.out.contains("RPATH"), result.out)
    }

    func testExportsOnlyInterposedFunctions() throws {
        let result = try runCommand(["/usr/bin/nm", "-D", "--defined-only", Paths.library], environment: guardedEnvironment(preload: false))
        XCTAssertEqual(result.status, 0, result.err)
        let exported = Set(result.out.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        let expected: Set = ["execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve",
                             "execveat", "posix_spawn", "posix_spawnp", "system", "popen", "pclose",
                             "unshare", "setns", "setuid", "setgid", "seteuid", "setegid", "setreuid",
                             "setregid", "setresuid", "setresgid", "setgroups", "shm_open", "sem_open"]
        XCTAssertEqual(exported, expected)
    }

    func testOnlyThePreloadLibraryHasTheConstructor() throws {
        let env = guardedEnvironment(preload: false)
        let library = try runCommand(["/usr/bin/nm", Paths.library], environment: env)
        XCTAssertEqual(library.status, 0, library.err)
        XCTAssertTrue(library.out.contains(" orphanguard_init\n"), "the library's constructor is missing")
        let launcher = try runCommand(["/usr/bin/nm", Paths.launcher], environment: env)
        XCTAssertEqual(launcher.status, 0, launcher.err)
        XCTAssertTrue(launcher.out.contains(" og_config_parse\n"), "the launcher does not link the core")
        XCTAssertFalse(launcher.out.contains("orphanguard_init"), "the launcher carries the library's constructor")
    }
}
