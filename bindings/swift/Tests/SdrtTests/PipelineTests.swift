// `swift test` (macOS or Linux, with libsdrt installed and found through pkg-config; ONNX
// Runtime through $SDRT_ORT_LIBRARY): the Swift layer on the repository's tiny test model.
import Foundation
import XCTest

@testable import Sdrt

final class PipelineTests: XCTestCase {
    /// tests/fixtures/tiny-sd2 of this checkout (this file is bindings/swift/Tests/SdrtTests/).
    static let fixture: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("tests/fixtures/tiny-sd2")
    }()

    func testGeneratesImagesWithProgress() async throws {
        let pipeline = try Pipeline(resourcesAt: Self.fixture)
        let info = try pipeline.info()
        XCTAssertEqual(info.nativeWidth, 64)
        var config = Configuration(prompt: "a red square")
        config.stepCount = 3
        config.imageCount = 2
        config.previewKind = .latentRGB
        let steps = Steps()
        let images = try await pipeline.generate(config) { progress in
            steps.append(progress.step, previews: progress.currentImages.count)
            return true
        }
        XCTAssertEqual(images.count, 2)
        for image in images {
            XCTAssertEqual(image.width, 64)
            XCTAssertEqual(image.height, 64)
            XCTAssertEqual(image.rgb.count, 64 * 64 * 3)
        }
        let seen = steps.values
        XCTAssertFalse(seen.isEmpty, "no progress")
        XCTAssertEqual(seen.map { $0.0 }, Array(1..<(seen.count + 1)))
        XCTAssertTrue(seen.allSatisfy { $0.1 == 2 }, "a preview per image on every step")
    }

    func testProgressHandlerReturningFalseCancels() async throws {
        let pipeline = try Pipeline(resourcesAt: Self.fixture)
        var config = Configuration(prompt: "stop")
        config.stepCount = 5
        do {
            _ = try await pipeline.generate(config) { _ in false }
            XCTFail("expected SdrtError.cancelled")
        } catch SdrtError.cancelled {
        }
    }

    func testTaskCancellationThrowsCancellationError() async throws {
        let pipeline = try Pipeline(resourcesAt: Self.fixture)
        var config = Configuration(prompt: "long")
        config.stepCount = 1000
        config.schedulerType = .euler
        let long = config
        let task = Task { try await pipeline.generate(long) }
        try await Task.sleep(nanoseconds: 200_000_000)
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected CancellationError")
        } catch is CancellationError {
        }
        // The pipeline stays usable.
        config.stepCount = 1
        let again = try await pipeline.generate(config)
        XCTAssertEqual(again.count, 1)
    }

    func testErrorsCarryStatusAndMessage() async throws {
        XCTAssertThrowsError(try Pipeline(resourcesAt: URL(fileURLWithPath: "/nonexistent"))) {
            error in
            guard case SdrtError.modelNotFound(let message) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertFalse(message.isEmpty)
        }
        let pipeline = try Pipeline(resourcesAt: Self.fixture)
        var config = Configuration(prompt: "x")
        config.width = 65
        do {
            _ = try await pipeline.generate(config)
            XCTFail("expected SdrtError.invalidArgument")
        } catch let error as SdrtError {
            XCTAssertEqual(error.status, .invalidArgument)
            XCTAssertTrue(error.message.contains("width"), error.message)
        }
    }

    func testLogHandlerReceivesThePipelinesMessages() throws {
        let lines = Steps()
        _ = try Pipeline(resourcesAt: Self.fixture, logLevel: .info) { _, message in
            lines.append(message.count, previews: 0)
        }
        XCTAssertFalse(lines.values.isEmpty)
    }
}

/// A thread-safe list for the handlers (they run on sdrt's threads).
private final class Steps: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [(Int, Int)] = []

    func append(_ step: Int, previews: Int) {
        lock.lock()
        list.append((step, previews))
        lock.unlock()
    }

    var values: [(Int, Int)] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}
