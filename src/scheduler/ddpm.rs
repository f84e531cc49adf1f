//! diffusers' `DDPMScheduler`: ancestral sampling of denoising diffusion probabilistic
//! models, with variance types `fixed_small`, `fixed_small_log` and `fixed_large`,
//! `clip_sample` / `clip_sample_range`, `steps_offset`, all three timestep spacings,
//! `rescale_betas_zero_snr` and epsilon / v-prediction / sample models.
//!
//! Not supported: `learned` / `learned_range` variance (the UNet must output twice the
//! channels), `fixed_large_log` (diffusers takes the square root of a logarithm there, which
//! is NaN for every timestep), `thresholding`, and the `sigmoid` / `laplace` beta schedules.

use super::alphas::AlphaSchedule;
use super::prediction::{alpha_x0, clip, clip_range, reject_thresholding};
use super::schedule::StepRule;
use super::timesteps::integer_timesteps;
use super::{BetaDefaults, PredictionType, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// How the noise added after each step is scaled (the supported `fixed_*` variance types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VarianceType {
    /// `fixed_small`: the posterior variance; noise times its square root.
    Small,
    /// `fixed_small_log`: the posterior variance through `exp(0.5 * log(.))`, times the noise.
    SmallLog,
    /// `fixed_large`: the step's beta; noise times its square root.
    Large,
}

/// DDPM state for one generation.
pub struct Ddpm {
    schedule: AlphaSchedule,
    prediction: PredictionType,
    clip: Option<f32>,
    variance_type: VarianceType,
}

impl Ddpm {
    /// `DDPMScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Ddpm> {
        reject_thresholding(config, "DDPMScheduler")?;
        let variance_type = match config.str_or("variance_type", "fixed_small")?.as_str() {
            "fixed_small" => VarianceType::Small,
            "fixed_small_log" => VarianceType::SmallLog,
            "fixed_large" => VarianceType::Large,
            "fixed_large_log" => {
                return Err(Error::unsupported(
                    "DDPMScheduler with variance_type fixed_large_log is not supported \
                     (diffusers computes sqrt(log(beta)), which is NaN)",
                ))
            }
            "learned" | "learned_range" => {
                return Err(Error::unsupported(
                    "DDPMScheduler with a learned variance is not supported \
                     (it needs a UNet that predicts the variance)",
                ))
            }
            other => {
                return Err(Error::model(format!(
                    "DDPMScheduler: unknown variance_type '{other}'"
                )))
            }
        };
        let ts = integer_timesteps(config, steps, TimestepSpacing::Leading)?;
        Ok(Ddpm {
            schedule: AlphaSchedule::new(config.alphas_cumprod(BetaDefaults::LINEAR)?, ts),
            prediction: config.prediction_type()?,
            clip: clip_range(config, true)?,
            variance_type,
        })
    }

    /// `previous_timestep`: the next entry of the schedule after the first occurrence of `t`,
    /// or -1 after the last.
    fn previous_timestep(&self, t: i64) -> i64 {
        let ts = self.schedule.ts();
        let idx = ts.iter().position(|&x| x == t).unwrap_or(0);
        ts.get(idx + 1).copied().unwrap_or(-1)
    }
}

impl StepRule for Ddpm {
    type Schedule = AlphaSchedule;

    fn schedule(&self) -> &AlphaSchedule {
        &self.schedule
    }

    fn schedule_mut(&mut self) -> &mut AlphaSchedule {
        &mut self.schedule
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        let t = self.schedule.t(i);
        let prev_t = self.previous_timestep(t);
        // All scalars are 0-dim float32 tensors in diffusers; past timestep 0 the previous
        // alpha is one.
        let a_t = self.schedule.alpha(t);
        let a_prev = self.schedule.alpha_or(prev_t, 1.0);
        let b_t = 1.0 - a_t;
        let b_prev = 1.0 - a_prev;
        let cur_alpha = a_t / a_prev;
        let cur_beta = 1.0 - cur_alpha;
        let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
        let x0_coeff = (a_prev.sqrt() * cur_beta) / b_t;
        let sample_coeff = cur_alpha.sqrt() * b_prev / b_t;
        for (s, &m) in sample.iter_mut().zip(model_output) {
            let x0 = clip(alpha_x0(self.prediction, sa, sb, *s, m), self.clip);
            *s = x0_coeff * x0 + sample_coeff * *s;
        }
        if t > 0 {
            let z = noise.randn(sample.len());
            // `_get_variance(t)`, which recomputes the betas its own way.
            let beta_t = 1.0 - a_t / a_prev;
            let variance = (1.0 - a_prev) / (1.0 - a_t) * beta_t;
            // torch.clamp(min=1e-20), which keeps a NaN.
            let variance = if variance < 1e-20 { 1e-20 } else { variance };
            let scale = match self.variance_type {
                VarianceType::Small => variance.sqrt(),
                // torch's float32 log and exp, here correctly rounded through f64.
                VarianceType::SmallLog => {
                    let half_log = 0.5 * ((variance as f64).ln() as f32);
                    (half_log as f64).exp() as f32
                }
                VarianceType::Large => beta_t.sqrt(),
            };
            for (s, &z) in sample.iter_mut().zip(&z) {
                *s += scale * z;
            }
        }
        Ok(())
    }
}
