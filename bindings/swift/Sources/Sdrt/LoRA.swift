import CSdrt
import Dispatch
import Foundation

// LoRAs chosen per call (sdrt 0.5): `loadLoRA(url:)` loads a LoRA file into a pipeline once,
// and each request picks any of them with their scales:
//
//     let style = try await pipeline.loadLoRA(url: URL(fileURLWithPath: "style.safetensors"))
//     var config = Pipeline.Configuration(prompt: "a snowy mountain village")
//     config.loras = [.init(style, scale: 0.7)]
//     let images = try await pipeline.generate(config)
//
// The pipeline owns its LoRAs (`sdrt_lora_load`, `sdrt_lora_free`). A `LoRA` keeps its
// pipeline alive and is freed when its last reference goes (a `Configuration` that lists it
// is one), after the calls already queued on the pipeline.

extension Pipeline {
    /// A LoRA loaded into one pipeline (`Pipeline.loadLoRA(url:)`): diffusers/PEFT or kohya
    /// safetensors on the UNet's and text encoders' linear layers. Give it to that pipeline's
    /// requests in `Configuration.loras`; another pipeline refuses it.
    ///
    /// Freed (`sdrt_lora_free`) when the last reference goes, on the pipeline's queue: after
    /// the calls queued before, never blocking the releasing thread (it may be a progress
    /// handler's, inside a call). It holds a strong reference to its pipeline, which therefore
    /// lives until its LoRAs are freed. Equal only to itself.
    ///
    /// `Sendable`: its state is immutable, and `sdrt_lora_free` runs once, in `deinit`.
    public final class LoRA: @unchecked Sendable, Hashable, CustomStringConvertible {
        /// The file it was loaded from.
        public let url: URL
        let pipeline: Pipeline
        let handle: OpaquePointer

        init(url: URL, pipeline: Pipeline, handle: OpaquePointer) {
            self.url = url
            self.pipeline = pipeline
            self.handle = handle
        }

        deinit {
            let pipeline = self.pipeline
            // As an integer: the closure must be Sendable, and the handle is only an id.
            let bits = Int(bitPattern: handle)
            pipeline.queue.async {
                // Nothing to report to: a handle of a live pipeline, freed once.
                _ = sdrt_lora_free(pipeline.handle, OpaquePointer(bitPattern: bits))
            }
        }

        public static func == (a: LoRA, b: LoRA) -> Bool { a === b }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(ObjectIdentifier(self))
        }

        public var description: String { "Pipeline.LoRA(\(url.lastPathComponent))" }
    }

    /// One LoRA a request applies, and its scale (`sdrt_lora_weight`): 1 is as trained;
    /// diffusers' adapter weight (`set_adapters(..., adapter_weights=)`) or `lora_scale`.
    /// Finite, any sign.
    public struct LoRAWeight: Sendable, Hashable {
        public var lora: LoRA
        public var scale: Float

        public init(_ lora: LoRA, scale: Float = 1) {
            self.lora = lora
            self.scale = scale
        }
    }

    /// Loads the LoRA file at `url` (a file URL) into this pipeline (`sdrt_lora_load`) for
    /// requests to choose in `Configuration.loras`. On the pipeline's queue, after the calls
    /// queued before it, off the caller's thread. The first LoRA on a layer rebuilds the graphs
    /// it touches (through the graph cache); choosing LoRAs per request rebuilds nothing.
    ///
    /// Throws `SdrtError.invalidArgument` for a file that is not safetensors, a rank mismatch
    /// or keys that match no layer of this model (the message names the first such key),
    /// `.modelNotFound` for a missing file, `.unsupported` for DoRA, LoHa or LoKr; the pipeline
    /// keeps working. A `Task` cancelled before the load starts throws `CancellationError`.
    public func loadLoRA(url: URL) async throws -> LoRA {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<LoRA, Error>) in
            self.queue.async {
                continuation.resume(with: Result {
                    var out: OpaquePointer?
                    try withFilePath(url, field: "url") { path in
                        try SdrtError.check(sdrt_lora_load(self.handle, path, &out))
                    }
                    guard let out else {
                        throw SdrtError.internal("sdrt_lora_load returned no LoRA")
                    }
                    return LoRA(url: url, pipeline: self, handle: out)
                })
            }
        }
    }
}

extension Pipeline.Configuration {
    /// Sets `params.loras` and `lora_count` from `loras` and runs `body` while the array
    /// and the LoRAs it points to are alive.
    func withLoRAs<R>(_ params: inout sdrt_generate_params,
                      _ body: (inout sdrt_generate_params) throws -> R) throws -> R {
        guard !loras.isEmpty else { return try body(&params) }
        let weights = loras.map { sdrt_lora_weight(lora: $0.lora.handle, scale: $0.scale) }
        params.lora_count = try uint32(weights.count, "loras.count")
        return try withExtendedLifetime(loras) {
            try weights.withUnsafeBufferPointer { buffer in
                params.loras = buffer.baseAddress
                return try body(&params)
            }
        }
    }
}
