//! Noise schedulers, one file each, sharing the [`Scheduler`] trait. Each reproduces the
//! diffusers class of the same name, including its float32 arithmetic where that matters.

mod pndm;

pub use pndm::Pndm;

use crate::error::{Error, Result};

/// Scheduler names the pipeline knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    /// diffusers' `PNDMScheduler`.
    Pndm,
}

impl SchedulerKind {
    /// The name used by the C API docs and `generate --scheduler`.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Pndm => "pndm",
        }
    }

    /// Parses a scheduler name. Names of schedulers that are planned but not built yet return
    /// an `Unsupported` error; unknown names an `InvalidArgument` error.
    pub fn parse(s: &str) -> Result<SchedulerKind> {
        match s {
            "pndm" => Ok(SchedulerKind::Pndm),
            "ddim" | "euler" | "euler-a" | "dpm++2m" | "dpm++2m-karras" | "dpm++2m-sde" | "lms"
            | "heun" | "unipc" | "lcm" | "ddpm" => Err(Error::unsupported(format!(
                "scheduler '{s}' is not built yet; available: pndm"
            ))),
            _ => Err(Error::invalid(format!(
                "unknown scheduler '{s}'; available: pndm"
            ))),
        }
    }

    /// Maps a diffusers class name from `scheduler_config.json`.
    pub fn from_class_name(class: &str) -> Option<SchedulerKind> {
        match class {
            "PNDMScheduler" => Some(SchedulerKind::Pndm),
            _ => None,
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

    fn parse(s: &str) -> Result<PredictionType> {
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
    /// Evenly spaced, including both ends, rounded.
    Linspace,
    /// Multiples of `T / steps` from 0, plus `steps_offset`.
    Leading,
    /// Evenly spaced down from `T`, minus one.
    Trailing,
}

impl TimestepSpacing {
    fn parse(s: &str) -> Result<TimestepSpacing> {
        match s {
            "linspace" => Ok(TimestepSpacing::Linspace),
            "leading" => Ok(TimestepSpacing::Leading),
            "trailing" => Ok(TimestepSpacing::Trailing),
            _ => Err(Error::model(format!("unknown timestep_spacing '{s}'"))),
        }
    }
}

/// The fields of `scheduler_config.json` sdrt reads, with diffusers' defaults.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// `_class_name`, e.g. `PNDMScheduler`.
    pub class_name: String,
    /// `num_train_timesteps` (1000).
    pub num_train_timesteps: usize,
    /// `beta_start` (0.0001).
    pub beta_start: f64,
    /// `beta_end` (0.02).
    pub beta_end: f64,
    /// `beta_schedule` (`linear`).
    pub beta_schedule: String,
    /// `trained_betas`, overriding the schedule when present.
    pub trained_betas: Option<Vec<f64>>,
    /// `skip_prk_steps` (false).
    pub skip_prk_steps: bool,
    /// `set_alpha_to_one` (false).
    pub set_alpha_to_one: bool,
    /// `steps_offset` (0).
    pub steps_offset: usize,
    /// `prediction_type` (epsilon).
    pub prediction_type: PredictionType,
    /// `timestep_spacing` (leading).
    pub timestep_spacing: TimestepSpacing,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            class_name: "PNDMScheduler".into(),
            num_train_timesteps: 1000,
            beta_start: 0.0001,
            beta_end: 0.02,
            beta_schedule: "linear".into(),
            trained_betas: None,
            skip_prk_steps: false,
            set_alpha_to_one: false,
            steps_offset: 0,
            prediction_type: PredictionType::Epsilon,
            timestep_spacing: TimestepSpacing::Leading,
        }
    }
}

impl SchedulerConfig {
    /// Reads a parsed `scheduler_config.json`, keeping defaults for missing keys.
    pub fn from_json(v: &serde_json::Value) -> Result<SchedulerConfig> {
        let mut c = SchedulerConfig::default();
        let obj = v
            .as_object()
            .ok_or_else(|| Error::model("scheduler_config.json is not a JSON object"))?;
        let num = |k: &str| obj.get(k).and_then(serde_json::Value::as_f64);
        let boolean = |k: &str| obj.get(k).and_then(serde_json::Value::as_bool);
        let string = |k: &str| obj.get(k).and_then(serde_json::Value::as_str);
        if let Some(s) = string("_class_name") {
            c.class_name = s.to_string();
        }
        if let Some(n) = num("num_train_timesteps") {
            if !(1.0..=1_000_000.0).contains(&n) || n.fract() != 0.0 {
                return Err(Error::model(format!(
                    "num_train_timesteps {n} is out of range"
                )));
            }
            c.num_train_timesteps = n as usize;
        }
        if let Some(n) = num("beta_start") {
            c.beta_start = n;
        }
        if let Some(n) = num("beta_end") {
            c.beta_end = n;
        }
        if let Some(s) = string("beta_schedule") {
            c.beta_schedule = s.to_string();
        }
        if let Some(arr) = obj
            .get("trained_betas")
            .and_then(serde_json::Value::as_array)
        {
            let betas: Option<Vec<f64>> = arr.iter().map(serde_json::Value::as_f64).collect();
            let betas = betas.ok_or_else(|| Error::model("trained_betas must be numbers"))?;
            if betas.len() != c.num_train_timesteps {
                return Err(Error::model(format!(
                    "trained_betas has {} values, num_train_timesteps is {}",
                    betas.len(),
                    c.num_train_timesteps
                )));
            }
            c.trained_betas = Some(betas);
        }
        if let Some(b) = boolean("skip_prk_steps") {
            c.skip_prk_steps = b;
        }
        if let Some(b) = boolean("set_alpha_to_one") {
            c.set_alpha_to_one = b;
        }
        if let Some(n) = num("steps_offset") {
            if !(0.0..=1_000_000.0).contains(&n) {
                return Err(Error::model(format!("steps_offset {n} is out of range")));
            }
            c.steps_offset = n as usize;
        }
        if let Some(s) = string("prediction_type") {
            c.prediction_type = PredictionType::parse(s)?;
        }
        if let Some(s) = string("timestep_spacing") {
            c.timestep_spacing = TimestepSpacing::parse(s)?;
        }
        Ok(c)
    }

    /// `alphas_cumprod` as diffusers computes it: betas in float32 (torch.linspace), the
    /// cumulative product accumulated in double and stored as float32 (torch's CPU cumprod).
    pub fn alphas_cumprod(&self) -> Result<Vec<f32>> {
        let n = self.num_train_timesteps;
        let betas: Vec<f32> = if let Some(b) = &self.trained_betas {
            b.iter().map(|&x| x as f32).collect()
        } else {
            match self.beta_schedule.as_str() {
                "linear" => linspace_f32(self.beta_start as f32, self.beta_end as f32, n),
                "scaled_linear" => linspace_f32(
                    self.beta_start.sqrt() as f32,
                    self.beta_end.sqrt() as f32,
                    n,
                )
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
        let mut acc = 1.0f64;
        Ok(betas
            .iter()
            .map(|&b| {
                acc *= (1.0f32 - b) as f64;
                acc as f32
            })
            .collect())
    }
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

/// A scheduler instance for one generation: `set_timesteps` has been applied.
pub trait Scheduler: Send {
    /// The timesteps to run the UNet at, in order.
    fn timesteps(&self) -> &[f64];
    /// The factor the initial noise is scaled by.
    fn init_noise_sigma(&self) -> f32;
    /// Scales the UNet input for timestep index `i` (identity for most schedulers).
    fn scale_model_input(&self, sample: &mut [f32], i: usize);
    /// Advances `sample` (in place) given the guided model output for timestep index `i`.
    fn step(&mut self, model_output: &[f32], i: usize, sample: &mut [f32]) -> Result<()>;
}

/// Creates the scheduler of `kind` for `steps` inference steps.
pub fn create(
    kind: SchedulerKind,
    config: &SchedulerConfig,
    steps: usize,
) -> Result<Box<dyn Scheduler>> {
    if steps == 0 {
        return Err(Error::invalid("steps must be at least 1"));
    }
    if steps > config.num_train_timesteps {
        return Err(Error::invalid(format!(
            "steps ({steps}) cannot exceed the model's num_train_timesteps ({})",
            config.num_train_timesteps
        )));
    }
    match kind {
        SchedulerKind::Pndm => Ok(Box::new(Pndm::new(config, steps)?)),
    }
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
    fn rejects_zero_and_too_many_steps() {
        let c = SchedulerConfig::default();
        assert!(create(SchedulerKind::Pndm, &c, 0).is_err());
        assert!(create(SchedulerKind::Pndm, &c, 1001).is_err());
    }
}
