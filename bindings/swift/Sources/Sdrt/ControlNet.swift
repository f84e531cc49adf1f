import CSdrt

// ControlNets in a request (`sdrt_controlnet`, `sdrt_generate_params.controlnets`):
//
//     var config = Pipeline.Configuration(prompt: "a harbour at dusk")
//     config.controlNets = [Pipeline.ControlNet(model: "canny", image: edges, scale: 0.8)]
//     let images = try await pipeline.generate(config)
//
// The model folder's UNet must take ControlNet residuals (tools/export_controlnet.py).

extension Pipeline {
    // Nested, as `Configuration` is: Apple's StableDiffusion package has a top-level
    // `ControlNet` (see Tests/ClashProbe).
    /// One ControlNet of a call, as diffusers' ControlNet pipelines take it. Since 0.5.
    public struct ControlNet: Sendable, Hashable {
        /// A folder name under the model's `controlnet/` ("canny" for
        /// `controlnet/canny/model.onnx`), or a path with a "/" to such a folder or `.onnx` file.
        public var model: String
        /// The control image (RGB8 or RGBA8), of the output's size: sdrt does not resize.
        public var image: ImageInput
        /// `controlnet_conditioning_scale`.
        public var scale: Float
        /// `control_guidance_start`, a fraction of the steps in [0, 1], below `end`.
        public var start: Float
        /// `control_guidance_end`, a fraction of the steps in [0, 1].
        public var end: Float
        /// diffusers' `guess_mode`.
        public var guessMode: Bool

        public init(model: String, image: ImageInput, scale: Float = 1, start: Float = 0,
                    end: Float = 1, guessMode: Bool = false) {
            self.model = model
            self.image = image
            self.scale = scale
            self.start = start
            self.end = end
            self.guessMode = guessMode
        }
    }
}

extension Pipeline.Configuration {
    /// Sets `params.controlnets`/`controlnet_count` to `controlNets`, valid inside `body`.
    func withControlNets<R>(_ params: inout sdrt_generate_params,
                            _ body: (inout sdrt_generate_params) throws -> R) throws -> R {
        try withControlNet(0, [], &params, body)
    }

    /// ControlNet `i` and the ones after it, one per level: each name and image stays
    /// borrowed while the next ones are added and while `body` runs.
    private func withControlNet<R>(_ i: Int, _ nets: [sdrt_controlnet],
                                   _ params: inout sdrt_generate_params,
                                   _ body: (inout sdrt_generate_params) throws -> R) throws -> R {
        guard i < controlNets.count else {
            guard !nets.isEmpty else { return try body(&params) }
            return try nets.withUnsafeBufferPointer { buffer in
                params.controlnets = buffer.baseAddress
                params.controlnet_count = UInt32(buffer.count)
                return try body(&params)
            }
        }
        let net = controlNets[i]
        return try net.model.withCString { model in
            try withImageView(net.image, isMask: false, field: "controlNets[\(i)].image") {
                view in
                var c = sdrt_controlnet()
                sdrt_controlnet_init_sized(&c, UInt32(MemoryLayout<sdrt_controlnet>.size))
                c.model = model
                c.image = view
                c.scale = net.scale
                c.start = net.start
                c.end = net.end
                c.guess_mode = net.guessMode ? 1 : 0
                return try withControlNet(i + 1, nets + [c], &params, body)
            }
        }
    }
}
