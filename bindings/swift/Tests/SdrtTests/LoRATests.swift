// LoRAs chosen per call through the Swift layer on tiny-sd2: `loadLoRA(url:)` and
// `Configuration.loras` reproduce the goldens of tests/goldens/lora.json (diffusers'
// load_lora_weights + set_adapters, run by optimum's ORT pipelines) at the project's tolerance,
// switched between calls on one pipeline; bad files throw with sdrt's message; another
// pipeline's LoRA, a NaN scale and a freed handle are refused; a LoRA is freed when its last
// reference goes, and keeps its pipeline alive until then.
import Foundation
import XCTest

@testable import Sdrt

final class LoRATests: XCTestCase, @unchecked Sendable {
    static let loras = Fixtures.root.appendingPathComponent("tests/fixtures/loras")

    static func lora(_ file: String) -> URL { loras.appendingPathComponent(file) }

    /// The row of tests/goldens/lora.json named `name`.
    func golden(_ name: String) throws -> [String: Any] {
        let url = Fixtures.root.appendingPathComponent("tests/goldens/lora.json")
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        let rows = (doc as? [String: Any])?["images"] as? [[String: Any]]
        let row = rows?.first { $0["name"] as? String == name }
        return try XCTUnwrap(row, "\(name) not in lora.json")
    }

    /// The request of a golden row, its LoRAs aside (checked against the row).
    func request(_ name: String) throws -> Pipeline.Configuration {
        let row = try golden(name)
        var config = Pipeline.Configuration(prompt: try XCTUnwrap(row["prompt"] as? String))
        config.negativePrompt = try XCTUnwrap(row["negative_prompt"] as? String)
        config.width = try XCTUnwrap((row["width"] as? NSNumber)?.intValue)
        config.height = try XCTUnwrap((row["height"] as? NSNumber)?.intValue)
        config.stepCount = try XCTUnwrap((row["steps"] as? NSNumber)?.intValue)
        config.guidanceScale = try XCTUnwrap((row["guidance"] as? NSNumber)?.floatValue)
        config.seed = try XCTUnwrap((row["seed"] as? NSNumber)?.uint64Value)
        XCTAssertEqual(row["model"] as? String, "tiny-sd2")
        XCTAssertEqual(row["generator"] as? String, "numpy")
        XCTAssertTrue(row["scheduler"] is NSNull, "the folder's scheduler")
        XCTAssertEqual((row["count"] as? NSNumber)?.intValue, 1)
        return config
    }

    /// The row's LoRAs as (file, scale).
    func loras(_ name: String) throws -> [(String, Float)] {
        let list = try XCTUnwrap(try golden(name)["loras"] as? [[String: Any]])
        return try list.map { l in
            (try XCTUnwrap(l["file"] as? String),
             try XCTUnwrap((l["scale"] as? NSNumber)?.floatValue))
        }
    }

    /// `image` is the golden of `name` within the project's tolerance (max |diff| <= 2,
    /// mean <= 0.15).
    func assertGolden(_ image: GeneratedImage, _ name: String,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let files = try XCTUnwrap(try golden(name)["files"] as? [String])
        let want = try PNG.rgb(
            Fixtures.root.appendingPathComponent("tests/goldens").appendingPathComponent(files[0]))
        XCTAssertEqual([image.width, image.height], [want.width, want.height], name,
                       file: file, line: line)
        XCTAssertEqual(image.rgb.count, want.rgb.count, name, file: file, line: line)
        let d = zip(image.rgb, want.rgb).map { abs(Int($0) - Int($1)) }
        let mean = Double(d.reduce(0, +)) / Double(max(d.count, 1))
        XCTAssertLessThanOrEqual(d.max() ?? 255, 2, "\(name): max", file: file, line: line)
        XCTAssertLessThanOrEqual(mean, 0.15, "\(name): mean", file: file, line: line)
    }

    func testTwoLoRAsReproduceTheirGoldenSwitchedBetweenCalls() async throws {
        let two = try loras("sd2_two")
        XCTAssertEqual(two.map { $0.0 }, ["loras/sd2_unet.safetensors",
                                          "loras/sd2_te_unet.safetensors"])
        XCTAssertEqual(two.map { $0.1 }, [0.7, 0.6])
        XCTAssertEqual(try loras("sd2_unet_s1").map { $0.1 }, [1.0])
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        let unet = try await pipeline.loadLoRA(url: Self.lora("sd2_unet.safetensors"))
        let teUnet = try await pipeline.loadLoRA(url: Self.lora("sd2_te_unet.safetensors"))
        XCTAssertNotEqual(unet, teUnet)
        XCTAssertEqual(unet.url.lastPathComponent, "sd2_unet.safetensors")

        var config = try request("sd2_two")
        config.loras = [.init(unet, scale: 0.7), .init(teUnet, scale: 0.6)]
        let first = try await pipeline.generate(config)
        XCTAssertEqual(first.count, 1)
        try assertGolden(first[0], "sd2_two")
        // Each request's choice alone decides its image.
        let none = try await pipeline.generate(try request("sd2_none"))
        try assertGolden(none[0], "sd2_none")
        var s1 = try request("sd2_unet_s1")
        s1.loras = [.init(unet)]  // scale 1 by default
        try assertGolden(try await pipeline.generate(s1)[0], "sd2_unet_s1")
        let again = try await pipeline.generate(config)
        XCTAssertEqual(again[0].rgb, first[0].rgb, "sd2_two after the other requests")
    }

    func testBadFilesThrowWithSdrtsMessage() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        await assertSdrtError(.invalidArgument, containing: "rank mismatch") {
            try await pipeline.loadLoRA(url: Self.lora("bad_rank.safetensors"))
        }
        await assertSdrtError(.invalidArgument, containing: "a LoRA for another model") {
            try await pipeline.loadLoRA(url: Self.lora("sdxl.safetensors"))
        }
        await assertSdrtError(.modelNotFound, containing: "no_such_file.safetensors") {
            try await pipeline.loadLoRA(url: Self.lora("no_such_file.safetensors"))
        }
        await assertSdrtError(.invalidArgument, containing: "not a file URL") {
            try await pipeline.loadLoRA(url: try XCTUnwrap(URL(string: "https://x/y.safetensors")))
        }
        // The pipeline keeps working.
        var config = Pipeline.Configuration(prompt: "a fox")
        config.stepCount = 1
        _ = try await pipeline.generate(config)
    }

    func testRefusalsAndTheLoRAsLifetime() async throws {
        var config = Pipeline.Configuration(prompt: "a fox")
        config.stepCount = 1
        weak var weakPipeline: Pipeline?
        do {
            let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
            weakPipeline = pipeline
            var lora: Pipeline.LoRA? = try await pipeline.loadLoRA(
                url: Self.lora("sd2_unet.safetensors"))
            // Another pipeline's LoRA; a NaN scale (the requests in a scope of their own: a
            // Configuration that lists a LoRA keeps it).
            do {
                let other = try Pipeline(resourcesAt: Fixtures.sd2)
                config.loras = [.init(try XCTUnwrap(lora))]
                let foreign = config
                await assertSdrtError(.invalidArgument, containing: "loras[0]") {
                    try await other.generate(foreign)
                }
                config.loras = [.init(try XCTUnwrap(lora), scale: .nan)]
                let nan = config
                await assertSdrtError(.invalidArgument, containing: "loras[0].scale") {
                    try await pipeline.generate(nan)
                }
            }
            config.loras = [.init(try XCTUnwrap(lora), scale: 0.5)]
            _ = try await pipeline.generate(config)

            // The last reference gone, the LoRA is freed on the pipeline's queue: a later
            // call given its handle is refused.
            let handle = try XCTUnwrap(lora).handle
            config.loras = []
            lora = nil
            _ = try await pipeline.generate(config)  // queued after the free
            config.loras = [.init(Pipeline.LoRA(url: Self.lora("freed"), pipeline: pipeline,
                                                handle: handle))]
            let freed = config
            await assertSdrtError(.invalidArgument, containing: "not loaded in this pipeline") {
                try await pipeline.generate(freed)
            }
            config.loras = []
            _ = try await pipeline.generate(config)
        }
        try await waitForRelease({ weakPipeline }, "the pipeline, its LoRAs freed")

        // A LoRA keeps its pipeline alive; the pipeline goes once its last LoRA is freed.
        do {
            var pipeline: Pipeline? = try Pipeline(resourcesAt: Fixtures.sd2)
            weakPipeline = pipeline
            let kept = try await XCTUnwrap(pipeline).loadLoRA(
                url: Self.lora("sd2_unet.safetensors"))
            pipeline = nil
            XCTAssertNotNil(weakPipeline, "kept alive by its LoRA")
            config.loras = [.init(kept)]
            _ = try await kept.pipeline.generate(config)
            config.loras = []
        }
        try await waitForRelease({ weakPipeline }, "the pipeline after its last LoRA")
    }

    /// Waits up to 10 s for `object()` to be released (a LoRA's free runs on its pipeline's
    /// queue, which then lets the pipeline go).
    func waitForRelease(_ object: () -> AnyObject?, _ what: String) async throws {
        let deadline = Date(timeIntervalSinceNow: 10)
        while object() != nil && Date() < deadline {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTAssertNil(object(), "\(what) was not released")
    }
}
