//! diffusers' `EulerDiscreteScheduler` (k-diffusion's Euler sampler, no churn): sigmas
//! interpolated from the training schedule in float64 (`np.interp`) then stored as float32,
//! all three timestep spacings, `interpolation_type` linear / log_linear,
//! `use_karras_sigmas`, `use_exponential_sigmas`, `sigma_min` / `sigma_max`,
//! `final_sigmas_type` zero / sigma_min, `rescale_betas_zero_snr`, and epsilon /
//! v-prediction / sample models.
//!
//! Not supported: `use_beta_sigmas` (needs scipy's beta quantile), and `timestep_type`
//! "continuous" with v-prediction (timesteps `0.25 * log(sigma)`).

use super::numeric::{linspace_f32, np_interp_arange, np_linspace};
use super::prediction::sigma_x0;
use super::schedule::StepRule;
use super::sigmas::{
    final_sigma_is_zero, karras_sigmas, sigma_alphas_cumprod, sigmas_to_t, train_sigmas, Indexing,
    SigmaSchedule,
};
use super::timesteps::float_timesteps;
use super::{PredictionType, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// How the inference sigmas are respaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigmaSpacing {
    Interpolated,
    Karras,
    Exponential,
}

/// Euler state for one generation.
pub struct Euler {
    schedule: SigmaSchedule,
    prediction: PredictionType,
}

impl Euler {
    /// `EulerDiscreteScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Euler> {
        let prediction = config.prediction_type()?;
        let spacing = config.timestep_spacing(TimestepSpacing::Linspace)?;
        let karras = config.bool_or("use_karras_sigmas", false)?;
        let exponential = config.bool_or("use_exponential_sigmas", false)?;
        let beta = config.bool_or("use_beta_sigmas", false)?;
        if [karras, exponential, beta].iter().filter(|&&b| b).count() > 1 {
            return Err(Error::model(
                "only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be set",
            ));
        }
        if beta {
            return Err(Error::unsupported(
                "EulerDiscreteScheduler with use_beta_sigmas is not supported",
            ));
        }
        let timestep_type = config.str_or("timestep_type", "discrete")?;
        match timestep_type.as_str() {
            "discrete" => {}
            "continuous" if prediction != PredictionType::VPrediction => {}
            "continuous" => {
                return Err(Error::unsupported(
                    "EulerDiscreteScheduler with timestep_type continuous and v_prediction \
                     is not supported",
                ))
            }
            other => {
                return Err(Error::model(format!(
                    "EulerDiscreteScheduler: unknown timestep_type '{other}'"
                )))
            }
        }
        let final_zero = final_sigma_is_zero(config, "EulerDiscreteScheduler")?;
        let respacing = if karras {
            SigmaSpacing::Karras
        } else if exponential {
            SigmaSpacing::Exponential
        } else {
            SigmaSpacing::Interpolated
        };

        let ac = sigma_alphas_cumprod(config)?;
        let train = train_sigmas(&ac);
        let mut timesteps_f32 = float_timesteps(config, steps)?;
        let mut sigmas: Vec<f64> = match config.str_or("interpolation_type", "linear")?.as_str() {
            "linear" => timesteps_f32
                .iter()
                .map(|&t| np_interp_arange(t as f64, &train))
                .collect(),
            "log_linear" => {
                // torch.linspace(np.log(sigmas[-1]), np.log(sigmas[0]), steps + 1).exp(),
                // float32 throughout (log and exp correctly rounded here, through f64).
                let ln = |s: f32| (s as f64).ln() as f32;
                let (hi, lo) = (ln(train[train.len() - 1]), ln(train[0]));
                linspace_f32(hi, lo, steps + 1)
                    .iter()
                    .map(|&x| (x as f64).exp() as f32 as f64)
                    .collect()
            }
            other => {
                return Err(Error::model(format!(
                    "EulerDiscreteScheduler: unknown interpolation_type '{other}'"
                )))
            }
        };
        if respacing != SigmaSpacing::Interpolated {
            let sigma_min = config.f64_or("sigma_min", sigmas[sigmas.len() - 1])?;
            let sigma_max = config.f64_or("sigma_max", sigmas[0])?;
            sigmas = if respacing == SigmaSpacing::Karras {
                karras_sigmas(sigma_min, sigma_max, steps)
            } else {
                np_linspace(sigma_max.ln(), sigma_min.ln(), steps)
                    .iter()
                    .map(|x| x.exp())
                    .collect()
            };
            timesteps_f32 = sigmas_to_t(&sigmas, &train)
                .iter()
                .map(|&t| t as f32)
                .collect();
        }
        let mut sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        sigmas.push(if final_zero { 0.0 } else { train[0] });
        let timesteps = timesteps_f32.iter().map(|&t| t as f64).collect();
        Ok(Euler {
            schedule: SigmaSchedule::k_diffusion(
                "EulerDiscreteScheduler",
                timesteps,
                sigmas,
                spacing,
                Indexing::Evaluation,
            )?,
            prediction,
        })
    }
}

impl StepRule for Euler {
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
        _noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        // s_churn = 0: gamma = 0 and sigma_hat = sigma * 1.0 = sigma; no noise.
        let idx = self.schedule.index(i)?;
        let sigma = self.schedule.sigma(idx);
        let dt = self.schedule.sigma(idx + 1) - sigma;
        for (s, &m) in sample.iter_mut().zip(model_output) {
            let x0 = sigma_x0(self.prediction, sigma, *s, m);
            let derivative = (*s - x0) / sigma;
            *s += derivative * dt;
        }
        self.schedule.advance(idx);
        Ok(())
    }
}
