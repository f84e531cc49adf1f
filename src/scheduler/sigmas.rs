//! The sigma schedule: one sigma per timestep plus the final one, as the k-diffusion
//! schedulers (Euler, Euler ancestral, Heun, LMS) and the multistep solvers (DPM-Solver,
//! UniPC) keep it, and the helpers that build it from the training schedule.
//!
//! diffusers' classes count their steps with `_step_index` (started by `set_begin_index`, or
//! from the first timestep seen); Heun, LMS, DPM-Solver and UniPC follow that counter here
//! too, while Euler and Euler ancestral use the caller's evaluation index (the same thing for
//! any caller that steps through the timesteps in order).

use super::numeric::{ln32, np_interp_arange, np_linspace};
use super::schedule::{check_index, Schedule};
use super::{BetaDefaults, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};

/// How a sigma relates the noisy sample to the clean one, which decides `init_noise_sigma`,
/// `scale_model_input` and `add_noise`.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// k-diffusion's: `x = x0 + sigma * noise`; the UNet input is divided by
    /// `(sigma ** 2 + 1) ** 0.5` and the initial noise multiplied by `init_noise_sigma`.
    KDiffusion { init_noise_sigma: f32 },
    /// The multistep solvers': `x = alpha_t * x0 + sigma_t * noise` ([`alpha_sigma`]); the
    /// UNet input is not scaled and the initial noise is unit.
    Multistep,
}

/// Which sigma `scale_model_input` and `step` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Indexing {
    /// The caller's evaluation index.
    Evaluation,
    /// diffusers' step counter.
    Counter,
}

/// A sigma schedule after `set_timesteps`.
pub(super) struct SigmaSchedule {
    timesteps: Vec<f64>,
    /// One per timestep plus the final sigma (plus one unused extra for Euler's log_linear
    /// interpolation), float32.
    sigmas: Vec<f32>,
    form: Form,
    indexing: Indexing,
    /// diffusers' `_step_index` when counting: the evaluation the next call works on.
    step_index: Option<usize>,
}

impl SigmaSchedule {
    /// k-diffusion's schedule (`class` for errors): `init_noise_sigma` is the largest sigma,
    /// or `(max ** 2 + 1) ** 0.5` with leading spacing.
    pub(super) fn k_diffusion(
        class: &str,
        timesteps: Vec<f64>,
        sigmas: Vec<f32>,
        spacing: TimestepSpacing,
        indexing: Indexing,
    ) -> Result<SigmaSchedule> {
        let init_noise_sigma = init_sigma(&sigmas, spacing);
        SigmaSchedule::new(
            class,
            timesteps,
            sigmas,
            Form::KDiffusion { init_noise_sigma },
            indexing,
        )
    }

    /// The multistep solvers' schedule (`class` for errors), counted.
    pub(super) fn multistep(
        class: &str,
        timesteps: Vec<f64>,
        sigmas: Vec<f32>,
    ) -> Result<SigmaSchedule> {
        SigmaSchedule::new(class, timesteps, sigmas, Form::Multistep, Indexing::Counter)
    }

    fn new(
        class: &str,
        timesteps: Vec<f64>,
        sigmas: Vec<f32>,
        form: Form,
        indexing: Indexing,
    ) -> Result<SigmaSchedule> {
        if indexing == Indexing::Counter {
            check_first_index(class, &timesteps)?;
        }
        Ok(SigmaSchedule {
            timesteps,
            sigmas,
            form,
            indexing,
            step_index: None,
        })
    }

    /// The sigma index evaluation `i` works on: `i` itself, or the step counter (started from
    /// `i`'s timestep on the first call). An error when that is past the timesteps.
    pub(super) fn index(&mut self, i: usize) -> Result<usize> {
        let n = self.timesteps.len();
        if self.indexing == Indexing::Evaluation {
            check_index(i, n)?;
            return Ok(i);
        }
        let idx = match self.step_index {
            Some(idx) => idx,
            None => {
                check_index(i, n)?;
                index_for_timestep(&self.timesteps, self.timesteps[i])
            }
        };
        self.step_index = Some(idx);
        if idx >= n {
            return Err(Error::invalid(format!(
                "stepped past the last timestep (step index {idx}, the scheduler has {n})"
            )));
        }
        Ok(idx)
    }

    /// Moves the step counter past `idx`, the index [`SigmaSchedule::index`] gave this step.
    pub(super) fn advance(&mut self, idx: usize) {
        if self.indexing == Indexing::Counter {
            self.step_index = Some(idx + 1);
        }
    }

    /// The sigma at `idx` (the final sigma at the number of timesteps).
    pub(super) fn sigma(&self, idx: usize) -> f32 {
        self.sigmas[idx]
    }

    /// All the sigmas, the final one included.
    pub(super) fn sigmas(&self) -> &[f32] {
        &self.sigmas
    }
}

impl Schedule for SigmaSchedule {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        match self.form {
            Form::KDiffusion { init_noise_sigma } => init_noise_sigma,
            Form::Multistep => 1.0,
        }
    }

    /// k-diffusion's `sample / ((sigma ** 2 + 1) ** 0.5)` at [`SigmaSchedule::index`]; the
    /// identity for the multistep solvers, which leave the counter alone here.
    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) -> Result<()> {
        match self.form {
            Form::KDiffusion { .. } => {
                let idx = self.index(i)?;
                let sigma = self.sigmas[idx];
                let d = (sigma * sigma + 1.0).sqrt();
                for x in sample.iter_mut() {
                    *x /= d;
                }
                Ok(())
            }
            Form::Multistep => check_index(i, self.timesteps.len()),
        }
    }

    /// At the sigma of evaluation `i`, float32: `x + noise * sigma` (k-diffusion), or
    /// `alpha_t * x + sigma_t * noise` (multistep).
    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        let sigma = self.sigmas[i];
        let pairs = original.iter().zip(noise);
        match self.form {
            Form::KDiffusion { .. } => pairs.map(|(&x, &n)| x + n * sigma).collect(),
            Form::Multistep => {
                let (alpha_t, sigma_t) = alpha_sigma(sigma);
                pairs.map(|(&x, &n)| alpha_t * x + sigma_t * n).collect()
            }
        }
    }

    /// `1 / (1 + sigma^2)` at the sigma of evaluation `i`.
    fn alpha_bar(&self, i: usize) -> f64 {
        let s = self.sigmas[i] as f64;
        1.0 / (1.0 + s * s)
    }

    fn set_begin_index(&mut self, i: usize) {
        if self.indexing == Indexing::Counter {
            self.step_index = Some(i);
        }
    }
}

/// diffusers' `index_for_timestep` for a timestep `t` of the schedule: the second match when
/// it occurs more than once (so that image-to-image, starting part-way, does not skip a
/// sigma), else the first.
fn index_for_timestep(timesteps: &[f64], t: f64) -> usize {
    let mut found = (0..timesteps.len()).filter(|&j| timesteps[j] == t);
    let first = found.next();
    found.next().or(first).unwrap_or(0)
}

/// Fails early where diffusers would start its counter at the second occurrence of a repeated
/// first timestep ([`index_for_timestep`]) and then step past the end of its sigmas.
fn check_first_index(class: &str, timesteps: &[f64]) -> Result<()> {
    match timesteps.first() {
        Some(&t0) if index_for_timestep(timesteps, t0) != 0 => Err(Error::invalid(format!(
            "{class}: the first timestep {t0} occurs more than once in this schedule, so \
             diffusers would skip a step and fail at the end; choose another step count"
        ))),
        _ => Ok(()),
    }
}

/// `init_noise_sigma` of the k-diffusion schedulers: the largest sigma, or
/// `(max ** 2 + 1) ** 0.5` with leading spacing.
fn init_sigma(sigmas: &[f32], spacing: TimestepSpacing) -> f32 {
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

/// `_sigma_to_alpha_sigma_t` for VP schedules, on float32 0-dim tensors:
/// `alpha_t = 1 / (sigma ** 2 + 1) ** 0.5`, `sigma_t = sigma * alpha_t`.
pub(super) fn alpha_sigma(sigma: f32) -> (f32, f32) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

/// `lambda = log(alpha_t) - log(sigma_t)` in float32 (infinite for a zero sigma).
pub(super) fn lambda(alpha: f32, sigma: f32) -> f32 {
    ln32(alpha) - ln32(sigma)
}

/// diffusers' `_sigma_to_t`: the fractional training timestep of `sigma`, interpolating the
/// float32 `log_sigmas` (ascending with `t`) as numpy does: `log(max(sigma, 1e-10))` and the
/// weight in float64, except `low - high`, which numpy subtracts in float32.
fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = if sigma.is_nan() {
        sigma
    } else {
        sigma.max(1e-10).ln()
    };
    // argmax(cumsum(dists >= 0)): the last index with log_sigma >= log_sigmas[j], else 0;
    // clipped to len - 2.
    let low = log_sigmas
        .iter()
        .rposition(|&l| log_sigma - l as f64 >= 0.0)
        .unwrap_or(0)
        .min(log_sigmas.len().saturating_sub(2));
    let high = low + 1;
    let (lo, hi) = (log_sigmas[low], log_sigmas[high]);
    let w = ((lo as f64 - log_sigma) / (lo - hi) as f64).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * high as f64
}

/// The fractional training timestep of each of `sigmas` ([`sigma_to_t`] against the float32
/// log of the training sigmas `train`, as numpy takes it).
pub(super) fn sigmas_to_t(sigmas: &[f64], train: &[f32]) -> Vec<f64> {
    let log_sigmas: Vec<f32> = train.iter().map(|&s| (s as f64).ln() as f32).collect();
    sigmas.iter().map(|&s| sigma_to_t(s, &log_sigmas)).collect()
}

/// `final_sigmas_type`: whether the sigma after the last timestep is zero ("zero", the
/// default) rather than the smallest training sigma ("sigma_min").
pub(super) fn final_sigma_is_zero(config: &SchedulerConfig, class: &str) -> Result<bool> {
    match config.str_or("final_sigmas_type", "zero")?.as_str() {
        "zero" => Ok(true),
        "sigma_min" => Ok(false),
        other => Err(Error::model(format!(
            "{class}: unknown final_sigmas_type '{other}'"
        ))),
    }
}

/// `_convert_to_karras`: `steps` sigmas from `sigma_max` down to `sigma_min`, evenly spaced in
/// `sigma ** (1 / 7)`, in float64 (`np.linspace(0, 1, steps)` ramp).
pub(crate) fn karras_sigmas(sigma_min: f64, sigma_max: f64, steps: usize) -> Vec<f64> {
    let rho = 7.0f64;
    let min_inv_rho = sigma_min.powf(1.0 / rho);
    let max_inv_rho = sigma_max.powf(1.0 / rho);
    np_linspace(0.0, 1.0, steps)
        .iter()
        .map(|r| (max_inv_rho + r * (min_inv_rho - max_inv_rho)).powf(rho))
        .collect()
}

/// The schedule shared by DPM-Solver and UniPC when no respacing is asked for: the training
/// sigmas at the integer timesteps (`np.interp`, float64).
pub(super) fn interp_sigmas(timesteps: &[i64], train: &[f32]) -> Vec<f64> {
    timesteps
        .iter()
        .map(|&t| np_interp_arange(t as f64, train))
        .collect()
}

/// Karras respacing of the training sigmas, as the multistep solvers do it: between the
/// smallest and largest *training* sigma (or the config's `sigma_min` / `sigma_max`, which
/// diffusers' `_convert_to_karras` reads from the config whenever the keys are there), with
/// each sigma's timestep from `_sigma_to_t`, rounded when `round` is set.
pub(super) fn karras_schedule(
    config: &SchedulerConfig,
    steps: usize,
    train: &[f32],
    round: bool,
) -> Result<(Vec<f64>, Vec<i64>)> {
    let sigma_min = config.f64_or("sigma_min", train[0] as f64)?;
    let sigma_max = config.f64_or("sigma_max", train[train.len() - 1] as f64)?;
    let sigmas = karras_sigmas(sigma_min, sigma_max, steps);
    let timesteps = sigmas_to_t(&sigmas, train)
        .iter()
        // float64 -> int64 truncates, as numpy's and torch's casts do.
        .map(|&t| (if round { t.round_ties_even() } else { t }) as i64)
        .collect();
    Ok((sigmas, timesteps))
}

#[cfg(test)]
mod tests {
    use crate::scheduler::euler::Euler;
    use crate::scheduler::euler_ancestral::EulerAncestral;
    use crate::scheduler::heun::Heun;
    use crate::scheduler::lms::Lms;
    use crate::scheduler::{Scheduler, SchedulerConfig};

    type Make = fn() -> Box<dyn Scheduler>;

    fn euler() -> Box<dyn Scheduler> {
        Box::new(Euler::new(&SchedulerConfig::default(), 5).unwrap())
    }

    fn euler_a() -> Box<dyn Scheduler> {
        Box::new(EulerAncestral::new(&SchedulerConfig::default(), 5).unwrap())
    }

    fn heun() -> Box<dyn Scheduler> {
        Box::new(Heun::new(&SchedulerConfig::default(), 5).unwrap())
    }

    fn lms() -> Box<dyn Scheduler> {
        Box::new(Lms::new(&SchedulerConfig::default(), 5).unwrap())
    }

    /// Whether scaling `[1.5; 4]` for evaluation `i` fails, checking that a failure leaves the
    /// sample untouched.
    fn scale_fails(s: &mut dyn Scheduler, i: usize) -> bool {
        let mut sample = [1.5f32; 4];
        let failed = s.scale_model_input(&mut sample, i).is_err();
        assert!(
            !failed || sample == [1.5; 4],
            "sample touched by a failed scale"
        );
        failed
    }

    /// The sigma schedulers themselves (not only the checked wrapper `create` returns) refuse
    /// to scale for an evaluation past their timesteps, rather than leave the input unscaled
    /// or scale it by the final sigma.
    #[test]
    fn sigma_schedulers_fail_to_scale_past_the_last_timestep() {
        let all: [(&str, Make); 4] = [
            ("euler", euler),
            ("euler-a", euler_a),
            ("heun", heun),
            ("lms", lms),
        ];
        for (name, make) in all {
            let n = make().timesteps().len();
            for i in [n, n + 1, n + 7] {
                assert!(scale_fails(&mut *make(), i), "{name}: index {i} of {n}");
            }
            assert!(!scale_fails(&mut *make(), n - 1), "{name}: last index");
        }
        // Heun and LMS follow diffusers' step counter (`_step_index`) once it is set: a counter
        // past the end fails whatever `i` says.
        for (name, make) in [("heun", heun as Make), ("lms", lms)] {
            let n = make().timesteps().len();
            for begin in [n, n + 1] {
                let mut s = make();
                s.set_begin_index(begin);
                assert!(scale_fails(&mut *s, 0), "{name}: begin {begin} of {n}");
            }
        }
    }
}
