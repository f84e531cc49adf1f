//! What a caller asks for ([`GenerateParams`]) and what it gets back ([`Images`]), and the
//! checks that turn a request into a [`Plan`] before any graph runs.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::rng::Generator;
use crate::scheduler::{PredictionType, SchedulerKind, TimestepSpacing};

/// The largest image side accepted, in pixels.
pub const MAX_SIDE: usize = 4096;
/// The most images one call may produce.
pub const MAX_COUNT: usize = 64;

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
#[derive(Debug, Clone, Copy, Default)]
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
}

impl Timings {
    /// Time spent inside ONNX Runtime for the images (previews not included).
    pub fn onnx_runtime(&self) -> Duration {
        self.text_encoder + self.unet + self.vae_decoder + self.vae_encoder + self.safety_checker
    }
}

/// Progress: `(step, total)` after each denoising step; return `false` to cancel.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

/// What the UNet graph takes, read from its inputs at load.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnetShape {
    /// Channels of the latents it denoises (its output channels).
    pub latent_channels: usize,
    /// Channels of its `sample` input: `latent_channels`, or `latent_channels + 1 + latent_channels`
    /// for the inpainting layout (latents, mask, masked-image latents).
    pub in_channels: usize,
    /// Width of the `timestep_cond` input of LCM-distilled UNets (`time_cond_proj_dim`).
    pub timestep_cond: Option<usize>,
}

impl UnetShape {
    /// The SD 2 inpainting layout (9 channels for 4-channel latents).
    pub fn is_inpainting(&self) -> bool {
        self.in_channels == 2 * self.latent_channels + 1
    }
}

/// Which initial latents and per-step hooks a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Noise only.
    Text,
    /// An encoded init image, noised to the start step.
    Image,
    /// Image-to-image that keeps the unmasked part: a per-step blend (4-channel UNets) or the
    /// mask and masked image as extra UNet channels (inpainting UNets).
    Inpaint,
}

/// A request checked against the model: what the stages run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Output width in pixels.
    pub width: usize,
    /// Output height in pixels.
    pub height: usize,
    /// The scheduler to build.
    pub scheduler: SchedulerKind,
    /// Classifier-free guidance: the UNet batch holds an unconditional half.
    pub cfg: bool,
    /// The mode.
    pub mode: Mode,
}

/// What a pipeline was pinned to for static-shape providers: width, height, images.
pub(crate) type StaticShape = (usize, usize, usize);

pub(crate) fn nonzero_or(v: usize, default: usize) -> usize {
    if v == 0 {
        default
    } else {
        v
    }
}

/// Checks `p` against the model and the pipeline's static shapes.
pub(crate) fn plan(
    p: &GenerateParams,
    config: &ModelConfig,
    unet: &UnetShape,
    static_shape: Option<StaticShape>,
) -> Result<Plan> {
    if let Some(img) = &p.init_image {
        check_pixels("init_image", img.width, img.height, 3, img.data.len())?;
    }
    if let Some(m) = &p.mask {
        check_pixels("mask", m.width, m.height, 1, m.data.len())?;
        let Some(img) = &p.init_image else {
            return Err(Error::invalid(
                "mask: a mask needs an init_image to inpaint (none was given)",
            ));
        };
        if (m.width, m.height) != (img.width, img.height) {
            return Err(Error::invalid(format!(
                "mask: its size {}x{} differs from init_image's {}x{}",
                m.width, m.height, img.width, img.height
            )));
        }
        if unet.timestep_cond.is_some()
            || !(unet.in_channels == unet.latent_channels || unet.is_inpainting())
        {
            return Err(Error::invalid(format!(
                "mask: this model cannot inpaint (its UNet takes {} input channels{})",
                unet.in_channels,
                if unet.timestep_cond.is_some() {
                    ", LCM-distilled"
                } else {
                    ""
                }
            )));
        }
    }
    if unet.is_inpainting() && p.mask.is_none() {
        return Err(Error::invalid(format!(
            "mask: this is an inpainting model ({}-channel UNet); it needs init_image and mask",
            unet.in_channels
        )));
    }
    let (nw, nh) = match &p.init_image {
        Some(img) => (img.width, img.height),
        None => config.native_size(),
    };
    let width = nonzero_or(p.width, nw);
    let height = nonzero_or(p.height, nh);
    if let Some(img) = &p.init_image {
        if (width, height) != (img.width, img.height) {
            return Err(Error::invalid(format!(
                "width/height: the requested size {width}x{height} differs from init_image's \
                 {}x{} (sdrt does not resize; pass 0 to use the image's size)",
                img.width, img.height
            )));
        }
    }
    let f = config.vae_scale_factor;
    for (name, v) in [("width", width), ("height", height)] {
        if v % 8 != 0 || v % f != 0 {
            return Err(Error::invalid(format!(
                "{name} {v} is not a multiple of {}",
                f.max(8)
            )));
        }
        if v > MAX_SIDE {
            return Err(Error::invalid(format!("{name} {v} exceeds {MAX_SIDE}")));
        }
    }
    let t = config.scheduler.num_train_timesteps()?;
    if p.steps == 0 || p.steps > t {
        return Err(Error::invalid(format!(
            "steps must be between 1 and {t}, got {}",
            p.steps
        )));
    }
    if !p.eta.is_finite() || p.eta < 0.0 {
        return Err(Error::invalid(format!("eta must be >= 0, got {}", p.eta)));
    }
    if !p.guidance.is_finite() {
        return Err(Error::invalid("guidance must be a finite number"));
    }
    if !(p.strength.is_finite() && p.strength > 0.0 && p.strength <= 1.0) {
        return Err(Error::invalid(format!(
            "strength must be in (0, 1], got {}",
            p.strength
        )));
    }
    if !(p.guidance_rescale.is_finite() && (0.0..=1.0).contains(&p.guidance_rescale)) {
        return Err(Error::invalid(format!(
            "guidance_rescale must be in [0, 1], got {}",
            p.guidance_rescale
        )));
    }
    if p.count == 0 || p.count > MAX_COUNT {
        return Err(Error::invalid(format!(
            "count must be between 1 and {MAX_COUNT}, got {}",
            p.count
        )));
    }
    match p.generator {
        Generator::Numpy => {
            if p.seed > u32::MAX as u64 {
                return Err(Error::invalid(format!(
                    "seed {} does not fit the numpy generator's 32 bits",
                    p.seed
                )));
            }
        }
        Generator::Torch => {}
    }
    if let Some((sw, sh, sn)) = static_shape {
        if unet.timestep_cond.is_some() {
            return Err(Error::unsupported(
                "static shapes pin the UNet batch for classifier-free guidance, which \
                 LCM-distilled models do not use; load this model without static shapes",
            ));
        }
        if p.guidance <= 1.0 {
            return Err(Error::invalid(
                "this pipeline was loaded with static shapes, which assume classifier-free \
                 guidance (guidance > 1)",
            ));
        }
        if (width, height, p.count) != (sw, sh, sn) {
            return Err(Error::invalid(format!(
                "this pipeline was loaded with static shapes {sw}x{sh}, {sn} image(s); \
                 got {width}x{height}, {} image(s)",
                p.count
            )));
        }
    }
    let scheduler = match p.scheduler.or(config.default_scheduler) {
        Some(k) => k,
        None => {
            return Err(Error::unsupported(format!(
                "the model's scheduler {} is not supported; choose one explicitly",
                config.scheduler.class_name()
            )))
        }
    };
    let mode = match (&p.init_image, &p.mask) {
        (None, _) => Mode::Text,
        (Some(_), None) => Mode::Image,
        (Some(_), Some(_)) => Mode::Inpaint,
    };
    Ok(Plan {
        width,
        height,
        scheduler,
        // LCM-distilled UNets take the guidance as an embedding, not as a second batch half.
        cfg: p.guidance > 1.0 && unet.timestep_cond.is_none(),
        mode,
    })
}

fn check_pixels(
    name: &str,
    width: usize,
    height: usize,
    channels: usize,
    len: usize,
) -> Result<()> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::invalid(format!(
            "{name}: size {width}x{height} must be 1..={MAX_SIDE} on each side"
        )));
    }
    if len != width * height * channels {
        return Err(Error::invalid(format!(
            "{name}: {len} bytes for {width}x{height} with {channels} channel(s); expected {}",
            width * height * channels
        )));
    }
    Ok(())
}

/// The scheduler index the denoising starts at, as diffusers' `get_timesteps`:
/// `init = min(int(steps * strength), steps)`, `t_start = steps - init`, and the loop starts at
/// `t_start * order`. `strength` is taken as the decimal the caller wrote (0.7f32 is 0.7), so
/// `int(steps * strength)` is Python's.
pub fn begin_index(steps: usize, strength: f32, order: usize) -> Result<usize> {
    let s: f64 = format!("{strength}").parse().unwrap_or(strength as f64);
    let init = ((steps as f64 * s) as usize).min(steps);
    if init == 0 {
        return Err(Error::invalid(format!(
            "strength {strength} with {steps} steps leaves no denoising step \
             (int(steps * strength) = 0); raise steps or strength"
        )));
    }
    Ok((steps - init) * order)
}
