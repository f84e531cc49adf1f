/*
 * sdrt.h: the C API of sdrt, a Stable Diffusion runtime for native apps.
 *
 * sdrt runs Stable Diffusion models exported to ONNX (`optimum-cli export onnx`, the layout of
 * diffusers' ONNX pipelines) on ONNX Runtime >= 1.31, which it loads at run time, and
 * reproduces diffusers' text-to-image, image-to-image and inpainting results (and those of
 * LCM-distilled and SD-Turbo style few-step models). Providers: CPU, CUDA, CoreML, and plugin
 * execution providers registered from their library (OpenVINO by name, or any plugin EP), with a
 * logged fallback to CPU when the loaded ONNX Runtime lacks one or the plugin offers no device.
 *
 * Usage (error handling shortened):
 *
 *     #include "sdrt.h"
 *
 *     // Optional: without it the first sdrt_pipeline_create loads ONNX Runtime from
 *     // $SDRT_ORT_LIBRARY, $ORT_DYLIB_PATH, the folder of libsdrt, then the system.
 *     sdrt_runtime_options ro;
 *     sdrt_runtime_options_init(&ro);
 *     ro.ort_library_path = "/opt/onnxruntime/lib/libonnxruntime.so";
 *     if (sdrt_runtime_init(&ro) != SDRT_OK) { ... }
 *
 *     sdrt_pipeline_options po;
 *     sdrt_pipeline_options_init(&po);
 *     po.provider = SDRT_PROVIDER_AUTO;
 *     sdrt_pipeline *pipe = NULL;
 *     sdrt_status st = sdrt_pipeline_create("models/sd2-base-onnx", &po, &pipe);
 *     if (st != SDRT_OK) {
 *         fprintf(stderr, "%s: %s\n", sdrt_status_str(st), sdrt_last_error_message());
 *         return 1;
 *     }
 *
 *     sdrt_generate_params gp;
 *     sdrt_generate_params_init(&gp);
 *     gp.prompt = "a photo of an astronaut riding a horse on mars";
 *     gp.steps = 30;
 *     gp.seed = 42;
 *     sdrt_images *images = NULL;
 *     st = sdrt_pipeline_generate(pipe, &gp, &images);
 *     if (st == SDRT_OK) {
 *         for (uint32_t i = 0; i < sdrt_images_count(images); i++) {
 *             const uint8_t *rgb = sdrt_images_data(images, i);
 *             // sdrt_images_width(images) * sdrt_images_height(images) * 3 bytes, RGB8
 *         }
 *     }
 *     sdrt_images_free(images);
 *     sdrt_pipeline_free(pipe);
 *
 * Image-to-image and inpainting: set gp.init_image (an sdrt_image_view of RGB8 or RGBA8
 * pixels with their stride), gp.strength, and for inpainting gp.mask (GRAY8, white repaints).
 * Watching: gp.step_callback receives an sdrt_step_info after every UNet evaluation, with a
 * preview every gp.preview_every evaluations when gp.preview_kind is set. Stopping:
 * sdrt_pipeline_cancel from any thread, or a callback returning 0.
 *
 * Contracts that hold for every function unless its own comment says otherwise:
 *
 * Ownership. Objects and buffers the library allocates are freed only by the library's
 *   sdrt_*_free functions (never with free(): the C runtimes of the library and the caller may
 *   differ). sdrt_*_free(NULL) does nothing. Strings returned as `const char *` are owned by
 *   the library; each function says how long they stay valid.
 * Pixels in. sdrt_image_view fields are borrowed for the call and copied; sdrt never keeps a
 *   pointer to caller memory after a call returns.
 * Strings in. `const char *` arguments and fields are borrowed, NUL-terminated UTF-8; they are
 *   validated (invalid UTF-8 is SDRT_ERROR_INVALID_ARGUMENT) and copied during the call, so
 *   they may be freed as soon as it returns.
 * Out-parameters come last and are written only when the call returns SDRT_OK.
 * Errors. Fallible functions return an sdrt_status (SDRT_OK = 0). sdrt_status_str names a
 *   status; sdrt_last_error_message gives a human-readable message for the last failure on the
 *   calling thread (thread-local). Bad input is an error, never a crash: no Rust panic crosses
 *   this API. Status numbers are never renumbered or reused.
 * Threads. sdrt_version, sdrt_abi_version, sdrt_status_str, sdrt_last_error_message,
 *   sdrt_runtime_ort_version, the *_init functions, sdrt_runtime_init and
 *   sdrt_pipeline_create may be called from any thread at any time. A pipeline may be used from
 *   several threads: sdrt_pipeline_generate calls on one pipeline are serialized (one runs, the
 *   others wait; different pipelines run concurrently), and sdrt_pipeline_get_info and
 *   sdrt_pipeline_cancel may be called at any time, from any thread. sdrt_pipeline_free and
 *   sdrt_images_free must not run concurrently with any other use of the same object. Images
 *   are read-only and may be read from several threads. The progress callback runs on the
 *   thread that called sdrt_pipeline_generate; the log callback may run on any thread,
 *   including ONNX Runtime's own, and concurrently. Callbacks must not throw (C++) or longjmp.
 * Versioned structs. Every options and params struct starts with `uint32_t struct_size`. Always
 *   fill one with its *_init function before setting fields: it sets the defaults and
 *   struct_size (in C and C++ *_init is a macro passing the struct's sizeof to *_init_sized;
 *   bindings without macros call *_init_sized themselves). Structs only grow at the end, so a program compiled against an older header
 *   keeps working with a newer library (the missing fields keep their defaults). A struct_size
 *   smaller than the first published layout is SDRT_ERROR_INVALID_ARGUMENT. Enumerations are
 *   passed as uint32_t fields; unknown values are SDRT_ERROR_INVALID_ARGUMENT.
 * Versions. SDRT_VERSION_* and SDRT_ABI_VERSION describe this header; sdrt_version() and
 *   sdrt_abi_version() describe the library loaded at run time.
 */

#ifndef SDRT_H
#define SDRT_H

/* Generated by cbindgen 0.29.4 from src/ffi/ with cbindgen.toml. Do not edit by hand. */

#include <stddef.h>
#include <stdint.h>

/**
 * At most this many LoRAs per call.
 */
#define SDRT_MAX_LORAS_PER_CALL 64

/**
 * Major version of the sdrt library (semantic versioning).
 */
#define SDRT_VERSION_MAJOR 0

/**
 * Minor version of the sdrt library.
 */
#define SDRT_VERSION_MINOR 5

/**
 * Patch version of the sdrt library.
 */
#define SDRT_VERSION_PATCH 0

/**
 * ABI version: bumped only when an existing function, struct field or constant changes
 * incompatibly (never, by policy: structs grow at the end, guarded by `struct_size`).
 */
#define SDRT_ABI_VERSION 1

/**
 * Result of a fallible sdrt function. The numbers are stable: they are never reused or
 * renumbered, new codes are only appended.
 */
enum sdrt_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * Success.
     */
    SDRT_OK = 0,
    /**
     * An argument is NULL, out of range, or malformed (e.g. width not a multiple of 8).
     */
    SDRT_ERROR_INVALID_ARGUMENT = 1,
    /**
     * ONNX Runtime could not be loaded, or is older than 1.31.
     */
    SDRT_ERROR_RUNTIME_UNAVAILABLE = 2,
    /**
     * `sdrt_runtime_init` was called again with a different ONNX Runtime library.
     */
    SDRT_ERROR_ALREADY_INITIALIZED = 3,
    /**
     * The model folder or one of its files does not exist.
     */
    SDRT_ERROR_MODEL_NOT_FOUND = 4,
    /**
     * The model folder's configs or ONNX graphs are not usable.
     */
    SDRT_ERROR_MODEL_INVALID = 5,
    /**
     * A provider requested with `strict_provider` is not in the loaded ONNX Runtime.
     */
    SDRT_ERROR_PROVIDER_UNAVAILABLE = 6,
    /**
     * ONNX Runtime failed while running a graph.
     */
    SDRT_ERROR_INFERENCE = 7,
    /**
     * The generation was cancelled (progress callback or `sdrt_pipeline_cancel`).
     */
    SDRT_ERROR_CANCELLED = 8,
    /**
     * The requested feature is not built in this version (e.g. the model names a scheduler
     * class sdrt does not implement, and no scheduler was chosen).
     */
    SDRT_ERROR_UNSUPPORTED = 9,
    /**
     * A file could not be read or written.
     */
    SDRT_ERROR_IO = 10,
    /**
     * An internal error in sdrt; please report it.
     */
    SDRT_ERROR_INTERNAL = 11,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_status sdrt_status;
#else
typedef uint32_t sdrt_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Log levels for `sdrt_runtime_options.log_level` and the log callback.
 */
enum sdrt_log_level
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * No messages.
     */
    SDRT_LOG_OFF = 0,
    /**
     * Failures.
     */
    SDRT_LOG_ERROR = 1,
    /**
     * Fallbacks and other surprises (the default).
     */
    SDRT_LOG_WARN = 2,
    /**
     * What was loaded and chosen.
     */
    SDRT_LOG_INFO = 3,
    /**
     * Details, including ONNX Runtime's verbose output.
     */
    SDRT_LOG_DEBUG = 4,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_log_level sdrt_log_level;
#else
typedef uint32_t sdrt_log_level;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Execution providers (`sdrt_pipeline_options.provider`, `sdrt_pipeline_info.provider`).
 */
enum sdrt_provider
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * CoreML if the loaded ONNX Runtime has it, else CUDA if it has it, else CPU.
     */
    SDRT_PROVIDER_AUTO = 0,
    /**
     * ONNX Runtime's CPU provider.
     */
    SDRT_PROVIDER_CPU = 1,
    /**
     * Apple CoreML (Neural Engine / GPU / CPU).
     */
    SDRT_PROVIDER_COREML = 2,
    /**
     * NVIDIA CUDA.
     */
    SDRT_PROVIDER_CUDA = 3,
    /**
     * Intel OpenVINO through ONNX Runtime's plugin EP ABI (the `onnxruntime-ep-openvino`
     * plugin; see `sdrt_pipeline_options.ep_library_path`, `ep_device`, `ep_precision`).
     * Its devices are Intel's: on a machine where the plugin offers no device of the kind
     * asked for (an AMD CPU, no Intel GPU), or without the plugin library, the pipeline
     * falls back to the CPU provider with a warning (`strict_provider`: an error). A graph
     * the plugin cannot build runs on the CPU provider the same way; `sdrt_pipeline_info`
     * reports where the graphs run. Since 0.4.
     */
    SDRT_PROVIDER_OPENVINO = 4,
    /**
     * Any plugin execution provider: `sdrt_pipeline_options.ep_library_path` and `ep_name`
     * (required), `ep_device`, and its options; the same fallback as OpenVINO. Since 0.4.
     */
    SDRT_PROVIDER_PLUGIN = 5,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_provider sdrt_provider;
#else
typedef uint32_t sdrt_provider;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * CoreML compute units (`sdrt_pipeline_options.coreml_compute_units`).
 */
enum sdrt_coreml_compute_units
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * CPU, GPU and Neural Engine.
     */
    SDRT_COREML_ALL = 0,
    /**
     * CPU and GPU.
     */
    SDRT_COREML_CPU_AND_GPU = 1,
    /**
     * CPU and Neural Engine.
     */
    SDRT_COREML_CPU_AND_NEURAL_ENGINE = 2,
    /**
     * CPU only.
     */
    SDRT_COREML_CPU_ONLY = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_coreml_compute_units sdrt_coreml_compute_units;
#else
typedef uint32_t sdrt_coreml_compute_units;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * The device a plugin execution provider runs on (`sdrt_pipeline_options.ep_device`).
 */
enum sdrt_ep_device
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * OpenVINO: the CPU. Another plugin: every device its provider offers.
     */
    SDRT_EP_DEVICE_DEFAULT = 0,
    /**
     * The CPU.
     */
    SDRT_EP_DEVICE_CPU = 1,
    /**
     * A GPU.
     */
    SDRT_EP_DEVICE_GPU = 2,
    /**
     * A neural processing unit.
     */
    SDRT_EP_DEVICE_NPU = 3,
    /**
     * OpenVINO's `AUTO` meta-device over every device it offers (provider
     * `OpenVINOExecutionProvider.AUTO`); another plugin: as `SDRT_EP_DEVICE_DEFAULT`.
     */
    SDRT_EP_DEVICE_AUTO = 4,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_ep_device sdrt_ep_device;
#else
typedef uint32_t sdrt_ep_device;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * The precision OpenVINO computes in (`sdrt_pipeline_options.ep_precision`), passed as its
 * `INFERENCE_PRECISION_HINT` through the provider's `load_config` option. Float32 is the
 * parity contract (the tiny goldens at the usual tolerance); bfloat16 and float16 are opt-in
 * speed modes whose images differ from float32's.
 */
enum sdrt_ep_precision
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * The device's default (bfloat16 on CPUs with bfloat16 instructions).
     */
    SDRT_EP_PRECISION_AUTO = 0,
    /**
     * Float32.
     */
    SDRT_EP_PRECISION_F32 = 1,
    /**
     * Bfloat16.
     */
    SDRT_EP_PRECISION_BF16 = 2,
    /**
     * Float16.
     */
    SDRT_EP_PRECISION_F16 = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_ep_precision sdrt_ep_precision;
#else
typedef uint32_t sdrt_ep_precision;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Schedulers (`sdrt_generate_params.scheduler`), each reproducing the diffusers class named.
 * The numbers are stable. A scheduler a library version does not build returns
 * `SDRT_ERROR_UNSUPPORTED` from `sdrt_pipeline_generate`.
 */
enum sdrt_scheduler
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * The scheduler named in the model's `scheduler/scheduler_config.json`.
     */
    SDRT_SCHEDULER_DEFAULT = 0,
    /**
     * diffusers' PNDMScheduler ("pndm").
     */
    SDRT_SCHEDULER_PNDM = 1,
    /**
     * DDIMScheduler ("ddim").
     */
    SDRT_SCHEDULER_DDIM = 2,
    /**
     * EulerDiscreteScheduler ("euler").
     */
    SDRT_SCHEDULER_EULER = 3,
    /**
     * EulerAncestralDiscreteScheduler ("euler-a").
     */
    SDRT_SCHEDULER_EULER_ANCESTRAL = 4,
    /**
     * DPMSolverMultistepScheduler, dpmsolver++ order 2 ("dpm++2m").
     */
    SDRT_SCHEDULER_DPMPP_2M = 5,
    /**
     * The same with Karras sigmas ("dpm++2m-karras").
     */
    SDRT_SCHEDULER_DPMPP_2M_KARRAS = 6,
    /**
     * DPMSolverMultistepScheduler, sde-dpmsolver++ ("dpm++2m-sde").
     */
    SDRT_SCHEDULER_DPMPP_2M_SDE = 7,
    /**
     * LMSDiscreteScheduler ("lms").
     */
    SDRT_SCHEDULER_LMS = 8,
    /**
     * HeunDiscreteScheduler ("heun").
     */
    SDRT_SCHEDULER_HEUN = 9,
    /**
     * UniPCMultistepScheduler ("unipc").
     */
    SDRT_SCHEDULER_UNIPC = 10,
    /**
     * LCMScheduler ("lcm").
     */
    SDRT_SCHEDULER_LCM = 11,
    /**
     * DDPMScheduler ("ddpm").
     */
    SDRT_SCHEDULER_DDPM = 12,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_scheduler sdrt_scheduler;
#else
typedef uint32_t sdrt_scheduler;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Random generators (`sdrt_generate_params.generator`). Room is left for more.
 */
enum sdrt_generator
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * `numpy.random.RandomState(seed).randn(count, C, h/8, w/8)` in float64, cast to float32:
     * what diffusers' ONNX pipelines draw. Seeds must fit in 32 bits. Stochastic schedulers
     * (euler-a, dpm++2m-sde, ddpm, lcm, ddim with eta > 0) then draw each step's noise,
     * `randn(count, C, h/8, w/8)`, from the same RandomState, continuing after the initial
     * latents, at the points where diffusers draws it. Image-to-image and inpainting draw,
     * in this order: the init image's latent sample `randn(1, C, h/8, w/8)` (skipped by
     * inpainting UNets at strength 1), the noise `randn(count, C, h/8, w/8)`, the masked
     * image's latent sample (inpainting), then the steps' noise. diffusers has no reference
     * for this pairing; this order is fixed so that a seed gives the same image in every
     * release.
     */
    SDRT_GENERATOR_NUMPY = 0,
    /**
     * `torch.randn(..., generator=torch.Generator("cpu").manual_seed(seed))` in float32, as
     * diffusers' pipelines draw with a CPU generator: the initial latents first (for
     * image-to-image and inpainting: the init image's latent sample, the noise, the masked
     * image's latent sample), then each stochastic step's noise, in diffusers' order. Any 64-bit seed (torch uses its low 32
     * bits). Bit-exact with torch on x86-64 CPUs with AVX2 (torch's vectorized kernel).
     */
    SDRT_GENERATOR_TORCH = 1,
    /**
     * `torch.randn(..., generator=torch.Generator("cuda").manual_seed(seed), device="cuda")`
     * in float32: torch's CUDA generator (Philox4x32-10 and the GPU's Box-Muller), computed on
     * the CPU. What diffusers' pipelines draw with a CUDA generator and what A1111 and Forge
     * call the "GPU" seed: the same seed gives the same image as on an NVIDIA GPU. Any 64-bit
     * seed. Same draws, in the same order, as `SDRT_GENERATOR_TORCH`; each draw is one
     * `torch.randn` call (the generator's offset advances per call). Bit-exact with an NVIDIA
     * H200; draws of up to 256 x (SM count) x (threads per SM / 256) elements are the same on
     * other NVIDIA GPUs that compute `__sincosf` alike (e.g. 43,008 on an RTX 3060, 196,608 on
     * an RTX 4090; a 512x512 latent is 16,384), larger ones follow the H200's 132 SMs.
     */
    SDRT_GENERATOR_TORCH_CUDA = 2,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_generator sdrt_generator;
#else
typedef uint32_t sdrt_generator;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * What the model predicts (`sdrt_pipeline_info.prediction_type`, and the per-call override
 * `sdrt_generate_params.prediction_type`).
 */
enum sdrt_prediction_type
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * As the model's `scheduler_config.json` says (only meaningful as an override).
     */
    SDRT_PREDICTION_DEFAULT = 0,
    /**
     * Noise (SD 1.x, SD 2 base).
     */
    SDRT_PREDICTION_EPSILON = 1,
    /**
     * Velocity (SD 2.1 768).
     */
    SDRT_PREDICTION_V = 2,
    /**
     * The denoised sample.
     */
    SDRT_PREDICTION_SAMPLE = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_prediction_type sdrt_prediction_type;
#else
typedef uint32_t sdrt_prediction_type;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * How inference timesteps are spread (`sdrt_generate_params.timestep_spacing`), diffusers'
 * `timestep_spacing`.
 */
enum sdrt_timestep_spacing
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * As the model's `scheduler_config.json` says, else the scheduler class's default.
     */
    SDRT_TIMESTEP_SPACING_DEFAULT = 0,
    /**
     * "leading": multiples of T / steps plus `steps_offset` (SD 1.x / 2.x configs).
     */
    SDRT_TIMESTEP_SPACING_LEADING = 1,
    /**
     * "trailing": down from T (what SD-Turbo and zero-SNR models need).
     */
    SDRT_TIMESTEP_SPACING_TRAILING = 2,
    /**
     * "linspace": evenly over 0..T-1.
     */
    SDRT_TIMESTEP_SPACING_LINSPACE = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_timestep_spacing sdrt_timestep_spacing;
#else
typedef uint32_t sdrt_timestep_spacing;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Pixel layouts of `sdrt_image_view.format`. The numbers are stable.
 */
enum sdrt_pixel_format
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * The field's usual layout: RGB8 for `init_image`, GRAY8 for `mask`.
     */
    SDRT_PIXEL_FORMAT_DEFAULT = 0,
    /**
     * 3 bytes per pixel: R, G, B.
     */
    SDRT_PIXEL_FORMAT_RGB8 = 1,
    /**
     * 4 bytes per pixel: R, G, B, A (alpha is ignored).
     */
    SDRT_PIXEL_FORMAT_RGBA8 = 2,
    /**
     * 1 byte per pixel.
     */
    SDRT_PIXEL_FORMAT_GRAY8 = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_pixel_format sdrt_pixel_format;
#else
typedef uint32_t sdrt_pixel_format;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Preview kinds (`sdrt_generate_params.preview_kind`). The numbers are stable. Every kind
 * shows the clean image the model predicts at that step (from the UNet's output and the
 * scheduler's noise level), not the noisy latents. Previews never change the final image.
 * Cost per preview image on the bundled tiny model (64x64, 2 CPU cores, debug build), from
 * three runs of `cargo test --test watch -- --nocapture`: latent_rgb 0.03 ms, taesd 1.4 to
 * 3.1 ms, full 1.1 to 1.7 ms, next to a UNet evaluation of 1 to 2 ms per image. The tiny
 * fixtures' TAESD and VAE are about equally small, so their ratio there says nothing about
 * real models; latent_rgb runs no graph on any model.
 */
enum sdrt_preview_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * No previews (default).
     */
    SDRT_PREVIEW_NONE = 0,
    /**
     * A fixed linear map of the 4 latent channels to RGB at 1/8 of the image's size
     * (microseconds, no graph run): `rgb = (latents . M + 1) / 2` with the 4x3 matrix preview
     * tools use for the SD 1.x / 2.x VAE.
     */
    SDRT_PREVIEW_LATENT_RGB = 1,
    /**
     * A Tiny AutoEncoder (TAESD) decoder at full size, from
     * `sdrt_pipeline_options.preview_decoder_path` or the model folder's
     * `vae_preview/model.onnx`, loaded by the first call that asks for it.
     */
    SDRT_PREVIEW_TAESD = 2,
    /**
     * The model's own VAE decoder at full size: what the final image would look like.
     */
    SDRT_PREVIEW_FULL = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_preview_kind sdrt_preview_kind;
#else
typedef uint32_t sdrt_preview_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * How prompts are read (`sdrt_generate_params.prompt_weighting`). Since 0.4.
 */
enum sdrt_prompt_weighting
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * As diffusers: the text as it is (parentheses are literal), truncated to 75 tokens.
     */
    SDRT_PROMPT_WEIGHTING_NONE = 0,
    /**
     * AUTOMATIC1111's original emphasis and long prompts: `(word:1.3)` multiplies the
     * weight of `word` by 1.3, `(word)` by 1.1, `[word]` divides it by 1.1; brackets nest and
     * their factors multiply; `\(`, `\)`, `\[`, `\]`, `\\` are literal characters. A bracket
     * left open applies to the rest of the prompt; a closing one with none open is literal,
     * as is a `:` not followed by a number and `)` (so `(word:abc)` is the text `word:abc`
     * at weight 1.1, as in A1111). Each token's hidden state is multiplied by its weight,
     * then each 77-token chunk's hidden states are rescaled to the chunk's unweighted mean
     * (not rescaled when the weighted mean is 0). Prompts are cut into chunks of 75 tokens
     * (the cut moves back to a comma within the last 20 tokens), each encoded as BOS +
     * chunk + EOS padded to 77, concatenated; the shorter of the prompt and negative prompt
     * is padded with empty-prompt chunks. At most 32 chunks and 64 KiB per prompt. A weight
     * A1111 cannot parse (`1.2.3`) or one that is not finite is
     * `SDRT_ERROR_INVALID_ARGUMENT` naming `prompt`. `BREAK` and embeddings are not
     * supported (literal text). SDXL: both encoders chunk alike (each with its own prompt,
     * `prompt_2`), each chunk's penultimate hidden states weighted and rescaled per encoder,
     * the pooled `text_embeds` from the first chunk; a NULL negative prompt stays zeros
     * under `force_zeros_for_empty_prompt`. Pipelines loaded with static shapes return
     * `SDRT_ERROR_UNSUPPORTED`; a UNet exported with a fixed sequence length takes one
     * chunk (a longer prompt is `SDRT_ERROR_INVALID_ARGUMENT` naming `prompt`).
     */
    SDRT_PROMPT_WEIGHTING_A1111 = 1,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sdrt_prompt_weighting sdrt_prompt_weighting;
#else
typedef uint32_t sdrt_prompt_weighting;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Generated images (opaque): `count` RGB8 images of `width` x `height`, rows tightly packed,
 * or, from a call with `output_latents`, no images (`sdrt_images_count` 0; `width` and
 * `height` are those of the images the latents stand for) and latents read with
 * `sdrt_images_latents`. Free with `sdrt_images_free`. Read-only, so any thread may read it
 * concurrently.
 */
typedef struct sdrt_images sdrt_images;

/**
 * A LoRA loaded into one pipeline (opaque). Load with `sdrt_lora_load`, free with
 * `sdrt_lora_free` or with its pipeline. Since 0.5.
 */
typedef struct sdrt_lora sdrt_lora;

/**
 * A loaded model (opaque). Create with `sdrt_pipeline_create`, free with `sdrt_pipeline_free`.
 */
typedef struct sdrt_pipeline sdrt_pipeline;

/**
 * Pixels lent to one call: `height` rows of `width` pixels, row `y` starting at
 * `data + y * stride`. Borrowed for the duration of the call only (sdrt copies them).
 * All zero (the `*_init` default) means "no image". `stride` 0 means rows are packed
 * (`width` times the bytes per pixel).
 */
typedef struct sdrt_image_view {
    /**
     * The first row's first byte, or NULL for no image (then width and height must be 0).
     */
    const uint8_t *data;
    /**
     * Width in pixels.
     */
    uint32_t width;
    /**
     * Height in pixels.
     */
    uint32_t height;
    /**
     * Bytes from one row to the next; 0 = packed. At least `width` times the bytes per pixel.
     */
    uint32_t stride;
    /**
     * `sdrt_pixel_format`.
     */
    uint32_t format;
} sdrt_image_view;

/**
 * One ControlNet of a call, as diffusers' `StableDiffusionControlNetPipeline` (and its SDXL
 * twin) takes it: the graph, its control image, `controlnet_conditioning_scale`,
 * `control_guidance_start`/`end` and `guess_mode`. Fill with `sdrt_controlnet_init`, then set
 * `model` and `image`. The struct only grows at the end, guarded by `struct_size`.
 *
 * The model folder's UNet must take ControlNet residuals (`unet/model.onnx` exported by
 * `tools/export_controlnet.py`); a UNet without them is `SDRT_ERROR_INVALID_ARGUMENT` naming
 * `controlnets`. Each ControlNet is loaded by the first call that uses it and kept by the
 * pipeline (the low-memory mode frees it after each call). Several ControlNets in one call
 * have their residuals summed, as diffusers' `MultiControlNetModel`.
 *
 * Ownership: the struct, `model` and the image's pixels are the caller's, borrowed for the
 * duration of `sdrt_pipeline_generate` only (sdrt copies them before running any graph; they
 * may be freed or reused when it returns). Threads: sdrt only reads them, so one array may
 * be passed to calls running at the same time (on different pipelines). Since 0.5.
 */
typedef struct sdrt_controlnet {
    /**
     * `sizeof(sdrt_controlnet)`, set by `sdrt_controlnet_init`. Every element of an array
     * must carry the same value: it is the array's stride.
     */
    uint32_t struct_size;
    /**
     * The ControlNet, NUL-terminated UTF-8, not NULL: a name without `/`, the folder
     * `controlnet/<name>/` of the model folder (its `model.onnx`); or a path with a `/` to
     * such a folder or to a `.onnx` file. One that does not exist is
     * `SDRT_ERROR_MODEL_NOT_FOUND` naming the folder searched and the names it holds.
     */
    const char *model;
    /**
     * The control image, RGB8 or RGBA8 (alpha ignored), of the output's size (sdrt does not
     * resize; another size, an empty view or NULL pixels are `SDRT_ERROR_INVALID_ARGUMENT`
     * naming `controlnets[i].image`). It is used as diffusers' `prepare_image` does: each
     * byte / 255, no normalisation to [-1, 1].
     */
    struct sdrt_image_view image;
    /**
     * `controlnet_conditioning_scale` (default 1.0), finite: the residuals are multiplied by
     * it; 0 skips the ControlNet.
     */
    float scale;
    /**
     * `control_guidance_start` (default 0.0), in [0, 1]: the ControlNet applies at step `i`
     * of `n` unless `i / n < start` or `(i + 1) / n > end`. Must be below `end`.
     */
    float start;
    /**
     * `control_guidance_end` (default 1.0), in [0, 1].
     */
    float end;
    /**
     * 1: diffusers' `guess_mode` (the ControlNet sees only the conditional half of the
     * batch, the unconditional half gets no residuals, and residual `k` of `N` is scaled by
     * `10^(k / (N - 1) - 1)` times `scale`); 0 (default): off. Other values are
     * `SDRT_ERROR_INVALID_ARGUMENT`. diffusers has one flag per call: give every ControlNet
     * of a call the same value to match it.
     */
    uint32_t guess_mode;
} sdrt_controlnet;

/**
 * A view of latents in a model's UNet space: `count * channels * height * width` floats,
 * row-major (`[count, channels, height, width]`), and the name of the latent space they are
 * in (`"sd"`, `"sdxl"`): a model refuses latents of another family's space. Set `struct_size`
 * to `sizeof(sdrt_latents)` before passing one to sdrt.
 *
 * Ownership: the struct is always the caller's. Given in `sdrt_generate_params.latents`,
 * the struct and what `data` and `family` point to are borrowed for the duration of
 * `sdrt_pipeline_generate` only (sdrt copies them before running any graph; they may be
 * freed or reused when the call returns). Filled by `sdrt_images_latents`, `data` and
 * `family` point into the `sdrt_images` and stay valid until `sdrt_images_free` of those
 * images: the caller never frees them, and a view from freed images must not be passed to
 * sdrt again. Since 0.4.
 */
typedef struct sdrt_latents {
    /**
     * `sizeof(sdrt_latents)`: the bytes of this struct the caller has.
     */
    uint32_t struct_size;
    /**
     * Images: the call's `count`.
     */
    uint32_t count;
    /**
     * Latent channels (4 for SD and SDXL).
     */
    uint32_t channels;
    /**
     * Latent rows (the image's height / 8).
     */
    uint32_t height;
    /**
     * Latent columns (the image's width / 8).
     */
    uint32_t width;
    /**
     * `count * channels * height * width` finite floats. Not NULL.
     */
    const float *data;
    /**
     * The latent space, NUL-terminated UTF-8 (`"sdxl"` for every SDXL model: base,
     * refiner and inpainting share it). Not NULL.
     */
    const char *family;
} sdrt_latents;

/**
 * Receives log messages. `level` is an `sdrt_log_level`; `message` is UTF-8, NUL-terminated
 * and valid only during the call; ONNX Runtime's messages start with `onnxruntime [ID]`,
 * where ID names the graph (`unet`, `text_encoder`, ...) or, for messages that belong to no
 * graph, ONNX Runtime's category. Called from any thread, including ONNX Runtime's own, and
 * possibly from several at once: it must be thread-safe, must not throw (C++) or longjmp, and
 * must not call sdrt functions (`sdrt_pipeline_cancel` excepted).
 *
 * Two such callbacks exist. The runtime's (`sdrt_runtime_options.log_callback`) receives the
 * process-wide messages: loading ONNX Runtime, ONNX Runtime's messages that belong to no
 * session and are logged outside any call, and the messages of every pipeline that has no
 * callback of its own. A pipeline's (`sdrt_pipeline_options.log_callback`) receives that
 * pipeline's messages only: sdrt's about it (what was loaded, provider fallbacks, truncated
 * prompts), ONNX Runtime's for its graphs (each ONNX Runtime session has its own logger), and
 * ONNX Runtime's environment-wide messages (its memory arenas', its worker threads') logged
 * on the thread of a call on that pipeline or on one of its sessions' worker threads (sdrt
 * creates those threads for ONNX Runtime); it is called only while
 * `sdrt_pipeline_create`, `sdrt_pipeline_generate` or `sdrt_pipeline_free` runs on that
 * pipeline, on the calling thread or on ONNX Runtime's worker threads for that call, and
 * never after `sdrt_pipeline_free` returns (or after a failed `sdrt_pipeline_create`
 * returns).
 */
typedef void (*sdrt_log_callback)(void *user_data, uint32_t level, const char *message);

/**
 * How to load a pipeline. Fill with `sdrt_pipeline_options_init`, then set fields. The struct
 * only grows at the end, guarded by `struct_size`.
 */
typedef struct sdrt_pipeline_options {
    /**
     * `sizeof(sdrt_pipeline_options)`, set by `sdrt_pipeline_options_init`.
     */
    uint32_t struct_size;
    /**
     * `sdrt_provider` to run on (default `SDRT_PROVIDER_AUTO`).
     */
    uint32_t provider;
    /**
     * Non-zero: a requested provider missing from the loaded ONNX Runtime is an error
     * (`SDRT_ERROR_PROVIDER_UNAVAILABLE`). Zero (default): a logged fallback to CPU.
     */
    uint32_t strict_provider;
    /**
     * `sdrt_coreml_compute_units` (default `SDRT_COREML_ALL`).
     */
    uint32_t coreml_compute_units;
    /**
     * Non-zero (default): CoreML MLProgram format; zero: NeuralNetwork.
     */
    uint32_t coreml_ml_program;
    /**
     * Non-zero: CoreML requires static input shapes; the free dimensions are pinned to
     * `static_width` x `static_height` and `static_count` images, and generate calls must use
     * exactly those. Default 0.
     */
    uint32_t coreml_static_shapes;
    /**
     * Width for static shapes; 0 = native.
     */
    uint32_t static_width;
    /**
     * Height for static shapes; 0 = native.
     */
    uint32_t static_height;
    /**
     * Images per call for static shapes; 0 = 1.
     */
    uint32_t static_count;
    /**
     * CUDA device ordinal (default 0), >= 0.
     */
    int32_t cuda_device_id;
    /**
     * Threads per graph for ONNX Runtime's intra-op pool, at most 1024; 0 (default) = ONNX
     * Runtime's choice.
     */
    uint32_t intra_op_threads;
    /**
     * Folder for CoreML's compiled-model cache (UTF-8), or NULL for `coreml/` in the cache
     * folder of `graph_cache_dir`. sdrt gives each graph and key its own folder in it (CoreML
     * keys its cache by the model's path only), so a changed model file or option never
     * reuses a stale compiled model. Copied.
     */
    const char *coreml_cache_dir;
    /**
     * The TAESD decoder (`model.onnx`, UTF-8 path) for `SDRT_PREVIEW_TAESD`, or NULL for the
     * model folder's `vae_preview/model.onnx`. Copied; loaded by the first call that asks
     * for such previews. Since 0.2.
     */
    const char *preview_decoder_path;
    /**
     * Non-zero: do not run the folder's `safety_checker/model.onnx` (SD 1.x exports) even
     * when it is there. Zero (default): run it on every image when present, black out the
     * images it flags, and report them through `sdrt_images_flagged`. Since 0.2.
     */
    uint32_t disable_safety_checker;
    /**
     * This pipeline's own log callback (see `sdrt_log_callback` for what it receives, from
     * which threads and when), or NULL (default): the pipeline's messages go to the runtime's
     * callback. Since 0.2.
     */
    sdrt_log_callback log_callback;
    /**
     * `sdrt_log_level` for `log_callback`: messages above it are dropped (default
     * `SDRT_LOG_WARN`). Also the level ONNX Runtime's sessions of this pipeline log at.
     * Ignored without a callback. Since 0.2.
     */
    uint32_t log_level;
    /**
     * Passed unchanged to `log_callback`; must stay valid until `sdrt_pipeline_free` returns
     * (or until a failed `sdrt_pipeline_create` returns). Since 0.2.
     */
    void *log_user_data;
    /**
     * Where sdrt caches what it builds from the model files, as a folder (UTF-8); NULL
     * (default): the platform's cache folder (`$SDRT_CACHE_DIR` when set, `off` for none;
     * else `~/Library/Caches/sdrt` on Apple systems, `%LOCALAPPDATA%\sdrt\cache` on Windows,
     * `$XDG_CACHE_HOME/sdrt` or `~/.cache/sdrt` elsewhere); "" (empty): no cache.
     * - With the CPU provider the first create saves each graph as ONNX Runtime optimized it;
     *   later creates load that graph with optimizations off, which is several times faster
     *   and computes the same images (tests/cache.rs checks them bit for bit).
     * - With CoreML, its compiled models go to `coreml/` in this folder (or to
     *   `coreml_cache_dir` when set), one folder per graph and key.
     *
     * An entry is keyed by the model file (size, modification time, a hash of it and its
     * external data), the ONNX Runtime version, the provider, the options that change the
     * built graph and the CPU, so a stale entry is never used; entries are written
     * atomically, damaged ones rebuilt, and any cache error (a full disk, a read-only folder)
     * falls back to the uncached load with a logged warning. Costs about the model's size
     * again on disk; empty it with `sdrt_graph_cache_clear`. Copied. Since 0.2 (in 0.2,
     * NULL meant no cache and the default was off).
     */
    const char *graph_cache_dir;
    /**
     * Nonzero: low-memory mode, like Apple's `reduceMemory`. The pipeline holds no graph
     * between calls; each call loads the graph of each stage (text encoder, UNet, VAE
     * decoder; VAE encoder and safety checker when used) as the stage starts and frees it,
     * activations included, as it ends. Peak memory is about the largest graph (the UNet)
     * instead of all of them, and every call pays the loads (seconds at full size with the
     * graph cache). Images are identical to the default mode's. Default 0. Since 0.3.
     */
    uint32_t low_memory;
    /**
     * `sdrt_ep_device` for the plugin providers (default `SDRT_EP_DEVICE_DEFAULT`). Since 0.4.
     */
    uint32_t ep_device;
    /**
     * `sdrt_ep_precision` for OpenVINO (default `SDRT_EP_PRECISION_AUTO`); not AUTO needs
     * the device CPU, GPU or NPU, and OpenVINO (else `SDRT_ERROR_INVALID_ARGUMENT`). Since 0.4.
     */
    uint32_t ep_precision;
    /**
     * The plugin library (UTF-8 path), registered in the runtime once per library until the
     * process exits. OpenVINO: NULL or "" for `$SDRT_OPENVINO_EP`, else
     * `openvino/libonnxruntime_providers_openvino_plugin.so` beside the loaded ONNX Runtime
     * (`tools/fetch_ep.sh openvino` puts it there). `SDRT_PROVIDER_PLUGIN`: required. Copied.
     * Since 0.4.
     */
    const char *ep_library_path;
    /**
     * The provider's name as its library reports it (the `OrtEpDevice` EP name). OpenVINO:
     * NULL or "" for `OpenVINOExecutionProvider` (`.AUTO` appended with
     * `SDRT_EP_DEVICE_AUTO`). `SDRT_PROVIDER_PLUGIN`: required. Copied. Since 0.4.
     */
    const char *ep_name;
    /**
     * The provider's own options: `ep_option_count` UTF-8 keys (without the provider's name)
     * and values, after sdrt's (OpenVINO: `load_config` for the precision), e.g. OpenVINO's
     * `num_of_threads`. NULL when the count is 0. Copied. Since 0.4.
     */
    const char *const *ep_option_keys;
    /**
     * The values of `ep_option_keys`, in the same order. Since 0.4.
     */
    const char *const *ep_option_values;
    /**
     * How many options there are, at most 256 (default 0). Since 0.4.
     */
    uint32_t ep_option_count;
} sdrt_pipeline_options;

/**
 * Progress callback, called on the thread running `sdrt_pipeline_generate` after each
 * denoising step with the number of steps done and the total (the UNet evaluations, which
 * for PNDM is `steps + 1`). Return non-zero to continue, 0 to cancel (the call then returns
 * `SDRT_ERROR_CANCELLED`). Must not throw (C++) or longjmp out of sdrt.
 *
 * What a callback (this one or `sdrt_step_callback`) may call: `sdrt_pipeline_get_info` and
 * `sdrt_pipeline_cancel` on any pipeline, `sdrt_last_error_message`, `sdrt_status_str`,
 * `sdrt_version`, the `*_init` functions and the `sdrt_images_*` accessors, and
 * `sdrt_pipeline_generate` on another pipeline. Not on the same pipeline: a generate call
 * there would wait for the call running it, so sdrt refuses it with
 * `SDRT_ERROR_INVALID_ARGUMENT` (the outer call goes on); `sdrt_pipeline_free` of the same
 * pipeline is ignored with a logged error.
 */
typedef int32_t (*sdrt_progress_callback)(void *user_data, uint32_t step, uint32_t total_steps);

/**
 * What `sdrt_step_callback` receives after each UNet evaluation. Owned by sdrt and valid only
 * during the callback, previews included: copy what you keep. Grows at the end; read only
 * the fields within `struct_size`.
 */
typedef struct sdrt_step_info {
    /**
     * `sizeof(sdrt_step_info)` of the library that filled it.
     */
    uint32_t struct_size;
    /**
     * UNet evaluations done in this call, 1..=`total_steps`.
     */
    uint32_t step;
    /**
     * UNet evaluations this call runs: `steps` (`steps + 1` for PNDM, `2 * steps - 1` for
     * Heun), fewer with image-to-image `strength` below 1.
     */
    uint32_t total_steps;
    /**
     * `sdrt_preview_kind` of `preview`, `SDRT_PREVIEW_NONE` on steps without one.
     */
    uint32_t preview_kind;
    /**
     * The timestep just evaluated.
     */
    double timestep;
    /**
     * Seconds since `sdrt_pipeline_generate` was entered.
     */
    double elapsed_seconds;
    /**
     * `preview_count` RGB8 images of `preview_width` x `preview_height`, back to back, rows
     * packed; NULL on steps without a preview. Valid only during the callback.
     */
    const uint8_t *preview;
    /**
     * Preview width in pixels (1/8 of the image's for `SDRT_PREVIEW_LATENT_RGB`).
     */
    uint32_t preview_width;
    /**
     * Preview height in pixels.
     */
    uint32_t preview_height;
    /**
     * Images in `preview` (the call's `count`).
     */
    uint32_t preview_count;
} sdrt_step_info;

/**
 * Step callback (`sdrt_generate_params.step_callback`), called on the thread running
 * `sdrt_pipeline_generate` after each UNet evaluation. Return non-zero to continue, 0 to
 * cancel (the call then returns `SDRT_ERROR_CANCELLED`). It may call `sdrt_pipeline_cancel`
 * and read-only functions, but must not call `sdrt_pipeline_generate` or
 * `sdrt_pipeline_free` on the same pipeline, and must not unwind (throw) into sdrt.
 */
typedef int32_t (*sdrt_step_callback)(void *user_data, const struct sdrt_step_info *info);

/**
 * One LoRA a call applies (`sdrt_generate_params.loras`): a handle from `sdrt_lora_load` on
 * the same pipeline, and its scale (1.0: as trained; diffusers' `lora_scale`, or its adapter
 * weight; finite, any sign). The layout is fixed. Since 0.5.
 */
typedef struct sdrt_lora_weight {
    /**
     * The LoRA. Not NULL.
     */
    const struct sdrt_lora *lora;
    /**
     * Its scale.
     */
    float scale;
} sdrt_lora_weight;

/**
 * One text-to-image request. Fill with `sdrt_generate_params_init`, then set fields. The
 * struct only grows at the end, guarded by `struct_size`.
 */
typedef struct sdrt_generate_params {
    /**
     * `sizeof(sdrt_generate_params)`, set by `sdrt_generate_params_init`.
     */
    uint32_t struct_size;
    /**
     * Image width in pixels; 0 = the model's native size. At most 4096, and a multiple of
     * what the UNet can take: it halves the latents once per down block but the last (8
     * pixels each), so 8 x 2^(blocks - 1): 64 for SD 1.x/2.x (4 blocks), 32 for the tiny test
     * model. The message of a refused size names the nearest sizes that work. A graph
     * exported with a fixed size takes only that size.
     */
    uint32_t width;
    /**
     * Image height in pixels; 0 = the model's native size. The same rules as `width`.
     */
    uint32_t height;
    /**
     * Denoising steps, 1..=num_train_timesteps (1000 for SD; default 50, as diffusers).
     * Within that range a scheduler refuses the counts where diffusers fails or builds a
     * schedule outside the training timesteps, with `SDRT_ERROR_INVALID_ARGUMENT` naming
     * the nearest accepted counts: `num_train_timesteps` itself with "leading" spacing and
     * `steps_offset` 1 (SD 1.x/2.x configs) for pndm, ddim, ddpm, dpm++2m, dpm++2m-sde and
     * unipc; with "trailing" spacing, scattered counts for pndm, ddim and ddpm (61, 103,
     * 499 and 59 others of 1..=1000 for ddim); lcm above the config's
     * `original_inference_steps` (50 by default). Euler, euler-a, dpm++2m-karras, lms and
     * heun take every count.
     */
    uint32_t steps;
    /**
     * Classifier-free guidance scale (default 7.5), a finite number (NaN and infinities are
     * `SDRT_ERROR_INVALID_ARGUMENT`); <= 1 skips the negative-prompt pass.
     */
    float guidance;
    /**
     * `sdrt_scheduler` (default `SDRT_SCHEDULER_DEFAULT`).
     */
    uint32_t scheduler;
    /**
     * Seed (default 0). The numpy generator takes 0..=4294967295.
     */
    uint64_t seed;
    /**
     * `sdrt_generator` (default `SDRT_GENERATOR_NUMPY`).
     */
    uint32_t generator;
    /**
     * Images to generate from one generator stream, 1..=64 (default 1).
     */
    uint32_t count;
    /**
     * The prompt, UTF-8, NUL-terminated; NULL = "". Longer than 75 CLIP tokens is truncated
     * (with a logged warning), as diffusers does; only the words that can reach the 75 are
     * tokenized, so a prompt of megabytes costs what a short one does. Borrowed for the
     * duration of the call.
     */
    const char *prompt;
    /**
     * The negative prompt, or NULL for none (""); truncated like `prompt`. Borrowed for the
     * duration of the call.
     */
    const char *negative_prompt;
    /**
     * Progress callback, or NULL.
     */
    sdrt_progress_callback progress;
    /**
     * Passed unchanged to `progress`.
     */
    void *progress_user_data;
    /**
     * DDIM's `eta` (default 0: deterministic DDIM; 1: DDPM-like noise). Ignored by other
     * schedulers. Must be finite and >= 0.
     */
    float eta;
    /**
     * `sdrt_prediction_type` overriding the model config's (default
     * `SDRT_PREDICTION_DEFAULT`): for exports whose config is wrong, e.g. an SD 2.1-768
     * folder that says epsilon.
     */
    uint32_t prediction_type;
    /**
     * `sdrt_timestep_spacing` overriding the model config's (default
     * `SDRT_TIMESTEP_SPACING_DEFAULT`), e.g. trailing for SD-Turbo.
     */
    uint32_t timestep_spacing;
    /**
     * Image-to-image and inpainting: the picture to start from, RGB8 or RGBA8 (alpha is
     * ignored); all zero (default) for text-to-image. `width`/`height` 0 take its size; a
     * different size is `SDRT_ERROR_INVALID_ARGUMENT` (sdrt does not resize), and its size
     * must be one `width`/`height` accept. Each side 1..=4096; `stride` at least `width`
     * times the bytes per pixel; NULL `data` with a non-zero size, an unknown `format` or a
     * GRAY8 one are `SDRT_ERROR_INVALID_ARGUMENT` naming the field. Needs the model
     * folder's `vae_encoder/model.onnx`, loaded by the first call with an init image (a
     * text-to-image-only host never loads it). Since 0.2.
     */
    struct sdrt_image_view init_image;
    /**
     * Inpainting: GRAY8, the init image's size; pixels >= 128 are repainted, < 128 kept
     * (diffusers binarizes at 0.5). Needs `init_image`. With a 4-channel UNet the kept part
     * is re-imposed after every step (diffusers' `StableDiffusionInpaintPipeline`); an
     * inpainting UNet (9 channels) gets the mask and masked image as inputs and requires a
     * mask. All zero (default) for none. Since 0.2.
     */
    struct sdrt_image_view mask;
    /**
     * How much of the init image is repainted, in (0, 1] (default 0.8, diffusers'
     * image-to-image default; its inpainting default is 1.0): the denoising starts at step
     * `steps - int(steps * strength)`, so `steps * strength` must be at least 1. Ignored
     * without an init image. Since 0.2.
     */
    float strength;
    /**
     * diffusers' `guidance_rescale` (`rescale_noise_cfg`), in [0, 1], default 0 (off): the
     * fix for over-exposed v-prediction / zero-SNR models. Applies when guidance > 1.
     * Since 0.2.
     */
    float guidance_rescale;
    /**
     * Richer per-step callback (see `sdrt_step_callback`), or NULL. Called after `progress`
     * when both are set. Since 0.2.
     */
    sdrt_step_callback step_callback;
    /**
     * Passed unchanged to `step_callback`.
     */
    void *step_user_data;
    /**
     * `sdrt_preview_kind` (default `SDRT_PREVIEW_NONE`). Previews reach `step_callback`.
     * Since 0.2.
     */
    uint32_t preview_kind;
    /**
     * A preview every this many UNet evaluations, and after the last (default 1 when a
     * preview kind is set; 0 = never). Since 0.2.
     */
    uint32_t preview_every;
    /**
     * The most bytes this call's largest tensor may take, as sdrt estimates it before any
     * graph runs (default 0 = 16 GiB; `UINT64_MAX` = no limit). The estimate is the largest
     * float32 tensor the graphs must hold: the UNet's attention scores at each level with
     * attention, `batch x heads x (h * w)^2 x 4` bytes (`batch` = 2 x `count` with guidance,
     * `h x w` the latent size there), and the VAE's full-size feature maps, `count x
     * max(block_out_channels) x width x height x 4`. A request above it is
     * `SDRT_ERROR_INVALID_ARGUMENT` with the estimate in the message. 4096 x 4096 needs about
     * 2.5 TiB on SD 2-base (1 TiB on the tiny test model); the default admits SD 2-base at
     * 1024 x 1024 for one image, five 768 x 768 images on SD 2.1-768, sixteen 512 x 512 on
     * SD 1.x. Fused attention (some CUDA and CoreML graphs) needs less: raise it there.
     * Since 0.2.
     */
    uint64_t memory_limit;
    /**
     * SDXL (every field from here to `latents` is since 0.4, and a caller whose
     * `struct_size` ends before one gets its default; models of other families refuse
     * `prompt_2`, `negative_prompt_2`, the micro-conditioning fields and the aesthetic scores
     * when set to anything but their defaults, with `SDRT_ERROR_INVALID_ARGUMENT` naming the
     * first such field): the second text
     * encoder's prompt, diffusers' `prompt_2`. UTF-8, NUL-terminated, borrowed for the
     * duration of the call; NULL or "" = `prompt` (every model accepts those). Truncated like
     * `prompt`.
     */
    const char *prompt_2;
    /**
     * SDXL: the second text encoder's negative prompt (`negative_prompt_2`); NULL or "" =
     * `negative_prompt`. Borrowed like `prompt_2`. (For SDXL a NULL `negative_prompt` gives
     * zero embeddings when the model's `force_zeros_for_empty_prompt` is set, while "" is
     * encoded, as diffusers does.)
     */
    const char *negative_prompt_2;
    /**
     * SDXL micro-conditioning, in pixels: diffusers' `original_size` as width and height;
     * 0 x 0 (default) = the output size. Each side 1..=65536; one side 0 alone is
     * `SDRT_ERROR_INVALID_ARGUMENT` naming `original_width/original_height`.
     */
    uint32_t original_width;
    /**
     * See `original_width`.
     */
    uint32_t original_height;
    /**
     * `crops_coords_top_left` as x (left, `crop_x`) and y (top, `crop_y`); default 0, 0. A
     * non-zero crop must lie inside the original size (`crop_x < original width`, `crop_y <
     * original height`), else `SDRT_ERROR_INVALID_ARGUMENT` naming `crop_x/crop_y`.
     */
    uint32_t crop_x;
    /**
     * See `crop_x`.
     */
    uint32_t crop_y;
    /**
     * `target_size` as width and height; 0 x 0 (default) = the output size. The same rules
     * as `original_width`.
     */
    uint32_t target_width;
    /**
     * See `target_width`.
     */
    uint32_t target_height;
    /**
     * `negative_original_size`; 0 x 0 (default) = none: text-to-image then uses the positive
     * micro-conditioning for the negative pass unless both negative sizes are set, as
     * diffusers does; image-to-image defaults each to its positive. The same rules as
     * `original_width`.
     */
    uint32_t negative_original_width;
    /**
     * See `negative_original_width`.
     */
    uint32_t negative_original_height;
    /**
     * `negative_crops_coords_top_left` (default 0, 0); inside the negative original size.
     */
    uint32_t negative_crop_x;
    /**
     * See `negative_crop_x`.
     */
    uint32_t negative_crop_y;
    /**
     * `negative_target_size`; 0 x 0 (default) = none.
     */
    uint32_t negative_target_width;
    /**
     * See `negative_target_width`.
     */
    uint32_t negative_target_height;
    /**
     * An SDXL refiner's `aesthetic_score` (default 6.0, finite); SDXL base models ignore it
     * (they take sizes, not scores, in their `time_ids`), other families refuse another
     * value.
     */
    float aesthetic_score;
    /**
     * An SDXL refiner's `negative_aesthetic_score` (default 2.5, finite).
     */
    float negative_aesthetic_score;
    /**
     * diffusers' `denoising_start`, in (0, 1): continue `latents` (or the init image) from
     * this fraction of the schedule, as they are, without adding noise: a refiner after its
     * base. 0 (default) = none. Needs `latents` or `init_image`; must be below
     * `denoising_end` when both are set. A value outside (0, 1), or one that leaves no step,
     * is `SDRT_ERROR_INVALID_ARGUMENT` naming `denoising_start`.
     */
    float denoising_start;
    /**
     * diffusers' `denoising_end`, in (0, 1): stop at this fraction of the schedule (a base
     * before its refiner, with `output_latents`). 0 (default) = run the whole schedule.
     */
    float denoising_end;
    /**
     * 1: return the final latents, read with `sdrt_images_latents`, instead of decoding them
     * (no VAE decoder or safety checker runs; the images then hold no pixels and
     * `sdrt_images_count` is 0). 0 (default): images. Other values are
     * `SDRT_ERROR_INVALID_ARGUMENT`.
     */
    uint32_t output_latents;
    /**
     * Latents to start from instead of an init image, as a call with `output_latents`
     * returns them (pass the view `sdrt_images_latents` filled): of this model's latent
     * family, `count` images and the model's latent channels; the output size is theirs (0
     * `width`/`height`, or the same size). Usually with `denoising_start`; without it they
     * are noised to `strength` as an init image's latents are. NULL (default) = none. The
     * struct and its arrays are borrowed for the duration of the call and copied; a NULL
     * `data` or `family`, a `struct_size` below `sizeof(sdrt_latents)`, another family's
     * latents, a wrong shape, non-finite values, or latents together with `init_image` are
     * `SDRT_ERROR_INVALID_ARGUMENT` naming `latents`.
     */
    const struct sdrt_latents *latents;
    /**
     * `sdrt_prompt_weighting` (default `SDRT_PROMPT_WEIGHTING_NONE`); an unknown value is
     * `SDRT_ERROR_INVALID_ARGUMENT`. Since 0.4: a caller whose `struct_size` ends before it
     * gets the default.
     */
    uint32_t prompt_weighting;
    /**
     * The loaded LoRAs this call applies, with their scales (`sdrt_lora_weight`, handles from
     * `sdrt_lora_load` on this pipeline); NULL with `lora_count` 0 (default) = none. The array
     * is borrowed for the call and copied. Several at once add up, as diffusers' adapters
     * with weights. A NULL array with a nonzero count, a NULL handle, a handle freed or
     * another pipeline's, a non-finite scale, or more than `SDRT_MAX_LORAS_PER_CALL` are
     * `SDRT_ERROR_INVALID_ARGUMENT` naming `loras`. Since 0.5: a caller whose `struct_size`
     * ends before them gets none.
     */
    const struct sdrt_lora_weight *loras;
    /**
     * Entries in `loras`.
     */
    uint32_t lora_count;
    /**
     * ControlNets (see `sdrt_controlnet`): an array of `controlnet_count` structs, each
     * filled by `sdrt_controlnet_init`, borrowed for the duration of the call and copied;
     * NULL with a count of 0 (default) = none. More than 16, or NULL with a count, is
     * `SDRT_ERROR_INVALID_ARGUMENT`. Since 0.5: a caller whose `struct_size` ends before
     * these gets none.
     */
    const struct sdrt_controlnet *controlnets;
    /**
     * The number of structs at `controlnets`.
     */
    uint32_t controlnet_count;
} sdrt_generate_params;

/**
 * What a pipeline loaded. Set `struct_size` (via `sdrt_pipeline_info_init`) before calling
 * `sdrt_pipeline_get_info`; only grows at the end.
 */
typedef struct sdrt_pipeline_info {
    /**
     * `sizeof(sdrt_pipeline_info)`.
     */
    uint32_t struct_size;
    /**
     * Native image width in pixels (UNet sample size times the VAE factor).
     */
    uint32_t native_width;
    /**
     * Native image height in pixels.
     */
    uint32_t native_height;
    /**
     * `sdrt_prediction_type` from the scheduler config.
     */
    uint32_t prediction_type;
    /**
     * `sdrt_scheduler` the model folder names, or `SDRT_SCHEDULER_DEFAULT` when that
     * scheduler is not built in this version (see `default_scheduler_class`).
     */
    uint32_t default_scheduler;
    /**
     * `sdrt_provider` the sessions really run on (never `SDRT_PROVIDER_AUTO`).
     */
    uint32_t provider;
    /**
     * The diffusers class name in `scheduler_config.json`, e.g. "PNDMScheduler". Owned by
     * the pipeline; valid until `sdrt_pipeline_free`.
     */
    const char *default_scheduler_class;
    /**
     * 1 when every generate call runs the folder's safety checker, else 0. Since 0.2.
     */
    uint32_t safety_checker;
    /**
     * Channels of the UNet's `sample` input: 4 (or the latent channels) for text-to-image
     * models, 9 for inpainting models. Since 0.2.
     */
    uint32_t unet_in_channels;
    /**
     * Width of an LCM-distilled UNet's `timestep_cond` (`time_cond_proj_dim`), 0 for other
     * models. Since 0.2.
     */
    uint32_t timestep_cond_dim;
    /**
     * How many of the graphs loaded so far (all of them after create, unless in the
     * low-memory mode, which loads them as calls need them) run on the CPU provider because
     * `provider`, a plugin provider, could not build them (each with a logged warning; in
     * strict mode that is an error instead). 0 otherwise. Since 0.4.
     */
    uint32_t cpu_fallback_graphs;
} sdrt_pipeline_info;

/**
 * Options for `sdrt_runtime_init`. Fill with `sdrt_runtime_options_init` first; the struct only
 * grows at the end, guarded by `struct_size`.
 */
typedef struct sdrt_runtime_options {
    /**
     * `sizeof(sdrt_runtime_options)`, set by `sdrt_runtime_options_init`.
     */
    uint32_t struct_size;
    /**
     * `sdrt_log_level`: messages above it are dropped. Default `SDRT_LOG_WARN`.
     */
    uint32_t log_level;
    /**
     * Path of the ONNX Runtime shared library (UTF-8): the only library tried when set (a
     * file that is missing or cannot be loaded is `SDRT_ERROR_RUNTIME_UNAVAILABLE`, with the
     * path in the message; nothing else is searched). NULL to search `$SDRT_ORT_LIBRARY`,
     * `$ORT_DYLIB_PATH`, the folder of libsdrt, then the system, in that order. Copied; may
     * be freed after the call.
     */
    const char *ort_library_path;
    /**
     * Log callback for process-wide messages (see `sdrt_log_callback`), or NULL for none.
     */
    sdrt_log_callback log_callback;
    /**
     * Passed unchanged to `log_callback`; must stay valid until a later successful
     * `sdrt_runtime_init` replaces the callback or `sdrt_runtime_shutdown` detaches it (once
     * either returns, the old callback is never called again).
     */
    void *log_user_data;
} sdrt_runtime_options;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Removes every entry of the graph cache in `dir` (see
 * `sdrt_pipeline_options.graph_cache_dir`) and writes the bytes freed to `*freed` (may be
 * NULL). Other files in `dir` are left alone; a missing `dir` frees 0 bytes. Do not call it
 * while a pipeline using that cache is being created. Any thread. Errors:
 * `SDRT_ERROR_INVALID_ARGUMENT` (NULL or non-UTF-8 `dir`), `SDRT_ERROR_IO`. Since 0.2.
 */
sdrt_status sdrt_graph_cache_clear(const char *dir, uint64_t *freed);

/**
 * Fills the first published layout of `controlnet` with defaults (see `sdrt_controlnet`) and
 * sets `struct_size`. C and C++ callers reach `sdrt_controlnet_init_sized` through the macro
 * of the same name. NULL is ignored. Any thread. Since 0.5.
 */
void sdrt_controlnet_init(struct sdrt_controlnet *controlnet);

/**
 * Fills the first `size` bytes of `controlnet` with defaults and sets `struct_size` to the
 * bytes written; nothing past `size` is touched. NULL, or a size below 4, is ignored. Any
 * thread. Since 0.5.
 */
void sdrt_controlnet_init_sized(struct sdrt_controlnet *controlnet, uint32_t size);

/**
 * Lists every device of every execution provider the runtime's ONNX Runtime knows (its
 * built-in providers' and those of the plugin libraries registered so far), after
 * registering the plugin library `ep_library_path` (UTF-8 path) when it is not NULL; a
 * library is registered once per process and stays loaded. Initializes the runtime with
 * defaults if `sdrt_runtime_init` was not called.
 *
 * Writes a JSON array to `buf`, NUL-terminated, when `size` bytes hold it, and the bytes it
 * takes (with the NUL) to `*needed`; call with `buf` NULL and `size` 0 to learn the size.
 * One object per device: `ep_name` (e.g. "OpenVINOExecutionProvider", the name for
 * `sdrt_pipeline_options.ep_name`), `ep_vendor`, `device` ("cpu", "gpu" or "npu"),
 * `vendor`, `vendor_id`, `device_id` (numbers; 0 when unknown), and `ep_metadata` and
 * `device_metadata` (objects of strings, e.g. OpenVINO's "ov_device"). The OpenVINO plugin
 * lists Intel hardware only. Any thread.
 *
 * Errors: `SDRT_ERROR_INVALID_ARGUMENT` (NULL `needed`, a non-UTF-8 path, `buf` NULL with a
 * non-zero `size`, or `size` too small: `*needed` is still written and `buf` untouched),
 * `SDRT_ERROR_PROVIDER_UNAVAILABLE` (a library ONNX Runtime cannot register, named),
 * `SDRT_ERROR_RUNTIME_UNAVAILABLE`. Since 0.4.
 */
sdrt_status sdrt_ep_devices(const char *ep_library_path, char *buf, size_t size, size_t *needed);

/**
 * Fills `*out` (whose `struct_size` the caller set to `sizeof(sdrt_latents)`) with a view of
 * the latents of a call made with `output_latents`, ready to pass as the next call's
 * `sdrt_generate_params.latents` (SDXL's base-to-refiner hand-off). The view's `data` and
 * `family` are owned by `images`: valid until `sdrt_images_free(images)`, never freed by the
 * caller; calling this again returns the same pointers. Errors, with `*out` untouched:
 * `SDRT_ERROR_INVALID_ARGUMENT` for a NULL `images` or `out`, a `struct_size` below the
 * first layout, or images from a call without `output_latents` (they hold no latents). Any
 * thread, concurrently with the other readers of the same images. Since 0.4.
 */
sdrt_status sdrt_images_latents(const struct sdrt_images *images, struct sdrt_latents *out);

/**
 * Number of images; 0 for NULL.
 */
uint32_t sdrt_images_count(const struct sdrt_images *images);

/**
 * Width in pixels; 0 for NULL.
 */
uint32_t sdrt_images_width(const struct sdrt_images *images);

/**
 * Height in pixels; 0 for NULL.
 */
uint32_t sdrt_images_height(const struct sdrt_images *images);

/**
 * Channels per pixel: 3 (R, G, B); 0 for NULL.
 */
uint32_t sdrt_images_channels(const struct sdrt_images *images);

/**
 * Pixels of image `index`: `width * height * channels` bytes, row-major, rows tightly packed,
 * owned by `images` and valid until `sdrt_images_free`. NULL when `images` is NULL or `index`
 * is out of range.
 */
const uint8_t *sdrt_images_data(const struct sdrt_images *images, uint32_t index);

/**
 * 1 when the model's safety checker flagged image `index` (its pixels are then all black,
 * as diffusers blacks them out); 0 when it did not, when no checker ran (see
 * `sdrt_images_safety_checked`), for NULL or an out-of-range index. Since 0.2.
 */
int32_t sdrt_images_flagged(const struct sdrt_images *images, uint32_t index);

/**
 * 1 when a safety checker ran on these images (the model folder has
 * `safety_checker/model.onnx` and the pipeline did not disable it), else 0 (also for NULL).
 * Since 0.2.
 */
int32_t sdrt_images_safety_checked(const struct sdrt_images *images);

/**
 * Frees images from `sdrt_pipeline_generate`, with their latents (the views
 * `sdrt_images_latents` gave become invalid). NULL is a no-op; freeing the same images twice
 * is undefined behaviour, as for `free`. Independent of the pipeline: may be called after
 * `sdrt_pipeline_free`.
 */
void sdrt_images_free(struct sdrt_images *images);

/**
 * Loads the LoRA at `path` (NUL-terminated UTF-8) into `pipeline` for its calls to choose
 * (`sdrt_generate_params.loras`), and writes its handle to `*out`. Files: safetensors in the
 * diffusers/PEFT form (`save_lora_weights`: `unet.…lora_A.weight`, `text_encoder.…`,
 * `text_encoder_2.…`) or kohya's (`lora_unet_…lora_down.weight`, `lora_up`, `alpha`;
 * `lora_te_`, `lora_te1_`, `lora_te2_`), on the UNet's and text encoders' linear layers.
 *
 * Cost: the first LoRA that targets a layer adds a low-rank branch to it, so the graphs it
 * touches are rebuilt once here (through the graph cache: seconds for a cached graph, a
 * create's time for a new one); a LoRA on layers that already have branches loads without
 * touching a graph. Choosing or switching LoRAs between calls rebuilds nothing. A loaded LoRA
 * holds its matrices as the file stores them (float16 or float32; bfloat16 as float32), about
 * the file's size.
 *
 * Ownership: the pipeline owns the LoRA; `sdrt_lora_free` frees it early, and
 * `sdrt_pipeline_free` frees every LoRA still loaded (their handles are then invalid).
 * `*out` is written only on success. Threads: like `sdrt_pipeline_generate`, it waits for a
 * call in progress on the pipeline; from that call's callbacks it is
 * `SDRT_ERROR_INVALID_ARGUMENT` (it would wait for itself).
 * Errors: `SDRT_ERROR_INVALID_ARGUMENT` (NULL or non-UTF-8 argument, a file that is not
 * safetensors, a key of neither form, a layer without its down or up matrix, a rank
 * mismatch between them, a key that matches no linear layer of the model or a layer of other
 * dimensions (the message names the first such key: e.g. an SDXL LoRA on an SD 2 model),
 * non-finite values), `SDRT_ERROR_MODEL_NOT_FOUND` (no such file), `SDRT_ERROR_IO`,
 * `SDRT_ERROR_UNSUPPORTED` (DoRA, LoHa, LoKr keys), `SDRT_ERROR_MODEL_INVALID` (a graph
 * that cannot take the branch). On failure the pipeline is as it was and keeps working.
 * Since 0.5.
 */
sdrt_status sdrt_lora_load(struct sdrt_pipeline *pipeline,
                           const char *path,
                           struct sdrt_lora **out);

/**
 * Frees a LoRA loaded into `pipeline`: its matrices are released (the branches it added to
 * the graphs stay, so a later LoRA on the same layers loads without a rebuild). Waits for a
 * call in progress. Errors: `SDRT_ERROR_INVALID_ARGUMENT` for NULL, a handle already freed
 * or another pipeline's (the pipeline is unchanged). Since 0.5.
 */
sdrt_status sdrt_lora_free(struct sdrt_pipeline *pipeline, struct sdrt_lora *lora);

/**
 * Fills the first published layout of `options` with defaults and sets `struct_size` to that
 * layout's size: safe for a program built against any earlier header, whose struct may be
 * smaller than this library's. C and C++ callers including this header call it through the
 * macro of the same name, which passes `sizeof` to `sdrt_pipeline_options_init_sized`; other bindings call
 * `sdrt_pipeline_options_init_sized` themselves. NULL is ignored. Any thread.
 */
void sdrt_pipeline_options_init(struct sdrt_pipeline_options *options);

/**
 * Fills the first `size` bytes of `options` (at most this library's whole struct) with
 * defaults and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
 * `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
 * Any thread. Since 0.2.
 */
void sdrt_pipeline_options_init_sized(struct sdrt_pipeline_options *options, uint32_t size);

/**
 * Fills the first published layout of `params` with defaults and sets `struct_size` to that
 * layout's size: safe for a program built against any earlier header, whose struct may be
 * smaller than this library's. C and C++ callers including this header call it through the
 * macro of the same name, which passes `sizeof` to `sdrt_generate_params_init_sized`; other bindings call
 * `sdrt_generate_params_init_sized` themselves. NULL is ignored. Any thread.
 */
void sdrt_generate_params_init(struct sdrt_generate_params *params);

/**
 * Fills the first `size` bytes of `params` (at most this library's whole struct) with
 * defaults and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
 * `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
 * Any thread. Since 0.2.
 */
void sdrt_generate_params_init_sized(struct sdrt_generate_params *params, uint32_t size);

/**
 * Loads the model folder `model_dir` (UTF-8 path to an `optimum-cli export onnx` folder)
 * and writes a new pipeline to `*out`. `options` may be NULL for defaults. Initializes the
 * runtime with defaults if `sdrt_runtime_init` was not called. Pins libsdrt in memory (see
 * `sdrt_runtime_init`).
 *
 * Ownership: the caller owns `*out` and frees it with `sdrt_pipeline_free`. `*out` is written
 * only on success; on failure nothing is kept (no half-created pipeline). Thread-safe;
 * loading takes seconds for real models.
 *
 * What is checked here, before any graph runs: every file the pipeline needs exists
 * (`SDRT_ERROR_MODEL_NOT_FOUND` naming it: the text encoder, UNet and VAE decoder graphs and
 * their external data files, the tokenizer's files, `scheduler/scheduler_config.json`); the
 * configs are valid JSON with sane values, and each graph is an ONNX file whose inputs and
 * outputs (read from the file before any ONNX Runtime session is built) are its part's (names, ranks, element types; `SDRT_ERROR_MODEL_INVALID` naming the
 * file and the mismatch, so a graph copied over another part's fails here): the text
 * encoder's `last_hidden_state` width equals the UNet's `encoder_hidden_states` width, the
 * UNet's output channels equal the VAE decoder's (and the VAE encoder's, when the folder has
 * one) latent channels, the UNet's `sample` takes those channels or, for inpainting UNets,
 * twice them plus one, the UNet has no inputs beyond `sample`, `timestep`,
 * `encoder_hidden_states` and (LCM) `timestep_cond`, and the tokenizer's largest id fits the
 * text encoder's token embedding (read from the graph's embedding, else
 * `text_encoder/config.json`'s `vocab_size`).
 * Errors: `SDRT_ERROR_INVALID_ARGUMENT` (NULL `model_dir` or `out`, a path that is not UTF-8,
 * `struct_size` too small, an unknown enum value or `log_level`, a negative
 * `cuda_device_id`, `intra_op_threads` above 1024, malformed `ep_*` options, named),
 * `SDRT_ERROR_MODEL_NOT_FOUND`, `SDRT_ERROR_MODEL_INVALID`, `SDRT_ERROR_IO`,
 * `SDRT_ERROR_RUNTIME_UNAVAILABLE`, `SDRT_ERROR_PROVIDER_UNAVAILABLE` (strict mode: a
 * missing provider or plugin library, a device the plugin does not offer, a graph it
 * cannot build).
 */
sdrt_status sdrt_pipeline_create(const char *model_dir,
                                 const struct sdrt_pipeline_options *options,
                                 struct sdrt_pipeline **out);

/**
 * Frees a pipeline. NULL is a no-op. No other call on this pipeline may be running or start
 * afterwards (cancel and wait for `sdrt_pipeline_generate` to return first; once it has
 * returned, freeing at once is safe). Images already returned stay valid. Once it returns,
 * the pipeline's log callback is never called again. Called from one of this pipeline's own
 * callbacks, it would free the pipeline under the running call: sdrt detects that, logs an
 * error and leaves the pipeline alone (free it after the call returns).
 */
void sdrt_pipeline_free(struct sdrt_pipeline *pipeline);

/**
 * Fills the first published layout of `info` with zeros and sets `struct_size` to that
 * layout's size: safe for a program built against any earlier header, whose struct may be
 * smaller than this library's. C and C++ callers including this header call it through the
 * macro of the same name, which passes `sizeof` to `sdrt_pipeline_info_init_sized`; other bindings call
 * `sdrt_pipeline_info_init_sized` themselves. NULL is ignored. Any thread.
 */
void sdrt_pipeline_info_init(struct sdrt_pipeline_info *info);

/**
 * Fills the first `size` bytes of `info` (at most this library's whole struct) with
 * zeros and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
 * `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
 * Any thread. Since 0.2.
 */
void sdrt_pipeline_info_init_sized(struct sdrt_pipeline_info *info, uint32_t size);

/**
 * Writes what `pipeline` loaded to `*info` (whose `struct_size` the caller set).
 * Thread-safe. Errors: `SDRT_ERROR_INVALID_ARGUMENT` for NULL or a too-small `struct_size`.
 */
sdrt_status sdrt_pipeline_get_info(const struct sdrt_pipeline *pipeline,
                                   struct sdrt_pipeline_info *info);

/**
 * Generates `params->count` images and writes them to `*out`.
 *
 * Ownership: the caller owns `*out` and frees it with `sdrt_images_free`; written only on
 * success. Strings and pixels in `params` are borrowed for the call (and copied).
 * Modes: no `init_image`: text-to-image; `init_image`: image-to-image; `init_image` and
 * `mask`: inpainting. The first call with an init image loads the model's VAE encoder.
 * Threads: safe to call from several threads on one pipeline; calls are serialized (one
 * runs at a time, the others wait). The callbacks run on the calling thread; see
 * `sdrt_progress_callback` for what they may call (a generate call on the same pipeline from
 * its own callback is refused, not a deadlock).
 * Every check below runs before any graph does, so a refused call costs microseconds.
 * Errors: `SDRT_ERROR_INVALID_ARGUMENT` with a message naming the field: NULL `pipeline`,
 * `params` or `out`; `struct_size` too small; width/height not a size the UNet takes (see
 * `width`) or above 4096; an estimated peak above `memory_limit`; steps 0, above the model's
 * training steps or refused by the scheduler (see `steps`); count 0 or > 64; seed too large
 * for the generator; non-finite guidance; negative or non-finite eta; strength or
 * guidance_rescale out of range; an unknown enum value (scheduler, generator,
 * prediction_type, timestep_spacing, preview_kind, pixel format); a bad init image or mask
 * (see `init_image`, `mask`), a mask for a model that cannot inpaint, an inpainting model
 * without init image and mask, taesd previews without a TAESD decoder; a prompt that is not
 * UTF-8; a re-entrant call from this pipeline's own callback. `SDRT_ERROR_UNSUPPORTED` (the model's scheduler class is not
 * built and none was chosen, or its config asks for options sdrt lacks),
 * `SDRT_ERROR_MODEL_NOT_FOUND` (an init image without `vae_encoder/model.onnx`),
 * `SDRT_ERROR_MODEL_INVALID` (also a VAE or preview decoder whose output is not finite, such
 * as a float16 SDXL VAE that overflows: the message names its `model.onnx` and the fix),
 * `SDRT_ERROR_CANCELLED`, `SDRT_ERROR_INFERENCE` (ONNX Runtime
 * failed), `SDRT_ERROR_INTERNAL` (a bug in sdrt, e.g. a caught panic: the pipeline stays
 * usable).
 */
sdrt_status sdrt_pipeline_generate(struct sdrt_pipeline *pipeline,
                                   const struct sdrt_generate_params *params,
                                   struct sdrt_images **out);

/**
 * Cancels every `sdrt_pipeline_generate` running or waiting on `pipeline`; they return
 * `SDRT_ERROR_CANCELLED` promptly: ONNX Runtime's terminate flag stops the graph in flight
 * between two of its nodes. `cargo test --test watch -- --nocapture` measures the time from
 * this call to the return during a UNet step of 280 to 360 ms on 2 CPU cores: 1.5, 18.7 and
 * 35.5 ms in three runs (63 ms on a machine loaded by other builds); between steps it is
 * immediate. The pipeline
 * stays usable: the next call gives the same images as a fresh pipeline. Calls started
 * after this returns are not affected. Callable from any thread, including a progress
 * callback. NULL is ignored.
 */
void sdrt_pipeline_cancel(struct sdrt_pipeline *pipeline);

/**
 * Fills the first published layout of `options` with defaults and sets `struct_size` to that
 * layout's size: safe for a program built against any earlier header, whose struct may be
 * smaller than this library's. C and C++ callers including this header call it through the
 * macro of the same name, which passes `sizeof` to `sdrt_runtime_options_init_sized`; other bindings call
 * `sdrt_runtime_options_init_sized` themselves. NULL is ignored. Any thread.
 */
void sdrt_runtime_options_init(struct sdrt_runtime_options *options);

/**
 * Fills the first `size` bytes of `options` (at most this library's whole struct) with
 * defaults and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
 * `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
 * Any thread. Since 0.2.
 */
void sdrt_runtime_options_init_sized(struct sdrt_runtime_options *options, uint32_t size);

/**
 * Loads ONNX Runtime and sets logging. Optional: `sdrt_pipeline_create` initializes with
 * defaults when this was never called. `options` may be NULL for defaults.
 *
 * Calling it again is allowed: logging is updated; asking for a different ONNX Runtime
 * library than the one loaded fails with `SDRT_ERROR_ALREADY_INITIALIZED` and leaves the
 * logging settings as they were. On the first call the logging settings apply before the
 * library is searched, so the callback sees the attempt even when it fails.
 * Errors: `SDRT_ERROR_INVALID_ARGUMENT` (`struct_size` too small, unknown `log_level`,
 * path not UTF-8), `SDRT_ERROR_RUNTIME_UNAVAILABLE` when the library named by
 * `ort_library_path` cannot be loaded (the message names it) or, without a path, when no
 * usable library (>= 1.31) is found (the message lists every path tried),
 * `SDRT_ERROR_ALREADY_INITIALIZED`. Thread-safe.
 *
 * Loading and unloading: this call and `sdrt_pipeline_create` pin libsdrt (or the shared
 * library that has sdrt linked in) in memory, so a `dlclose` (`FreeLibrary`) never unloads
 * it; a later `dlopen` of the same path gets the same library back, with its state (ONNX
 * Runtime stays loaded with the same library, the log settings stay as they were left).
 * This is because ONNX Runtime, once loaded, stays loaded until the process exits, and its
 * one environment (shared by every user of that ONNX Runtime in the process) keeps a pointer
 * into the libsdrt that created it; a libsdrt that really unloaded would be called after it
 * is gone. A copy of libsdrt at another path is another library with its own state, and may
 * be used while the first is closed.
 *
 * Several copies in one process (a plug-in host loading two plug-ins that each carry
 * libsdrt): ONNX Runtime has one environment per process, which logs through the copy that
 * created it. sdrt routes each of those messages to the copy, and the pipeline, whose call
 * (`sdrt_pipeline_create`, `sdrt_pipeline_generate`, `sdrt_pipeline_free`, a preview render)
 * runs on the thread that logged it, or whose session's worker thread logged it: to that
 * pipeline's callback, else that copy's runtime callback. On Linux the copies find each other through the environment variable
 * `SDRT_LOG_ROUTER_<pid>`, which the first copy sets (`setenv`, keeping a value already there
 * unless it was left by the program this process ran before an `exec`); elsewhere each copy
 * routes only its own calls, and other copies' messages reach the creating copy's runtime
 * callback. What stays process-wide: ONNX Runtime's environment log level (the level of the
 * last `sdrt_runtime_init` of any copy filters the environment's messages before routing),
 * and messages logged outside any call (ONNX Runtime's own threads between calls), which go
 * to the runtime callback of the copy that created the environment. Before unloading code
 * that a callback lives in, free the pipelines whose callbacks are there and call
 * `sdrt_runtime_shutdown`.
 */
sdrt_status sdrt_runtime_init(const struct sdrt_runtime_options *options);

/**
 * The loaded ONNX Runtime's version (e.g. `"1.31.1"`), or NULL before the runtime is
 * initialized. Static once non-NULL; do not free. Any thread.
 */
const char *sdrt_runtime_ort_version(void);

/**
 * Detaches the runtime's log callback: once this returns it is never called again, and the
 * runtime level is back to `SDRT_LOG_WARN`. Call it before `dlclose` of libsdrt or of the
 * code the callback lives in (a plug-in that registered it), after freeing the pipelines
 * (each pipeline's own callback is detached when it is freed). Pipelines still alive keep
 * working, and a later `sdrt_runtime_init` attaches a callback again. ONNX Runtime stays
 * loaded: it cannot be unloaded while the process runs (see `sdrt_runtime_init`). Any
 * thread; never fails.
 */
void sdrt_runtime_shutdown(void);

/**
 * Returns a static, NUL-terminated name for `status`, e.g. `"SDRT_ERROR_CANCELLED"`.
 * Unknown numbers give `"SDRT_ERROR_UNKNOWN"`. Never NULL; never free it. Any thread.
 */
const char *sdrt_status_str(uint32_t status);

/**
 * The message of the most recent failed sdrt call on the calling thread (UTF-8,
 * NUL-terminated; `""` if none has failed). Owned by sdrt: valid until the next failing
 * sdrt call on the same thread; do not free it. Successful calls leave it unchanged.
 */
const char *sdrt_last_error_message(void);

/**
 * The library version as `"MAJOR.MINOR.PATCH"`. Static; never free it. Any thread.
 */
const char *sdrt_version(void);

/**
 * The ABI version the library was built with; compare with `SDRT_ABI_VERSION` from the
 * header you compiled against. Any thread.
 */
uint32_t sdrt_abi_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* SDRT_H */

/*
 * The *_init macros. The sdrt_*_init symbols fill only the first published layout of their
 * struct (so a program built against an older, smaller header is never written past its
 * struct); a program built against this header fills the struct as this header declares it.
 * C and C++ get that through these macros; bindings that cannot use macros (Swift, ctypes)
 * call the *_init_sized functions with the struct's size. `(sdrt_generate_params_init)(p)`
 * still reaches the plain symbol.
 */
#ifndef SDRT_INIT_MACROS
#define SDRT_INIT_MACROS
#define sdrt_runtime_options_init(p) sdrt_runtime_options_init_sized((p), (uint32_t)sizeof *(p))
#define sdrt_pipeline_options_init(p) sdrt_pipeline_options_init_sized((p), (uint32_t)sizeof *(p))
#define sdrt_pipeline_info_init(p) sdrt_pipeline_info_init_sized((p), (uint32_t)sizeof *(p))
#define sdrt_generate_params_init(p) sdrt_generate_params_init_sized((p), (uint32_t)sizeof *(p))
#define sdrt_controlnet_init(p) sdrt_controlnet_init_sized((p), (uint32_t)sizeof *(p))
#endif  /* SDRT_INIT_MACROS */
