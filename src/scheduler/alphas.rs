//! The schedule of the DDPM family (PNDM, DDIM, DDPM, LCM): integer training timesteps that
//! index the float32 `alphas_cumprod`. The UNet input is not scaled, the initial noise is unit,
//! and `add_noise` mixes by `alphas_cumprod[t]`.

use super::schedule::{check_index, Schedule};
use super::SchedulerConfig;
use crate::error::Result;

/// An alphas-cumprod schedule after `set_timesteps`.
pub(super) struct AlphaSchedule {
    alphas_cumprod: Vec<f32>,
    /// The training timesteps, one per UNet evaluation.
    ts: Vec<i64>,
    /// The same, as [`Schedule::timesteps`] gives them.
    timesteps: Vec<f64>,
}

impl AlphaSchedule {
    /// The schedule running at the training timesteps `ts` (each in `0..alphas_cumprod.len()`).
    pub(super) fn new(alphas_cumprod: Vec<f32>, ts: Vec<i64>) -> AlphaSchedule {
        AlphaSchedule {
            timesteps: ts.iter().map(|&t| t as f64).collect(),
            ts,
            alphas_cumprod,
        }
    }

    /// The training timestep of evaluation `i`.
    pub(super) fn t(&self, i: usize) -> i64 {
        self.ts[i]
    }

    /// The training timesteps, one per evaluation.
    pub(super) fn ts(&self) -> &[i64] {
        &self.ts
    }

    /// `num_train_timesteps`: the length of `alphas_cumprod`.
    pub(super) fn train_len(&self) -> usize {
        self.alphas_cumprod.len()
    }

    /// `alphas_cumprod[t]` for a training timestep `t >= 0`.
    pub(super) fn alpha(&self, t: i64) -> f32 {
        self.alphas_cumprod[t as usize]
    }

    /// `alphas_cumprod[t]`, or `before_first` for the step past timestep 0 (`t < 0`): diffusers'
    /// `final_alpha_cumprod` (DDIM, PNDM) or one (DDPM).
    pub(super) fn alpha_or(&self, t: i64, before_first: f32) -> f32 {
        if t >= 0 {
            self.alpha(t)
        } else {
            before_first
        }
    }

    /// `alphas_cumprod[t]` at evaluation `i`'s timestep, clamped into the table.
    fn alpha_at(&self, i: usize) -> f32 {
        let t = self.timesteps[i];
        self.alphas_cumprod[(t.max(0.0) as usize).min(self.alphas_cumprod.len() - 1)]
    }
}

impl Schedule for AlphaSchedule {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        1.0
    }

    /// The identity (diffusers returns the sample as it is).
    fn scale_model_input(&mut self, _sample: &mut [f32], i: usize) -> Result<()> {
        check_index(i, self.timesteps.len())
    }

    /// `alphas_cumprod[t] ** 0.5 * x + (1 - alphas_cumprod[t]) ** 0.5 * noise`, float32.
    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        let ab = self.alpha_at(i);
        let a = ab.sqrt();
        let b = (1.0 - ab).sqrt();
        original
            .iter()
            .zip(noise)
            .map(|(&x, &n)| a * x + b * n)
            .collect()
    }

    fn alpha_bar(&self, i: usize) -> f64 {
        self.alpha_at(i) as f64
    }

    /// Nothing to do: these schedulers index by evaluation.
    fn set_begin_index(&mut self, _i: usize) {}
}

/// diffusers' `final_alpha_cumprod` (DDIM, PNDM): one with `set_alpha_to_one` (the class's
/// `default` when the config does not say), else `alphas_cumprod[0]`.
pub(super) fn final_alpha_cumprod(
    config: &SchedulerConfig,
    default: bool,
    alphas_cumprod: &[f32],
) -> Result<f32> {
    Ok(if config.bool_or("set_alpha_to_one", default)? {
        1.0
    } else {
        alphas_cumprod[0]
    })
}
