//! diffusers' `EulerAncestralDiscreteScheduler`: an Euler step down to `sigma_down`, then
//! fresh noise scaled by `sigma_up` (drawn at every step, the last included), with all three
//! timestep spacings, `rescale_betas_zero_snr` and epsilon / v-prediction models. diffusers
//! does not implement `prediction_type` "sample" for this class, so neither does sdrt.

use super::numeric::np_interp_arange;
use super::prediction::sigma_x0;
use super::schedule::StepRule;
use super::sigmas::{sigma_alphas_cumprod, train_sigmas, Indexing, SigmaSchedule};
use super::timesteps::float_timesteps;
use super::{PredictionType, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// Euler ancestral state for one generation.
pub struct EulerAncestral {
    /// One sigma per timestep, plus the final 0.
    schedule: SigmaSchedule,
    prediction: PredictionType,
}

impl EulerAncestral {
    /// `EulerAncestralDiscreteScheduler.from_config(config)` followed by
    /// `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<EulerAncestral> {
        let prediction = config.prediction_type()?;
        if prediction == PredictionType::Sample {
            return Err(Error::unsupported(
                "EulerAncestralDiscreteScheduler does not implement prediction_type sample \
                 (nor does diffusers)",
            ));
        }
        let spacing = config.timestep_spacing(TimestepSpacing::Linspace)?;
        let train = train_sigmas(&sigma_alphas_cumprod(config)?);
        let timesteps = float_timesteps(config, steps)?;
        let mut sigmas: Vec<f32> = timesteps
            .iter()
            .map(|&t| np_interp_arange(t as f64, &train) as f32)
            .collect();
        sigmas.push(0.0);
        Ok(EulerAncestral {
            schedule: SigmaSchedule::k_diffusion(
                "EulerAncestralDiscreteScheduler",
                timesteps.iter().map(|&t| t as f64).collect(),
                sigmas,
                spacing,
                Indexing::Evaluation,
            )?,
            prediction,
        })
    }
}

impl StepRule for EulerAncestral {
    type Schedule = SigmaSchedule;

    fn schedule(&self) -> &SigmaSchedule {
        &self.schedule
    }

    fn schedule_mut(&mut self) -> &mut SigmaSchedule {
        &mut self.schedule
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        // All scalars are 0-dim float32 tensors in diffusers.
        let idx = self.schedule.index(i)?;
        let sigma = self.schedule.sigma(idx);
        let sigma_to = self.schedule.sigma(idx + 1);
        let (from2, to2) = (sigma * sigma, sigma_to * sigma_to);
        let sigma_up = (to2 * (from2 - to2) / from2).sqrt();
        let sigma_down = (to2 - sigma_up * sigma_up).sqrt();
        let dt = sigma_down - sigma;
        for (s, &m) in sample.iter_mut().zip(model_output) {
            let x0 = sigma_x0(self.prediction, sigma, *s, m);
            let derivative = (*s - x0) / sigma;
            *s += derivative * dt;
        }
        let z = noise.randn(sample.len());
        for (s, &z) in sample.iter_mut().zip(&z) {
            *s += z * sigma_up;
        }
        self.schedule.advance(idx);
        Ok(())
    }
}
