//! The plan step: every check a request needs, made against the model, its graphs and the
//! pipeline's static shapes before any graph runs, and what the stages then run: the size,
//! the mode, guidance, and the scheduler with the index the denoising starts at.

use crate::error::{Error, Result};
use crate::model::graphs::GraphDims;
use crate::model::loader::StaticShape;
use crate::model::ModelConfig;
use crate::rng::Generator;
use crate::scheduler::{self, PredictionType, Scheduler, SchedulerKind, SchedulerOverrides};

use super::estimate::{estimate_peak, human_bytes};
use super::pyfloat::decimal_f64;
use super::request::{
    GenerateParams, PreviewKind, PromptWeighting, DEFAULT_MEMORY_LIMIT, MAX_COUNT, MAX_SIDE,
};

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
pub(crate) struct Plan {
    /// Output width in pixels.
    pub width: usize,
    /// Output height in pixels.
    pub height: usize,
    /// The scheduler, with its timesteps set for the call's steps.
    pub scheduler: Box<dyn Scheduler>,
    /// The first scheduler index the denoising runs (image-to-image strength, or
    /// `denoising_start`; 0 otherwise).
    pub begin: usize,
    /// One past the last scheduler index it runs (`denoising_end`; all of them otherwise).
    pub end: usize,
    /// The prediction type the scheduler runs with (for previews).
    pub prediction: PredictionType,
    /// Classifier-free guidance: the UNet batch holds an unconditional half.
    pub cfg: bool,
    /// The mode.
    pub mode: Mode,
}

/// What a request is checked against.
pub(crate) struct Model<'a> {
    /// The folder's configs.
    pub config: &'a ModelConfig,
    /// What the graphs fix.
    pub dims: &'a GraphDims,
    /// The size the pipeline's sessions are pinned to, if any.
    pub static_shape: Option<StaticShape>,
    /// Whether the family has latent-to-RGB coefficients for `latent_rgb` previews.
    pub latent_rgb: bool,
    /// The family's default scheduler for this model, when sdrt implements it.
    pub default_scheduler: Option<SchedulerKind>,
    /// The family's name for latents (`Latents::family`).
    pub latent_family: &'a str,
    /// Whether the UNet takes SDXL's micro-conditioning.
    pub micro_conditioning: bool,
}

pub(crate) fn nonzero_or(v: usize, default: usize) -> usize {
    if v == 0 {
        default
    } else {
        v
    }
}

/// Checks `p` against the model, the sizes its graphs take and the pipeline's static shapes,
/// and builds the call's scheduler: every check a call makes before any graph runs.
pub(crate) fn plan(p: &GenerateParams, model: &Model<'_>) -> Result<Plan> {
    let (config, dims, static_shape) = (model.config, model.dims, model.static_shape);
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
    let f = config.vae_scale_factor;
    if let Some(l) = &p.latents {
        check_latents(p, l, model, f)?;
    }
    let (nw, nh) = match (&p.init_image, &p.latents) {
        (Some(img), _) => (img.width, img.height),
        (None, Some(l)) => (l.shape[3] * f, l.shape[2] * f),
        (None, None) => config.native_size(),
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
    if p.latents.is_some() && (width, height) != (nw, nh) {
        return Err(Error::invalid(format!(
            "width/height: the requested size {width}x{height} differs from the latents' \
             {nw}x{nh} (pass 0 to use the latents' size)"
        )));
    }
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
        if p.prompt_weighting != PromptWeighting::None {
            return Err(Error::unsupported(
                "prompt_weighting: static shapes pin the UNet's sequence length to one \
                 77-token chunk, which weighted prompts may pass; load this model without \
                 static shapes",
            ));
        }
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
    let scheduler = match p.scheduler.or(model.default_scheduler) {
        Some(k) => k,
        None => {
            return Err(Error::unsupported(format!(
                "the model's scheduler {} is not supported; choose one explicitly",
                config.scheduler.class_name()
            )))
        }
    };
    let mode = match (&p.init_image, &p.mask, &p.latents) {
        (None, _, None) => Mode::Text,
        (Some(_), None, _) | (None, _, Some(_)) => Mode::Image,
        (Some(_), Some(_), _) => Mode::Inpaint,
    };
    if !model.micro_conditioning {
        // The first SDXL field set, by its Rust and its C names.
        let (m, d) = (&p.micro, crate::pipeline::MicroConditioning::default());
        let set = [
            ("prompt_2", p.prompt_2.is_some()),
            ("negative_prompt_2", p.negative_prompt_2.is_some()),
            (
                "original_size (original_width/original_height)",
                m.original_size.is_some(),
            ),
            ("crop (crop_x/crop_y)", m.crop != d.crop),
            (
                "target_size (target_width/target_height)",
                m.target_size.is_some(),
            ),
            (
                "negative_original_size (negative_original_width/negative_original_height)",
                m.negative_original_size.is_some(),
            ),
            (
                "negative_crop (negative_crop_x/negative_crop_y)",
                m.negative_crop != d.negative_crop,
            ),
            (
                "negative_target_size (negative_target_width/negative_target_height)",
                m.negative_target_size.is_some(),
            ),
            ("aesthetic_score", m.aesthetic_score != d.aesthetic_score),
            (
                "negative_aesthetic_score",
                m.negative_aesthetic_score != d.negative_aesthetic_score,
            ),
        ];
        if let Some((name, _)) = set.iter().find(|(_, on)| *on) {
            return Err(Error::invalid(format!("{name}: only SDXL models take it")));
        }
    }
    check_micro(p, width, height)?;
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
    if p.preview == PreviewKind::LatentRgb && !model.latent_rgb {
        return Err(Error::invalid(format!(
            "preview: latent_rgb needs 4 latent channels, the model has {}",
            dims.latent_channels
        )));
    }
    let overrides = SchedulerOverrides {
        prediction_type: p.prediction_type,
        timestep_spacing: p.timestep_spacing,
        eta: p.eta,
    };
    let sched = scheduler::create(scheduler, &config.scheduler, p.steps, &overrides)?;
    let t = config.scheduler.num_train_timesteps()?;
    let begin = match (mode, p.denoising_start) {
        (Mode::Text, _) => 0,
        (_, Some(start)) => denoising_start_index(sched.as_ref(), start, t),
        (Mode::Image | Mode::Inpaint, None) => get_timesteps(p.steps, p.strength, sched.order())?,
    };
    if begin >= sched.timesteps().len() {
        return Err(Error::invalid(match p.denoising_start {
            Some(start) => format!(
                "denoising_start {start} leaves no step of {} to run",
                sched.timesteps().len()
            ),
            None => format!(
                "strength {} leaves no step of {} to run",
                p.strength,
                sched.timesteps().len()
            ),
        }));
    }
    let end = match p.denoising_end {
        Some(e) => denoising_end_index(sched.as_ref(), begin, e, t),
        None => sched.timesteps().len(),
    };
    if end <= begin {
        return Err(Error::invalid(format!(
            "denoising_end {}: no step of {} is left to run before it",
            p.denoising_end.unwrap_or(0.0),
            sched.timesteps().len()
        )));
    }
    Ok(Plan {
        width,
        height,
        scheduler: sched,
        begin,
        end,
        prediction: p.prediction_type.unwrap_or(config.prediction_type),
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

/// diffusers' `get_timesteps` (image-to-image strength): the index into the scheduler's
/// timesteps where the denoising starts. `init = min(int(steps * strength), steps)`,
/// `t_start = steps - init`, and the loop runs `timesteps[t_start * order:]`. `strength` is
/// taken as the decimal the caller wrote (0.7f32 is 0.7), so `int(steps * strength)` is
/// Python's.
pub fn get_timesteps(steps: usize, strength: f32, order: usize) -> Result<usize> {
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

/// Latents given to start from: this family's, of the call's count and the model's channels,
/// finite, and not together with an init image.
fn check_latents(
    p: &GenerateParams,
    l: &crate::pipeline::Latents,
    model: &Model<'_>,
    f: usize,
) -> Result<()> {
    if l.family != model.latent_family {
        return Err(Error::invalid(format!(
            "latents: they are in {}'s latent space; this model takes {}'s",
            l.family, model.latent_family
        )));
    }
    if p.init_image.is_some() || p.mask.is_some() {
        return Err(Error::invalid(
            "latents: give latents or an init image (and mask), not both",
        ));
    }
    let [n, c, h, w] = l.shape;
    let want_c = model.dims.latent_channels;
    if n != p.count || c != want_c || h == 0 || w == 0 || h * f > MAX_SIDE || w * f > MAX_SIDE {
        return Err(Error::invalid(format!(
            "latents: shape {:?}; expected [{}, {want_c}, h, w] ({} image(s), the model's latent \
             channels, sides up to {} cells)",
            l.shape,
            p.count,
            p.count,
            MAX_SIDE / f
        )));
    }
    if l.data.len() != n * c * h * w || l.data.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid(format!(
            "latents: {} values for shape {:?}, or some not finite",
            l.data.len(),
            l.shape
        )));
    }
    Ok(())
}

/// The micro-conditioning and the ensemble-of-experts fractions.
fn check_micro(p: &GenerateParams, width: usize, height: usize) -> Result<()> {
    let m = &p.micro;
    // Each message names the Rust field and the C fields (`<c>_width/<c>_height`, `<c>_x/_y`).
    for (name, c, size) in [
        ("original_size", "original", m.original_size),
        ("target_size", "target", m.target_size),
        (
            "negative_original_size",
            "negative_original",
            m.negative_original_size,
        ),
        (
            "negative_target_size",
            "negative_target",
            m.negative_target_size,
        ),
    ] {
        if let Some((w, h)) = size {
            if w == 0 || h == 0 || w > 1 << 16 || h > 1 << 16 {
                return Err(Error::invalid(format!(
                    "{name} ({c}_width/{c}_height) {w}x{h} must be 1..=65536 on each side"
                )));
            }
        }
    }
    for (name, (x, y), original) in [
        ("crop", m.crop, m.original_size),
        ("negative_crop", m.negative_crop, m.negative_original_size),
    ] {
        let (ow, oh) = original.unwrap_or((width, height));
        if (x, y) != (0, 0) && (x >= ow || y >= oh) {
            return Err(Error::invalid(format!(
                "{name} ({name}_x/{name}_y) ({x}, {y}) lies outside the original size {ow}x{oh}"
            )));
        }
    }
    for (name, v) in [
        ("aesthetic_score", m.aesthetic_score),
        ("negative_aesthetic_score", m.negative_aesthetic_score),
    ] {
        if !v.is_finite() {
            return Err(Error::invalid(format!("{name} must be finite, got {v}")));
        }
    }
    for (name, v) in [
        ("denoising_start", p.denoising_start),
        ("denoising_end", p.denoising_end),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0 && v < 1.0) {
                return Err(Error::invalid(format!("{name} must be in (0, 1), got {v}")));
            }
        }
    }
    if let (Some(s), Some(e)) = (p.denoising_start, p.denoising_end) {
        if s >= e {
            return Err(Error::invalid(format!(
                "denoising_start {s} must be below denoising_end {e}"
            )));
        }
    }
    if p.denoising_start.is_some() && p.latents.is_none() && p.init_image.is_none() {
        return Err(Error::invalid(
            "denoising_start: it continues from latents (or an init image); give them",
        ));
    }
    Ok(())
}

/// `int(round(T - fraction * T))` in Python floats: the timestep diffusers cuts the schedule
/// at for `denoising_start` and `denoising_end`.
fn cutoff(fraction: f32, train_steps: usize) -> f64 {
    let t = train_steps as f64;
    (t - decimal_f64(fraction) * t).round_ties_even()
}

/// diffusers' `get_timesteps` with `denoising_start`: the steps whose timestep is below the
/// cutoff run (one more for a second-order scheduler when their count is even).
fn denoising_start_index(sched: &dyn Scheduler, start: f32, train_steps: usize) -> usize {
    let c = cutoff(start, train_steps);
    let ts = sched.timesteps();
    let mut n = ts.iter().filter(|&&t| t < c).count();
    if sched.order() == 2 && n % 2 == 0 {
        n += 1;
    }
    ts.len().saturating_sub(n)
}

/// diffusers' `denoising_end`: of the timesteps from `begin`, those at or above the cutoff
/// run; the index one past the last of them.
fn denoising_end_index(sched: &dyn Scheduler, begin: usize, end: f32, train_steps: usize) -> usize {
    let c = cutoff(end, train_steps);
    let ts = sched.timesteps();
    begin
        + ts[begin.min(ts.len())..]
            .iter()
            .filter(|&&t| t >= c)
            .count()
}
