import XCTest
final class ShimPlaceholderTests: XCTestCase { func testPlaceholder() {} }
