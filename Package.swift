// swift-tools-version:6.0
import PackageDescription

// The preload library (CShim/) is deliberately not a SwiftPM product: SwiftPM links
// C-only dynamic products with swiftc, which adds libswiftCore and Swift start-up
// objects to every guarded process. The BuildPreloadLibrary plugin compiles it with
// the C compiler alone; its output is copied as a resource of LauncherSys, i.e. to
// .build/<config>/orphanguard_LauncherSys.resources/liborphanguard.so.
// OrphanguardCore is the part of CShim/ the launcher shares (settings, signal names,
// CMD's environment, ORPHANGUARD_PARENT, /proc/PID/stat): the same files, compiled a second time into
// the launcher. None of them has a constructor.
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
            name: "OrphanguardCore",
            path: "CShim",
            sources: ["config.c", "environ_inject.c", "event_log.c", "parent_hint.c", "proc_stat.c"],
            publicHeadersPath: "include"
        ),
        .target(
            name: "LauncherSys",
            dependencies: ["OrphanguardCore"],
            path: "Sources/LauncherSys",
            plugins: ["BuildPreloadLibrary"]
        ),
        .executableTarget(
            name: "orphanguard",
            dependencies: [
                "LauncherSys",
                "OrphanguardCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/orphanguard",
            // The release launcher is one static executable: nothing to install beside it in a
            // container, and nothing for the dynamic loader to find and relocate at each start (the
            // Swift runtime's ~15 libraries and libstdc++ took 7 of its 10 ms). ArgumentParser imports
            // FoundationEssentials, whose static archive does not name the archives it needs.
            linkerSettings: [.unsafeFlags(["-static-executable", "-lFoundationEssentials", "-l_FoundationCollections",
                                           "-lswiftSynchronization", "-l_FoundationCShims"],
                                          .when(configuration: .release))]
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
