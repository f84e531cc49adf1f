//! diffusers' `EulerDiscreteScheduler` (k-diffusion's Euler sampler, no churn): sigmas
//! interpolated from the training schedule in float64 (`np.interp`) then stored as float32,
//! all three timestep spacings, `interpolation_type` linear / log_linear,
//! `use_karras_sigmas`, `use_exponential_sigmas`, `sigma_min` / `sigma_max`,
//! `final_sigmas_type` zero / sigma_min, `rescale_betas_zero_snr`, and epsilon /
//! v-prediction / sample models.
//!
//! Not supported: `use_beta_sigmas` (needs scipy's beta quantile), and `timestep_type`
//! "continuous" with v-prediction (timesteps `0.25 * log(sigma)`).
//!
//! Also holds the helpers Euler ancestral shares: the training sigmas, the float timesteps
//! and numpy's `interp`.

use super::ddim::np_arange;
use super::numeric::{linspace_f32, np_linspace};
use super::sigmas::{karras_sigmas, sigma_to_t};
use super::{BetaDefaults, PredictionType, Scheduler, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// `alphas_cumprod` of the sigma-based schedulers: with `rescale_betas_zero_snr` the last
/// one is set to `2**-24` so that the final sigma is finite (about 4096).
pub(super) fn sigma_alphas_cumprod(config: &SchedulerConfig) -> Result<Vec<f32>> {
    let mut ac = config.alphas_cumprod(BetaDefaults::LINEAR)?;
    if config.bool_or("rescale_betas_zero_snr", false)? {
        if let Some(last) = ac.last_mut() {
            *last = 2f32.powi(-24);
        }
    }
    Ok(ac)
}

/// `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5` in float32, ascending with `t`.
pub(super) fn train_sigmas(alphas_cumprod: &[f32]) -> Vec<f32> {
    alphas_cumprod
        .iter()
        .map(|&a| ((1.0 - a) / a).sqrt())
        .collect()
}

/// The float32 timesteps of Euler's / Euler ancestral's `set_timesteps` (default spacing
/// linspace), descending:
/// - linspace: `np.linspace(0, T - 1, steps, dtype=float32)[::-1]` (float64, then cast);
/// - leading: `arange(steps) * (T // steps)` reversed, as float32, plus `steps_offset`;
/// - trailing: `np.arange(T, 0, -T / steps).round()` as float32, minus 1. For step counts
///   where numpy's `arange` gives one element too many (61 of 1000, say) the last timestep is
///   -1 and its sigma is the smallest training sigma, as in diffusers.
pub(super) fn float_timesteps(config: &SchedulerConfig, steps: usize) -> Result<Vec<f32>> {
    let t = config.num_train_timesteps()?;
    Ok(match config.timestep_spacing(TimestepSpacing::Linspace)? {
        TimestepSpacing::Linspace => np_linspace(0.0, (t - 1) as f64, steps)
            .iter()
            .rev()
            .map(|&x| x as f32)
            .collect(),
        TimestepSpacing::Leading => {
            let ratio = t / steps;
            let offset = config.usize_or("steps_offset", 0)? as f32;
            (0..steps)
                .rev()
                .map(|i| (i * ratio) as f32 + offset)
                .collect()
        }
        TimestepSpacing::Trailing => np_arange(t as f64, 0.0, -(t as f64 / steps as f64))
            .iter()
            .map(|&x| x.round_ties_even() as f32 - 1.0)
            .collect(),
    })
}

/// `np.interp(x, np.arange(len(fp)), fp)` in float64, as numpy's C loop computes it: the end
/// values outside the range, `fp[j]` where `x` is exactly `j`, else
/// `slope * (x - j) + fp[j]` with `slope = fp[j + 1] - fp[j]` (no fused multiply-add).
pub(super) fn np_interp_arange(x: f64, fp: &[f32]) -> f64 {
    let n = fp.len();
    if x.is_nan() || n == 0 {
        return f64::NAN;
    }
    let last = (n - 1) as f64;
    if x < 0.0 {
        return fp[0] as f64;
    }
    if x >= last {
        return fp[n - 1] as f64;
    }
    let j = x.floor() as usize;
    let (y0, y1) = (fp[j] as f64, fp[j + 1] as f64);
    if x == j as f64 {
        return y0;
    }
    let slope = y1 - y0;
    let r = slope * (x - j as f64) + y0;
    if r.is_nan() {
        let r2 = slope * (x - (j + 1) as f64) + y1;
        if r2.is_nan() && y0 == y1 {
            return y0;
        }
        return r2;
    }
    r
}

/// `init_noise_sigma` of the sigma-based schedulers: the largest sigma, or
/// `(max ** 2 + 1) ** 0.5` with leading spacing.
pub(super) fn init_sigma(sigmas: &[f32], spacing: TimestepSpacing) -> f32 {
    let max =
        sigmas.iter().copied().fold(
            f32::NEG_INFINITY,
            |m, s| if s > m || s.is_nan() { s } else { m },
        );
    match spacing {
        TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
        TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
    }
}

/// `sample / ((sigma ** 2 + 1) ** 0.5)`, the sigma schedulers' `scale_model_input`.
pub(super) fn scale_by_sigma(sample: &mut [f32], sigma: f32) {
    let d = (sigma * sigma + 1.0).sqrt();
    for x in sample.iter_mut() {
        *x /= d;
    }
}

/// The denoised prediction from an epsilon or v-prediction model at `sigma`, in float32 as
/// diffusers' Euler schedulers compute it; `Sample` passes the model output through.
pub(super) fn predict_x0(prediction: PredictionType, sigma: f32, s: f32, m: f32) -> f32 {
    match prediction {
        PredictionType::Epsilon => s - sigma * m,
        PredictionType::VPrediction => {
            let c = sigma * sigma + 1.0;
            m * (-sigma / c.sqrt()) + s / c
        }
        PredictionType::Sample => m,
    }
}

/// How the inference sigmas are respaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigmaSpacing {
    Interpolated,
    Karras,
    Exponential,
}

/// Euler state for one generation.
pub struct Euler {
    /// One per timestep, plus the final sigma (plus one unused extra with log_linear).
    sigmas: Vec<f32>,
    timesteps: Vec<f64>,
    prediction: PredictionType,
    init_noise_sigma: f32,
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
        let final_sigma_min = match config.str_or("final_sigmas_type", "zero")?.as_str() {
            "zero" => false,
            "sigma_min" => true,
            other => {
                return Err(Error::model(format!(
                    "EulerDiscreteScheduler: unknown final_sigmas_type '{other}'"
                )))
            }
        };
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
            let log_sigmas: Vec<f32> = train.iter().map(|&s| (s as f64).ln() as f32).collect();
            timesteps_f32 = sigmas
                .iter()
                .map(|&s| sigma_to_t(s, &log_sigmas) as f32)
                .collect();
        }
        let mut sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        sigmas.push(if final_sigma_min {
            ((1.0 - ac[0]) / ac[0]).sqrt()
        } else {
            0.0
        });
        Ok(Euler {
            init_noise_sigma: init_sigma(&sigmas, spacing),
            sigmas,
            timesteps: timesteps_f32.iter().map(|&t| t as f64).collect(),
            prediction,
        })
    }
}

impl Scheduler for Euler {
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
        _noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        // s_churn = 0: gamma = 0 and sigma_hat = sigma * 1.0 = sigma; no noise.
        let sigma = self.sigmas[i];
        let dt = self.sigmas[i + 1] - sigma;
        for (s, &m) in sample.iter_mut().zip(model_output) {
            let x0 = predict_x0(self.prediction, sigma, *s, m);
            let derivative = (*s - x0) / sigma;
            *s += derivative * dt;
        }
        Ok(())
    }
}
