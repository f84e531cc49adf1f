//! The training noise schedule: the betas of `beta_schedule` (or `trained_betas`), optionally
//! rescaled to zero terminal SNR, and their cumulative product `alphas_cumprod`, in the
//! float32 / float64 mix torch computes them in.

use super::numeric::linspace_f32;
use super::SchedulerConfig;
use crate::error::{Error, Result};

impl SchedulerConfig {
    /// The betas as diffusers' schedulers compute them (float32), from `trained_betas` or
    /// `beta_schedule` with the class's default start/end/schedule, then
    /// `rescale_betas_zero_snr` when set.
    pub fn betas(&self, defaults: BetaDefaults) -> Result<Vec<f32>> {
        let n = self.num_train_timesteps()?;
        let betas: Vec<f32> = if let Some(b) = self.f64_list("trained_betas")? {
            if b.len() != n {
                return Err(Error::model(format!(
                    "trained_betas has {} values, num_train_timesteps is {n}",
                    b.len()
                )));
            }
            b.iter().map(|&x| x as f32).collect()
        } else {
            let start = self.f64_or("beta_start", defaults.start)?;
            let end = self.f64_or("beta_end", defaults.end)?;
            if !(start.is_finite() && end.is_finite() && start >= 0.0 && end < 1.0) {
                return Err(Error::model(format!(
                    "beta_start {start} / beta_end {end} are out of range"
                )));
            }
            match self.str_or("beta_schedule", defaults.schedule)?.as_str() {
                "linear" => linspace_f32(start as f32, end as f32, n),
                "scaled_linear" => linspace_f32(start.sqrt() as f32, end.sqrt() as f32, n)
                    .into_iter()
                    .map(|x| x * x)
                    .collect(),
                "squaredcos_cap_v2" => betas_for_alpha_bar_cosine(n),
                other => {
                    return Err(Error::model(format!(
                        "beta_schedule '{other}' is not supported"
                    )))
                }
            }
        };
        if self.bool_or("rescale_betas_zero_snr", false)? {
            Ok(rescale_zero_terminal_snr(&betas))
        } else {
            Ok(betas)
        }
    }

    /// `alphas_cumprod` from [`SchedulerConfig::betas`]: torch's CPU `cumprod`, which
    /// accumulates in double and stores float32.
    pub fn alphas_cumprod(&self, defaults: BetaDefaults) -> Result<Vec<f32>> {
        Ok(cumprod(&self.betas(defaults)?))
    }
}

/// A class's defaults for the beta keys.
#[derive(Debug, Clone, Copy)]
pub struct BetaDefaults {
    /// `beta_start`.
    pub start: f64,
    /// `beta_end`.
    pub end: f64,
    /// `beta_schedule`.
    pub schedule: &'static str,
}

impl BetaDefaults {
    /// Most classes: 0.0001 .. 0.02, linear.
    pub const LINEAR: BetaDefaults = BetaDefaults {
        start: 0.0001,
        end: 0.02,
        schedule: "linear",
    };
}

/// `cumprod(1 - betas)` accumulated in double, stored as float32 (torch CPU).
pub(crate) fn cumprod(betas: &[f32]) -> Vec<f32> {
    let mut acc = 1.0f64;
    betas
        .iter()
        .map(|&b| {
            acc *= (1.0f32 - b) as f64;
            acc as f32
        })
        .collect()
}

/// diffusers' `betas_for_alpha_bar` with the cosine transform, computed in double as Python
/// does, then stored as float32.
fn betas_for_alpha_bar_cosine(n: usize) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0)
            .cos()
            .powi(2)
    };
    (0..n)
        .map(|i| {
            let t1 = i as f64 / n as f64;
            let t2 = (i + 1) as f64 / n as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
        })
        .collect()
}

/// diffusers' `rescale_zero_terminal_snr` (arXiv 2305.08891, Algorithm 1), in float32 as
/// torch computes it.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let alphas_bar_sqrt: Vec<f32> = cumprod(betas).iter().map(|a| a.sqrt()).collect();
    let first = alphas_bar_sqrt[0];
    let last = *alphas_bar_sqrt.last().unwrap_or(&0.0);
    let scaled: Vec<f32> = alphas_bar_sqrt
        .iter()
        .map(|&a| (a - last) * (first / (first - last)))
        .collect();
    let alphas_bar: Vec<f32> = scaled.iter().map(|a| a * a).collect();
    let mut alphas = Vec::with_capacity(alphas_bar.len());
    alphas.push(alphas_bar[0]);
    for w in alphas_bar.windows(2) {
        alphas.push(w[1] / w[0]);
    }
    alphas.iter().map(|a| 1.0 - a).collect()
}
