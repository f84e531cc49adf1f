//! What a caller asks for ([`GenerateParams`]) and what it gets back ([`Images`]), and the
//! checks that turn a request into a [`Plan`] before any graph runs.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::graphs::GraphDims;
use crate::model::ModelConfig;
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
        self.text_encoder + self.unet + self.vae_decoder + self.vae_encoder + self.safety_checker
    }
}

/// Progress: `(step, total)` after each denoising step; return `false` to cancel.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

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

/// Checks `p` against the model, the sizes its graphs take and the pipeline's static shapes.
pub(crate) fn plan(
    p: &GenerateParams,
    config: &ModelConfig,
    dims: &GraphDims,
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
        if dims.timestep_cond.is_some()
            || !(dims.unet_in_channels == dims.latent_channels || dims.is_inpainting())
        {
            return Err(Error::invalid(format!(
                "mask: this model cannot inpaint (its UNet takes {} input channels{})",
                dims.unet_in_channels,
                if dims.timestep_cond.is_some() {
                    ", LCM-distilled"
                } else {
                    ""
                }
            )));
        }
    }
    if dims.is_inpainting() && p.mask.is_none() {
        return Err(Error::invalid(format!(
            "mask: this is an inpainting model ({}-channel UNet); it needs init_image and mask",
            dims.unet_in_channels
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
    check_graph_sizes(config, dims, width, height)?;
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
        Generator::Torch | Generator::TorchCuda => {}
    }
    if let Some((sw, sh, sn)) = static_shape {
        if dims.timestep_cond.is_some() {
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
    // LCM-distilled UNets take the guidance as an embedding, not as a second batch half.
    let cfg = p.guidance > 1.0 && dims.timestep_cond.is_none();
    check_fixed_batches(dims, p.count, cfg)?;
    let limit = match p.memory_limit {
        0 => DEFAULT_MEMORY_LIMIT,
        n => n,
    };
    let peak = estimate_peak(config, width, height, p.count, cfg, p.init_image.is_some());
    if peak.bytes > limit {
        return Err(Error::invalid(format!(
            "width/height/count: {width}x{height} with {} image(s) needs an estimated {} for \
             {}, above the memory_limit of {}{}; use a smaller size or count, or raise \
             memory_limit",
            p.count,
            human_bytes(peak.bytes),
            peak.what,
            human_bytes(limit),
            if p.memory_limit == 0 {
                " (the default)"
            } else {
                ""
            }
        )));
    }
    Ok(Plan {
        width,
        height,
        scheduler,
        cfg,
        mode,
    })
}

/// Sizes the UNet can take: it halves the latents once per down block but the last, and the
/// exported graph's upsampling doubles them back, so latent sides must divide by
/// `2 ** downsamples`; dimensions an export fixed must be met exactly.
fn check_graph_sizes(
    config: &ModelConfig,
    dims: &GraphDims,
    width: usize,
    height: usize,
) -> Result<()> {
    let f = config.vae_scale_factor;
    let d = config.unet.downsamples();
    let m = f << d;
    for (name, v) in [("width", width), ("height", height)] {
        if v % m != 0 {
            let below = v / m * m;
            let sizes = if below == 0 {
                format!("{m}")
            } else {
                format!("{below} or {}", below + m)
            };
            return Err(Error::invalid(format!(
                "{name} {v} cannot run through this UNet: it halves the latents {d} time(s) \
                 (unet/config.json has {} blocks), so sizes must be multiples of {m} pixels \
                 ({f} per latent x 2^{d}); nearest: {sizes}",
                d + 1
            )));
        }
    }
    let [_, uh, uw] = dims.unet_fixed;
    let [_, vh, vw] = dims.vae_fixed;
    for (name, v, fixed) in [("width", width, uw.or(vw)), ("height", height, uh.or(vh))] {
        if let Some(cells) = fixed.filter(|&c| c * f != v) {
            return Err(Error::invalid(format!(
                "{name} {v}: the model's graphs are exported for {} pixels only \
                 ({cells} latent cells)",
                cells * f
            )));
        }
    }
    Ok(())
}

/// Batch sizes an export fixed: the UNet's (2 x count with classifier-free guidance) and the
/// VAE decoder's (count).
fn check_fixed_batches(dims: &GraphDims, count: usize, cfg: bool) -> Result<()> {
    let unet_batch = if cfg { 2 * count } else { count };
    if let Some(b) = dims.unet_fixed[0].filter(|&b| b != unet_batch) {
        return Err(Error::invalid(format!(
            "count {count}: the UNet graph is exported for a batch of {b}, this call needs \
             {unet_batch} ({count} image(s){})",
            if cfg {
                " x 2 for classifier-free guidance"
            } else {
                ""
            }
        )));
    }
    if let Some(b) = dims.vae_fixed[0].filter(|&b| b != count) {
        return Err(Error::invalid(format!(
            "count {count}: the VAE decoder graph is exported for a batch of {b}"
        )));
    }
    Ok(())
}

/// The largest single tensor one call's graphs must hold, as estimated before they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeakEstimate {
    /// Bytes.
    pub bytes: u64,
    /// Which tensor, and how it was counted.
    pub what: String,
}

/// Estimates the largest activation tensor of a call (float32, as ONNX Runtime's CPU provider
/// materializes it) from the model configs: the larger of
///
/// - the UNet's self-attention scores at each level that has attention:
///   `batch x heads x (h * w)^2 x 4` bytes, with `batch` = 2 x count under classifier-free
///   guidance and `h x w` that level's latent size;
/// - the UNet's feature maps: `batch x channels x h x w x 4` per level;
/// - the VAE decoder's feature maps at full resolution, `count x max(block_out_channels) x
///   H x W x 4`, and its mid-block attention, `count x (h * w)^2 x 4` (one image for the
///   encoder).
///
/// Fused attention kernels (some CUDA and CoreML graphs) need less than the attention term.
pub fn estimate_peak(
    config: &ModelConfig,
    width: usize,
    height: usize,
    count: usize,
    cfg: bool,
    encodes_image: bool,
) -> PeakEstimate {
    let f = config.vae_scale_factor.max(1);
    let (lw, lh) = ((width / f) as u128, (height / f) as u128);
    let batch = (count as u128) * if cfg { 2 } else { 1 };
    let mut best = PeakEstimate {
        bytes: 0,
        what: String::new(),
    };
    let mut consider = |bytes: u128, what: String| {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if bytes > best.bytes {
            best = PeakEstimate { bytes, what };
        }
    };
    let u = &config.unet;
    for (k, &channels) in u.block_out_channels.iter().enumerate() {
        let (h, w) = (lh >> k, lw >> k);
        let seq = h * w;
        if u.attention.get(k).copied().unwrap_or(false) {
            let heads = u.heads.get(k).copied().unwrap_or(8) as u128;
            consider(
                batch * heads * seq * seq * 4,
                format!(
                    "the UNet's attention scores at {w}x{h} latents (batch {batch} x {heads} \
                     heads x {seq}^2 x 4 bytes)"
                ),
            );
        }
        consider(
            batch * channels as u128 * seq * 4,
            format!("the UNet's {channels}-channel feature maps at {w}x{h} latents"),
        );
    }
    let vae = &config.vae;
    let channels = vae.block_out_channels.iter().copied().max().unwrap_or(512) as u128;
    let pixels = (width * height) as u128;
    let seq = lh * lw;
    let images = (count as u128).max(u128::from(encodes_image));
    consider(
        images * channels * pixels * 4,
        format!(
            "the VAE's {channels}-channel feature maps at {width}x{height} ({images} x \
             {channels} x {pixels} x 4 bytes)"
        ),
    );
    if vae.mid_attention {
        consider(
            images * seq * seq * 4,
            format!("the VAE's mid-block attention scores ({images} x {seq}^2 x 4 bytes)"),
        );
    }
    best
}

/// `1.5 GiB`, `512 MiB`, `1.0 TiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
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

/// The float64 a Python caller would have written for `x`: the shortest decimal that rounds
/// to it (0.7f32 is 0.7, not 0.699999988). diffusers does its scalar arithmetic (strength
/// times steps, `guidance_scale - 1`, `1 - guidance_rescale`) on such Python floats.
pub(crate) fn decimal_f64(x: f32) -> f64 {
    format!("{x}").parse().unwrap_or(x as f64)
}

/// The scheduler index the denoising starts at, as diffusers' `get_timesteps`:
/// `init = min(int(steps * strength), steps)`, `t_start = steps - init`, and the loop starts at
/// `t_start * order`. `strength` is taken as the decimal the caller wrote (0.7f32 is 0.7), so
/// `int(steps * strength)` is Python's.
pub fn begin_index(steps: usize, strength: f32, order: usize) -> Result<usize> {
    let s = decimal_f64(strength);
    let init = ((steps as f64 * s) as usize).min(steps);
    if init == 0 {
        return Err(Error::invalid(format!(
            "strength {strength} with {steps} steps leaves no denoising step \
             (int(steps * strength) = 0); raise steps or strength"
        )));
    }
    Ok((steps - init) * order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TextConfig, UnetConfig, VaeConfig};
    use crate::scheduler::SchedulerConfig;

    fn config(unet: UnetConfig) -> ModelConfig {
        ModelConfig {
            scheduler: SchedulerConfig::default(),
            default_scheduler: None,
            prediction_type: PredictionType::Epsilon,
            vae_scaling_factor: 0.18215,
            vae_scale_factor: 8,
            unet_sample_size: 64,
            unet,
            vae: VaeConfig::default(),
            text: TextConfig::default(),
        }
    }

    fn sd2() -> UnetConfig {
        UnetConfig {
            heads: vec![5, 10, 20, 20],
            ..UnetConfig::default()
        }
    }

    fn tiny() -> UnetConfig {
        UnetConfig {
            block_out_channels: vec![16, 16, 32],
            attention: vec![true, true, false],
            heads: vec![2, 4, 8],
            ..UnetConfig::default()
        }
    }

    #[test]
    fn the_attention_at_full_latent_resolution_dominates() {
        // SD 2-base at its native 512x512 with guidance: 2 x 5 heads x 4096^2 x 4 bytes.
        let e = estimate_peak(&config(sd2()), 512, 512, 1, true, false);
        assert_eq!(e.bytes, 2 * 5 * 4096 * 4096 * 4, "{e:?}");
        assert!(e.what.contains("attention"), "{e:?}");
        // 4096x4096: 2.5 TiB for SD 2, 1 TiB for the tiny test UNet (2 heads).
        let e = estimate_peak(&config(sd2()), 4096, 4096, 1, true, false);
        assert_eq!(human_bytes(e.bytes), "2.5 TiB");
        let e = estimate_peak(&config(tiny()), 4096, 4096, 1, true, false);
        assert_eq!(human_bytes(e.bytes), "1.0 TiB");
        // Without guidance the UNet batch halves.
        let a = estimate_peak(&config(sd2()), 768, 768, 4, true, false);
        let b = estimate_peak(&config(sd2()), 768, 768, 4, false, false);
        assert_eq!(a.bytes, 2 * b.bytes);
    }

    #[test]
    fn what_the_default_limit_admits() {
        let fits = |u: UnetConfig, side: usize, count: usize| {
            estimate_peak(&config(u), side, side, count, true, false).bytes <= DEFAULT_MEMORY_LIMIT
        };
        // SD 1.x (8 heads): 16 images of 512x512 need exactly 16 GiB; 17 are refused.
        assert!(fits(UnetConfig::default(), 512, 16));
        assert!(!fits(UnetConfig::default(), 512, 17));
        // SD 2-base: 1024x1024 fits for one image, not for two.
        assert!(fits(sd2(), 1024, 1));
        assert!(!fits(sd2(), 1024, 2));
        // SD 2.1-768: five 768x768 images fit, six do not.
        assert!(fits(sd2(), 768, 5));
        assert!(!fits(sd2(), 768, 6));
    }

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(16 << 30), "16.0 GiB");
        assert_eq!(human_bytes(3 << 19), "1.5 MiB");
    }
}
