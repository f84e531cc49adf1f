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

use super::config::reject_unsupported_flags;
use super::numeric::np_interp_arange;
use super::prediction::{clip, clip_range, sigma_x0};
use super::schedule::StepRule;
use super::sigmas::{karras_sigmas, sigmas_to_t, train_sigmas, Indexing, SigmaSchedule};
use super::timesteps::float_timesteps;
use super::{BetaDefaults, PredictionType, SchedulerConfig, TimestepSpacing};
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
    /// `2 * steps - 1` timesteps and `2 * steps` sigmas, the last one zero; counted.
    schedule: SigmaSchedule,
    prediction: PredictionType,
    clip: Option<f32>,
    first: Option<FirstOrder>,
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
            sigmas_to_t(&sigmas, &train)
                .iter()
                .map(|&t| t as f32)
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
        Ok(Heun {
            schedule: SigmaSchedule::k_diffusion(
                CLASS,
                doubled,
                sigmas,
                spacing,
                Indexing::Counter,
            )?,
            prediction: config.prediction_type()?,
            clip,
            first: None,
        })
    }
}

impl StepRule for Heun {
    type Schedule = SigmaSchedule;

    fn schedule(&self) -> &SigmaSchedule {
        &self.schedule
    }

    fn schedule_mut(&mut self) -> &mut SigmaSchedule {
        &mut self.schedule
    }

    fn order(&self) -> usize {
        2
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        _noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        let idx = self.schedule.index(i)?;
        let range = self.clip;
        let pred = |sigma_input: f32, s: f32, m: f32| {
            clip(sigma_x0(self.prediction, sigma_input, s, m), range)
        };
        match self.first.take() {
            None => {
                // First order: sigma_hat = sigma * (gamma + 1) = sigma.
                let sigma = self.schedule.sigma(idx);
                let sigma_next = self.schedule.sigma(idx + 1);
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
                let sigma_next = self.schedule.sigma(idx);
                for (k, (s, &m)) in sample.iter_mut().zip(model_output).enumerate() {
                    let d = (*s - pred(sigma_next, *s, m)) / sigma_next;
                    let d = (first.derivative[k] + d) / 2.0;
                    *s = first.sample[k] + d * first.dt;
                }
            }
        }
        self.schedule.advance(idx);
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
