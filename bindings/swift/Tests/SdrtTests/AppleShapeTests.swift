// Apple's call shape (`generateImages(configuration:progressHandler:)`, `[CGImage?]` on Apple
// platforms): here its Linux twin, which returns `[GeneratedImage?]` through the same code.
import Foundation
import XCTest

@testable import Sdrt

final class AppleShapeTests: XCTestCase, @unchecked Sendable {
    func testGenerateImagesBlocksAndReturnsEveryImage() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "apple shape")
        config.stepCount = 2
        config.imageCount = 2
        var steps: [Int] = [] // the handler runs during the call: no lock needed
        let images = try pipeline.generateImages(configuration: config) { progress in
            steps.append(progress.step)
            return true
        }
        XCTAssertEqual(steps, [1, 2, 3], "steps count from 1 (Apple's from 0)")
        XCTAssertEqual(images.count, 2)
        XCTAssertTrue(images.allSatisfy { $0 != nil })
        // The same images as the asynchronous call.
        let same = try await pipeline.generate(config)
        XCTAssertEqual(same, images.compactMap { $0 })
        // The default handler.
        XCTAssertEqual(try pipeline.generateImages(configuration: config).count, 2)
    }

    func testHandlerReturningFalseReturnsNoImages() throws {
        // As Apple's pipeline does: stopping is not an error.
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "stop")
        config.stepCount = 5
        var steps = 0
        let images = try pipeline.generateImages(configuration: config) { _ in
            steps += 1
            return steps < 2
        }
        XCTAssertEqual(images.count, 0)
        XCTAssertEqual(steps, 2)
        // Errors still throw.
        config.width = 65
        XCTAssertThrowsError(try pipeline.generateImages(configuration: config)) { error in
            XCTAssertEqual((error as? SdrtError)?.status, .invalidArgument)
        }
    }

    func testFlaggedImagesAreNil() throws {
        // tests/goldens/safety.json, "pndm_numpy_count2": the first image is flagged.
        let pipeline = try Pipeline(resourcesAt: Fixtures.safety)
        var config = Pipeline.Configuration(prompt: "a bowl of fruit")
        config.negativePrompt = "blurry"
        config.stepCount = 6
        config.seed = 51
        config.imageCount = 2
        let images = try pipeline.generateImages(configuration: config)
        XCTAssertEqual(images.count, 2)
        XCTAssertNil(images[0])
        XCTAssertNotNil(images[1])
        XCTAssertEqual(images[1]?.isSafetyChecked, true)
    }

    func testGenerateImagesWaitsForTheQueuedCalls() async throws {
        // generateImages and generate share the pipeline's queue: one call at a time.
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "shared queue")
        config.stepCount = 3
        let inside = Recorder<Int>()
        let running = Signal()
        let release = Signal()
        let first = Task {
            try await pipeline.generate(config) { progress in
                if progress.step == 1 {
                    running.fire()
                    _ = release.wait(seconds: 20)
                }
                inside.append(0)
                return true
            }
        }
        let started = try await running.waitAsync(seconds: 60)
        XCTAssertTrue(started)
        let blocking = Task.detached { () throws -> Int in
            let images = try pipeline.generateImages(configuration: config) { _ in
                inside.append(1)
                return true
            }
            return images.count
        }
        try await Task.sleep(nanoseconds: 100_000_000)
        release.fire()
        _ = try await first.value
        let count = try await blocking.value
        XCTAssertEqual(count, 1)
        XCTAssertEqual(inside.values, [0, 0, 0, 0, 1, 1, 1, 1])
    }
}
