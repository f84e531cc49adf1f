//! diffusers' `LCMScheduler`, for latent-consistency models: the consistency-model boundary
//! condition (`c_skip`, `c_out` with `timestep_scaling`), timesteps drawn from the
//! `original_inference_steps` distillation schedule, fresh noise after every step but the last,
//! `clip_sample` / `clip_sample_range`, `rescale_betas_zero_snr` and epsilon / v-prediction /
//! sample models. `thresholding` is not supported.
//!
//! Like diffusers, LCM ignores `timestep_spacing` and `steps_offset`, so `from_config` of any
//! Stable Diffusion scheduler config (PNDM's, say) works; its own beta defaults are
//! 0.00085 .. 0.012, scaled_linear.

use super::alphas::AlphaSchedule;
use super::prediction::{alpha_x0, clip, clip_range, reject_thresholding};
use super::schedule::StepRule;
use super::{BetaDefaults, PredictionType, SchedulerConfig};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// LCM's beta defaults.
const LCM_BETAS: BetaDefaults = BetaDefaults {
    start: 0.00085,
    end: 0.012,
    schedule: "scaled_linear",
};

/// LCM state for one generation.
pub struct Lcm {
    schedule: AlphaSchedule,
    prediction: PredictionType,
    clip: Option<f32>,
    /// `timestep_scaling` as the float32 it is multiplied in.
    timestep_scaling: f32,
}

impl Lcm {
    /// `LCMScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Lcm> {
        reject_thresholding(config, "LCMScheduler")?;
        let t = config.num_train_timesteps()?;
        let original = config.usize_or("original_inference_steps", 50)?;
        if original == 0 || original > t {
            return Err(Error::model(format!(
                "original_inference_steps {original} must be in 1..={t} (num_train_timesteps)"
            )));
        }
        if steps > original {
            return Err(Error::invalid(format!(
                "LCM: steps ({steps}) cannot exceed the model's original_inference_steps \
                 ({original})"
            )));
        }
        // lcm_origin_timesteps = arange(1, original + 1) * (T // original) - 1, descending.
        let k = (t / original) as i64;
        let origin: Vec<i64> = (1..=original as i64).rev().map(|j| j * k - 1).collect();
        // floor(np.linspace(0, len, steps, endpoint=False)).
        let step = origin.len() as f64 / steps as f64;
        let ts: Vec<i64> = (0..steps)
            .map(|i| origin[(i as f64 * step).floor() as usize])
            .collect();
        let timestep_scaling = config.f64_or("timestep_scaling", 10.0)? as f32;
        Ok(Lcm {
            schedule: AlphaSchedule::new(config.alphas_cumprod(LCM_BETAS)?, ts),
            prediction: config.prediction_type()?,
            clip: clip_range(config, false)?,
            timestep_scaling,
        })
    }
}

impl StepRule for Lcm {
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
        let last = i + 1 == self.schedule.ts().len();
        let prev_t = if last { t } else { self.schedule.t(i + 1) };
        // All scalars are 0-dim float32 tensors in diffusers (prev_t is never negative, so
        // `final_alpha_cumprod` / `set_alpha_to_one` never matter).
        let a_t = self.schedule.alpha(t);
        let a_prev = self.schedule.alpha(prev_t);
        let b_t = 1.0 - a_t;
        let b_prev = 1.0 - a_prev;
        // get_scalings_for_boundary_condition_discrete, sigma_data = 0.5. `0.25 / x` on a
        // tensor is `x.reciprocal() * 0.25` in torch (Tensor.__rtruediv__).
        let scaled = t as f32 * self.timestep_scaling;
        let denom = scaled * scaled + 0.25;
        let c_skip = (1.0 / denom) * 0.25;
        let c_out = scaled / denom.sqrt();
        let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
        for (s, &m) in sample.iter_mut().zip(model_output) {
            let x0 = clip(alpha_x0(self.prediction, sa, sb, *s, m), self.clip);
            *s = c_out * x0 + c_skip * *s;
        }
        if !last {
            let z = noise.randn(sample.len());
            let (sa_prev, sb_prev) = (a_prev.sqrt(), b_prev.sqrt());
            for (s, &z) in sample.iter_mut().zip(&z) {
                *s = sa_prev * *s + sb_prev * z;
            }
        }
        Ok(())
    }
}
