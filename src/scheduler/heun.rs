//! diffusers' `HeunDiscreteScheduler`: Heun's second-order method on the k-diffusion sigmas,
//! two UNet evaluations per step except the last (`2 * steps - 1` in all, the sigmas and
//! timesteps after the first repeated twice), all three timestep spacings with
//! `steps_offset`, `use_karras_sigmas` (with `sigma_min` / `sigma_max`), `clip_sample`, and
//! epsilon / v-prediction / sample models.
//!
//! `scale_model_input` and `step` follow diffusers' internal counter, so evaluation `i`
//! scales by the `i`-th of the repeated sigmas, and a step is first order (Euler, remembering
//! its derivative) or second order (averaging the two derivatives from the remembered
//! sample) in turn. The last evaluation is a first-order step to sigma 0.
//!
//! The class defaults to a linear 0.00085 .. 0.012 beta schedule and has no
//! `rescale_betas_zero_snr` (diffusers ignores that key, and so does this).
//!
//! Not supported (`Unsupported`): `use_exponential_sigmas`, `use_beta_sigmas`, and the "exp"
//! beta schedule.

use super::ddim::{clip, clip_range};
use super::dpm_multistep::{check_first_index, reject_unsupported_flags};
use super::euler::{
    float_timesteps, init_sigma, np_interp_arange, predict_x0, scale_by_sigma, train_sigmas,
};
use super::lms::sigma_index;
use super::sigmas::{karras_sigmas, sigma_to_t};
use super::{BetaDefaults, Scheduler, SchedulerConfig};
use super::{PredictionType, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// The state a first-order step leaves for the second-order one.
struct FirstOrder {
    derivative: Vec<f32>,
    dt: f32,
    sample: Vec<f32>,
}

/// Heun state for one generation.
pub struct Heun {
    /// `2 * steps - 1` timesteps.
    timesteps: Vec<f64>,
    /// `2 * steps` sigmas, the last one zero.
    sigmas: Vec<f32>,
    prediction: PredictionType,
    clip: Option<f32>,
    init_noise_sigma: f32,
    first: Option<FirstOrder>,
    step_index: Option<usize>,
}

impl Heun {
    /// `HeunDiscreteScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Heun> {
        const CLASS: &str = "HeunDiscreteScheduler";
        reject_unsupported_flags(
            config,
            CLASS,
            &["use_exponential_sigmas", "use_beta_sigmas"],
        )?;
        if config.str_or("beta_schedule", "linear")? == "exp" {
            return Err(Error::unsupported(format!(
                "{CLASS} with beta_schedule 'exp' is not supported"
            )));
        }
        let karras = config.bool_or("use_karras_sigmas", false)?;
        // Not a parameter of this class: from_config drops it.
        let mut config = config.clone();
        config.set("rescale_betas_zero_snr", false.into());
        let ac = config.alphas_cumprod(BetaDefaults {
            start: 0.00085,
            end: 0.012,
            schedule: "linear",
        })?;
        let train = train_sigmas(&ac);
        let timesteps = float_timesteps(&config, steps)?;
        let mut sigmas: Vec<f64> = timesteps
            .iter()
            .map(|&t| np_interp_arange(t as f64, &train))
            .collect();
        let timesteps: Vec<f32> = if karras {
            // The config's sigma_min / sigma_max win when present (diffusers reads them
            // through `hasattr(self.config, ...)`); timesteps stay fractional.
            let min = config.f64_or("sigma_min", sigmas[sigmas.len() - 1])?;
            let max = config.f64_or("sigma_max", sigmas[0])?;
            sigmas = karras_sigmas(min, max, steps);
            let log_sigmas: Vec<f32> = train.iter().map(|&s| (s as f64).ln() as f32).collect();
            sigmas
                .iter()
                .map(|&s| sigma_to_t(s, &log_sigmas) as f32)
                .collect()
        } else {
            timesteps
        };
        // sigmas: [s0, s1, s1, ..., s_last, s_last, 0]; timesteps: [t0, t1, t1, ...].
        let base: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        let mut sigmas = Vec::with_capacity(2 * base.len());
        let mut doubled = Vec::with_capacity(2 * timesteps.len());
        for (j, (&s, &t)) in base.iter().zip(&timesteps).enumerate() {
            let copies = if j == 0 { 1 } else { 2 };
            for _ in 0..copies {
                sigmas.push(s);
                doubled.push(t as f64);
            }
        }
        sigmas.push(0.0);
        let clip = clip_range(&config, false)?;
        let spacing = config.timestep_spacing(TimestepSpacing::Linspace)?;
        check_first_index(CLASS, &doubled, sigma_index)?;
        Ok(Heun {
            init_noise_sigma: init_sigma(&sigmas, spacing),
            timesteps: doubled,
            sigmas,
            prediction: config.prediction_type()?,
            clip,
            first: None,
            step_index: None,
        })
    }

    /// The step index: diffusers' internal counter, started from the first timestep seen.
    /// An error when the counter, or `i` on the first call, is past the timesteps.
    fn index(&mut self, i: usize) -> Result<usize> {
        let n = self.timesteps.len();
        let idx = match self.step_index {
            Some(idx) => idx,
            None => {
                let t = *self.timesteps.get(i).ok_or_else(|| {
                    Error::invalid(format!(
                        "timestep index {i} out of range (the scheduler has {n})"
                    ))
                })?;
                sigma_index(&self.timesteps, t)
            }
        };
        self.step_index = Some(idx);
        if idx >= n {
            return Err(Error::invalid(format!(
                "Heun stepped past its last timestep ({n} evaluations)"
            )));
        }
        Ok(idx)
    }
}

impl Scheduler for Heun {
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

    fn set_begin_index(&mut self, i: usize) {
        self.step_index = Some(i);
    }

    fn order(&self) -> usize {
        2
    }

    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) -> Result<()> {
        let idx = self.index(i)?;
        scale_by_sigma(sample, self.sigmas[idx]);
        Ok(())
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        _noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        let idx = self.index(i)?;
        let range = self.clip;
        let pred = |sigma_input: f32, s: f32, m: f32| {
            clip(predict_x0(self.prediction, sigma_input, s, m), range)
        };
        match self.first.take() {
            None => {
                // First order: sigma_hat = sigma * (gamma + 1) = sigma.
                let sigma = self.sigmas[idx];
                let sigma_next = self.sigmas[idx + 1];
                let derivative: Vec<f32> = sample
                    .iter()
                    .zip(model_output)
                    .map(|(&s, &m)| (s - pred(sigma, s, m)) / sigma)
                    .collect();
                let dt = sigma_next - sigma;
                let saved = sample.to_vec();
                for (s, &d) in sample.iter_mut().zip(&derivative) {
                    *s += d * dt;
                }
                self.first = Some(FirstOrder {
                    derivative,
                    dt,
                    sample: saved,
                });
            }
            Some(first) => {
                // Second order, from the sample the first-order step started at.
                let sigma_next = self.sigmas[idx];
                for (k, (s, &m)) in sample.iter_mut().zip(model_output).enumerate() {
                    let d = (*s - pred(sigma_next, *s, m)) / sigma_next;
                    let d = (first.derivative[k] + d) / 2.0;
                    *s = first.sample[k] + d * first.dt;
                }
            }
        }
        self.step_index = Some(idx + 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_clip_range_is_a_config_error_not_a_panic() {
        let v = serde_json::json!({"clip_sample": true, "clip_sample_range": -1.0});
        let config = SchedulerConfig::from_json(&v).unwrap();
        let err = Heun::new(&config, 3).err().unwrap();
        assert_eq!(err.kind(), crate::ErrorKind::ModelInvalid);
    }
}
