import CSdrt

// SDXL's part of a request, named after ml-stable-diffusion's SDXL `PipelineConfiguration`
// (`originalSize`, `cropsCoordsTopLeft`, `targetSize`, `aestheticScore`,
// `negativeAestheticScore`), and `Latents` for the base-to-refiner hand-off:
//
//     var config = Pipeline.Configuration(prompt: "an astronaut riding a horse")
//     config.denoisingEnd = 0.8
//     let latents = try await base.generateLatents(config)
//     config.denoisingEnd = 0
//     config.denoisingStart = 0.8
//     config.latents = latents
//     let images = try await refiner.generate(config)

extension Pipeline.Configuration {
    /// A micro-conditioning size in pixels. Apple's configuration takes one number for both
    /// sides: an integer or float literal is that square (`config.originalSize = 1024`).
    public struct Size: Sendable, Hashable, ExpressibleByIntegerLiteral,
        ExpressibleByFloatLiteral
    {
        public var width: Int
        public var height: Int

        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }

        public init(integerLiteral side: Int) {
            self.init(width: side, height: side)
        }

        public init(floatLiteral side: Double) {
            self.init(width: Int(side), height: Int(side))
        }
    }

    /// A crop's top-left corner in pixels: `x` from the left, `y` from the top. A literal is
    /// both coordinates, as Apple's single `cropsCoordsTopLeft` number.
    public struct Point: Sendable, Hashable, ExpressibleByIntegerLiteral,
        ExpressibleByFloatLiteral
    {
        public var x: Int
        public var y: Int

        public init(x: Int, y: Int) {
            self.x = x
            self.y = y
        }

        public init(integerLiteral both: Int) {
            self.init(x: both, y: both)
        }

        public init(floatLiteral both: Double) {
            self.init(x: Int(both), y: Int(both))
        }

        public static let zero = Point(x: 0, y: 0)
    }
}

extension Pipeline {
    /// Latents in a model's UNet space (`sdrt_latents`): `count x channels x height x width`
    /// floats, row-major, in the latent space of `family` ("sd", "sdxl"). What
    /// `Pipeline.generateLatents(_:progressHandler:)` returns (a copy), and what
    /// `Configuration.latents` starts a call from, usually with `denoisingStart`.
    public struct Latents: Sendable, Hashable {
        public var count: Int
        public var channels: Int
        public var height: Int
        public var width: Int
        public var family: String
        /// `count * channels * height * width` values.
        public var values: [Float]

        public init(count: Int, channels: Int, height: Int, width: Int, family: String = "sdxl",
                    values: [Float]) {
            self.count = count
            self.channels = channels
            self.height = height
            self.width = width
            self.family = family
            self.values = values
        }

        /// Copies the latents of `images`, from a call with `output_latents`
        /// (`sdrt_images_latents`; the caller still frees `images`).
        static func copy(from images: OpaquePointer) throws -> Latents {
            var view = sdrt_latents()
            view.struct_size = UInt32(MemoryLayout<sdrt_latents>.size)
            try SdrtError.check(sdrt_images_latents(images, &view))
            let n = Int(view.count) * Int(view.channels) * Int(view.height) * Int(view.width)
            guard let data = view.data, let family = view.family else {
                throw SdrtError.internal("sdrt_images_latents returned a NULL view")
            }
            return Latents(count: Int(view.count), channels: Int(view.channels),
                           height: Int(view.height), width: Int(view.width),
                           family: String(cString: family),
                           values: Array(UnsafeBufferPointer(start: data, count: n)))
        }

        /// Calls `body` with an `sdrt_latents` view of these latents, after checking that
        /// `values` holds what the shape says (sdrt cannot see the array's end).
        func withView<R>(_ body: (UnsafePointer<sdrt_latents>) throws -> R) throws -> R {
            guard count > 0, channels > 0, height > 0, width > 0,
                  values.count == count * channels * height * width else {
                throw SdrtError.invalidArgument(
                    "latents: \(values.count) values for \(count) x \(channels) x \(height) x "
                        + "\(width)")
            }
            var view = sdrt_latents()
            view.struct_size = UInt32(MemoryLayout<sdrt_latents>.size)
            view.count = try uint32(count, "latents.count")
            view.channels = try uint32(channels, "latents.channels")
            view.height = try uint32(height, "latents.height")
            view.width = try uint32(width, "latents.width")
            return try family.withCString { family in
                try values.withUnsafeBufferPointer { buffer in
                    view.data = buffer.baseAddress
                    view.family = family
                    return try withUnsafePointer(to: &view) { try body($0) }
                }
            }
        }
    }
}

extension Pipeline.Configuration {
    /// Sets the SDXL fields of `params` and runs `body` while the strings and latents they
    /// point to are alive.
    func withSDXLFields<R>(_ params: inout sdrt_generate_params,
                           _ body: (inout sdrt_generate_params) throws -> R) throws -> R {
        func size(_ s: Size?, _ field: String) throws -> (UInt32, UInt32) {
            guard let s else { return (0, 0) }
            return (try uint32(s.width, "\(field).width"), try uint32(s.height, "\(field).height"))
        }
        func point(_ p: Point, _ field: String) throws -> (UInt32, UInt32) {
            (try uint32(p.x, "\(field).x"), try uint32(p.y, "\(field).y"))
        }
        (params.original_width, params.original_height) = try size(originalSize, "originalSize")
        (params.crop_x, params.crop_y) = try point(cropsCoordsTopLeft, "cropsCoordsTopLeft")
        (params.target_width, params.target_height) = try size(targetSize, "targetSize")
        (params.negative_original_width, params.negative_original_height) =
            try size(negativeOriginalSize, "negativeOriginalSize")
        (params.negative_crop_x, params.negative_crop_y) =
            try point(negativeCropsCoordsTopLeft, "negativeCropsCoordsTopLeft")
        (params.negative_target_width, params.negative_target_height) =
            try size(negativeTargetSize, "negativeTargetSize")
        params.aesthetic_score = aestheticScore
        params.negative_aesthetic_score = negativeAestheticScore
        params.denoising_start = denoisingStart
        params.denoising_end = denoisingEnd
        return try prompt2.withCString { prompt2 in
            try negativePrompt2.withCString { negativePrompt2 in
                params.prompt_2 = prompt2
                params.negative_prompt_2 = negativePrompt2
                guard let latents else { return try body(&params) }
                return try latents.withView { view in
                    params.latents = view
                    return try body(&params)
                }
            }
        }
    }
}
