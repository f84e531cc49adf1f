// swift-tools-version:5.9
// sdrt for Swift: `import Sdrt` (the Swift layer) over `CSdrt` (the C API as a module).
//
// The C module comes from one of two places:
// - default: an installed libsdrt (tools/install.sh --prefix DIR, then
//   PKG_CONFIG_PATH=DIR/lib/pkgconfig), found through pkg-config's sdrt.pc;
// - SDRT_XCFRAMEWORK=path/to/CSdrt.xcframework (relative to this folder, made by
//   tools/build_xcframework.sh): the prebuilt frameworks for macOS and iOS.
//
// Use it as a local package: .package(path: "<sdrt checkout>/bindings/swift").
import Foundation
import PackageDescription

let cModule: Target
if let xcframework = ProcessInfo.processInfo.environment["SDRT_XCFRAMEWORK"], !xcframework.isEmpty {
    cModule = .binaryTarget(name: "CSdrt", path: xcframework)
} else {
    cModule = .systemLibrary(name: "CSdrt", path: "Sources/CSdrt", pkgConfig: "sdrt")
}

let package = Package(
    name: "Sdrt",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "Sdrt", targets: ["Sdrt"]),
    ],
    targets: [
        cModule,
        .target(name: "Sdrt", dependencies: ["CSdrt"], path: "Sources/Sdrt"),
        .testTarget(name: "SdrtTests", dependencies: ["Sdrt"], path: "Tests/SdrtTests"),
    ]
)
