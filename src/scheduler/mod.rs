//! Noise schedulers, one file each, sharing the [`Scheduler`] trait. Each reproduces the
//! diffusers class of the same name, including its float32 arithmetic where that matters.
//!
//! A scheduler file holds only its step rule; the schedule it steps over (timesteps,
//! `init_noise_sigma`, `scale_model_input`, `add_noise`, the step counter) is one of two
//! shared kinds, alphas-cumprod or sigmas (see `schedule.rs`).
//!
//! A scheduler is built the way diffusers builds `<Class>.from_config(model_config, **extra)`:
//! it reads the keys it knows from `scheduler_config.json` and takes its own class's default
//! for the keys the file does not have (so the same file gives DDIM `timestep_spacing`
//! "leading" where it gives Euler "linspace", when the file says nothing).

mod alphas;
mod betas;
mod checked;
mod config;
mod ddim;
mod ddpm;
mod dpm_multistep;
mod euler;
mod euler_ancestral;
mod heun;
mod kind;
mod lcm;
mod lms;
mod numeric;
mod pndm;
mod prediction;
mod schedule;
mod sigmas;
mod timesteps;
mod unipc;

pub use betas::BetaDefaults;
pub use config::SchedulerConfig;
pub use kind::SchedulerKind;
pub use prediction::PredictionType;
pub use timesteps::TimestepSpacing;

use checked::Checked;

use crate::error::{Error, Result};
use crate::rng::NoiseSource;

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
    /// An `i` outside the timesteps is an error, never a silently unscaled input.
    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) -> Result<()>;
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
    let config = configure(kind, config, overrides);
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
    let config = configure(kind, config, overrides);
    let t = config.num_train_timesteps().unwrap_or(0);
    (1..=t).contains(&steps) && build(kind, &config, steps, overrides.eta).is_ok()
}

/// The model's config with the keys `kind` implies and the per-call overrides set, as
/// `from_config(config, **extra)` sees it.
fn configure(
    kind: SchedulerKind,
    config: &SchedulerConfig,
    overrides: &SchedulerOverrides,
) -> SchedulerConfig {
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
    config
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

#[cfg(test)]
mod tests {
    use super::*;

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
