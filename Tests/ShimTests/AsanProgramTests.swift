import Foundation
import TestSupport
import XCTest

/// Programs built with gcc's -fsanitize=address load ASan's shared runtime, which aborts when another
/// library was loaded first ("ASan runtime does not come first in initial library list"). Guarded
/// children of every kind start, see the ASAN_OPTIONS their parent gave them, and ASan still works.
final class AsanProgramTests: XCTestCase {
    private func asanProgram() throws -> String {
        try Fixtures.binary("asan_env", flags: ["-fsanitize=address"])
    }

    func testAsanProgramsStartAndSeeTheirOwnOptions() throws {
        let program = try asanProgram()
        let plain = try runCommand([program], environment: guardedEnvironment(preload: false))
        XCTAssertEqual(plain.out, "ASAN_OPTIONS (unset)\n", plain.err)
        // The guarded shell's exec rebuilds each child's environment; `env -i` gives an empty one.
        let cases: [(script: String, extra: [String: String], seen: String)] = [
            ("exec \"$0\"", [:], "(unset)"),
            ("exec \"$0\"", ["ASAN_OPTIONS": "detect_leaks=0"], "detect_leaks=0"),
            ("exec \"$0\"", ["ASAN_OPTIONS": ""], ""),
            ("exec env -i \"$0\"", [:], "(unset)"),
            ("exec env -i ASAN_OPTIONS=halt_on_error=1 \"$0\"", [:], "halt_on_error=1"),
        ]
        for (script, extra, seen) in cases {
            let result = try runCommand(["/bin/sh", "-c", script, program], environment: guardedEnvironment(extra))
            XCTAssertEqual(result.status, 0, "\(script) \(extra): \(result.err)")
            XCTAssertEqual(result.out, "ASAN_OPTIONS \(seen)\n", "\(script) \(extra)")
            XCTAssertEqual(result.err, "", "\(script) \(extra)")
        }
    }

    /// The program's own say on the check wins, and ASan still reports what it is there to report.
    func testAsanKeepsItsOwnChoiceAndStillReports() throws {
        let program = try asanProgram()
        let strict = try runCommand(["/bin/sh", "-c", "exec \"$0\"", program],
                                    environment: guardedEnvironment(["ASAN_OPTIONS": "verify_asan_link_order=1"]))
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.err.contains("ASan runtime does not come first"), strict.err)
        let overflow = try runCommand(["/bin/sh", "-c", "exec \"$0\" overflow", program], environment: guardedEnvironment())
        XCTAssertNotEqual(overflow.status, 0)
        XCTAssertTrue(overflow.err.contains("heap-buffer-overflow"), overflow.err)
    }
}
