// swift-tools-version:5.9
// sdrt for Swift: `import Sdrt` (the Swift layer) over `CSdrt` (the C API as a module). The
// manifest sits at the repository root, so that the package is named after the repository and
// can be added by URL; its sources are in bindings/swift.
//
//     .package(url: "https://github.com/<owner>/sdrt.git", branch: "main")
//     .package(path: "<sdrt checkout>")
//     ... dependencies: [.product(name: "Sdrt", package: "sdrt")]
//
// The C module comes from the first of:
// 1. SDRT_XCFRAMEWORK=<path relative to this folder> in the environment (command-line builds;
//    Xcode does not pass its environment to manifests);
// 2. bindings/swift/CSdrt.xcframework, where tools/build_xcframework.sh puts it on a Mac
//    (macOS arm64/x86_64, iOS device and simulator): found by its place in the package, so
//    Xcode picks it too;
// 3. on a Mac, a release's CSdrt.xcframework.zip (`releaseXCFramework` below, with the
//    checksum `swift package compute-checksum` prints), for packages that add sdrt by URL;
// 4. an installed libsdrt (tools/install.sh --prefix DIR, then PKG_CONFIG_PATH=DIR/lib/pkgconfig):
//    the system library found through pkg-config's sdrt.pc; always so on Linux.
import Foundation
import PackageDescription

/// The prebuilt frameworks of a release: `(url, checksum)` of its CSdrt.xcframework.zip, set
/// when a release publishes one; nil while none is published.
let releaseXCFramework: (url: String, checksum: String)? = nil

/// Where tools/build_xcframework.sh puts the frameworks, relative to this folder.
let bundledXCFramework = "bindings/swift/CSdrt.xcframework"

func cModule() -> Target {
    let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    if let path = ProcessInfo.processInfo.environment["SDRT_XCFRAMEWORK"], !path.isEmpty {
        return .binaryTarget(name: "CSdrt", path: path)
    }
    if FileManager.default.fileExists(
        atPath: packageDir.appendingPathComponent(bundledXCFramework).path) {
        return .binaryTarget(name: "CSdrt", path: bundledXCFramework)
    }
    #if os(macOS)
    if let release = releaseXCFramework {
        return .binaryTarget(name: "CSdrt", url: release.url, checksum: release.checksum)
    }
    #endif
    return .systemLibrary(name: "CSdrt", path: "bindings/swift/Sources/CSdrt", pkgConfig: "sdrt")
}

/// Warnings as errors in sdrt's own targets when SDRT_SWIFT_WARNINGS_AS_ERRORS=1
/// (tools/test_swift.sh). Not `-Xswiftc -warnings-as-errors`, which also reaches the test
/// runner SwiftPM generates on Linux, whose code warns in the Swift 6 language mode. Unsafe
/// flags are refused in a package used as a dependency: never set it there.
let strict: [SwiftSetting] =
    ProcessInfo.processInfo.environment["SDRT_SWIFT_WARNINGS_AS_ERRORS"] == "1"
    ? [.unsafeFlags(["-warnings-as-errors"])] : []

let package = Package(
    name: "Sdrt",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "Sdrt", targets: ["Sdrt"]),
    ],
    targets: [
        cModule(),
        .target(name: "Sdrt", dependencies: ["CSdrt"], path: "bindings/swift/Sources/Sdrt",
                swiftSettings: strict),
        // Top-level names that Apple's StableDiffusion and Combine declare, for the test that
        // Sdrt's own are nested and do not clash with them.
        .target(name: "SdrtClashProbe", path: "bindings/swift/Tests/ClashProbe",
                swiftSettings: strict),
        .testTarget(name: "SdrtTests", dependencies: ["Sdrt", "CSdrt", "SdrtClashProbe"],
                    path: "bindings/swift/Tests/SdrtTests", swiftSettings: strict),
    ]
)
