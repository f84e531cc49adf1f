import CSdrt

extension Pipeline {
    /// One generation request: `sdrt_generate_params`, with the field names of
    /// ml-stable-diffusion's `StableDiffusionPipeline.Configuration` where the two agree. The
    /// defaults are the ones `sdrt_generate_params_init` sets (tests/modules.rs checks them);
    /// where they differ from Apple's:
    /// - `strength` is 0.8 (Apple: 1.0, which makes Apple ignore `startingImage`); sdrt uses a
    ///   starting image whenever one is set;
    /// - `seed` is a `UInt64` (Apple: `UInt32`); the numpy generator takes 0...UInt32.max, the
    ///   torch one all 64 bits;
    /// - `schedulerType` is `.default`, the model folder's own (Apple: `.pndmScheduler`);
    /// - the progress handler's `step` counts from 1 (Apple: from 0), see `Pipeline.Progress`;
    /// - the safety checker is switched off per pipeline (`Options.disableSafety`), not per call.
    public struct Configuration: Sendable, Hashable {
        /// `prompt`. Longer than 75 CLIP tokens is truncated, as diffusers does.
        public var prompt: String
        /// `negative_prompt`; "" for none, passed as NULL: diffusers' `negative_prompt=None`,
        /// which SDXL models with `force_zeros_for_empty_prompt` (the default) turn into zero
        /// embeddings rather than encoding "" (the same for SD models).
        public var negativePrompt: String = ""
        /// `init_image`: image-to-image and inpainting start from it (RGB8 or RGBA8); `nil` for
        /// text-to-image. Its size must be one the model takes; sdrt does not resize.
        public var startingImage: ImageInput? = nil
        /// `mask` (GRAY8, the starting image's size): pixels >= 128 are repainted.
        public var maskImage: ImageInput? = nil
        /// `strength` in (0, 1]: how much of the starting image is repainted.
        public var strength: Float = 0.8
        /// `count`: images from one generator stream, 1...64.
        public var imageCount: Int = 1
        /// `steps`: denoising steps.
        public var stepCount: Int = 50
        /// `seed` (the numpy generator takes 0...UInt32.max).
        public var seed: UInt64 = 0
        /// `guidance`: classifier-free guidance scale; <= 1 skips the negative pass.
        public var guidanceScale: Float = 7.5
        /// `scheduler`.
        public var schedulerType: Scheduler = .default
        /// `generator`.
        public var rngType: Generator = .numpy
        /// `width` in pixels; 0 = the model's native width (or the starting image's).
        public var width: Int = 0
        /// `height` in pixels; 0 = the model's native height (or the starting image's).
        public var height: Int = 0
        /// `eta` (DDIM only).
        public var eta: Float = 0
        /// `guidance_rescale` in [0, 1].
        public var guidanceRescale: Float = 0
        /// `prediction_type` overriding the model config's.
        public var predictionType: PredictionType = .default
        /// `timestep_spacing` overriding the model config's.
        public var timestepSpacing: TimestepSpacing = .default
        /// `preview_kind`: previews reach the progress handler as `Progress.currentImages`.
        public var previewKind: PreviewKind = .none
        /// `preview_every`: a preview every this many UNet evaluations, and after the last.
        public var previewEvery: Int = 1
        /// `memory_limit` in bytes for the largest tensor; 0 = 16 GiB, `UInt64.max` = none.
        public var memoryLimit: UInt64 = 0
        /// `prompt_weighting`: `.a1111` reads A1111's emphasis syntax and long prompts.
        public var promptWeighting: PromptWeighting = .none
        /// `controlnets` (see ControlNet.swift): applied together; empty = none.
        public var controlNets: [ControlNet] = []
        /// `loras`: the LoRAs this request applies, loaded into this pipeline
        /// (`Pipeline.loadLoRA(url:)`), with their scales; several add up. [] = none.
        public var loras: [LoRAWeight] = []

        // SDXL (see SDXL.swift). Other models refuse `prompt2`, `negativePrompt2` and the
        // micro-conditioning unless they keep these defaults. Where Apple's SDXL defaults
        // differ: `originalSize` and `targetSize` are the output size (Apple: 1024).

        /// `prompt_2`, the second text encoder's prompt; "" = `prompt`.
        public var prompt2: String = ""
        /// `negative_prompt_2`; "" = `negativePrompt`.
        public var negativePrompt2: String = ""
        /// `original_width`/`original_height`; `nil` = the output size.
        public var originalSize: Size? = nil
        /// `crop_x`/`crop_y`: inside `originalSize`.
        public var cropsCoordsTopLeft: Point = .zero
        /// `target_width`/`target_height`; `nil` = the output size.
        public var targetSize: Size? = nil
        /// `negative_original_width`/`negative_original_height`; `nil` = none.
        public var negativeOriginalSize: Size? = nil
        /// `negative_crop_x`/`negative_crop_y`.
        public var negativeCropsCoordsTopLeft: Point = .zero
        /// `negative_target_width`/`negative_target_height`; `nil` = none.
        public var negativeTargetSize: Size? = nil
        /// `aesthetic_score` (a refiner's).
        public var aestheticScore: Float = 6
        /// `negative_aesthetic_score` (a refiner's).
        public var negativeAestheticScore: Float = 2.5
        /// `denoising_start` in (0, 1): continue `latents` from this fraction of the schedule
        /// (a refiner after its base); 0 = none.
        public var denoisingStart: Float = 0
        /// `denoising_end` in (0, 1): stop at this fraction (a base before its refiner, with
        /// `Pipeline.generateLatents`); 0 = none.
        public var denoisingEnd: Float = 0
        /// `latents`: start from these (`Pipeline.generateLatents`) instead of noise or
        /// `startingImage`.
        public var latents: Latents? = nil

        public init(prompt: String) {
            self.prompt = prompt
        }
    }
}

/// Pixels handed to sdrt (`sdrt_image_view`): borrowed for the call and copied by sdrt.
public struct ImageInput: Sendable, Hashable {
    /// The rows, `bytesPerRow` apart (0 = packed).
    public var pixels: [UInt8]
    public var width: Int
    public var height: Int
    public var bytesPerRow: Int
    public var format: PixelFormat

    public init(pixels: [UInt8], width: Int, height: Int, bytesPerRow: Int = 0,
                format: PixelFormat) {
        self.pixels = pixels
        self.width = width
        self.height = height
        self.bytesPerRow = bytesPerRow
        self.format = format
    }

    /// Bytes per pixel of `format` (`.default` as RGB8 for images, GRAY8 for masks).
    func bytesPerPixel(isMask: Bool) -> Int {
        switch format {
        case .default: return isMask ? 1 : 3
        case .rgb8: return 3
        case .rgba8: return 4
        case .gray8: return 1
        }
    }
}

/// Calls `body` with an `sdrt_image_view` of `image` (all zero for `nil`), after checking
/// that `pixels` holds every row the view describes: sdrt reads `height` rows of `stride`
/// bytes and cannot see the array's end.
func withImageView<R>(_ image: ImageInput?, isMask: Bool, field: String,
                      _ body: (sdrt_image_view) throws -> R) throws -> R {
    guard let image else {
        return try body(sdrt_image_view(data: nil, width: 0, height: 0, stride: 0, format: 0))
    }
    let rowBytes = image.width * image.bytesPerPixel(isMask: isMask)
    let stride = image.bytesPerRow == 0 ? rowBytes : image.bytesPerRow
    guard image.width > 0, image.height > 0, stride >= rowBytes,
          image.pixels.count >= (image.height - 1) * stride + rowBytes else {
        throw SdrtError.invalidArgument(
            "\(field): \(image.pixels.count) bytes do not hold \(image.width) x \(image.height) "
                + "pixels of \(image.bytesPerPixel(isMask: isMask)) bytes, rows \(stride) apart")
    }
    let width = try uint32(image.width, "\(field).width")
    let height = try uint32(image.height, "\(field).height")
    let strideField = try uint32(image.bytesPerRow, "\(field).bytesPerRow")
    return try image.pixels.withUnsafeBufferPointer { buffer in
        try body(sdrt_image_view(data: buffer.baseAddress, width: width, height: height,
                                 stride: strideField, format: image.format.rawValue))
    }
}
