//! diffusers' `EulerAncestralDiscreteScheduler`: an Euler step down to `sigma_down`, then
//! fresh noise scaled by `sigma_up` (drawn at every step, the last included), with all three
//! timestep spacings, `rescale_betas_zero_snr` and epsilon / v-prediction models. diffusers
//! does not implement `prediction_type` "sample" for this class, so neither does sdrt.

use super::euler::{
    float_timesteps, init_sigma, np_interp_arange, predict_x0, scale_by_sigma,
    sigma_alphas_cumprod, train_sigmas,
};
use super::{PredictionType, Scheduler, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// Euler ancestral state for one generation.
pub struct EulerAncestral {
    /// One per timestep, plus the final 0.
    sigmas: Vec<f32>,
    timesteps: Vec<f64>,
    prediction: PredictionType,
    init_noise_sigma: f32,
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
            init_noise_sigma: init_sigma(&sigmas, spacing),
            sigmas,
            timesteps: timesteps.iter().map(|&t| t as f64).collect(),
            prediction,
        })
    }
}

impl Scheduler for EulerAncestral {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.init_noise_sigma
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        super::add_noise_sigma(self.sigmas[i], original, noise)
    }

    fn alpha_bar(&self, i: usize) -> f64 {
        super::alpha_bar_of_sigma(self.sigmas[i])
    }

    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) -> Result<()> {
        let n = self.timesteps.len();
        if i >= n {
            return Err(Error::invalid(format!(
                "timestep index {i} out of range (the scheduler has {n})"
            )));
        }
        scale_by_sigma(sample, self.sigmas[i]);
        Ok(())
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        // All scalars are 0-dim float32 tensors in diffusers.
        let sigma = self.sigmas[i];
        let sigma_to = self.sigmas[i + 1];
        let (from2, to2) = (sigma * sigma, sigma_to * sigma_to);
        let sigma_up = (to2 * (from2 - to2) / from2).sqrt();
        let sigma_down = (to2 - sigma_up * sigma_up).sqrt();
        let dt = sigma_down - sigma;
        for (s, &m) in sample.iter_mut().zip(model_output) {
            let x0 = predict_x0(self.prediction, sigma, *s, m);
            let derivative = (*s - x0) / sigma;
            *s += derivative * dt;
        }
        let z = noise.randn(sample.len());
        for (s, &z) in sample.iter_mut().zip(&z) {
            *s += z * sigma_up;
        }
        Ok(())
    }
}
