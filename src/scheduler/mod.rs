//! Noise schedulers, one file each, sharing the [`Scheduler`] trait. Each reproduces the
//! diffusers class of the same name, including its float32 arithmetic where that matters.
//!
//! A scheduler is built the way diffusers builds `<Class>.from_config(model_config, **extra)`:
//! it reads the keys it knows from `scheduler_config.json` and takes its own class's default
//! for the keys the file does not have (so the same file gives DDIM `timestep_spacing`
//! "leading" where it gives Euler "linspace", when the file says nothing).

mod ddim;
mod ddpm;
mod dpm_multistep;
mod euler;
mod euler_ancestral;
mod heun;
mod lcm;
mod lms;
mod pndm;
mod unipc;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// Scheduler names the pipeline knows. The C API numbers them in this order from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    /// `PNDMScheduler` ("pndm").
    Pndm,
    /// `DDIMScheduler` ("ddim").
    Ddim,
    /// `EulerDiscreteScheduler` ("euler").
    Euler,
    /// `EulerAncestralDiscreteScheduler` ("euler-a").
    EulerAncestral,
    /// `DPMSolverMultistepScheduler`, dpmsolver++, order 2 ("dpm++2m").
    DpmPp2m,
    /// The same with `use_karras_sigmas` ("dpm++2m-karras").
    DpmPp2mKarras,
    /// `DPMSolverMultistepScheduler`, sde-dpmsolver++, order 2 ("dpm++2m-sde").
    DpmPp2mSde,
    /// `LMSDiscreteScheduler` ("lms").
    Lms,
    /// `HeunDiscreteScheduler` ("heun").
    Heun,
    /// `UniPCMultistepScheduler` ("unipc").
    UniPc,
    /// `LCMScheduler` ("lcm"), for latent-consistency models.
    Lcm,
    /// `DDPMScheduler` ("ddpm").
    Ddpm,
}

impl SchedulerKind {
    /// Every scheduler, in C API order.
    pub const ALL: [SchedulerKind; 12] = [
        SchedulerKind::Pndm,
        SchedulerKind::Ddim,
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::DpmPp2m,
        SchedulerKind::DpmPp2mKarras,
        SchedulerKind::DpmPp2mSde,
        SchedulerKind::Lms,
        SchedulerKind::Heun,
        SchedulerKind::UniPc,
        SchedulerKind::Lcm,
        SchedulerKind::Ddpm,
    ];

    /// The name used by the C API docs and `generate --scheduler`.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Pndm => "pndm",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Euler => "euler",
            SchedulerKind::EulerAncestral => "euler-a",
            SchedulerKind::DpmPp2m => "dpm++2m",
            SchedulerKind::DpmPp2mKarras => "dpm++2m-karras",
            SchedulerKind::DpmPp2mSde => "dpm++2m-sde",
            SchedulerKind::Lms => "lms",
            SchedulerKind::Heun => "heun",
            SchedulerKind::UniPc => "unipc",
            SchedulerKind::Lcm => "lcm",
            SchedulerKind::Ddpm => "ddpm",
        }
    }

    /// The diffusers class.
    pub fn class_name(self) -> &'static str {
        match self {
            SchedulerKind::Pndm => "PNDMScheduler",
            SchedulerKind::Ddim => "DDIMScheduler",
            SchedulerKind::Euler => "EulerDiscreteScheduler",
            SchedulerKind::EulerAncestral => "EulerAncestralDiscreteScheduler",
            SchedulerKind::DpmPp2m | SchedulerKind::DpmPp2mKarras | SchedulerKind::DpmPp2mSde => {
                "DPMSolverMultistepScheduler"
            }
            SchedulerKind::Lms => "LMSDiscreteScheduler",
            SchedulerKind::Heun => "HeunDiscreteScheduler",
            SchedulerKind::UniPc => "UniPCMultistepScheduler",
            SchedulerKind::Lcm => "LCMScheduler",
            SchedulerKind::Ddpm => "DDPMScheduler",
        }
    }

    /// Parses a scheduler name (`pndm`, `ddim`, `euler`, `euler-a`, `dpm++2m`,
    /// `dpm++2m-karras`, `dpm++2m-sde`, `lms`, `heun`, `unipc`, `lcm`, `ddpm`).
    pub fn parse(s: &str) -> Result<SchedulerKind> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                Error::invalid(format!(
                    "unknown scheduler '{s}'; available: {}",
                    names.join(", ")
                ))
            })
    }

    /// The scheduler a model folder names: its class, refined by the config for
    /// `DPMSolverMultistepScheduler`. `None` for classes sdrt does not implement.
    pub fn from_config(config: &SchedulerConfig) -> Option<SchedulerKind> {
        let class = config.class_name();
        if class == "DPMSolverMultistepScheduler" {
            let algo = config.str_or("algorithm_type", "dpmsolver++").ok()?;
            let karras = config.bool_or("use_karras_sigmas", false).ok()?;
            let order = config.usize_or("solver_order", 2).ok()?;
            return match (algo.as_str(), karras, order) {
                ("dpmsolver++", false, 2) => Some(SchedulerKind::DpmPp2m),
                ("dpmsolver++", true, 2) => Some(SchedulerKind::DpmPp2mKarras),
                ("sde-dpmsolver++", false, 2) => Some(SchedulerKind::DpmPp2mSde),
                _ => None,
            };
        }
        Self::ALL.iter().copied().find(|k| {
            k.class_name() == class
                && !matches!(
                    k,
                    SchedulerKind::DpmPp2m
                        | SchedulerKind::DpmPp2mKarras
                        | SchedulerKind::DpmPp2mSde
                )
        })
    }

    /// The config keys this name sets on top of the model's config, as
    /// `from_config(config, **extra)` does.
    fn extra_config(self) -> Vec<(&'static str, Value)> {
        match self {
            SchedulerKind::DpmPp2m => vec![
                ("algorithm_type", "dpmsolver++".into()),
                ("solver_order", 2.into()),
                ("use_karras_sigmas", false.into()),
            ],
            SchedulerKind::DpmPp2mKarras => vec![
                ("algorithm_type", "dpmsolver++".into()),
                ("solver_order", 2.into()),
                ("use_karras_sigmas", true.into()),
            ],
            SchedulerKind::DpmPp2mSde => vec![
                ("algorithm_type", "sde-dpmsolver++".into()),
                ("solver_order", 2.into()),
                ("use_karras_sigmas", false.into()),
            ],
            _ => Vec::new(),
        }
    }
}

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionType {
    /// The noise (SD 1.x, SD 2 base).
    Epsilon,
    /// The velocity `v` (SD 2.1 768).
    VPrediction,
    /// The denoised sample.
    Sample,
}

impl PredictionType {
    /// The diffusers config spelling.
    pub fn name(self) -> &'static str {
        match self {
            PredictionType::Epsilon => "epsilon",
            PredictionType::VPrediction => "v_prediction",
            PredictionType::Sample => "sample",
        }
    }

    /// Parses the diffusers spelling.
    pub fn parse(s: &str) -> Result<PredictionType> {
        match s {
            "epsilon" => Ok(PredictionType::Epsilon),
            "v_prediction" => Ok(PredictionType::VPrediction),
            "sample" => Ok(PredictionType::Sample),
            _ => Err(Error::model(format!("unknown prediction_type '{s}'"))),
        }
    }
}

/// How inference timesteps are spread over the training range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestepSpacing {
    /// Evenly spaced, including both ends.
    Linspace,
    /// Multiples of `T / steps` from 0, plus `steps_offset`.
    Leading,
    /// Evenly spaced down from `T`, minus one.
    Trailing,
}

impl TimestepSpacing {
    /// The diffusers spelling.
    pub fn name(self) -> &'static str {
        match self {
            TimestepSpacing::Linspace => "linspace",
            TimestepSpacing::Leading => "leading",
            TimestepSpacing::Trailing => "trailing",
        }
    }

    /// Parses the diffusers spelling.
    pub fn parse(s: &str) -> Result<TimestepSpacing> {
        match s {
            "linspace" => Ok(TimestepSpacing::Linspace),
            "leading" => Ok(TimestepSpacing::Leading),
            "trailing" => Ok(TimestepSpacing::Trailing),
            _ => Err(Error::model(format!("unknown timestep_spacing '{s}'"))),
        }
    }
}

/// A parsed `scheduler_config.json`. Keys are read on demand with the reading scheduler's
/// own defaults; JSON `null` counts as absent, as in diffusers.
#[derive(Debug, Clone, Default)]
pub struct SchedulerConfig {
    map: Map<String, Value>,
}

fn type_error(key: &str, want: &str, v: &Value) -> Error {
    Error::model(format!(
        "scheduler config: '{key}' should be {want}, got {v}"
    ))
}

impl SchedulerConfig {
    /// Reads a parsed `scheduler_config.json`.
    pub fn from_json(v: &Value) -> Result<SchedulerConfig> {
        let map = v
            .as_object()
            .ok_or_else(|| Error::model("scheduler_config.json is not a JSON object"))?
            .clone();
        let c = SchedulerConfig { map };
        // Validate what every scheduler relies on.
        c.num_train_timesteps()?;
        c.prediction_type()?;
        c.timestep_spacing(TimestepSpacing::Leading)?;
        Ok(c)
    }

    /// Sets a key, as a keyword argument to `from_config` would.
    pub fn set(&mut self, key: &str, value: Value) {
        self.map.insert(key.to_string(), value);
    }

    /// `_class_name` (empty when absent).
    pub fn class_name(&self) -> &str {
        self.map
            .get("_class_name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A number, or `default`.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| type_error(key, "a number", v)),
        }
    }

    /// A non-negative integer, or `default`.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|&n| n <= 1_000_000)
                .map(|n| n as usize)
                .ok_or_else(|| type_error(key, "an integer in 0..=1000000", v)),
        }
    }

    /// A boolean, or `default`.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| type_error(key, "true or false", v)),
        }
    }

    /// A string, or `default`.
    pub fn str_or(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| type_error(key, "a string", v)),
        }
    }

    /// A list of numbers, if present.
    pub fn f64_list(&self, key: &str) -> Result<Option<Vec<f64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                let arr = v.as_array().ok_or_else(|| type_error(key, "a list", v))?;
                arr.iter()
                    .map(|x| {
                        x.as_f64()
                            .ok_or_else(|| type_error(key, "a list of numbers", v))
                    })
                    .collect::<Result<Vec<f64>>>()
                    .map(Some)
            }
        }
    }

    /// `num_train_timesteps` (default 1000), at least 2.
    pub fn num_train_timesteps(&self) -> Result<usize> {
        let n = self.usize_or("num_train_timesteps", 1000)?;
        if n < 2 {
            return Err(Error::model(format!(
                "num_train_timesteps {n} is too small"
            )));
        }
        Ok(n)
    }

    /// `prediction_type` (default epsilon).
    pub fn prediction_type(&self) -> Result<PredictionType> {
        PredictionType::parse(&self.str_or("prediction_type", "epsilon")?)
    }

    /// `timestep_spacing`, or the reading class's `default`.
    pub fn timestep_spacing(&self, default: TimestepSpacing) -> Result<TimestepSpacing> {
        match self.get("timestep_spacing") {
            None => Ok(default),
            Some(v) => TimestepSpacing::parse(
                v.as_str()
                    .ok_or_else(|| type_error("timestep_spacing", "a string", v))?,
            ),
        }
    }

    /// The betas as diffusers' schedulers compute them (float32), from `trained_betas` or
    /// `beta_schedule` with the class's default start/end/schedule, then
    /// `rescale_betas_zero_snr` when set.
    pub fn betas(&self, defaults: BetaDefaults) -> Result<Vec<f32>> {
        let n = self.num_train_timesteps()?;
        let betas: Vec<f32> = if let Some(b) = self.f64_list("trained_betas")? {
            if b.len() != n {
                return Err(Error::model(format!(
                    "trained_betas has {} values, num_train_timesteps is {n}",
                    b.len()
                )));
            }
            b.iter().map(|&x| x as f32).collect()
        } else {
            let start = self.f64_or("beta_start", defaults.start)?;
            let end = self.f64_or("beta_end", defaults.end)?;
            if !(start.is_finite() && end.is_finite() && start >= 0.0 && end < 1.0) {
                return Err(Error::model(format!(
                    "beta_start {start} / beta_end {end} are out of range"
                )));
            }
            match self.str_or("beta_schedule", defaults.schedule)?.as_str() {
                "linear" => linspace_f32(start as f32, end as f32, n),
                "scaled_linear" => linspace_f32(start.sqrt() as f32, end.sqrt() as f32, n)
                    .into_iter()
                    .map(|x| x * x)
                    .collect(),
                "squaredcos_cap_v2" => betas_for_alpha_bar_cosine(n),
                other => {
                    return Err(Error::model(format!(
                        "beta_schedule '{other}' is not supported"
                    )))
                }
            }
        };
        if self.bool_or("rescale_betas_zero_snr", false)? {
            Ok(rescale_zero_terminal_snr(&betas))
        } else {
            Ok(betas)
        }
    }

    /// `alphas_cumprod` from [`SchedulerConfig::betas`]: torch's CPU `cumprod`, which
    /// accumulates in double and stores float32.
    pub fn alphas_cumprod(&self, defaults: BetaDefaults) -> Result<Vec<f32>> {
        Ok(cumprod(&self.betas(defaults)?))
    }
}

/// A class's defaults for the beta keys.
#[derive(Debug, Clone, Copy)]
pub struct BetaDefaults {
    /// `beta_start`.
    pub start: f64,
    /// `beta_end`.
    pub end: f64,
    /// `beta_schedule`.
    pub schedule: &'static str,
}

impl BetaDefaults {
    /// Most classes: 0.0001 .. 0.02, linear.
    pub const LINEAR: BetaDefaults = BetaDefaults {
        start: 0.0001,
        end: 0.02,
        schedule: "linear",
    };
}

/// `cumprod(1 - betas)` accumulated in double, stored as float32 (torch CPU).
pub(crate) fn cumprod(betas: &[f32]) -> Vec<f32> {
    let mut acc = 1.0f64;
    betas
        .iter()
        .map(|&b| {
            acc *= (1.0f32 - b) as f64;
            acc as f32
        })
        .collect()
}

/// `torch.linspace(start, end, steps, dtype=torch.float32)`, including torch's two-sided
/// evaluation (from the start for the first half, from the end for the second). torch's CPU
/// kernel (AVX2/AVX512 builds, what diffusers users run) evaluates each element with a fused
/// multiply-add, so this does too; plain mul-then-add differs in the last bit for ~10%.
pub(crate) fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            if i < halfway {
                step.mul_add(i as f32, start)
            } else {
                (-step).mul_add((steps - i - 1) as f32, end)
            }
        })
        .collect()
}

/// `np.linspace(start, stop, num)` in float64 (the last element is `stop` exactly).
pub(crate) fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let div = (num - 1) as f64;
            let delta = stop - start;
            let step = delta / div;
            let mut v: Vec<f64> = (0..num)
                .map(|i| {
                    if step == 0.0 {
                        (i as f64 / div) * delta + start
                    } else {
                        i as f64 * step + start
                    }
                })
                .collect();
            v[num - 1] = stop;
            v
        }
    }
}

/// diffusers' `betas_for_alpha_bar` with the cosine transform, computed in double as Python
/// does, then stored as float32.
fn betas_for_alpha_bar_cosine(n: usize) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0)
            .cos()
            .powi(2)
    };
    (0..n)
        .map(|i| {
            let t1 = i as f64 / n as f64;
            let t2 = (i + 1) as f64 / n as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
        })
        .collect()
}

/// diffusers' `rescale_zero_terminal_snr` (arXiv 2305.08891, Algorithm 1), in float32 as
/// torch computes it.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let alphas_bar_sqrt: Vec<f32> = cumprod(betas).iter().map(|a| a.sqrt()).collect();
    let first = alphas_bar_sqrt[0];
    let last = *alphas_bar_sqrt.last().unwrap_or(&0.0);
    let scaled: Vec<f32> = alphas_bar_sqrt
        .iter()
        .map(|&a| (a - last) * (first / (first - last)))
        .collect();
    let alphas_bar: Vec<f32> = scaled.iter().map(|a| a * a).collect();
    let mut alphas = Vec::with_capacity(alphas_bar.len());
    alphas.push(alphas_bar[0]);
    for w in alphas_bar.windows(2) {
        alphas.push(w[1] / w[0]);
    }
    alphas.iter().map(|a| 1.0 - a).collect()
}

/// Per-call settings on top of the model's config.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchedulerOverrides {
    /// Replaces the config's `prediction_type` (for models whose config is wrong).
    pub prediction_type: Option<PredictionType>,
    /// Replaces the config's `timestep_spacing`.
    pub timestep_spacing: Option<TimestepSpacing>,
    /// DDIM's `eta` (0 = deterministic DDIM); ignored by other schedulers.
    pub eta: f32,
}

/// A scheduler instance for one generation: `set_timesteps` has been applied.
pub trait Scheduler: Send {
    /// The timesteps to run the UNet at, one per UNet evaluation, in order (as the float32
    /// values diffusers passes, widened to f64).
    fn timesteps(&self) -> &[f64];
    /// The factor the initial noise is scaled by.
    fn init_noise_sigma(&self) -> f32;
    /// Scales the UNet input for evaluation `i` in place (identity for most schedulers).
    fn scale_model_input(&mut self, sample: &mut [f32], i: usize);
    /// Advances `sample` in place given the guided model output of evaluation `i`.
    /// Stochastic schedulers draw their noise from `noise` (standard normals, as many as the
    /// sample has elements), in diffusers' order.
    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()>;
    /// diffusers' `add_noise(original, noise, t)` at evaluation `i`'s timestep (the sigma at
    /// the scheduler's step index `i` for sigma-based schedulers), in float32 as torch does.
    /// `noise` has as many values as `original`.
    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32>;
    /// The cumulative alpha of evaluation `i`: the UNet input is
    /// `sqrt(a) * x0 + sqrt(1 - a) * noise` (for sigma schedulers `a = 1 / (1 + sigma^2)`).
    fn alpha_bar(&self, i: usize) -> f64;
    /// diffusers' `order`: UNet evaluations per inference step (2 for Heun), which
    /// image-to-image's `get_timesteps` multiplies the start step by.
    fn order(&self) -> usize {
        1
    }
    /// diffusers' `set_begin_index`: the first `step` will be evaluation `i` (image-to-image
    /// starts part-way; schedulers that count steps internally start their counter there).
    fn set_begin_index(&mut self, _i: usize) {}
}

/// `add_noise` of the DDPM family (PNDM, DDIM, DDPM, LCM):
/// `alphas_cumprod[t] ** 0.5 * x + (1 - alphas_cumprod[t]) ** 0.5 * noise`.
pub(crate) fn add_noise_alphas(
    alphas_cumprod: &[f32],
    t: f64,
    original: &[f32],
    noise: &[f32],
) -> Vec<f32> {
    let ab = alphas_cumprod[(t.max(0.0) as usize).min(alphas_cumprod.len() - 1)];
    let a = ab.sqrt();
    let b = (1.0 - ab).sqrt();
    original
        .iter()
        .zip(noise)
        .map(|(&x, &n)| a * x + b * n)
        .collect()
}

/// `add_noise` of the Euler family (Euler, Euler ancestral, Heun, LMS): `x + noise * sigma`.
pub(crate) fn add_noise_sigma(sigma: f32, original: &[f32], noise: &[f32]) -> Vec<f32> {
    original
        .iter()
        .zip(noise)
        .map(|(&x, &n)| x + n * sigma)
        .collect()
}

/// `add_noise` of the multistep solvers (DPM-Solver, UniPC):
/// `alpha_t * x + sigma_t * noise` with `alpha_t = 1 / (sigma^2 + 1) ** 0.5`,
/// `sigma_t = sigma * alpha_t`.
pub(crate) fn add_noise_alpha_sigma(sigma: f32, original: &[f32], noise: &[f32]) -> Vec<f32> {
    let alpha_t = 1.0 / (sigma * sigma + 1.0).sqrt();
    let sigma_t = sigma * alpha_t;
    original
        .iter()
        .zip(noise)
        .map(|(&x, &n)| alpha_t * x + sigma_t * n)
        .collect()
}

/// `alphas_cumprod[t]` for a (possibly fractional) training timestep.
pub(crate) fn alpha_bar_at(alphas_cumprod: &[f32], t: f64) -> f64 {
    alphas_cumprod[(t.max(0.0) as usize).min(alphas_cumprod.len() - 1)] as f64
}

/// The cumulative alpha of a sigma: `1 / (1 + sigma^2)`.
pub(crate) fn alpha_bar_of_sigma(sigma: f32) -> f64 {
    let s = sigma as f64;
    1.0 / (1.0 + s * s)
}

/// Creates the scheduler of `kind` for `steps` inference steps, from the model's config with
/// the per-call overrides applied.
///
/// Steps run from 1 to `num_train_timesteps`; inside that range a scheduler refuses the counts
/// for which diffusers fails or builds a schedule outside the training timesteps (e.g.
/// `num_train_timesteps` itself with "leading" spacing and `steps_offset` 1, some counts with
/// "trailing" spacing, LCM above `original_inference_steps`). Those are `InvalidArgument`
/// naming `steps` and the nearest counts that work.
pub fn create(
    kind: SchedulerKind,
    config: &SchedulerConfig,
    steps: usize,
    overrides: &SchedulerOverrides,
) -> Result<Box<dyn Scheduler>> {
    let mut config = config.clone();
    for (k, v) in kind.extra_config() {
        config.set(k, v);
    }
    if let Some(p) = overrides.prediction_type {
        config.set("prediction_type", p.name().into());
    }
    if let Some(s) = overrides.timestep_spacing {
        config.set("timestep_spacing", s.name().into());
    }
    let t = config.num_train_timesteps()?;
    if steps == 0 || steps > t {
        return Err(Error::invalid(format!(
            "steps must be between 1 and {t} (the model's num_train_timesteps), got {steps}"
        )));
    }
    if !overrides.eta.is_finite() || overrides.eta < 0.0 {
        return Err(Error::invalid(format!(
            "eta {} must be >= 0",
            overrides.eta
        )));
    }
    match build(kind, &config, steps, overrides.eta) {
        Err(e) if e.kind() == crate::error::ErrorKind::InvalidArgument => {
            Err(steps_error(kind, &config, steps, overrides.eta, t, e))
        }
        other => other,
    }
}

/// Whether [`create`] accepts `steps` for `kind` with this config and these overrides (without
/// the message [`create`] builds for a refusal).
pub fn accepts_steps(
    kind: SchedulerKind,
    config: &SchedulerConfig,
    steps: usize,
    overrides: &SchedulerOverrides,
) -> bool {
    let mut config = config.clone();
    for (k, v) in kind.extra_config() {
        config.set(k, v);
    }
    if let Some(p) = overrides.prediction_type {
        config.set("prediction_type", p.name().into());
    }
    if let Some(s) = overrides.timestep_spacing {
        config.set("timestep_spacing", s.name().into());
    }
    let t = config.num_train_timesteps().unwrap_or(0);
    (1..=t).contains(&steps) && build(kind, &config, steps, overrides.eta).is_ok()
}

fn build(
    kind: SchedulerKind,
    config: &SchedulerConfig,
    steps: usize,
    eta: f32,
) -> Result<Box<dyn Scheduler>> {
    let inner: Box<dyn Scheduler> = match kind {
        SchedulerKind::Pndm => Box::new(pndm::Pndm::new(config, steps)?),
        SchedulerKind::Ddim => Box::new(ddim::Ddim::new(config, steps, eta)?),
        SchedulerKind::Euler => Box::new(euler::Euler::new(config, steps)?),
        SchedulerKind::EulerAncestral => {
            Box::new(euler_ancestral::EulerAncestral::new(config, steps)?)
        }
        SchedulerKind::DpmPp2m | SchedulerKind::DpmPp2mKarras | SchedulerKind::DpmPp2mSde => {
            Box::new(dpm_multistep::DpmMultistep::new(config, steps)?)
        }
        SchedulerKind::Lms => Box::new(lms::Lms::new(config, steps)?),
        SchedulerKind::Heun => Box::new(heun::Heun::new(config, steps)?),
        SchedulerKind::UniPc => Box::new(unipc::UniPc::new(config, steps)?),
        SchedulerKind::Lcm => Box::new(lcm::Lcm::new(config, steps)?),
        SchedulerKind::Ddpm => Box::new(ddpm::Ddpm::new(config, steps)?),
    };
    Ok(Box::new(Checked(inner)))
}

/// How far [`steps_error`] looks for accepted counts on each side.
const STEPS_SEARCH: usize = 64;

/// A refused step count: the scheduler's reason and the nearest counts it accepts.
fn steps_error(
    kind: SchedulerKind,
    config: &SchedulerConfig,
    steps: usize,
    eta: f32,
    t: usize,
    reason: Error,
) -> Error {
    let works = |n: usize| build(kind, config, n, eta).is_ok();
    let below = (steps.saturating_sub(STEPS_SEARCH).max(1)..steps)
        .rev()
        .find(|&n| works(n));
    let above = (steps + 1..=(steps + STEPS_SEARCH).min(t)).find(|&n| works(n));
    let nearest = match (below, above) {
        (Some(a), Some(b)) => format!("; nearest accepted: {a} and {b}"),
        (Some(a), None) | (None, Some(a)) => format!("; nearest accepted: {a}"),
        (None, None) => String::new(),
    };
    Error::invalid(format!(
        "steps {steps} is refused by {} ({}) with this model's scheduler config: {}{nearest}",
        kind.name(),
        kind.class_name(),
        reason.message()
    ))
}

/// Checks the arguments every scheduler relies on once, so the implementations can index
/// their tables by `i` directly.
struct Checked(Box<dyn Scheduler>);

impl Checked {
    fn check(&self, i: usize, lengths: Option<(usize, usize)>) -> Result<()> {
        let n = self.0.timesteps().len();
        if i >= n {
            return Err(Error::invalid(format!(
                "timestep index {i} out of range (the scheduler has {n})"
            )));
        }
        if let Some((output, sample)) = lengths {
            if output != sample {
                return Err(Error::invalid(format!(
                    "model output has {output} values, the sample {sample}"
                )));
            }
        }
        Ok(())
    }
}

impl Scheduler for Checked {
    fn timesteps(&self) -> &[f64] {
        self.0.timesteps()
    }

    fn init_noise_sigma(&self) -> f32 {
        self.0.init_noise_sigma()
    }

    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) {
        if self.check(i, None).is_ok() {
            self.0.scale_model_input(sample, i);
        }
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        self.check(i, Some((model_output.len(), sample.len())))?;
        self.0.step(model_output, i, sample, noise)
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        // The pipeline passes matching lengths and indices it got from `timesteps`; an index
        // past the end is clamped rather than trusted.
        let i = i.min(self.0.timesteps().len().saturating_sub(1));
        self.0.add_noise(original, noise, i)
    }

    fn alpha_bar(&self, i: usize) -> f64 {
        let i = i.min(self.0.timesteps().len().saturating_sub(1));
        self.0.alpha_bar(i)
    }

    fn order(&self) -> usize {
        self.0.order()
    }

    fn set_begin_index(&mut self, i: usize) {
        self.0.set_begin_index(i)
    }
}

/// diffusers' `_sigma_to_t`: the fractional training timestep of `sigma`, interpolating the
/// float32 `log_sigmas` (ascending with `t`) as numpy does: `log(max(sigma, 1e-10))` and the
/// weight in float64, except `low - high`, which numpy subtracts in float32.
pub(crate) fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = if sigma.is_nan() {
        sigma
    } else {
        sigma.max(1e-10).ln()
    };
    // argmax(cumsum(dists >= 0)): the last index with log_sigma >= log_sigmas[j], else 0;
    // clipped to len - 2.
    let low = log_sigmas
        .iter()
        .rposition(|&l| log_sigma - l as f64 >= 0.0)
        .unwrap_or(0)
        .min(log_sigmas.len().saturating_sub(2));
    let high = low + 1;
    let (lo, hi) = (log_sigmas[low], log_sigmas[high]);
    let w = ((lo as f64 - log_sigma) / (lo - hi) as f64).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * high as f64
}

/// `_convert_to_karras`: `steps` sigmas from `sigma_max` down to `sigma_min`, evenly spaced in
/// `sigma ** (1 / 7)`, in float64 (`np.linspace(0, 1, steps)` ramp).
pub(crate) fn karras_sigmas(sigma_min: f64, sigma_max: f64, steps: usize) -> Vec<f64> {
    let rho = 7.0f64;
    let min_inv_rho = sigma_min.powf(1.0 / rho);
    let max_inv_rho = sigma_max.powf(1.0 / rho);
    np_linspace(0.0, 1.0, steps)
        .iter()
        .map(|r| (max_inv_rho + r * (min_inv_rho - max_inv_rho)).powf(rho))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_hits_both_ends_exactly() {
        let v = linspace_f32(0.1, 0.7, 7);
        assert_eq!(v[0], 0.1);
        assert_eq!(v[6], 0.7);
        assert_eq!(v.len(), 7);
    }

    #[test]
    fn names_round_trip() {
        for k in SchedulerKind::ALL {
            assert_eq!(SchedulerKind::parse(k.name()).unwrap(), k);
        }
        assert!(SchedulerKind::parse("nope").is_err());
    }

    #[test]
    fn rejects_zero_and_too_many_steps() {
        let c = SchedulerConfig::default();
        let o = SchedulerOverrides::default();
        assert!(create(SchedulerKind::Pndm, &c, 0, &o).is_err());
        assert!(create(SchedulerKind::Pndm, &c, 1001, &o).is_err());
    }
}
