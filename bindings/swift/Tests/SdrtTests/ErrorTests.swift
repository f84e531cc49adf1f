// Errors: each carries sdrt's status and message; arguments the Swift layer checks itself
// (non-file URLs, pixel buffers) never reach C.
import Foundation
import XCTest

@testable import Sdrt

final class ErrorTests: XCTestCase, @unchecked Sendable {
    func testErrorsCarryStatusAndMessage() async throws {
        XCTAssertThrowsError(try Pipeline(resourcesAt: URL(fileURLWithPath: "/nonexistent"))) {
            error in
            guard case SdrtError.modelNotFound(let message) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertFalse(message.isEmpty)
            XCTAssertTrue("\(error)".hasPrefix("SDRT_ERROR_MODEL_NOT_FOUND: "), "\(error)")
        }
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "x")
        config.width = 65
        await assertSdrtError(.invalidArgument, containing: "width") {
            try await pipeline.generate(config)
        }
        config.width = 0
        config.imageCount = -1
        await assertSdrtError(.invalidArgument, containing: "imageCount") {
            try await pipeline.generate(config)
        }
        config.imageCount = 1
        config.strength = 2
        config.startingImage = Fixtures.startingImage()
        await assertSdrtError(.invalidArgument, containing: "strength") {
            try await pipeline.generate(config)
        }
    }

    func testEveryStatusMapsToItsCase() {
        for raw in UInt32(1)...11 {
            let error = SdrtError(status: raw)
            XCTAssertEqual(error.status?.rawValue, raw)
            XCTAssertTrue(error.description.hasPrefix("SDRT_"), error.description)
        }
        let unknown = SdrtError(status: 999)
        XCTAssertNil(unknown.status)
        guard case .unknown(let status, _) = unknown else { return XCTFail("\(unknown)") }
        XCTAssertEqual(status, 999)
        XCTAssertNoThrow(try SdrtError.check(0))
        XCTAssertThrowsError(try SdrtError.check(Pipeline.Status.io.rawValue))
    }

    func testImageBuffersTooShortAreRefusedBeforeC() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "x")
        config.startingImage = ImageInput(pixels: [UInt8](repeating: 0, count: 64 * 64 * 3 - 1),
                                          width: 64, height: 64, format: .rgb8)
        await assertSdrtError(.invalidArgument, containing: "startingImage") {
            try await pipeline.generate(config)
        }
        config.startingImage = Fixtures.startingImage()
        config.maskImage = ImageInput(pixels: [UInt8](repeating: 0, count: 64 * 64), width: 64,
                                      height: 64, bytesPerRow: 63, format: .gray8)
        await assertSdrtError(.invalidArgument, containing: "maskImage") {
            try await pipeline.generate(config)
        }
    }

    func testNonFileURLsAreRefused() async throws {
        // Review fix: `URL(string:)` of a path has no scheme; its file-system representation
        // is NULL, which C reads as "the default" (another ONNX Runtime, the default cache).
        let path = Fixtures.sd2.path
        guard let plain = URL(string: path), let web = URL(string: "https://example.com/model")
        else { return XCTFail("URL(string:)") }
        XCTAssertFalse(plain.isFileURL)
        await assertSdrtError(.invalidArgument, containing: "resourcesAt") {
            try Pipeline(resourcesAt: plain)
        }
        await assertSdrtError(.invalidArgument, containing: "not a file URL") {
            try Pipeline(resourcesAt: web)
        }
        await assertSdrtError(.invalidArgument, containing: "resourcesAt") {
            try await Pipeline.load(resourcesAt: plain)
        }
        for field in ["previewDecoder", "graphCacheDirectory", "coreMLCacheDirectory"] {
            var options = Pipeline.Options()
            let url = URL(string: "/tmp/sdrt-\(field)")
            switch field {
            case "previewDecoder": options.previewDecoder = url
            case "graphCacheDirectory": options.graphCacheDirectory = url
            default: options.coreMLCacheDirectory = url
            }
            await assertSdrtError(.invalidArgument, containing: field) {
                try Pipeline(resourcesAt: Fixtures.sd2, options: options)
            }
        }
        let library = URL(string: "/opt/lib/libonnxruntime.so")
        await assertSdrtError(.invalidArgument, containing: "onnxRuntimeLibrary") {
            try Pipeline.Runtime.initialize(onnxRuntimeLibrary: library)
        }
        await assertSdrtError(.invalidArgument, containing: "directory") {
            try Pipeline.Runtime.clearGraphCache(at: plain)
        }
        // The file URL of the same path works.
        XCTAssertNoThrow(try Pipeline(resourcesAt: URL(fileURLWithPath: path)))
    }
}
