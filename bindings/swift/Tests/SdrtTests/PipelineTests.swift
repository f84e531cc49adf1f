// `swift test` (Linux through tools/test_swift.sh, or macOS, with libsdrt installed and found
// through pkg-config; ONNX Runtime through $SDRT_ORT_LIBRARY): the Swift layer on the
// repository's tiny test models. Generation: text-to-image, image-to-image, inpainting,
// previews of each kind, the event stream, loading, what was loaded.
import Foundation
import XCTest

@testable import Sdrt

final class PipelineTests: XCTestCase, @unchecked Sendable {
    func testGeneratesImagesWithProgress() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "a red square")
        config.stepCount = 3
        config.imageCount = 2
        config.previewKind = .latentRGB
        let steps = Recorder<(step: Int, of: Int, previews: Int)>()
        let images = try await pipeline.generate(config) { progress in
            steps.append((progress.step, progress.stepCount, progress.currentImages.count))
            return true
        }
        XCTAssertEqual(images.count, 2)
        for image in images {
            XCTAssertEqual(image.width, 64)
            XCTAssertEqual(image.height, 64)
            XCTAssertEqual(image.rgb.count, 64 * 64 * 3)
            XCTAssertFalse(image.isFlagged)
            XCTAssertFalse(image.isSafetyChecked)
        }
        XCTAssertNotEqual(images[0].rgb, images[1].rgb, "two images of one stream")
        let seen = steps.values
        // PNDM evaluates the UNet steps + 1 times; steps count from 1.
        XCTAssertEqual(seen.map(\.step), [1, 2, 3, 4])
        XCTAssertTrue(seen.allSatisfy { $0.of == 4 })
        XCTAssertTrue(seen.allSatisfy { $0.previews == 2 }, "a preview per image on every step")
    }

    func testSameSeedSameImagesAndSeedAndGeneratorMatter() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "a lighthouse")
        config.stepCount = 2
        config.seed = 7
        let a = try await pipeline.generate(config)
        let b = try await pipeline.generate(config)
        XCTAssertEqual(a, b)
        config.seed = 8
        let c = try await pipeline.generate(config)
        XCTAssertNotEqual(a[0].rgb, c[0].rgb)
        config.rngType = .torch
        config.schedulerType = .eulerAncestral
        let d = try await pipeline.generate(config)
        XCTAssertNotEqual(c[0].rgb, d[0].rgb)
    }

    func testInfoDescribesTheModel() throws {
        let info = try Pipeline(resourcesAt: Fixtures.sd2).info()
        XCTAssertEqual(info.nativeWidth, 64)
        XCTAssertEqual(info.nativeHeight, 64)
        XCTAssertEqual(info.unetInChannels, 4)
        XCTAssertEqual(info.defaultScheduler, .pndm)
        XCTAssertEqual(info.defaultSchedulerClass, "PNDMScheduler")
        XCTAssertEqual(info.provider, .cpu)
        XCTAssertFalse(info.hasSafetyChecker)
        XCTAssertEqual(try Pipeline(resourcesAt: Fixtures.inpaint).info().unetInChannels, 9)
        XCTAssertTrue(try Pipeline(resourcesAt: Fixtures.safety).info().hasSafetyChecker)
    }

    func testImageToImage() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "a gradient, oil painting")
        config.stepCount = 10
        config.schedulerType = .euler
        config.rngType = .torch
        config.startingImage = Fixtures.startingImage()
        config.strength = 0.5
        let steps = Recorder<Int>()
        let images = try await pipeline.generate(config) { progress in
            steps.append(progress.stepCount)
            return true
        }
        XCTAssertEqual(images.count, 1)
        XCTAssertEqual(images[0].width, 64)
        // strength 0.5 runs half of the schedule.
        XCTAssertEqual(Set(steps.values), [5])
        XCTAssertEqual(steps.values.count, 5)

        // RGBA8 with padded rows is the same picture: the same result.
        config.startingImage = Fixtures.startingImage(bytesPerRow: 64 * 4 + 12, format: .rgba8)
        let rgba = try await pipeline.generate(config)
        XCTAssertEqual(rgba[0].rgb, images[0].rgb)

        // Without the starting image: text-to-image, another picture.
        config.startingImage = nil
        let text = try await pipeline.generate(config)
        XCTAssertNotEqual(text[0].rgb, images[0].rgb)
    }

    func testInpainting() async throws {
        for model in [Fixtures.inpaint, Fixtures.sd2] {
            let pipeline = try Pipeline(resourcesAt: model)
            var config = Pipeline.Configuration(prompt: "a window")
            config.stepCount = 4
            config.rngType = .torch
            config.startingImage = Fixtures.startingImage()
            config.maskImage = Fixtures.mask()
            config.strength = 1
            let left = try await pipeline.generate(config)
            XCTAssertEqual(left.count, 1)
            XCTAssertEqual(left[0].rgb.count, 64 * 64 * 3)
            config.maskImage = Fixtures.mask(repaintLeft: false)
            let right = try await pipeline.generate(config)
            XCTAssertNotEqual(left[0].rgb, right[0].rgb, "\(model.lastPathComponent)")
        }
        // A mask of another size than the starting image is refused by sdrt.
        let pipeline = try Pipeline(resourcesAt: Fixtures.inpaint)
        var config = Pipeline.Configuration(prompt: "x")
        config.startingImage = Fixtures.startingImage()
        config.maskImage = ImageInput(pixels: [UInt8](repeating: 255, count: 32 * 32), width: 32,
                                      height: 32, format: .gray8)
        await assertSdrtError(.invalidArgument, containing: "mask") {
            try await pipeline.generate(config)
        }
    }

    func testPreviewsOfEachKind() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.preview)
        for (kind, size) in [(PreviewKind.latentRGB, 8), (.taesd, 64), (.full, 64)] {
            var config = Pipeline.Configuration(prompt: "previews")
            config.stepCount = 5
            config.schedulerType = .euler
            config.imageCount = 2
            config.previewKind = kind
            config.previewEvery = 2
            let previews = Recorder<(step: Int, images: [GeneratedImage])>()
            let images = try await pipeline.generate(config) { progress in
                previews.append((progress.step, progress.currentImages))
                return true
            }
            let with = previews.values.filter { !$0.images.isEmpty }
            // Every second UNet evaluation and the last.
            XCTAssertEqual(with.map(\.step), [2, 4, 5], "\(kind)")
            for (_, shown) in with {
                XCTAssertEqual(shown.count, 2, "\(kind)")
                for image in shown {
                    XCTAssertEqual(image.width, size, "\(kind)")
                    XCTAssertEqual(image.height, size, "\(kind)")
                    XCTAssertEqual(image.rgb.count, size * size * 3, "\(kind)")
                }
            }
            if kind == .full {
                // The last full preview is the final image, decoded by the same VAE.
                XCTAssertEqual(with.last?.images.map(\.rgb), images.map(\.rgb))
            }
        }
        // No preview kind: no previews.
        var config = Pipeline.Configuration(prompt: "none")
        config.stepCount = 2
        let none = Recorder<Int>()
        _ = try await pipeline.generate(config) { progress in
            none.append(progress.currentImages.count)
            return true
        }
        XCTAssertTrue(none.values.allSatisfy { $0 == 0 })
    }

    func testTaesdPreviewsFromAnotherDecoder() async throws {
        // tiny-sd2 has no vae_preview/: .taesd previews need Options.previewDecoder.
        var options = Pipeline.Options()
        options.previewDecoder = Fixtures.preview.appendingPathComponent("vae_preview/model.onnx")
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2, options: options)
        var config = Pipeline.Configuration(prompt: "taesd")
        config.stepCount = 2
        config.previewKind = .taesd
        let sizes = Recorder<Int>()
        _ = try await pipeline.generate(config) { progress in
            sizes.append(progress.currentImages.first?.width ?? 0)
            return true
        }
        XCTAssertEqual(Set(sizes.values), [64])
    }

    func testEventsStreamProgressThenImages() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "events")
        config.stepCount = 3
        config.previewKind = .latentRGB
        var steps: [Int] = []
        var images: [GeneratedImage] = []
        // A buffer larger than the steps: nothing is dropped.
        for try await event in pipeline.events(config, bufferingNewest: 16) {
            switch event {
            case .progress(let progress):
                XCTAssertTrue(images.isEmpty, "progress after the images")
                XCTAssertEqual(progress.currentImages.count, 1)
                steps.append(progress.step)
            case .images(let list):
                images = list
            }
        }
        XCTAssertEqual(steps, [1, 2, 3, 4])
        XCTAssertEqual(images.count, 1)
    }

    func testEventsBufferKeepsTheNewestAndTheImages() async throws {
        // A reader that takes nothing while the generation runs finds at most `limit` events
        // waiting, the newest, and the images last (the buffer used to grow without bound,
        // previews and all).
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "slow reader")
        config.stepCount = 30
        config.schedulerType = .euler
        config.previewKind = .full
        var iterator = pipeline.events(config, bufferingNewest: 3).makeAsyncIterator()
        guard case .progress(let first)? = try await iterator.next() else {
            return XCTFail("no first progress event")
        }
        XCTAssertEqual(first.step, 1)
        // The stream's call is running: one queued behind it returns once it is over.
        var probe = Pipeline.Configuration(prompt: "after")
        probe.stepCount = 1
        _ = try await pipeline.generate(probe)
        var events: [Pipeline.Event] = []
        while let event = try await iterator.next() {
            events.append(event)
        }
        // The three newest, and at most the images after them if they came late.
        XCTAssertLessThanOrEqual(events.count, 4)
        guard case .images(let images)? = events.last else {
            return XCTFail("the images are not the last event")
        }
        XCTAssertEqual(images.count, 1)
        let steps = events.compactMap { event -> Int? in
            if case .progress(let progress) = event { return progress.step }
            return nil
        }
        XCTAssertEqual(steps.last, 30)
        XCTAssertEqual(steps, Array((31 - steps.count)...30), "the newest progress events")
    }

    func testEndingTheEventIterationCancelsTheGeneration() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "stop reading")
        config.stepCount = 1000
        config.schedulerType = .euler
        var seen: [Pipeline.Progress] = []
        for try await event in pipeline.events(config) {
            if case .progress(let progress) = event { seen.append(progress) }
            if seen.count == 2 { break }
        }
        let stopped = Date()
        // The stream's Task is cancelled: the generation stops within a step, so a call
        // queued behind it returns long before the 1000 steps could have run.
        let step = max(seen[1].elapsedTime - seen[0].elapsedTime, 0.001)
        config.stepCount = 1
        let next = try await pipeline.generate(config)
        XCTAssertEqual(next.count, 1)
        XCTAssertLessThan(Date().timeIntervalSince(stopped), max(500 * step, 1))
    }

    func testLoadsOffTheCallingThread() async throws {
        let pipeline = try await Pipeline.load(resourcesAt: Fixtures.sd2)
        XCTAssertEqual(try pipeline.info().nativeWidth, 64)
        await assertSdrtError(.modelNotFound) {
            try await Pipeline.load(resourcesAt: URL(fileURLWithPath: "/nonexistent/model"))
        }
        let cancelled = Task { () async throws -> Pipeline in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await Pipeline.load(resourcesAt: Fixtures.sd2)
        }
        do {
            _ = try await cancelled.value
            XCTFail("expected CancellationError")
        } catch is CancellationError {
        }
    }

    func testGraphCacheAndVersions() throws {
        let cache = FileManager.default.temporaryDirectory
            .appendingPathComponent("sdrt-swift-cache-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: cache) }
        var options = Pipeline.Options()
        options.graphCacheDirectory = cache
        _ = try Pipeline(resourcesAt: Fixtures.sd2, options: options)
        XCTAssertGreaterThan(try Pipeline.Runtime.clearGraphCache(at: cache), 0)
        XCTAssertEqual(try Pipeline.Runtime.clearGraphCache(at: cache), 0)
        options.disableGraphCache = true
        _ = try Pipeline(resourcesAt: Fixtures.sd2, options: options)
        XCTAssertEqual(try Pipeline.Runtime.clearGraphCache(at: cache), 0)

        XCTAssertFalse(Pipeline.Runtime.version.isEmpty)
        XCTAssertTrue(Pipeline.Runtime.isCompatible)
        XCTAssertGreaterThan(Pipeline.Runtime.abiVersion, 0)
        XCTAssertNotNil(Pipeline.Runtime.onnxRuntimeVersion, "loaded by the pipelines above")
    }
}
