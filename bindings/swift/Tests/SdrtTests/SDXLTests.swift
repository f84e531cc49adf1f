// SDXL through the Swift layer on the tiny SDXL base and refiner: the base-to-refiner
// hand-off (`generateLatents`, then `Configuration.latents` with `denoisingStart`) against the
// golden latents of tests/goldens/sdxl.json; Apple's names for the micro-conditioning; the
// refusals naming the field.
import Foundation
import XCTest

@testable import Sdrt

final class SDXLTests: XCTestCase, @unchecked Sendable {
    static let base = Fixtures.model("tiny-sdxl")
    static let refiner = Fixtures.model("tiny-sdxl-refiner")

    /// The row of tests/goldens/sdxl.json named `name`.
    func golden(_ name: String) throws -> [String: Any] {
        let url = Fixtures.root.appendingPathComponent("tests/goldens/sdxl.json")
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        let row = (rows as? [[String: Any]])?.first { $0["name"] as? String == name }
        return try XCTUnwrap(row, "\(name) not in sdxl.json")
    }

    /// A JSON number as JSONSerialization gives it (NSNumber, or Int where it bridges).
    func number(_ value: Any?) -> NSNumber? {
        if let n = value as? NSNumber { return n }
        if let i = value as? Int { return NSNumber(value: i) }
        if let d = value as? Double { return NSNumber(value: d) }
        return nil
    }

    /// The hand-off request (handoff_base_6_end0.8).
    func handOff() -> Pipeline.Configuration {
        var config = Pipeline.Configuration(
            prompt: "a photo of an astronaut riding a horse on mars")
        config.width = 64
        config.height = 64
        config.stepCount = 6
        config.guidanceScale = 5
        config.seed = 80
        return config
    }

    func testTheHandOffMatchesTheGoldenLatentsAndRefinesThem() async throws {
        let row = try golden("handoff_base_6_end0.8")
        XCTAssertEqual(number(row["seed"])?.intValue, 80)
        XCTAssertEqual(number(row["denoising_end"])?.doubleValue, 0.8)
        let want = try XCTUnwrap(row["latents"] as? [String: Any])
        let bits = try XCTUnwrap(want["bits"] as? [Any]).map { value -> Float in
            Float(bitPattern: UInt32(try XCTUnwrap(number(value)).int64Value))
        }
        let shape = try XCTUnwrap(want["shape"] as? [Any]).compactMap { number($0)?.intValue }

        let base = try Pipeline(resourcesAt: Self.base)
        var config = handOff()
        config.denoisingEnd = 0.8
        let latents = try await base.generateLatents(config)
        XCTAssertEqual([latents.count, latents.channels, latents.height, latents.width], shape)
        XCTAssertEqual(latents.family, "sdxl")
        XCTAssertEqual(latents.values.count, bits.count)
        let scale = bits.map(abs).max() ?? 1
        let diff = zip(latents.values, bits).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(diff, 1e-3 * max(scale, 1), "the base's latents vs optimum's")

        let refiner = try Pipeline(resourcesAt: Self.refiner)
        config.denoisingEnd = 0
        config.denoisingStart = 0.8
        config.latents = latents
        let images = try await refiner.generate(config)
        XCTAssertEqual(images.count, 1)
        XCTAssertEqual([images[0].width, images[0].height], [64, 64])
        // From the golden's own latents the refiner makes the same picture, within the
        // project's image tolerance (max |diff| <= 2, mean <= 0.15).
        config.latents = Pipeline.Latents(count: 1, channels: 4, height: 8, width: 8,
                                          values: bits)
        let fromGolden = try await refiner.generate(config)
        let d = zip(images[0].rgb, fromGolden[0].rgb).map { abs(Int($0) - Int($1)) }
        XCTAssertLessThanOrEqual(d.max() ?? 255, 2)
        XCTAssertLessThanOrEqual(Double(d.reduce(0, +)) / Double(d.count), 0.15)
        // An image request, not a latents one: images come back.
        let plain = try await base.generate(handOff())
        XCTAssertEqual(plain.count, 1)
    }

    func testMicroConditioningTakesApplesNames() async throws {
        let base = try Pipeline(resourcesAt: Self.base)
        var config = handOff()
        config.stepCount = 2
        let plain = try await base.generate(config)
        // Apple's one-number sizes are squares; the explicit forms are the same request.
        config.originalSize = 1024
        config.targetSize = 1024.0
        let square = try await base.generate(config)
        config.originalSize = Pipeline.Configuration.Size(width: 1024, height: 1024)
        config.targetSize = .init(width: 1024, height: 1024)
        let explicit = try await base.generate(config)
        XCTAssertEqual(explicit, square)
        XCTAssertNotEqual(square[0].rgb, plain[0].rgb, "originalSize reaches the UNet")
        config.cropsCoordsTopLeft = 16
        let cropped = try await base.generate(config)
        XCTAssertNotEqual(cropped[0].rgb, square[0].rgb, "cropsCoordsTopLeft reaches the UNet")
        config.negativeOriginalSize = .init(width: 512, height: 512)
        config.negativeCropsCoordsTopLeft = .init(x: 2, y: 4)
        config.negativeTargetSize = 64
        config.prompt2 = "watercolor"
        config.negativePrompt2 = "grey"
        let all = try await base.generate(config)
        XCTAssertNotEqual(all[0].rgb, cropped[0].rgb, "the negative fields and prompts")
    }

    func testRefusalsNameTheField() async throws {
        let base = try Pipeline(resourcesAt: Self.base)
        let refiner = try Pipeline(resourcesAt: Self.refiner)
        var config = handOff()
        config.stepCount = 2
        config.cropsCoordsTopLeft = .init(x: 64, y: 0)
        await assertSdrtError(.invalidArgument, containing: "crop_x/crop_y") {
            try await base.generate(config)
        }
        config.cropsCoordsTopLeft = .zero
        config.originalSize = .init(width: 64, height: 0)
        await assertSdrtError(.invalidArgument, containing: "original_width/original_height") {
            try await base.generate(config)
        }
        config.originalSize = nil
        config.originalSize = .init(width: -1, height: 64)
        await assertSdrtError(.invalidArgument, containing: "originalSize.width") {
            try await base.generate(config)
        }
        config.originalSize = nil
        config.denoisingStart = 0.8
        await assertSdrtError(.invalidArgument, containing: "denoising_start") {
            try await refiner.generate(config)
        }
        config.latents = Pipeline.Latents(count: 1, channels: 4, height: 8, width: 8,
                                          family: "sd",
                                          values: [Float](repeating: 0, count: 256))
        await assertSdrtError(.invalidArgument, containing: "latents") {
            try await refiner.generate(config)
        }
        config.latents = Pipeline.Latents(count: 1, channels: 4, height: 8, width: 8,
                                          values: [0, 1, 2])
        await assertSdrtError(.invalidArgument, containing: "latents: 3 values") {
            try await refiner.generate(config)
        }
        config.latents = nil
        config.denoisingStart = 0
        config.aestheticScore = .nan
        config.startingImage = Fixtures.startingImage()
        config.strength = 0.5
        await assertSdrtError(.invalidArgument, containing: "aesthetic_score") {
            try await refiner.generate(config)
        }
        // SD models refuse SDXL's fields.
        var sd = Pipeline.Configuration(prompt: "x")
        sd.stepCount = 1
        sd.prompt2 = "y"
        await assertSdrtError(.invalidArgument, containing: "prompt_2: only SDXL") {
            try await Pipeline(resourcesAt: Fixtures.sd2).generate(sd)
        }
    }
}
