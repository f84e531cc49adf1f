// The header's enumerations as Swift enums. The C structs take them as uint32_t fields, so
// each is `UInt32`-backed and passed as `.rawValue`. Every case names its C constant in a
// comment; tests/modules.rs checks each number against include/sdrt.h and that no constant
// of a mirrored enum is missing. `Status`, `Scheduler` and `Generator` are nested in `Pipeline`:
// at top level they clashed with Apple's StableDiffusion and Combine in apps importing both.

extension Pipeline {
    /// `sdrt_status`: what a fallible call returned (`SdrtError` carries the failures).
    public enum Status: UInt32, Sendable {
        case ok = 0 // SDRT_OK
        case invalidArgument = 1 // SDRT_ERROR_INVALID_ARGUMENT
        case runtimeUnavailable = 2 // SDRT_ERROR_RUNTIME_UNAVAILABLE
        case alreadyInitialized = 3 // SDRT_ERROR_ALREADY_INITIALIZED
        case modelNotFound = 4 // SDRT_ERROR_MODEL_NOT_FOUND
        case modelInvalid = 5 // SDRT_ERROR_MODEL_INVALID
        case providerUnavailable = 6 // SDRT_ERROR_PROVIDER_UNAVAILABLE
        case inference = 7 // SDRT_ERROR_INFERENCE
        case cancelled = 8 // SDRT_ERROR_CANCELLED
        case unsupported = 9 // SDRT_ERROR_UNSUPPORTED
        case io = 10 // SDRT_ERROR_IO
        case `internal` = 11 // SDRT_ERROR_INTERNAL
    }
}

/// `sdrt_log_level`.
public enum LogLevel: UInt32, Sendable, Comparable {
    case off = 0 // SDRT_LOG_OFF
    case error = 1 // SDRT_LOG_ERROR
    case warn = 2 // SDRT_LOG_WARN
    case info = 3 // SDRT_LOG_INFO
    case debug = 4 // SDRT_LOG_DEBUG

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// `sdrt_provider`: where the graphs run.
public enum Provider: UInt32, Sendable {
    case auto = 0 // SDRT_PROVIDER_AUTO
    case cpu = 1 // SDRT_PROVIDER_CPU
    case coreML = 2 // SDRT_PROVIDER_COREML
    case cuda = 3 // SDRT_PROVIDER_CUDA
    /// Intel OpenVINO through ONNX Runtime's plugin EP ABI (falls back to CPU, with a warning,
    /// where the plugin or an Intel device is missing).
    case openVINO = 4 // SDRT_PROVIDER_OPENVINO
    /// Any plugin execution provider, by library and provider name.
    case plugin = 5 // SDRT_PROVIDER_PLUGIN
}

/// `sdrt_ep_device`: the device a plugin execution provider runs on.
public enum EPDevice: UInt32, Sendable {
    /// OpenVINO: the CPU; another plugin: every device it offers.
    case `default` = 0 // SDRT_EP_DEVICE_DEFAULT
    case cpu = 1 // SDRT_EP_DEVICE_CPU
    case gpu = 2 // SDRT_EP_DEVICE_GPU
    case npu = 3 // SDRT_EP_DEVICE_NPU
    /// OpenVINO's AUTO meta-device.
    case auto = 4 // SDRT_EP_DEVICE_AUTO
}

/// `sdrt_ep_precision`: OpenVINO's inference precision (float32 is the parity contract).
public enum EPPrecision: UInt32, Sendable {
    case auto = 0 // SDRT_EP_PRECISION_AUTO
    case f32 = 1 // SDRT_EP_PRECISION_F32
    case bf16 = 2 // SDRT_EP_PRECISION_BF16
    case f16 = 3 // SDRT_EP_PRECISION_F16
}

/// `sdrt_coreml_compute_units` (Core ML's `MLComputeUnits`).
public enum ComputeUnits: UInt32, Sendable {
    case all = 0 // SDRT_COREML_ALL
    case cpuAndGPU = 1 // SDRT_COREML_CPU_AND_GPU
    case cpuAndNeuralEngine = 2 // SDRT_COREML_CPU_AND_NEURAL_ENGINE
    case cpuOnly = 3 // SDRT_COREML_CPU_ONLY
}

extension Pipeline {
    /// `sdrt_scheduler` (ml-stable-diffusion's `StableDiffusionScheduler`).
    public enum Scheduler: UInt32, Sendable {
        /// The scheduler the model folder names.
        case `default` = 0 // SDRT_SCHEDULER_DEFAULT
        case pndm = 1 // SDRT_SCHEDULER_PNDM
        case ddim = 2 // SDRT_SCHEDULER_DDIM
        case euler = 3 // SDRT_SCHEDULER_EULER
        case eulerAncestral = 4 // SDRT_SCHEDULER_EULER_ANCESTRAL
        case dpmSolverMultistep = 5 // SDRT_SCHEDULER_DPMPP_2M
        case dpmSolverMultistepKarras = 6 // SDRT_SCHEDULER_DPMPP_2M_KARRAS
        case dpmSolverMultistepSDE = 7 // SDRT_SCHEDULER_DPMPP_2M_SDE
        case lms = 8 // SDRT_SCHEDULER_LMS
        case heun = 9 // SDRT_SCHEDULER_HEUN
        case uniPC = 10 // SDRT_SCHEDULER_UNIPC
        case lcm = 11 // SDRT_SCHEDULER_LCM
        case ddpm = 12 // SDRT_SCHEDULER_DDPM
    }
}

extension Pipeline {
    /// `sdrt_generator` (ml-stable-diffusion's `StableDiffusionRNG`): which random stream the
    /// seed drives: numpy's (diffusers' ONNX pipelines), torch's CPU generator, or torch's CUDA
    /// generator computed on the CPU bit for bit (what ml-stable-diffusion's `nvidiaRNG`
    /// approximates).
    public enum Generator: UInt32, Sendable {
        case numpy = 0 // SDRT_GENERATOR_NUMPY
        case torch = 1 // SDRT_GENERATOR_TORCH
        case torchCUDA = 2 // SDRT_GENERATOR_TORCH_CUDA
    }
}

/// `sdrt_prediction_type`.
public enum PredictionType: UInt32, Sendable {
    case `default` = 0 // SDRT_PREDICTION_DEFAULT
    case epsilon = 1 // SDRT_PREDICTION_EPSILON
    case vPrediction = 2 // SDRT_PREDICTION_V
    case sample = 3 // SDRT_PREDICTION_SAMPLE
}

/// `sdrt_timestep_spacing`.
public enum TimestepSpacing: UInt32, Sendable {
    case `default` = 0 // SDRT_TIMESTEP_SPACING_DEFAULT
    case leading = 1 // SDRT_TIMESTEP_SPACING_LEADING
    case trailing = 2 // SDRT_TIMESTEP_SPACING_TRAILING
    case linspace = 3 // SDRT_TIMESTEP_SPACING_LINSPACE
}

/// `sdrt_pixel_format` of an `ImageInput`.
public enum PixelFormat: UInt32, Sendable {
    /// RGB8 for a starting image, GRAY8 for a mask.
    case `default` = 0 // SDRT_PIXEL_FORMAT_DEFAULT
    case rgb8 = 1 // SDRT_PIXEL_FORMAT_RGB8
    case rgba8 = 2 // SDRT_PIXEL_FORMAT_RGBA8
    case gray8 = 3 // SDRT_PIXEL_FORMAT_GRAY8
}

/// `sdrt_preview_kind`: what `Pipeline.Progress.currentImages` holds.
public enum PreviewKind: UInt32, Sendable {
    case none = 0 // SDRT_PREVIEW_NONE
    /// 1/8 size, from the latents by a fixed linear map (microseconds).
    case latentRGB = 1 // SDRT_PREVIEW_LATENT_RGB
    /// Full size through a TAESD decoder (`Pipeline.Options.previewDecoder`).
    case taesd = 2 // SDRT_PREVIEW_TAESD
    /// Full size through the model's own VAE decoder.
    case full = 3 // SDRT_PREVIEW_FULL
}

/// `sdrt_prompt_weighting`: how prompts are read.
public enum PromptWeighting: UInt32, Sendable {
    /// As diffusers: literal text, truncated to 75 tokens.
    case none = 0 // SDRT_PROMPT_WEIGHTING_NONE
    /// AUTOMATIC1111's emphasis (`(word:1.3)`, `(word)`, `[word]`) and long prompts in chunks.
    case a1111 = 1 // SDRT_PROMPT_WEIGHTING_A1111
}
