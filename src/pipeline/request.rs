//! What a caller asks for ([`GenerateParams`]) and what it gets back ([`Images`]); the checks
//! that turn a request into a plan are in `plan.rs`.

use std::time::Duration;

use super::controlnet::ControlNet;
use crate::rng::Generator;
use crate::scheduler::{PredictionType, SchedulerKind, TimestepSpacing};

/// The largest image side accepted, in pixels.
pub const MAX_SIDE: usize = 4096;
/// The most images one call may produce.
pub const MAX_COUNT: usize = 64;
/// The default bound on the estimated largest tensor of one call (16 GiB): see
/// [`GenerateParams::memory_limit`].
pub const DEFAULT_MEMORY_LIMIT: u64 = 16 << 30;

/// One generation request.
#[derive(Debug, Clone)]
pub struct GenerateParams {
    /// The prompt.
    pub prompt: String,
    /// The negative prompt (`None` = empty, as diffusers).
    pub negative_prompt: Option<String>,
    /// Image width in pixels, a multiple of 8; 0 = native.
    pub width: usize,
    /// Image height in pixels, a multiple of 8; 0 = native.
    pub height: usize,
    /// Inference steps.
    pub steps: usize,
    /// Classifier-free guidance scale; <= 1 disables the unconditional pass.
    pub guidance: f32,
    /// Seed; 32-bit for the numpy generator.
    pub seed: u64,
    /// Scheduler; `None` = the model's.
    pub scheduler: Option<SchedulerKind>,
    /// Random generator.
    pub generator: Generator,
    /// Images to produce from one generator stream.
    pub count: usize,
    /// Replaces the model config's prediction type (for models whose config is wrong).
    pub prediction_type: Option<PredictionType>,
    /// Replaces the model config's timestep spacing.
    pub timestep_spacing: Option<TimestepSpacing>,
    /// DDIM's eta (0 = deterministic); ignored by other schedulers.
    pub eta: f32,
    /// Image-to-image / inpainting: the picture to start from (its size is the output size).
    pub init_image: Option<RgbImage>,
    /// Inpainting: white (>= 128 of 255) repaints, black keeps; the init image's size.
    pub mask: Option<GrayImage>,
    /// How much of the init image to repaint, in (0, 1]: the denoising starts at step
    /// `steps - int(steps * strength)`, as diffusers' `get_timesteps`. Ignored without an init
    /// image.
    pub strength: f32,
    /// diffusers' `guidance_rescale` (`rescale_noise_cfg`), in [0, 1]; 0 = off. Applies with
    /// classifier-free guidance only.
    pub guidance_rescale: f32,
    /// Previews passed to the step observer.
    pub preview: PreviewKind,
    /// A preview every this many UNet evaluations (and after the last); 0 = never.
    pub preview_every: usize,
    /// The most bytes the call's largest tensor may take, as [`estimate_peak`] estimates it
    /// before any graph runs; 0 = [`DEFAULT_MEMORY_LIMIT`], `u64::MAX` = no limit.
    pub memory_limit: u64,
    /// SDXL: the second text encoder's prompt; `None` or empty = `prompt` (diffusers'
    /// `prompt_2`).
    pub prompt_2: Option<String>,
    /// SDXL: the second text encoder's negative prompt; `None` or empty = the negative prompt.
    pub negative_prompt_2: Option<String>,
    /// SDXL's micro-conditioning (`time_ids`).
    pub micro: MicroConditioning,
    /// SDXL "ensemble of experts": stop after this fraction of the schedule, in (0, 1) (and
    /// return latents for a refiner to finish), as diffusers' `denoising_end`.
    pub denoising_end: Option<f32>,
    /// Start at this fraction of the schedule, in (0, 1), from `latents` as they are (no noise
    /// added), as diffusers' `denoising_start`.
    pub denoising_start: Option<f32>,
    /// Latents to start from (UNet space, as a call with `output_latents` returns them),
    /// instead of encoding `init_image`.
    pub latents: Option<Latents>,
    /// Return the final latents instead of decoding them to images.
    pub output_latents: bool,
    /// How the prompts' emphasis syntax is read; [`PromptWeighting::None`] (the default)
    /// keeps parentheses literal and truncates at 77 tokens, as diffusers.
    pub prompt_weighting: PromptWeighting,
    /// The loaded LoRAs this call applies ([`crate::Pipeline::load_lora`]), each with its
    /// scale (diffusers' `fuse_lora(lora_scale=...)`, or its adapter weight); none by default.
    pub loras: Vec<crate::pipeline::LoraWeight>,
    /// ControlNets, applied together (their residuals summed); empty = none. The model's UNet
    /// must take ControlNet residuals (see [`ControlNet`]).
    pub controlnets: Vec<ControlNet>,
}

/// How prompts are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptWeighting {
    /// As diffusers: the text as it is, truncated to the tokenizer's 77 tokens.
    #[default]
    None,
    /// AUTOMATIC1111's emphasis syntax (`(word:1.3)`, `(word)`, `[word]`, `\(`) and its
    /// chunking of long prompts into 75-token chunks (see `prompt_weights`).
    A1111,
}

impl PromptWeighting {
    /// Parses `none | a1111`.
    pub fn parse(s: &str) -> Option<PromptWeighting> {
        Some(match s {
            "none" => PromptWeighting::None,
            "a1111" => PromptWeighting::A1111,
            _ => return None,
        })
    }
}

/// SDXL's micro-conditioning, as diffusers' `StableDiffusionXL*Pipeline` arguments. Sizes are
/// `(width, height)` in pixels, crops `(x, y)`; the UNet takes them as `(height, width)` and
/// `(top, left)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicroConditioning {
    /// `original_size`; `None` = the output size.
    pub original_size: Option<(usize, usize)>,
    /// `crops_coords_top_left`.
    pub crop: (usize, usize),
    /// `target_size`; `None` = the output size.
    pub target_size: Option<(usize, usize)>,
    /// `negative_original_size`; `None`: see the pipelines (text-to-image uses the positive
    /// `time_ids` unless both negative sizes are given; image-to-image defaults each to its
    /// positive).
    pub negative_original_size: Option<(usize, usize)>,
    /// `negative_crops_coords_top_left`.
    pub negative_crop: (usize, usize),
    /// `negative_target_size`.
    pub negative_target_size: Option<(usize, usize)>,
    /// A refiner's `aesthetic_score` (6.0).
    pub aesthetic_score: f32,
    /// A refiner's `negative_aesthetic_score` (2.5).
    pub negative_aesthetic_score: f32,
}

impl Default for MicroConditioning {
    fn default() -> Self {
        MicroConditioning {
            original_size: None,
            crop: (0, 0),
            target_size: None,
            negative_original_size: None,
            negative_crop: (0, 0),
            negative_target_size: None,
            aesthetic_score: 6.0,
            negative_aesthetic_score: 2.5,
        }
    }
}

/// Latents in UNet space, `[count, channels, height, width]`, tagged with the family whose
/// latent space they are in.
#[derive(Debug, Clone, PartialEq)]
pub struct Latents {
    /// The family (`"sd"`, `"sdxl"`).
    pub family: String,
    /// `[count, channels, height, width]`.
    pub shape: [usize; 4],
    /// Row-major values.
    pub data: Vec<f32>,
}

/// An RGB8 picture: `width * height * 3` bytes, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Interleaved RGB rows, top first.
    pub data: Vec<u8>,
}

/// One 8-bit channel: `width * height` bytes, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Rows, top first.
    pub data: Vec<u8>,
}

/// What a preview shows: the predicted clean image at that step, decoded three ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreviewKind {
    /// No previews.
    #[default]
    None,
    /// A fixed linear map of the 4 latent channels to RGB, at latent size (1/8): microseconds.
    LatentRgb,
    /// A Tiny AutoEncoder (TAESD) decoder, full size.
    Taesd,
    /// The model's own VAE decoder, full size: what the final image will look like.
    Full,
}

impl PreviewKind {
    /// Parses `none | latent_rgb | taesd | full`.
    pub fn parse(s: &str) -> Option<PreviewKind> {
        Some(match s {
            "none" => PreviewKind::None,
            "latent_rgb" => PreviewKind::LatentRgb,
            "taesd" => PreviewKind::Taesd,
            "full" => PreviewKind::Full,
            _ => return None,
        })
    }
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            prompt: String::new(),
            negative_prompt: None,
            width: 0,
            height: 0,
            steps: 50,
            guidance: 7.5,
            seed: 0,
            scheduler: None,
            generator: Generator::Numpy,
            count: 1,
            prediction_type: None,
            timestep_spacing: None,
            eta: 0.0,
            init_image: None,
            mask: None,
            strength: 0.8,
            guidance_rescale: 0.0,
            preview: PreviewKind::None,
            preview_every: 1,
            memory_limit: 0,
            prompt_2: None,
            negative_prompt_2: None,
            micro: MicroConditioning::default(),
            denoising_end: None,
            denoising_start: None,
            latents: None,
            output_latents: false,
            prompt_weighting: PromptWeighting::None,
            loras: Vec::new(),
            controlnets: Vec::new(),
        }
    }
}

/// RGB8 images, row-major, interleaved.
#[derive(Debug, Clone)]
pub struct Images {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// One buffer of `width * height * 3` bytes per image.
    pub images: Vec<Vec<u8>>,
    /// Per image: flagged by the model's safety checker (and blacked out). Empty when no
    /// checker ran (the folder has none, or the pipeline disabled it).
    pub flagged: Vec<bool>,
    /// The final latents, when the request asked for them (`output_latents`; `images` is
    /// empty then).
    pub latents: Option<Latents>,
    /// Where the time went.
    pub timings: Timings,
}

impl Images {
    /// Channels per pixel (3, RGB).
    pub const CHANNELS: usize = 3;
}

/// Wall-clock time of one `generate` call, and the part of it spent inside ONNX Runtime per
/// graph; the rest (`total` minus the graphs) is sdrt's own work: tokenizing, random numbers,
/// scheduler steps, tensor conversion and the RGB conversion.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// The whole call, from entry to the images.
    pub total: Duration,
    /// Inside the text encoder.
    pub text_encoder: Duration,
    /// Inside the UNet, all steps.
    pub unet: Duration,
    /// Inside the VAE decoder (the final images).
    pub vae_decoder: Duration,
    /// Inside the VAE encoder (image-to-image, inpainting).
    pub vae_encoder: Duration,
    /// Making previews (graph runs and conversion).
    pub preview: Duration,
    /// Inside the safety checker.
    pub safety_checker: Duration,
    /// Inside the ControlNets, all steps.
    pub controlnet: Duration,
    /// Loading graphs during the call and handing their memory back after each stage (the
    /// low-memory mode loads each stage's graph when the stage starts and frees it when it
    /// ends; otherwise only first uses of the VAE encoder or preview decoder load).
    pub load: Duration,
    /// With [`PipelineOptions::profile_memory`](super::PipelineOptions::profile_memory): the
    /// peak resident set of the process during each stage (its load included), in bytes, in
    /// the order the stages ran.
    pub peak_rss: Vec<(&'static str, u64)>,
}

impl Timings {
    /// Time spent inside ONNX Runtime for the images (previews not included).
    pub fn onnx_runtime(&self) -> Duration {
        self.text_encoder
            + self.unet
            + self.vae_decoder
            + self.vae_encoder
            + self.safety_checker
            + self.controlnet
    }
}

/// Progress: `(step, total)` after each denoising step; return `false` to cancel.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;
