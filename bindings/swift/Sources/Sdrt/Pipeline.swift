import CSdrt
import Dispatch
import Foundation

/// A loaded model: owns one `sdrt_pipeline`, freed when the last reference goes.
///
/// Shaped after ml-stable-diffusion's `StableDiffusionPipeline`:
///
///     let pipeline = try await Pipeline.load(resourcesAt: modelFolder)
///     var config = Pipeline.Configuration(prompt: "a lighthouse at dawn")
///     config.stepCount = 25
///     let images = try await pipeline.generate(config) { progress in
///         print("step \(progress.step)/\(progress.stepCount)")
///         return true                    // false stops the generation
///     }
///
/// `Sendable`, honestly: the only state is the C handle and thread-safe Swift objects. The C
/// API allows every call made here from any thread on one pipeline (`sdrt_pipeline_generate`
/// calls are serialized by sdrt and, here, by a serial queue; `sdrt_pipeline_get_info` and
/// `sdrt_pipeline_cancel` may run at any time), and the one call that may not overlap others,
/// `sdrt_pipeline_free`, runs in `deinit`, when no other reference exists. Hence
/// `@unchecked`: the compiler cannot see the C API's thread rules.
public final class Pipeline: @unchecked Sendable {
    let handle: OpaquePointer
    /// The log handler, retained for C until `sdrt_pipeline_free` returns.
    private let logBox: Unmanaged<LogBox>?
    /// Runs the blocking `sdrt_pipeline_generate` calls off the caller's thread, one at a
    /// time, so that a cancelled call waiting here never cancels another one running in sdrt.
    let queue = DispatchQueue(label: "sdrt.pipeline.generate", qos: .userInitiated)

    /// `sdrt_pipeline_options`: where and how the graphs run.
    public struct Options: Sendable, Hashable {
        public var provider: Provider = .auto
        /// A provider missing from the loaded ONNX Runtime is an error, not a CPU fallback.
        public var strictProvider: Bool = false
        public var computeUnits: ComputeUnits = .all
        /// Core ML's MLProgram format (else NeuralNetwork).
        public var coreMLProgram: Bool = true
        /// Core ML with static shapes: every call must use exactly these sizes (0 = native).
        public var coreMLStaticShapes: Bool = false
        public var staticWidth: UInt32 = 0
        public var staticHeight: UInt32 = 0
        public var staticCount: UInt32 = 0
        public var cudaDeviceID: Int32 = 0
        /// ONNX Runtime's intra-op threads per graph; 0 = its choice.
        public var intraOpThreads: UInt32 = 0
        public var coreMLCacheDirectory: URL? = nil
        /// The TAESD decoder for `.taesd` previews (default: the folder's vae_preview/).
        public var previewDecoder: URL? = nil
        /// Skip the folder's safety checker (SD 1.x exports).
        public var disableSafety: Bool = false
        /// Where sdrt caches the graphs ONNX Runtime optimized (CPU) and Core ML's compiled
        /// models; nil: the platform's cache folder (~/Library/Caches/sdrt).
        public var graphCacheDirectory: URL? = nil
        /// No cache at all (`graph_cache_dir = ""`).
        public var disableGraphCache: Bool = false
        /// Like ml-stable-diffusion's `reduceMemory`: hold only the running stage's graph,
        /// loading each one per call (`low_memory`).
        public var reduceMemory: Bool = false
        /// The plugin providers (`.openVINO`, `.plugin`): the device, OpenVINO's precision,
        /// the plugin library (OpenVINO's default: $SDRT_OPENVINO_EP, else openvino/ beside
        /// ONNX Runtime), the provider's name, and its own options (`ep_*` in sdrt.h).
        public var epDevice: EPDevice = .default
        public var epPrecision: EPPrecision = .auto
        public var epLibrary: URL? = nil
        public var epName: String? = nil
        public var epOptions: [String: String] = [:]

        public init() {}
    }

    /// `sdrt_pipeline_info`: what was loaded.
    public struct Info: Sendable, Hashable {
        public let nativeWidth: Int
        public let nativeHeight: Int
        public let predictionType: PredictionType?
        /// The scheduler the folder names (`.default` when sdrt does not implement it).
        public let defaultScheduler: Scheduler?
        /// The diffusers class name in scheduler_config.json, e.g. "PNDMScheduler".
        public let defaultSchedulerClass: String
        /// The provider the sessions really run on.
        public let provider: Provider?
        public let hasSafetyChecker: Bool
        /// 9 for inpainting UNets, 4 for text-to-image ones.
        public let unetInChannels: Int
    }

    /// One step of a generation, handed to the progress handler on sdrt's thread.
    public struct Progress: Sendable {
        /// UNet evaluations done, 1...stepCount (Apple's `Progress.step` counts from 0).
        public let step: Int
        /// UNet evaluations this call runs (steps + 1 for PNDM, fewer with strength < 1).
        public let stepCount: Int
        /// The timestep just evaluated.
        public let timestep: Double
        /// Seconds since the generation started.
        public let elapsedTime: Double
        /// Previews (`Configuration.previewKind`); empty on steps without one.
        public let currentImages: [GeneratedImage]
    }

    /// What `events(_:bufferingNewest:)` yields.
    public enum Event: Sendable {
        case progress(Progress)
        case images([GeneratedImage])
    }

    /// Loads the ONNX model folder at `url` (`sdrt_pipeline_create`), on the calling thread;
    /// `load(resourcesAt:options:logLevel:logHandler:)` does it off the caller's thread.
    ///
    /// `url` must be a file URL (`URL(fileURLWithPath:)`), as must the URLs of `options`:
    /// others throw `SdrtError.invalidArgument`.
    ///
    /// `logHandler` receives this pipeline's messages up to `logLevel`; it may be called from
    /// any thread, including ONNX Runtime's, and concurrently (`sdrt_log_callback`). Without
    /// one, the messages go to the runtime's handler (`Pipeline.Runtime.initialize(logHandler:)`).
    public init(resourcesAt url: URL, options: Options = Options(), logLevel: LogLevel = .warn,
                logHandler: (@Sendable (LogLevel, String) -> Void)? = nil) throws {
        var opts = sdrt_pipeline_options()
        sdrt_pipeline_options_init_sized(&opts, UInt32(MemoryLayout<sdrt_pipeline_options>.size))
        opts.provider = options.provider.rawValue
        opts.strict_provider = options.strictProvider ? 1 : 0
        opts.coreml_compute_units = options.computeUnits.rawValue
        opts.coreml_ml_program = options.coreMLProgram ? 1 : 0
        opts.coreml_static_shapes = options.coreMLStaticShapes ? 1 : 0
        opts.static_width = options.staticWidth
        opts.static_height = options.staticHeight
        opts.static_count = options.staticCount
        opts.cuda_device_id = options.cudaDeviceID
        opts.intra_op_threads = options.intraOpThreads
        opts.disable_safety_checker = options.disableSafety ? 1 : 0
        opts.low_memory = options.reduceMemory ? 1 : 0
        opts.ep_device = options.epDevice.rawValue
        opts.ep_precision = options.epPrecision.rawValue
        let epKeys = options.epOptions.keys.sorted()
        let epValues = epKeys.map { options.epOptions[$0] ?? "" }
        opts.ep_option_count = UInt32(epKeys.count)

        let box = logHandler.map { Unmanaged.passRetained(LogBox($0)) }
        if let box {
            opts.log_level = logLevel.rawValue
            opts.log_user_data = box.toOpaque()
            opts.log_callback = logTrampoline
        }

        var out: OpaquePointer?
        do {
            try withOptionalPath(options.coreMLCacheDirectory, field: "coreMLCacheDirectory") {
                coreMLCache in
                try withOptionalPath(options.previewDecoder, field: "previewDecoder") {
                    previewDecoder in
                    try withOptionalPath(options.graphCacheDirectory,
                                         field: "graphCacheDirectory") { graphCache in
                        try withOptionalPath(options.epLibrary, field: "epLibrary") { epLibrary in
                            try withOptionalCString(options.epName) { epName in
                                try withCStrings(epKeys) { keys in
                                    try withCStrings(epValues) { values in
                                        try "".withCString { off in
                                            opts.coreml_cache_dir = coreMLCache
                                            opts.preview_decoder_path = previewDecoder
                                            opts.graph_cache_dir =
                                                options.disableGraphCache ? off : graphCache
                                            opts.ep_library_path = epLibrary
                                            opts.ep_name = epName
                                            opts.ep_option_keys = keys
                                            opts.ep_option_values = values
                                            try withFilePath(url, field: "resourcesAt") {
                                                modelDir in
                                                try SdrtError.check(
                                                    sdrt_pipeline_create(modelDir, &opts, &out))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } catch {
            // A failed create never calls the log callback again once it returns.
            box?.release()
            throw error
        }
        guard let out else {
            box?.release()
            throw SdrtError.internal("sdrt_pipeline_create returned no pipeline")
        }
        handle = out
        logBox = box
    }

    deinit {
        sdrt_pipeline_free(handle)
        logBox?.release()
    }

    /// What was loaded (`sdrt_pipeline_get_info`).
    public func info() throws -> Info {
        var info = sdrt_pipeline_info()
        sdrt_pipeline_info_init_sized(&info, UInt32(MemoryLayout<sdrt_pipeline_info>.size))
        try SdrtError.check(sdrt_pipeline_get_info(handle, &info))
        return Info(
            nativeWidth: Int(info.native_width),
            nativeHeight: Int(info.native_height),
            predictionType: PredictionType(rawValue: info.prediction_type),
            defaultScheduler: Scheduler(rawValue: info.default_scheduler),
            defaultSchedulerClass: info.default_scheduler_class.map { String(cString: $0) } ?? "",
            provider: Provider(rawValue: info.provider),
            hasSafetyChecker: info.safety_checker != 0,
            unetInChannels: Int(info.unet_in_channels))
    }

    /// Generates `configuration.imageCount` images (`sdrt_pipeline_generate`) on a thread of
    /// its own, so the caller's thread (the main actor, a cooperative pool thread) never blocks.
    /// Calls on one pipeline run one at a time, in the order they were made.
    ///
    /// `progressHandler` runs on that thread after every UNet evaluation; returning `false`
    /// stops the generation with `SdrtError.cancelled`. Cancelling the calling `Task` stops it
    /// too and throws `CancellationError`: a running call within a step
    /// (`sdrt_pipeline_cancel`), a call still waiting for another one at once, without waiting
    /// for it to finish.
    public func generate(
        _ configuration: Configuration,
        progressHandler: (@Sendable (Progress) -> Bool)? = nil
    ) async throws -> [GeneratedImage] {
        try await perform(configuration, outputLatents: false, progressHandler).images
    }

    /// `generate(_:progressHandler:)` with `output_latents`: the final latents instead of
    /// images (SDXL's base before its refiner, usually with `denoisingEnd`), to pass on as
    /// `Configuration.latents`.
    public func generateLatents(
        _ configuration: Configuration,
        progressHandler: (@Sendable (Progress) -> Bool)? = nil
    ) async throws -> Latents {
        guard let latents = try await perform(configuration, outputLatents: true,
                                              progressHandler).latents else {
            throw SdrtError.internal("sdrt_pipeline_generate returned no latents")
        }
        return latents
    }

    /// The asynchronous call both `generate` and `generateLatents` make.
    private func perform(
        _ configuration: Configuration, outputLatents: Bool,
        _ progressHandler: (@Sendable (Progress) -> Bool)?
    ) async throws -> Output {
        try Task.checkCancellation()
        let call = Call(progressHandler)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Output, Error>) in
                guard call.enqueue(continuation) else { return }
                self.queue.async {
                    // nil: the Task was cancelled while the call waited (already resumed).
                    guard let continuation = call.start() else { return }
                    let result = Result {
                        try self.run(configuration, call, outputLatents: outputLatents)
                    }
                    call.finish()
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            call.cancelByTask(self)
        }
    }

    /// `generate(_:progressHandler:)` as a stream: every step's `.progress` (with the
    /// previews), then `.images`. Ending the iteration early cancels the generation.
    ///
    /// The stream holds at most `limit` events a slow reader has not taken yet, the newest:
    /// older progress events (and their previews, which are large) are dropped rather than
    /// kept without bound. `.images` comes last and is never dropped.
    public func events(
        _ configuration: Configuration, bufferingNewest limit: Int = 8
    ) -> AsyncThrowingStream<Event, Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingNewest(max(limit, 1))) { continuation in
            let task = Task {
                do {
                    let images = try await self.generate(configuration) { progress in
                        continuation.yield(.progress(progress))
                        return true
                    }
                    continuation.yield(.images(images))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Stops every generation running on this pipeline (`sdrt_pipeline_cancel`); they throw
    /// `SdrtError.cancelled`. Any thread.
    public func cancel() {
        sdrt_pipeline_cancel(handle)
    }

    /// What one call returns: images, or latents (`output_latents`).
    enum Output: Sendable {
        case images([GeneratedImage])
        case latents(Latents)

        var images: [GeneratedImage] {
            if case .images(let images) = self { return images }
            return []
        }

        var latents: Latents? {
            if case .latents(let latents) = self { return latents }
            return nil
        }
    }

    /// One blocking generate call, on `queue`, between `call.start()` and `call.finish()`.
    func run(_ c: Configuration, _ call: Call, outputLatents: Bool = false) throws -> Output {
        var params = sdrt_generate_params()
        sdrt_generate_params_init_sized(&params, UInt32(MemoryLayout<sdrt_generate_params>.size))
        params.width = try uint32(c.width, "width")
        params.height = try uint32(c.height, "height")
        params.steps = try uint32(c.stepCount, "stepCount")
        params.guidance = c.guidanceScale
        params.scheduler = c.schedulerType.rawValue
        params.seed = c.seed
        params.generator = c.rngType.rawValue
        params.count = try uint32(c.imageCount, "imageCount")
        params.eta = c.eta
        params.prediction_type = c.predictionType.rawValue
        params.timestep_spacing = c.timestepSpacing.rawValue
        params.strength = c.strength
        params.guidance_rescale = c.guidanceRescale
        params.preview_kind = c.previewKind.rawValue
        params.preview_every = try uint32(c.previewEvery, "previewEvery")
        params.memory_limit = c.memoryLimit
        params.prompt_weighting = c.promptWeighting.rawValue
        params.output_latents = outputLatents ? 1 : 0
        // Always set: it also stops the call at the next step once the Task is cancelled
        // (covering a cancel that came just before sdrt started). `call` outlives the call.
        params.step_user_data = Unmanaged.passUnretained(call).toOpaque()
        params.step_callback = { userData, info in
            guard let userData, let info else { return 1 }
            let call = Unmanaged<Call>.fromOpaque(userData).takeUnretainedValue()
            return call.step(readStepInfo(info)) ? 1 : 0
        }

        var images: OpaquePointer?
        do {
            try c.prompt.withCString { prompt in
                try c.negativePrompt.withCString { negativePrompt in
                    try withImageView(c.startingImage, isMask: false, field: "startingImage") {
                        initImage in
                        try withImageView(c.maskImage, isMask: true, field: "maskImage") { mask in
                            params.prompt = prompt
                            params.negative_prompt = c.negativePrompt.isEmpty
                                ? nil : negativePrompt
                            params.init_image = initImage
                            params.mask = mask
                            try c.withSDXLFields(&params) { params in
                                try c.withControlNets(&params) { params in
                                    try c.withLoRAs(&params) { params in
                                        try SdrtError.check(
                                            sdrt_pipeline_generate(handle, &params, &images))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } catch SdrtError.cancelled where call.isCancelledByTask {
            throw CancellationError()
        }
        guard let images else {
            throw SdrtError.internal("sdrt_pipeline_generate returned no images")
        }
        defer { sdrt_images_free(images) }
        if outputLatents {
            return .latents(try Latents.copy(from: images))
        }
        return .images(GeneratedImage.all(from: images))
    }
}

/// A log handler, passed to C as `log_user_data` (a pipeline's, or the runtime's).
final class LogBox: @unchecked Sendable {
    private let handler: @Sendable (LogLevel, String) -> Void
    private let lock = NSLock()
    private var errors = 0

    init(_ handler: @escaping @Sendable (LogLevel, String) -> Void) {
        self.handler = handler
    }

    func deliver(_ level: LogLevel, _ message: String) {
        if level == .error {
            lock.lock()
            errors += 1
            lock.unlock()
        }
        handler(level, message)
    }

    /// `.error` messages delivered so far.
    var errorCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return errors
    }
}

/// One generate call's state, shared by the queue (start, step callback, finish) and the
/// cancellation handler (any thread).
final class Call: @unchecked Sendable {
    typealias Continuation = CheckedContinuation<Pipeline.Output, Error>
    private enum State { case new, queued, running, finished }

    private let lock = NSLock()
    private var state = State.new
    private var continuation: Continuation?
    private var cancelledByTask = false
    private let handler: (@Sendable (Pipeline.Progress) -> Bool)?

    init(_ handler: (@Sendable (Pipeline.Progress) -> Bool)?) {
        self.handler = handler
    }

    var isCancelledByTask: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelledByTask
    }

    /// Keeps `continuation` for the queue; false when the Task was cancelled already (then
    /// `continuation` was resumed with `CancellationError` and nothing is queued).
    func enqueue(_ continuation: Continuation) -> Bool {
        lock.lock()
        guard !cancelledByTask else {
            state = .finished
            lock.unlock()
            continuation.resume(throwing: CancellationError())
            return false
        }
        self.continuation = continuation
        state = .queued
        lock.unlock()
        return true
    }

    /// On the queue, before sdrt runs: the continuation to resume, or nil when the Task was
    /// cancelled while the call waited (it was resumed then, and the call is skipped).
    func start() -> Continuation? {
        lock.lock()
        defer { lock.unlock() }
        guard state == .queued else { return nil }
        state = .running
        defer { continuation = nil }
        return continuation
    }

    /// A call made without a Task (`generateImages`): straight to running.
    func startNow() {
        lock.lock()
        state = .running
        lock.unlock()
    }

    func finish() {
        lock.lock()
        state = .finished
        lock.unlock()
    }

    /// The Task was cancelled. A queued call is resumed with `CancellationError` at once and
    /// skipped. `sdrt_pipeline_cancel` stops every call on the pipeline, so it is sent only
    /// while this one is the call in sdrt (the queue runs one at a time, and the next cannot
    /// start before this one is marked finished, which waits for the lock).
    func cancelByTask(_ pipeline: Pipeline) {
        lock.lock()
        cancelledByTask = true
        var skipped: Continuation?
        switch state {
        case .new, .finished:
            break
        case .queued:
            skipped = continuation
            continuation = nil
            state = .finished
        case .running:
            pipeline.cancel()
        }
        lock.unlock()
        skipped?.resume(throwing: CancellationError())
    }

    /// The step callback: false stops the call.
    func step(_ info: sdrt_step_info) -> Bool {
        if isCancelledByTask { return false }
        guard let handler else { return true }
        return handler(Pipeline.Progress(
            step: Int(info.step), stepCount: Int(info.total_steps), timestep: info.timestep,
            elapsedTime: info.elapsed_seconds, currentImages: previews(of: info)))
    }
}

/// The fields of `*info` within its `struct_size`, the rest zero: a library older than the
/// header this was built with fills fewer (then there are no previews), a newer one more.
func readStepInfo(_ info: UnsafePointer<sdrt_step_info>) -> sdrt_step_info {
    let known = MemoryLayout<sdrt_step_info>.size
    let filled = Int(UnsafeRawPointer(info).load(as: UInt32.self))
    if filled >= known {
        return info.pointee
    }
    var copy = sdrt_step_info()
    withUnsafeMutableBytes(of: &copy) { bytes in
        bytes.copyMemory(from: UnsafeRawBufferPointer(start: info, count: max(filled, 0)))
    }
    return copy
}

/// The step's previews, copied (sdrt's buffer is valid only during the callback).
func previews(of info: sdrt_step_info) -> [GeneratedImage] {
    guard let preview = info.preview, info.preview_kind != PreviewKind.none.rawValue,
          info.preview_width > 0, info.preview_height > 0 else {
        return []
    }
    let width = Int(info.preview_width)
    let height = Int(info.preview_height)
    let bytes = width * height * 3
    return (0..<Int(info.preview_count)).map { i in
        GeneratedImage(width: width, height: height,
                       rgb: Array(UnsafeBufferPointer(start: preview + i * bytes, count: bytes)))
    }
}
