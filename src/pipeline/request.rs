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
    /// Inside the VAE decoder.
    pub vae_decoder: Duration,
}

impl Timings {
    /// Time spent inside ONNX Runtime.
    pub fn onnx_runtime(&self) -> Duration {
        self.text_encoder + self.unet + self.vae_decoder
    }
}

/// Progress: `(step, total)` after each denoising step; return `false` to cancel.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

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
    static_shape: Option<StaticShape>,
) -> Result<Plan> {
    let (nw, nh) = config.native_size();
    let width = nonzero_or(p.width, nw);
    let height = nonzero_or(p.height, nh);
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
    Ok(Plan {
        width,
        height,
        scheduler,
        cfg: p.guidance > 1.0,
    })
}
