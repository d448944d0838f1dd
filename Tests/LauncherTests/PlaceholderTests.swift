import XCTest
final class LauncherPlaceholderTests: XCTestCase { func testPlaceholder() {} }
