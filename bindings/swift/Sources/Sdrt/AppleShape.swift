import CSdrt
import Dispatch
import Foundation

#if canImport(CoreGraphics)
import CoreGraphics
#endif

// The call shape of Apple's ml-stable-diffusion, for apps moving over:
//
//     // Apple                                          // sdrt
//     let p = try StableDiffusionPipeline(              let p = try await Pipeline.load(
//         resourcesAt: url, configuration: mlConfig)        resourcesAt: url)
//     try p.loadResources()
//     var c = StableDiffusionPipeline.Configuration(    var c = Pipeline.Configuration(
//         prompt: "...")                                    prompt: "...")
//     let images = try p.generateImages(                let images = try p.generateImages(
//         configuration: c) { progress in true }            configuration: c) { progress in true }
//
// Where the defaults and numbering differ, see `Pipeline.Configuration` and `Pipeline.Progress`.

extension Pipeline {
    /// Loads the ONNX model folder at `url` off the calling thread: what
    /// `StableDiffusionPipeline(resourcesAt:...)` followed by `loadResources()` does for Apple's
    /// pipeline. The loading itself cannot be interrupted; a `Task` cancelled before it starts
    /// throws `CancellationError`.
    public static func load(
        resourcesAt url: URL, options: Options = Options(), logLevel: LogLevel = .warn,
        logHandler: (@Sendable (LogLevel, String) -> Void)? = nil
    ) async throws -> Pipeline {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<Pipeline, Error>) in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result {
                    try Pipeline(resourcesAt: url, options: options, logLevel: logLevel,
                                 logHandler: logHandler)
                })
            }
        }
    }

#if canImport(CoreGraphics)
    /// Apple's `generateImages(configuration:progressHandler:)`: blocks the calling thread
    /// (call it from a background thread or `Task.detached`) and returns one image per
    /// `imageCount`, `nil` where the safety checker flagged it. `progressHandler` runs on the
    /// calling thread after every UNet evaluation (`step` counts from 1, Apple's from 0);
    /// returning `false` stops the generation and, as Apple's does, returns `[]`.
    ///
    /// `generate(_:progressHandler:)` is the asynchronous form, with `Task` cancellation.
    public func generateImages(
        configuration config: Configuration,
        progressHandler: (Progress) -> Bool = { _ in true }
    ) throws -> [CGImage?] {
        try generateImagesShaped(configuration: config, progressHandler: progressHandler)
            .map { $0?.cgImage }
    }
#else
    /// Apple's `generateImages(configuration:progressHandler:)` where CoreGraphics is missing
    /// (Linux): the same call, with `GeneratedImage` for `CGImage`. It blocks the calling
    /// thread and returns one image per `imageCount`, `nil` where the safety checker flagged
    /// it. `progressHandler` runs on the calling thread after every UNet evaluation (`step`
    /// counts from 1, Apple's from 0); returning `false` stops the generation and, as Apple's
    /// does, returns `[]`.
    public func generateImages(
        configuration config: Configuration,
        progressHandler: (Progress) -> Bool = { _ in true }
    ) throws -> [GeneratedImage?] {
        try generateImagesShaped(configuration: config, progressHandler: progressHandler)
    }
#endif

    /// What both `generateImages` return, before the Apple one converts to `CGImage`.
    func generateImagesShaped(
        configuration config: Configuration, progressHandler: (Progress) -> Bool
    ) throws -> [GeneratedImage?] {
        try withoutActuallyEscaping(progressHandler) { handler in
            let stopped = Flag()
            let box = UncheckedHandler(handler)
            let call = Call { progress in
                if box.handler(progress) { return true }
                stopped.set()
                return false
            }
            do {
                let images = try queue.sync { () throws -> [GeneratedImage] in
                    call.startNow()
                    defer { call.finish() }
                    return try run(config, call).images
                }
                return images.map { $0.isFlagged ? nil : $0 }
            } catch SdrtError.cancelled where stopped.isSet {
                return []
            }
        }
    }
}

/// The caller's progress handler of `generateImages`: not `Sendable`, but called only during
/// the call that received it, on the thread that runs it (the caller's, inside `queue.sync`).
private final class UncheckedHandler: @unchecked Sendable {
    let handler: (Pipeline.Progress) -> Bool

    init(_ handler: @escaping (Pipeline.Progress) -> Bool) {
        self.handler = handler
    }
}

/// A flag set on one thread and read on another.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
