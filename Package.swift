// swift-tools-version:6.0
import PackageDescription

// The preload library (CShim/) is deliberately not a SwiftPM target: SwiftPM links
// C-only dynamic products with swiftc, which adds libswiftCore and Swift start-up
// objects to every guarded process. The BuildPreloadLibrary plugin compiles it with
// the C compiler alone; its output is copied as a resource of LauncherSys, i.e. to
// .build/<config>/orphanguard_LauncherSys.resources/liborphanguard.so.
let package = Package(
    name: "orphanguard",
    products: [
        .executable(name: "orphanguard", targets: ["orphanguard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .plugin(
            name: "BuildPreloadLibrary",
            capability: .buildTool(),
            path: "Plugins/BuildPreloadLibrary"
        ),
        .target(
            name: "LauncherSys",
            path: "Sources/LauncherSys",
            plugins: ["BuildPreloadLibrary"]
        ),
        .executableTarget(
            name: "orphanguard",
            dependencies: [
                "LauncherSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/orphanguard"
        ),
        // A test target (with no tests): its helpers use XCTest, which a release build never compiles.
        .testTarget(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "ShimTests",
            dependencies: ["TestSupport", "orphanguard"],
            path: "Tests/ShimTests"
        ),
        .testTarget(
            name: "LauncherTests",
            dependencies: ["TestSupport", "orphanguard"],
            path: "Tests/LauncherTests"
        ),
    ],
    swiftLanguageModes: [.v5]
)
