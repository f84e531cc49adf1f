//! diffusers' `DDIMScheduler`: denoising diffusion implicit models, deterministic at `eta` 0
//! and stochastic above, with `set_alpha_to_one`, `steps_offset`, all three timestep spacings,
//! `clip_sample` / `clip_sample_range`, `rescale_betas_zero_snr` and epsilon / v-prediction /
//! sample models. `thresholding` is not supported.
//!
//! Also holds the helpers DDPM shares: integer timesteps and numpy's float `arange`.

use super::{BetaDefaults, PredictionType, Scheduler, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// `np.arange(start, stop, step)` for float64 arguments, as numpy computes it: the length is
/// `ceil((stop - start) / step)`, element 1 is `start + step`, and element `i >= 2` is
/// `start + i * ((start + step) - start)` (numpy's `DOUBLE_fill`). This is why
/// `np.arange(1000, 0, -1000 / 61)` has 62 elements, the last one about 1e-13.
pub(super) fn np_arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil();
    if len.is_nan() || len <= 0.0 || len.is_infinite() {
        return Vec::new();
    }
    let len = len as usize;
    let next = start + step;
    let delta = next - start;
    (0..len)
        .map(|i| match i {
            0 => start,
            1 => next,
            _ => start + i as f64 * delta,
        })
        .collect()
}

/// The integer timesteps of DDIM's / DDPM's `set_timesteps`, descending, with the class's
/// `default` spacing when the config has no `timestep_spacing`:
/// - linspace: `np.linspace(0, T - 1, steps).round()[::-1]` (round half to even);
/// - leading: `arange(steps) * (T // steps)` reversed, plus `steps_offset`;
/// - trailing: `np.round(np.arange(T, 0, -T / steps)) - 1`.
///
/// diffusers indexes `alphas_cumprod` with these; a value outside `0..T` (leading with a
/// large `steps_offset`, or trailing at step counts such as 61 where numpy's `arange` gives
/// one element too many, ending in -1, which torch reads as the *last* alpha) makes
/// diffusers fail or silently use the wrong alpha, so it is an error here.
pub(super) fn integer_timesteps(
    config: &SchedulerConfig,
    steps: usize,
    default: TimestepSpacing,
) -> Result<Vec<i64>> {
    let t = config.num_train_timesteps()?;
    let steps_offset = config.usize_or("steps_offset", 0)? as i64;
    let v: Vec<i64> = match config.timestep_spacing(default)? {
        TimestepSpacing::Linspace => super::numeric::np_linspace(0.0, (t - 1) as f64, steps)
            .iter()
            .rev()
            .map(|x| x.round_ties_even() as i64)
            .collect(),
        TimestepSpacing::Leading => {
            let ratio = (t / steps) as i64;
            (0..steps as i64)
                .rev()
                .map(|i| i * ratio + steps_offset)
                .collect()
        }
        TimestepSpacing::Trailing => np_arange(t as f64, 0.0, -(t as f64 / steps as f64))
            .iter()
            .map(|x| x.round_ties_even() as i64 - 1)
            .collect(),
    };
    if let Some(&bad) = v.iter().find(|&&x| x < 0 || x >= t as i64) {
        return Err(Error::invalid(format!(
            "{steps} steps with this timestep spacing give timestep {bad}, outside 0..{t} \
             (diffusers would index alphas_cumprod out of range); choose another step count"
        )));
    }
    Ok(v)
}

/// `thresholding: true` (dynamic thresholding, for pixel-space models) is not implemented.
pub(super) fn reject_thresholding(config: &SchedulerConfig, class: &str) -> Result<()> {
    if config.bool_or("thresholding", false)? {
        return Err(Error::unsupported(format!(
            "{class} with thresholding is not supported (it is meant for pixel-space models)"
        )));
    }
    Ok(())
}

/// `clip_sample_range` when `clip_sample` is on (with the class's default for
/// `clip_sample`), as the float32 bound torch's `clamp` uses.
pub(super) fn clip_range(config: &SchedulerConfig, default_clip: bool) -> Result<Option<f32>> {
    if config.bool_or("clip_sample", default_clip)? {
        let r = config.f64_or("clip_sample_range", 1.0)?;
        if r.is_nan() || r < 0.0 {
            return Err(Error::model(format!(
                "scheduler config: clip_sample_range {r} must be >= 0"
            )));
        }
        Ok(Some(r as f32))
    } else {
        Ok(None)
    }
}

/// `pred_original_sample` of the alpha-based schedulers (DDIM, DDPM, LCM) from the model
/// output `m` at sample `s`, with `sa`/`sb` the square roots of `alpha_prod_t` and
/// `beta_prod_t`, in float32 as torch evaluates it.
pub(super) fn alpha_x0(prediction: PredictionType, sa: f32, sb: f32, s: f32, m: f32) -> f32 {
    match prediction {
        PredictionType::Epsilon => (s - sb * m) / sa,
        PredictionType::Sample => m,
        PredictionType::VPrediction => sa * s - sb * m,
    }
}

/// `clamp(x, -r, r)` when clipping is on (`r` from [`clip_range`], never negative or NaN).
pub(super) fn clip(x: f32, range: Option<f32>) -> f32 {
    match range {
        Some(r) => x.clamp(-r, r),
        None => x,
    }
}

/// DDIM state for one generation.
pub struct Ddim {
    alphas_cumprod: Vec<f32>,
    final_alpha_cumprod: f32,
    prediction: PredictionType,
    clip: Option<f32>,
    /// `num_train_timesteps // num_inference_steps`: DDIM's previous timestep is always
    /// `t - step_ratio`, even with trailing or linspace spacing.
    step_ratio: i64,
    eta: f32,
    ts: Vec<i64>,
    timesteps: Vec<f64>,
}

impl Ddim {
    /// `DDIMScheduler.from_config(config)` followed by `set_timesteps(steps)`; `eta` is the
    /// value later passed to every `step`.
    pub fn new(config: &SchedulerConfig, steps: usize, eta: f32) -> Result<Ddim> {
        reject_thresholding(config, "DDIMScheduler")?;
        let alphas_cumprod = config.alphas_cumprod(BetaDefaults::LINEAR)?;
        let final_alpha_cumprod = if config.bool_or("set_alpha_to_one", true)? {
            1.0
        } else {
            alphas_cumprod[0]
        };
        let ts = integer_timesteps(config, steps, TimestepSpacing::Leading)?;
        Ok(Ddim {
            final_alpha_cumprod,
            prediction: config.prediction_type()?,
            clip: clip_range(config, true)?,
            step_ratio: (config.num_train_timesteps()? / steps) as i64,
            eta,
            timesteps: ts.iter().map(|&t| t as f64).collect(),
            ts,
            alphas_cumprod,
        })
    }
}

impl Scheduler for Ddim {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        1.0
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        super::add_noise_alphas(&self.alphas_cumprod, self.timesteps[i], original, noise)
    }

    fn alpha_bar(&self, i: usize) -> f64 {
        super::alpha_bar_at(&self.alphas_cumprod, self.timesteps[i])
    }

    fn scale_model_input(&mut self, _sample: &mut [f32], _i: usize) -> Result<()> {
        Ok(())
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        let t = self.ts[i];
        let prev_t = t - self.step_ratio;
        // All scalars are 0-dim float32 tensors in diffusers.
        let a_t = self.alphas_cumprod[t as usize];
        let a_prev = if prev_t >= 0 {
            self.alphas_cumprod[prev_t as usize]
        } else {
            self.final_alpha_cumprod
        };
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
