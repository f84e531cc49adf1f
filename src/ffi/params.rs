//! Enumerations and the per-call `sdrt_generate_params`.

use std::ffi::{c_char, c_void};

use super::controlnet::{read_controlnets, sdrt_controlnet};
use super::enums::{
    GENERATOR, PREDICTION_TYPE, PREVIEW_KIND, PROMPT_WEIGHTING, SCHEDULER, TIMESTEP_SPACING,
};
use super::image_view::{read_gray, read_rgb, sdrt_image_view};
use super::latents::{read_latents, sdrt_latents};
use super::lora::{read_loras, sdrt_lora_weight};
// Its Rust path before it moved to options.rs, where the pipeline options that take it are.
pub use super::options::sdrt_provider;
use super::read_versioned;
use super::step::sdrt_step_callback;
use crate::error::{Error, Result};
pub(crate) use crate::pipeline::{GenerateParams, GrayImage, MicroConditioning, RgbImage};

/// Schedulers (`sdrt_generate_params.scheduler`), each reproducing the diffusers class named.
/// The numbers are stable. A scheduler a library version does not build returns
/// `SDRT_ERROR_UNSUPPORTED` from `sdrt_pipeline_generate`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_scheduler {
    /// The scheduler named in the model's `scheduler/scheduler_config.json`.
    SDRT_SCHEDULER_DEFAULT = 0,
    /// diffusers' PNDMScheduler ("pndm").
    SDRT_SCHEDULER_PNDM = 1,
    /// DDIMScheduler ("ddim").
    SDRT_SCHEDULER_DDIM = 2,
    /// EulerDiscreteScheduler ("euler").
    SDRT_SCHEDULER_EULER = 3,
    /// EulerAncestralDiscreteScheduler ("euler-a").
    SDRT_SCHEDULER_EULER_ANCESTRAL = 4,
    /// DPMSolverMultistepScheduler, dpmsolver++ order 2 ("dpm++2m").
    SDRT_SCHEDULER_DPMPP_2M = 5,
    /// The same with Karras sigmas ("dpm++2m-karras").
    SDRT_SCHEDULER_DPMPP_2M_KARRAS = 6,
    /// DPMSolverMultistepScheduler, sde-dpmsolver++ ("dpm++2m-sde").
    SDRT_SCHEDULER_DPMPP_2M_SDE = 7,
    /// LMSDiscreteScheduler ("lms").
    SDRT_SCHEDULER_LMS = 8,
    /// HeunDiscreteScheduler ("heun").
    SDRT_SCHEDULER_HEUN = 9,
    /// UniPCMultistepScheduler ("unipc").
    SDRT_SCHEDULER_UNIPC = 10,
    /// LCMScheduler ("lcm").
    SDRT_SCHEDULER_LCM = 11,
    /// DDPMScheduler ("ddpm").
    SDRT_SCHEDULER_DDPM = 12,
}

/// Random generators (`sdrt_generate_params.generator`). Room is left for more.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_generator {
    /// `numpy.random.RandomState(seed).randn(count, C, h/8, w/8)` in float64, cast to float32:
    /// what diffusers' ONNX pipelines draw. Seeds must fit in 32 bits. Stochastic schedulers
    /// (euler-a, dpm++2m-sde, ddpm, lcm, ddim with eta > 0) then draw each step's noise,
    /// `randn(count, C, h/8, w/8)`, from the same RandomState, continuing after the initial
    /// latents, at the points where diffusers draws it. Image-to-image and inpainting draw,
    /// in this order: the init image's latent sample `randn(1, C, h/8, w/8)` (skipped by
    /// inpainting UNets at strength 1), the noise `randn(count, C, h/8, w/8)`, the masked
    /// image's latent sample (inpainting), then the steps' noise. diffusers has no reference
    /// for this pairing; this order is fixed so that a seed gives the same image in every
    /// release.
    SDRT_GENERATOR_NUMPY = 0,
    /// `torch.randn(..., generator=torch.Generator("cpu").manual_seed(seed))` in float32, as
    /// diffusers' pipelines draw with a CPU generator: the initial latents first (for
    /// image-to-image and inpainting: the init image's latent sample, the noise, the masked
    /// image's latent sample), then each stochastic step's noise, in diffusers' order. Any 64-bit seed (torch uses its low 32
    /// bits). Bit-exact with torch on x86-64 CPUs with AVX2 (torch's vectorized kernel).
    SDRT_GENERATOR_TORCH = 1,
    /// `torch.randn(..., generator=torch.Generator("cuda").manual_seed(seed), device="cuda")`
    /// in float32: torch's CUDA generator (Philox4x32-10 and the GPU's Box-Muller), computed on
    /// the CPU. What diffusers' pipelines draw with a CUDA generator and what A1111 and Forge
    /// call the "GPU" seed: the same seed gives the same image as on an NVIDIA GPU. Any 64-bit
    /// seed. Same draws, in the same order, as `SDRT_GENERATOR_TORCH`; each draw is one
    /// `torch.randn` call (the generator's offset advances per call). Bit-exact with an NVIDIA
    /// H200; draws of up to 256 x (SM count) x (threads per SM / 256) elements are the same on
    /// other NVIDIA GPUs that compute `__sincosf` alike (e.g. 43,008 on an RTX 3060, 196,608 on
    /// an RTX 4090; a 512x512 latent is 16,384), larger ones follow the H200's 132 SMs.
    SDRT_GENERATOR_TORCH_CUDA = 2,
}

/// What the model predicts (`sdrt_pipeline_info.prediction_type`, and the per-call override
/// `sdrt_generate_params.prediction_type`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_prediction_type {
    /// As the model's `scheduler_config.json` says (only meaningful as an override).
    SDRT_PREDICTION_DEFAULT = 0,
    /// Noise (SD 1.x, SD 2 base).
    SDRT_PREDICTION_EPSILON = 1,
    /// Velocity (SD 2.1 768).
    SDRT_PREDICTION_V = 2,
    /// The denoised sample.
    SDRT_PREDICTION_SAMPLE = 3,
}

/// How inference timesteps are spread (`sdrt_generate_params.timestep_spacing`), diffusers'
/// `timestep_spacing`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_timestep_spacing {
    /// As the model's `scheduler_config.json` says, else the scheduler class's default.
    SDRT_TIMESTEP_SPACING_DEFAULT = 0,
    /// "leading": multiples of T / steps plus `steps_offset` (SD 1.x / 2.x configs).
    SDRT_TIMESTEP_SPACING_LEADING = 1,
    /// "trailing": down from T (what SD-Turbo and zero-SNR models need).
    SDRT_TIMESTEP_SPACING_TRAILING = 2,
    /// "linspace": evenly over 0..T-1.
    SDRT_TIMESTEP_SPACING_LINSPACE = 3,
}

/// How prompts are read (`sdrt_generate_params.prompt_weighting`). Since 0.4.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_prompt_weighting {
    /// As diffusers: the text as it is (parentheses are literal), truncated to 75 tokens.
    SDRT_PROMPT_WEIGHTING_NONE = 0,
    /// AUTOMATIC1111's original emphasis and long prompts: `(word:1.3)` multiplies the
    /// weight of `word` by 1.3, `(word)` by 1.1, `[word]` divides it by 1.1; brackets nest and
    /// their factors multiply; `\(`, `\)`, `\[`, `\]`, `\\` are literal characters. A bracket
    /// left open applies to the rest of the prompt; a closing one with none open is literal,
    /// as is a `:` not followed by a number and `)` (so `(word:abc)` is the text `word:abc`
    /// at weight 1.1, as in A1111). Each token's hidden state is multiplied by its weight,
    /// then each 77-token chunk's hidden states are rescaled to the chunk's unweighted mean
    /// (not rescaled when the weighted mean is 0). Prompts are cut into chunks of 75 tokens
    /// (the cut moves back to a comma within the last 20 tokens), each encoded as BOS +
    /// chunk + EOS padded to 77, concatenated; the shorter of the prompt and negative prompt
    /// is padded with empty-prompt chunks. At most 32 chunks and 64 KiB per prompt. A weight
    /// A1111 cannot parse (`1.2.3`) or one that is not finite is
    /// `SDRT_ERROR_INVALID_ARGUMENT` naming `prompt`. `BREAK` and embeddings are not
    /// supported (literal text). SDXL: both encoders chunk alike (each with its own prompt,
    /// `prompt_2`), each chunk's penultimate hidden states weighted and rescaled per encoder,
    /// the pooled `text_embeds` from the first chunk; a NULL negative prompt stays zeros
    /// under `force_zeros_for_empty_prompt`. Pipelines loaded with static shapes return
    /// `SDRT_ERROR_UNSUPPORTED`; a UNet exported with a fixed sequence length takes one
    /// chunk (a longer prompt is `SDRT_ERROR_INVALID_ARGUMENT` naming `prompt`).
    SDRT_PROMPT_WEIGHTING_A1111 = 1,
}

/// Progress callback, called on the thread running `sdrt_pipeline_generate` after each
/// denoising step with the number of steps done and the total (the UNet evaluations, which
/// for PNDM is `steps + 1`). Return non-zero to continue, 0 to cancel (the call then returns
/// `SDRT_ERROR_CANCELLED`). Must not throw (C++) or longjmp out of sdrt.
///
/// What a callback (this one or `sdrt_step_callback`) may call: `sdrt_pipeline_get_info` and
/// `sdrt_pipeline_cancel` on any pipeline, `sdrt_last_error_message`, `sdrt_status_str`,
/// `sdrt_version`, the `*_init` functions and the `sdrt_images_*` accessors, and
/// `sdrt_pipeline_generate` on another pipeline. Not on the same pipeline: a generate call
/// there would wait for the call running it, so sdrt refuses it with
/// `SDRT_ERROR_INVALID_ARGUMENT` (the outer call goes on); `sdrt_pipeline_free` of the same
/// pipeline is ignored with a logged error.
pub type sdrt_progress_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, step: u32, total_steps: u32) -> i32>;

/// One text-to-image request. Fill with `sdrt_generate_params_init`, then set fields. The
/// struct only grows at the end, guarded by `struct_size`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_generate_params {
    /// `sizeof(sdrt_generate_params)`, set by `sdrt_generate_params_init`.
    pub struct_size: u32,
    /// Image width in pixels; 0 = the model's native size. At most 4096, and a multiple of
    /// what the UNet can take: it halves the latents once per down block but the last (8
    /// pixels each), so 8 x 2^(blocks - 1): 64 for SD 1.x/2.x (4 blocks), 32 for the tiny test
    /// model. The message of a refused size names the nearest sizes that work. A graph
    /// exported with a fixed size takes only that size.
    pub width: u32,
    /// Image height in pixels; 0 = the model's native size. The same rules as `width`.
    pub height: u32,
    /// Denoising steps, 1..=num_train_timesteps (1000 for SD; default 50, as diffusers).
    /// Within that range a scheduler refuses the counts where diffusers fails or builds a
    /// schedule outside the training timesteps, with `SDRT_ERROR_INVALID_ARGUMENT` naming
    /// the nearest accepted counts: `num_train_timesteps` itself with "leading" spacing and
    /// `steps_offset` 1 (SD 1.x/2.x configs) for pndm, ddim, ddpm, dpm++2m, dpm++2m-sde and
    /// unipc; with "trailing" spacing, scattered counts for pndm, ddim and ddpm (61, 103,
    /// 499 and 59 others of 1..=1000 for ddim); lcm above the config's
    /// `original_inference_steps` (50 by default). Euler, euler-a, dpm++2m-karras, lms and
    /// heun take every count.
    pub steps: u32,
    /// Classifier-free guidance scale (default 7.5), a finite number (NaN and infinities are
    /// `SDRT_ERROR_INVALID_ARGUMENT`); <= 1 skips the negative-prompt pass.
    pub guidance: f32,
    /// `sdrt_scheduler` (default `SDRT_SCHEDULER_DEFAULT`).
    pub scheduler: u32,
    /// Seed (default 0). The numpy generator takes 0..=4294967295.
    pub seed: u64,
    /// `sdrt_generator` (default `SDRT_GENERATOR_NUMPY`).
    pub generator: u32,
    /// Images to generate from one generator stream, 1..=64 (default 1).
    pub count: u32,
    /// The prompt, UTF-8, NUL-terminated; NULL = "". Longer than 75 CLIP tokens is truncated
    /// (with a logged warning), as diffusers does; only the words that can reach the 75 are
    /// tokenized, so a prompt of megabytes costs what a short one does. Borrowed for the
    /// duration of the call.
    pub prompt: *const c_char,
    /// The negative prompt, or NULL for none (""); truncated like `prompt`. Borrowed for the
    /// duration of the call.
    pub negative_prompt: *const c_char,
    /// Progress callback, or NULL.
    pub progress: sdrt_progress_callback,
    /// Passed unchanged to `progress`.
    pub progress_user_data: *mut c_void,
    /// DDIM's `eta` (default 0: deterministic DDIM; 1: DDPM-like noise). Ignored by other
    /// schedulers. Must be finite and >= 0.
    pub eta: f32,
    /// `sdrt_prediction_type` overriding the model config's (default
    /// `SDRT_PREDICTION_DEFAULT`): for exports whose config is wrong, e.g. an SD 2.1-768
    /// folder that says epsilon.
    pub prediction_type: u32,
    /// `sdrt_timestep_spacing` overriding the model config's (default
    /// `SDRT_TIMESTEP_SPACING_DEFAULT`), e.g. trailing for SD-Turbo.
    pub timestep_spacing: u32,
    /// Image-to-image and inpainting: the picture to start from, RGB8 or RGBA8 (alpha is
    /// ignored); all zero (default) for text-to-image. `width`/`height` 0 take its size; a
    /// different size is `SDRT_ERROR_INVALID_ARGUMENT` (sdrt does not resize), and its size
    /// must be one `width`/`height` accept. Each side 1..=4096; `stride` at least `width`
    /// times the bytes per pixel; NULL `data` with a non-zero size, an unknown `format` or a
    /// GRAY8 one are `SDRT_ERROR_INVALID_ARGUMENT` naming the field. Needs the model
    /// folder's `vae_encoder/model.onnx`, loaded by the first call with an init image (a
    /// text-to-image-only host never loads it). Since 0.2.
    pub init_image: sdrt_image_view,
    /// Inpainting: GRAY8, the init image's size; pixels >= 128 are repainted, < 128 kept
    /// (diffusers binarizes at 0.5). Needs `init_image`. With a 4-channel UNet the kept part
    /// is re-imposed after every step (diffusers' `StableDiffusionInpaintPipeline`); an
    /// inpainting UNet (9 channels) gets the mask and masked image as inputs and requires a
    /// mask. All zero (default) for none. Since 0.2.
    pub mask: sdrt_image_view,
    /// How much of the init image is repainted, in (0, 1] (default 0.8, diffusers'
    /// image-to-image default; its inpainting default is 1.0): the denoising starts at step
    /// `steps - int(steps * strength)`, so `steps * strength` must be at least 1. Ignored
    /// without an init image. Since 0.2.
    pub strength: f32,
    /// diffusers' `guidance_rescale` (`rescale_noise_cfg`), in [0, 1], default 0 (off): the
    /// fix for over-exposed v-prediction / zero-SNR models. Applies when guidance > 1.
    /// Since 0.2.
    pub guidance_rescale: f32,
    /// Richer per-step callback (see `sdrt_step_callback`), or NULL. Called after `progress`
    /// when both are set. Since 0.2.
    pub step_callback: sdrt_step_callback,
    /// Passed unchanged to `step_callback`.
    pub step_user_data: *mut c_void,
    /// `sdrt_preview_kind` (default `SDRT_PREVIEW_NONE`). Previews reach `step_callback`.
    /// Since 0.2.
    pub preview_kind: u32,
    /// A preview every this many UNet evaluations, and after the last (default 1 when a
    /// preview kind is set; 0 = never). Since 0.2.
    pub preview_every: u32,
    /// The most bytes this call's largest tensor may take, as sdrt estimates it before any
    /// graph runs (default 0 = 16 GiB; `UINT64_MAX` = no limit). The estimate is the largest
    /// float32 tensor the graphs must hold: the UNet's attention scores at each level with
    /// attention, `batch x heads x (h * w)^2 x 4` bytes (`batch` = 2 x `count` with guidance,
    /// `h x w` the latent size there), and the VAE's full-size feature maps, `count x
    /// max(block_out_channels) x width x height x 4`. A request above it is
    /// `SDRT_ERROR_INVALID_ARGUMENT` with the estimate in the message. 4096 x 4096 needs about
    /// 2.5 TiB on SD 2-base (1 TiB on the tiny test model); the default admits SD 2-base at
    /// 1024 x 1024 for one image, five 768 x 768 images on SD 2.1-768, sixteen 512 x 512 on
    /// SD 1.x. Fused attention (some CUDA and CoreML graphs) needs less: raise it there.
    /// Since 0.2.
    pub memory_limit: u64,
    /// SDXL (every field from here to `latents` is since 0.4, and a caller whose
    /// `struct_size` ends before one gets its default; models of other families refuse
    /// `prompt_2`, `negative_prompt_2`, the micro-conditioning fields and the aesthetic scores
    /// when set to anything but their defaults, with `SDRT_ERROR_INVALID_ARGUMENT` naming the
    /// first such field): the second text
    /// encoder's prompt, diffusers' `prompt_2`. UTF-8, NUL-terminated, borrowed for the
    /// duration of the call; NULL or "" = `prompt` (every model accepts those). Truncated like
    /// `prompt`.
    pub prompt_2: *const c_char,
    /// SDXL: the second text encoder's negative prompt (`negative_prompt_2`); NULL or "" =
    /// `negative_prompt`. Borrowed like `prompt_2`. (For SDXL a NULL `negative_prompt` gives
    /// zero embeddings when the model's `force_zeros_for_empty_prompt` is set, while "" is
    /// encoded, as diffusers does.)
    pub negative_prompt_2: *const c_char,
    /// SDXL micro-conditioning, in pixels: diffusers' `original_size` as width and height;
    /// 0 x 0 (default) = the output size. Each side 1..=65536; one side 0 alone is
    /// `SDRT_ERROR_INVALID_ARGUMENT` naming `original_width/original_height`.
    pub original_width: u32,
    /// See `original_width`.
    pub original_height: u32,
    /// `crops_coords_top_left` as x (left, `crop_x`) and y (top, `crop_y`); default 0, 0. A
    /// non-zero crop must lie inside the original size (`crop_x < original width`, `crop_y <
    /// original height`), else `SDRT_ERROR_INVALID_ARGUMENT` naming `crop_x/crop_y`.
    pub crop_x: u32,
    /// See `crop_x`.
    pub crop_y: u32,
    /// `target_size` as width and height; 0 x 0 (default) = the output size. The same rules
    /// as `original_width`.
    pub target_width: u32,
    /// See `target_width`.
    pub target_height: u32,
    /// `negative_original_size`; 0 x 0 (default) = none: text-to-image then uses the positive
    /// micro-conditioning for the negative pass unless both negative sizes are set, as
    /// diffusers does; image-to-image defaults each to its positive. The same rules as
    /// `original_width`.
    pub negative_original_width: u32,
    /// See `negative_original_width`.
    pub negative_original_height: u32,
    /// `negative_crops_coords_top_left` (default 0, 0); inside the negative original size.
    pub negative_crop_x: u32,
    /// See `negative_crop_x`.
    pub negative_crop_y: u32,
    /// `negative_target_size`; 0 x 0 (default) = none.
    pub negative_target_width: u32,
    /// See `negative_target_width`.
    pub negative_target_height: u32,
    /// An SDXL refiner's `aesthetic_score` (default 6.0, finite); SDXL base models ignore it
    /// (they take sizes, not scores, in their `time_ids`), other families refuse another
    /// value.
    pub aesthetic_score: f32,
    /// An SDXL refiner's `negative_aesthetic_score` (default 2.5, finite).
    pub negative_aesthetic_score: f32,
    /// diffusers' `denoising_start`, in (0, 1): continue `latents` (or the init image) from
    /// this fraction of the schedule, as they are, without adding noise: a refiner after its
    /// base. 0 (default) = none. Needs `latents` or `init_image`; must be below
    /// `denoising_end` when both are set. A value outside (0, 1), or one that leaves no step,
    /// is `SDRT_ERROR_INVALID_ARGUMENT` naming `denoising_start`.
    pub denoising_start: f32,
    /// diffusers' `denoising_end`, in (0, 1): stop at this fraction of the schedule (a base
    /// before its refiner, with `output_latents`). 0 (default) = run the whole schedule.
    pub denoising_end: f32,
    /// 1: return the final latents, read with `sdrt_images_latents`, instead of decoding them
    /// (no VAE decoder or safety checker runs; the images then hold no pixels and
    /// `sdrt_images_count` is 0). 0 (default): images. Other values are
    /// `SDRT_ERROR_INVALID_ARGUMENT`.
    pub output_latents: u32,
    /// Latents to start from instead of an init image, as a call with `output_latents`
    /// returns them (pass the view `sdrt_images_latents` filled): of this model's latent
    /// family, `count` images and the model's latent channels; the output size is theirs (0
    /// `width`/`height`, or the same size). Usually with `denoising_start`; without it they
    /// are noised to `strength` as an init image's latents are. NULL (default) = none. The
    /// struct and its arrays are borrowed for the duration of the call and copied; a NULL
    /// `data` or `family`, a `struct_size` below `sizeof(sdrt_latents)`, another family's
    /// latents, a wrong shape, non-finite values, or latents together with `init_image` are
    /// `SDRT_ERROR_INVALID_ARGUMENT` naming `latents`.
    pub latents: *const sdrt_latents,
    /// `sdrt_prompt_weighting` (default `SDRT_PROMPT_WEIGHTING_NONE`); an unknown value is
    /// `SDRT_ERROR_INVALID_ARGUMENT`. Since 0.4: a caller whose `struct_size` ends before it
    /// gets the default.
    pub prompt_weighting: u32,
    /// The loaded LoRAs this call applies, with their scales (`sdrt_lora_weight`, handles from
    /// `sdrt_lora_load` on this pipeline); NULL with `lora_count` 0 (default) = none. The array
    /// is borrowed for the call and copied. Several at once add up, as diffusers' adapters
    /// with weights. A NULL array with a nonzero count, a NULL handle, a handle freed or
    /// another pipeline's, a non-finite scale, or more than `SDRT_MAX_LORAS_PER_CALL` are
    /// `SDRT_ERROR_INVALID_ARGUMENT` naming `loras`. Since 0.5: a caller whose `struct_size`
    /// ends before them gets none.
    pub loras: *const sdrt_lora_weight,
    /// Entries in `loras`.
    pub lora_count: u32,
    /// ControlNets (see `sdrt_controlnet`): an array of `controlnet_count` structs, each
    /// filled by `sdrt_controlnet_init`, borrowed for the duration of the call and copied;
    /// NULL with a count of 0 (default) = none. More than 16, or NULL with a count, is
    /// `SDRT_ERROR_INVALID_ARGUMENT`. Since 0.5: a caller whose `struct_size` ends before
    /// these gets none.
    pub controlnets: *const sdrt_controlnet,
    /// The number of structs at `controlnets`.
    pub controlnet_count: u32,
}

/// Size of the first published layout: the smallest `struct_size` accepted. Fixed at the end of
/// its last field, so it stays put when fields are appended (`*_init` writes the full size).
pub(crate) const GENERATE_PARAMS_V1: usize =
    std::mem::offset_of!(sdrt_generate_params, timestep_spacing) + std::mem::size_of::<u32>();

impl Default for sdrt_generate_params {
    fn default() -> Self {
        let d = GenerateParams::default();
        sdrt_generate_params {
            struct_size: std::mem::size_of::<sdrt_generate_params>() as u32,
            width: 0,
            height: 0,
            steps: d.steps as u32,
            guidance: d.guidance,
            scheduler: sdrt_scheduler::SDRT_SCHEDULER_DEFAULT as u32,
            seed: 0,
            generator: sdrt_generator::SDRT_GENERATOR_NUMPY as u32,
            count: 1,
            prompt: std::ptr::null(),
            negative_prompt: std::ptr::null(),
            progress: None,
            progress_user_data: std::ptr::null_mut(),
            eta: 0.0,
            prediction_type: sdrt_prediction_type::SDRT_PREDICTION_DEFAULT as u32,
            timestep_spacing: sdrt_timestep_spacing::SDRT_TIMESTEP_SPACING_DEFAULT as u32,
            init_image: sdrt_image_view::NONE,
            mask: sdrt_image_view::NONE,
            strength: d.strength,
            guidance_rescale: 0.0,
            step_callback: None,
            step_user_data: std::ptr::null_mut(),
            preview_kind: 0,
            preview_every: 1,
            memory_limit: 0,
            prompt_2: std::ptr::null(),
            negative_prompt_2: std::ptr::null(),
            original_width: 0,
            original_height: 0,
            crop_x: 0,
            crop_y: 0,
            target_width: 0,
            target_height: 0,
            negative_original_width: 0,
            negative_original_height: 0,
            negative_crop_x: 0,
            negative_crop_y: 0,
            negative_target_width: 0,
            negative_target_height: 0,
            aesthetic_score: d.micro.aesthetic_score,
            negative_aesthetic_score: d.micro.negative_aesthetic_score,
            denoising_start: 0.0,
            denoising_end: 0.0,
            output_latents: 0,
            latents: std::ptr::null(),
            prompt_weighting: sdrt_prompt_weighting::SDRT_PROMPT_WEIGHTING_NONE as u32,
            loras: std::ptr::null(),
            lora_count: 0,
            controlnets: std::ptr::null(),
            controlnet_count: 0,
        }
    }
}

/// Fills the first published layout of `params` with defaults and sets `struct_size` to that
/// layout's size: safe for a program built against any earlier header, whose struct may be
/// smaller than this library's. C and C++ callers including this header call it through the
/// macro of the same name, which passes `sizeof` to `sdrt_generate_params_init_sized`; other bindings call
/// `sdrt_generate_params_init_sized` themselves. NULL is ignored. Any thread.
#[no_mangle]
pub unsafe extern "C" fn sdrt_generate_params_init(params: *mut sdrt_generate_params) {
    // SAFETY: NULL or caller-owned storage of at least the first layout (contract).
    unsafe { super::init_versioned(params, sdrt_generate_params::default(), GENERATE_PARAMS_V1) }
}

/// Fills the first `size` bytes of `params` (at most this library's whole struct) with
/// defaults and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
/// `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
/// Any thread. Since 0.2.
#[no_mangle]
pub unsafe extern "C" fn sdrt_generate_params_init_sized(
    params: *mut sdrt_generate_params,
    size: u32,
) {
    // SAFETY: NULL or caller-owned storage of at least `size` bytes (contract).
    unsafe { super::init_versioned(params, sdrt_generate_params::default(), size as usize) }
}

/// A `(width, height)` micro-conditioning size: 0 x 0 is none, one side 0 an error.
fn size(w: u32, h: u32, name: &str) -> Result<Option<(usize, usize)>> {
    match (w, h) {
        (0, 0) => Ok(None),
        (0, _) | (_, 0) => Err(Error::invalid(format!(
            "params->{name}_width/{name}_height: {w}x{h}; give both sides, or 0 x 0 for none"
        ))),
        (w, h) => Ok(Some((w as usize, h as usize))),
    }
}

/// `denoising_start`/`denoising_end`: 0 is none (anything else is checked by the plan).
fn fraction(v: f32) -> Option<f32> {
    (v != 0.0).then_some(v)
}

/// The callbacks of one call, as the caller set them.
pub(crate) struct Callbacks {
    pub progress: sdrt_progress_callback,
    pub progress_user_data: *mut c_void,
    pub step: sdrt_step_callback,
    pub step_user_data: *mut c_void,
}

/// Reads and validates the C params into engine params (strings and pixels copied).
pub(crate) unsafe fn read_generate_params(
    p: *const sdrt_generate_params,
) -> Result<(GenerateParams, Callbacks)> {
    // SAFETY: documented contract of sdrt_pipeline_generate.
    let c = unsafe {
        read_versioned(
            p,
            sdrt_generate_params::default(),
            GENERATE_PARAMS_V1,
            "params",
        )?
    };
    // SAFETY: borrowed C strings, documented.
    let prompt = unsafe { super::opt_str(c.prompt, "params->prompt")? }.unwrap_or_default();
    let negative_prompt = unsafe { super::opt_str(c.negative_prompt, "params->negative_prompt")? };
    let generator = GENERATOR.read(c.generator, "params->generator", "generator")?;
    let params = GenerateParams {
        prompt,
        negative_prompt,
        width: c.width as usize,
        height: c.height as usize,
        steps: c.steps as usize,
        guidance: c.guidance,
        seed: c.seed,
        scheduler: SCHEDULER.read(c.scheduler, "params->scheduler", "scheduler")?,
        generator,
        count: c.count as usize,
        eta: c.eta,
        prediction_type: PREDICTION_TYPE.read(
            c.prediction_type,
            "params->prediction_type",
            "value",
        )?,
        timestep_spacing: TIMESTEP_SPACING.read(
            c.timestep_spacing,
            "params->timestep_spacing",
            "value",
        )?,
        // SAFETY: borrowed pixels, documented.
        init_image: unsafe { read_rgb(&c.init_image, "params->init_image")? },
        mask: unsafe { read_gray(&c.mask, "params->mask")? },
        strength: c.strength,
        guidance_rescale: c.guidance_rescale,
        preview: PREVIEW_KIND.read(c.preview_kind, "params->preview_kind", "preview kind")?,
        preview_every: c.preview_every as usize,
        memory_limit: c.memory_limit,
        // SAFETY: borrowed C strings, documented.
        // "" is NULL (the first prompt), which every family accepts.
        prompt_2: unsafe { super::opt_str(c.prompt_2, "params->prompt_2")? }
            .filter(|s| !s.is_empty()),
        negative_prompt_2: unsafe {
            super::opt_str(c.negative_prompt_2, "params->negative_prompt_2")?
        }
        .filter(|s| !s.is_empty()),
        micro: MicroConditioning {
            original_size: size(c.original_width, c.original_height, "original")?,
            crop: (c.crop_x as usize, c.crop_y as usize),
            target_size: size(c.target_width, c.target_height, "target")?,
            negative_original_size: size(
                c.negative_original_width,
                c.negative_original_height,
                "negative_original",
            )?,
            negative_crop: (c.negative_crop_x as usize, c.negative_crop_y as usize),
            negative_target_size: size(
                c.negative_target_width,
                c.negative_target_height,
                "negative_target",
            )?,
            aesthetic_score: c.aesthetic_score,
            negative_aesthetic_score: c.negative_aesthetic_score,
        },
        denoising_start: fraction(c.denoising_start),
        denoising_end: fraction(c.denoising_end),
        output_latents: match c.output_latents {
            0 => false,
            1 => true,
            v => {
                return Err(Error::invalid(format!(
                    "params->output_latents must be 0 or 1, got {v}"
                )))
            }
        },
        // SAFETY: NULL or a borrowed view, documented.
        latents: unsafe { read_latents(c.latents, "params->latents")? },
        prompt_weighting: PROMPT_WEIGHTING.read(
            c.prompt_weighting,
            "params->prompt_weighting",
            "value",
        )?,
        // SAFETY: NULL or `lora_count` borrowed pairs, documented.
        loras: unsafe { read_loras(c.loras, c.lora_count)? },
        // SAFETY: NULL or a borrowed array, documented.
        controlnets: unsafe { read_controlnets(c.controlnets, c.controlnet_count)? },
    };
    let callbacks = Callbacks {
        progress: c.progress,
        progress_user_data: c.progress_user_data,
        step: c.step_callback,
        step_user_data: c.step_user_data,
    };
    Ok((params, callbacks))
}
