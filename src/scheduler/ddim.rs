//! diffusers' `DDIMScheduler`: denoising diffusion implicit models, deterministic at `eta` 0
//! and stochastic above, with `set_alpha_to_one`, `steps_offset`, all three timestep spacings,
//! `clip_sample` / `clip_sample_range`, `rescale_betas_zero_snr` and epsilon / v-prediction /
//! sample models. `thresholding` is not supported.

use super::alphas::{final_alpha_cumprod, AlphaSchedule};
use super::prediction::{alpha_x0, clip, clip_range, reject_thresholding};
use super::schedule::StepRule;
use super::timesteps::integer_timesteps;
use super::{BetaDefaults, PredictionType, SchedulerConfig, TimestepSpacing};
use crate::error::Result;
use crate::rng::NoiseSource;

/// DDIM state for one generation.
pub struct Ddim {
    schedule: AlphaSchedule,
    final_alpha_cumprod: f32,
    prediction: PredictionType,
    clip: Option<f32>,
    /// `num_train_timesteps // num_inference_steps`: DDIM's previous timestep is always
    /// `t - step_ratio`, even with trailing or linspace spacing.
    step_ratio: i64,
    eta: f32,
}

impl Ddim {
    /// `DDIMScheduler.from_config(config)` followed by `set_timesteps(steps)`; `eta` is the
    /// value later passed to every `step`.
    pub fn new(config: &SchedulerConfig, steps: usize, eta: f32) -> Result<Ddim> {
        reject_thresholding(config, "DDIMScheduler")?;
        let alphas_cumprod = config.alphas_cumprod(BetaDefaults::LINEAR)?;
        let final_alpha_cumprod = final_alpha_cumprod(config, true, &alphas_cumprod)?;
        let ts = integer_timesteps(config, steps, TimestepSpacing::Leading)?;
        Ok(Ddim {
            final_alpha_cumprod,
            prediction: config.prediction_type()?,
            clip: clip_range(config, true)?,
            step_ratio: (config.num_train_timesteps()? / steps) as i64,
            eta,
            schedule: AlphaSchedule::new(alphas_cumprod, ts),
        })
    }
}

impl StepRule for Ddim {
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
        let prev_t = t - self.step_ratio;
        // All scalars are 0-dim float32 tensors in diffusers.
        let a_t = self.schedule.alpha(t);
        let a_prev = self.schedule.alpha_or(prev_t, self.final_alpha_cumprod);
        let b_t = 1.0 - a_t;
        let b_prev = 1.0 - a_prev;
        let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
        let variance = (b_prev / b_t) * (1.0 - a_t / a_prev);
        let std_dev = self.eta * variance.sqrt();
        let dir_coeff = (1.0 - a_prev - std_dev * std_dev).sqrt();
        let sa_prev = a_prev.sqrt();
        for (s, &m) in sample.iter_mut().zip(model_output) {
            let x0 = alpha_x0(self.prediction, sa, sb, *s, m);
            // The noise estimate is taken from the unclipped x0.
            let eps = match self.prediction {
                PredictionType::Epsilon => m,
                PredictionType::Sample => (*s - sa * m) / sb,
                PredictionType::VPrediction => sa * m + sb * *s,
            };
            let x0 = clip(x0, self.clip);
            *s = sa_prev * x0 + dir_coeff * eps;
        }
        if self.eta > 0.0 {
            let z = noise.randn(sample.len());
            for (s, &z) in sample.iter_mut().zip(&z) {
                *s += std_dev * z;
            }
        }
        Ok(())
    }
}
