//! diffusers' `DPMSolverMultistepScheduler` (DPM-Solver++ 2M and its SDE variant): the
//! `dpmsolver++` and `sde-dpmsolver++` algorithms at solver order 1 or 2, `midpoint` and
//! `heun` solver types, `use_karras_sigmas`, `final_sigmas_type` zero / sigma_min,
//! `lower_order_final`, `euler_at_final`, `lambda_min_clipped`, all three timestep spacings
//! with `steps_offset`, `rescale_betas_zero_snr`, and epsilon / v-prediction / sample models.
//!
//! The schedule is built as diffusers builds it: the training sigmas in float32 (torch), the
//! integer timesteps and the Karras respacing in float64 (numpy), then the inference sigmas
//! stored as float32. Each step works on float32 0-dim tensors and float32 element-wise
//! tensor ops, in diffusers' order of operations.
//!
//! Bit-exact against diffusers run with correctly rounded float32 `sqrt` / `log` / `exp`.
//! torch's own (MKL) float32 sqrt is one ulp off in about 1 in 5 results and log in about 1
//! in 11; `h = lambda_t - lambda_s` turns such an ulp into many, so on torch's CPU this
//! agrees to a few dozen ulps at 10-20 steps (more at 50).
//!
//! Not supported (`Unsupported`): the deprecated `dpmsolver` / `sde-dpmsolver` algorithms,
//! solver order 3, `thresholding`, learned variance, and the exponential / beta / Lu-lambda /
//! flow sigma schedules.

use super::config::reject_unsupported_flags;
use super::numeric::exp32;
use super::schedule::{Schedule, StepRule};
use super::sigmas::{
    alpha_sigma, final_sigma_is_zero, interp_sigmas, karras_schedule, lambda, sigma_alphas_cumprod,
    train_sigmas, SigmaSchedule,
};
use super::timesteps::multistep_timesteps;
use super::{PredictionType, SchedulerConfig};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// DPM-Solver++'s second-order solver type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SolverType {
    Midpoint,
    Heun,
}

/// DPM-Solver++ (2M, optionally SDE) state for one generation.
pub struct DpmMultistep {
    /// One sigma per timestep plus the final one; counted.
    schedule: SigmaSchedule,
    prediction: PredictionType,
    sde: bool,
    solver_type: SolverType,
    solver_order: usize,
    lower_order_final: bool,
    euler_at_final: bool,
    final_zero: bool,
    /// The converted (x0) model outputs of the previous and the current step.
    prev_output: Option<Vec<f32>>,
    lower_order_nums: usize,
}

impl DpmMultistep {
    /// `DPMSolverMultistepScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<DpmMultistep> {
        const CLASS: &str = "DPMSolverMultistepScheduler";
        let sde = match config.str_or("algorithm_type", "dpmsolver++")?.as_str() {
            // diffusers registers "deis" as dpmsolver++.
            "dpmsolver++" | "deis" => false,
            "sde-dpmsolver++" => true,
            a @ ("dpmsolver" | "sde-dpmsolver") => {
                return Err(Error::unsupported(format!(
                    "{CLASS} with the deprecated algorithm_type '{a}' is not supported; \
                     use dpmsolver++ or sde-dpmsolver++"
                )))
            }
            other => {
                return Err(Error::model(format!(
                    "{CLASS}: unknown algorithm_type '{other}'"
                )))
            }
        };
        let solver_type = match config.str_or("solver_type", "midpoint")?.as_str() {
            // diffusers registers UniPC's / DEIS's solver types as midpoint.
            "midpoint" | "logrho" | "bh1" | "bh2" => SolverType::Midpoint,
            "heun" => SolverType::Heun,
            other => {
                return Err(Error::model(format!(
                    "{CLASS}: unknown solver_type '{other}'"
                )))
            }
        };
        let solver_order = config.usize_or("solver_order", 2)?;
        if !(1..=2).contains(&solver_order) {
            return Err(Error::unsupported(format!(
                "{CLASS} with solver_order {solver_order} is not supported (1 or 2)"
            )));
        }
        reject_unsupported_flags(config, CLASS, &["thresholding"])?;
        let variance = config.str_or("variance_type", "")?;
        if variance == "learned" || variance == "learned_range" {
            return Err(Error::unsupported(format!(
                "{CLASS} with variance_type '{variance}' is not supported"
            )));
        }
        reject_unsupported_flags(
            config,
            CLASS,
            &[
                "use_exponential_sigmas",
                "use_beta_sigmas",
                "use_lu_lambdas",
                "use_flow_sigmas",
                "use_dynamic_shifting",
            ],
        )?;
        let karras = config.bool_or("use_karras_sigmas", false)?;
        let final_zero = final_sigma_is_zero(config, CLASS)?;
        let prediction = config.prediction_type()?;
        let t = config.num_train_timesteps()?;

        let ac = sigma_alphas_cumprod(config)?;
        let train = train_sigmas(&ac);

        // lambda_min_clipped: searchsorted(flip(lambda_t), clip) on the float32 lambdas.
        let clip = config.f64_or("lambda_min_clipped", f64::NEG_INFINITY)? as f32;
        let flipped: Vec<f32> = ac
            .iter()
            .rev()
            .map(|&a| lambda(a.sqrt(), (1.0 - a).sqrt()))
            .collect();
        let (mut lo, mut hi) = (0usize, flipped.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if flipped[mid] >= clip {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let last = t - lo;

        let (sigmas64, timesteps) = if karras {
            let round = config.str_or("beta_schedule", "linear")? != "squaredcos_cap_v2";
            karras_schedule(config, steps, &train, round)?
        } else {
            let ts = multistep_timesteps(config, steps, last)?;
            (interp_sigmas(&ts, &train), ts)
        };
        let mut sigmas: Vec<f32> = sigmas64.iter().map(|&s| s as f32).collect();
        sigmas.push(if final_zero { 0.0 } else { train[0] });
        let timesteps: Vec<f64> = timesteps.iter().map(|&t| t as f64).collect();
        Ok(DpmMultistep {
            schedule: SigmaSchedule::multistep(CLASS, timesteps, sigmas)?,
            prediction,
            sde,
            solver_type,
            solver_order,
            lower_order_final: config.bool_or("lower_order_final", true)?,
            euler_at_final: config.bool_or("euler_at_final", false)?,
            final_zero,
            prev_output: None,
            lower_order_nums: 0,
        })
    }

    /// `convert_model_output` for DPM-Solver++: the predicted clean sample.
    fn convert(&self, model_output: &[f32], sample: &[f32], idx: usize) -> Vec<f32> {
        let (alpha_t, sigma_t) = alpha_sigma(self.schedule.sigma(idx));
        model_output
            .iter()
            .zip(sample)
            .map(|(&m, &s)| match self.prediction {
                PredictionType::Epsilon => (s - sigma_t * m) / alpha_t,
                PredictionType::VPrediction => alpha_t * s - sigma_t * m,
                PredictionType::Sample => m,
            })
            .collect()
    }

    /// `dpm_solver_first_order_update`.
    fn first_order(&self, idx: usize, x0: &[f32], sample: &mut [f32], noise: Option<&[f32]>) {
        let (alpha_t, sigma_t) = alpha_sigma(self.schedule.sigma(idx + 1));
        let (alpha_s, sigma_s) = alpha_sigma(self.schedule.sigma(idx));
        let h = lambda(alpha_t, sigma_t) - lambda(alpha_s, sigma_s);
        match noise {
            None => {
                let c_s = sigma_t / sigma_s;
                let c_x = alpha_t * (exp32(-h) - 1.0);
                for (s, &d) in sample.iter_mut().zip(x0) {
                    *s = c_s * *s - c_x * d;
                }
            }
            Some(z) => {
                let c_s = sigma_t / sigma_s * exp32(-h);
                let c_x = alpha_t * (1.0 - exp32(-2.0 * h));
                let c_z = sigma_t * (1.0 - exp32(-2.0 * h)).sqrt();
                for ((s, &d), &z) in sample.iter_mut().zip(x0).zip(z) {
                    *s = c_s * *s + c_x * d + c_z * z;
                }
            }
        }
    }

    /// `multistep_dpm_solver_second_order_update` with the current (`m0`) and previous
    /// (`m1`) converted outputs.
    fn second_order(
        &self,
        idx: usize,
        m0: &[f32],
        m1: &[f32],
        sample: &mut [f32],
        noise: Option<&[f32]>,
    ) {
        let (alpha_t, sigma_t) = alpha_sigma(self.schedule.sigma(idx + 1));
        let (alpha_s0, sigma_s0) = alpha_sigma(self.schedule.sigma(idx));
        let (alpha_s1, sigma_s1) = alpha_sigma(self.schedule.sigma(idx - 1));
        let lambda_t = lambda(alpha_t, sigma_t);
        let lambda_s0 = lambda(alpha_s0, sigma_s0);
        let lambda_s1 = lambda(alpha_s1, sigma_s1);
        let h = lambda_t - lambda_s0;
        let h_0 = lambda_s0 - lambda_s1;
        let r0 = h_0 / h;
        let inv_r0 = 1.0 / r0;
        let d1 = |a: f32, b: f32| inv_r0 * (a - b);
        match noise {
            None => {
                let c_s = sigma_t / sigma_s0;
                let c_0 = alpha_t * (exp32(-h) - 1.0);
                match self.solver_type {
                    SolverType::Midpoint => {
                        let c_1 = 0.5 * c_0;
                        for ((s, &a), &b) in sample.iter_mut().zip(m0).zip(m1) {
                            *s = c_s * *s - c_0 * a - c_1 * d1(a, b);
                        }
                    }
                    SolverType::Heun => {
                        let c_1 = alpha_t * ((exp32(-h) - 1.0) / h + 1.0);
                        for ((s, &a), &b) in sample.iter_mut().zip(m0).zip(m1) {
                            *s = c_s * *s - c_0 * a + c_1 * d1(a, b);
                        }
                    }
                }
            }
            Some(z) => {
                let c_s = sigma_t / sigma_s0 * exp32(-h);
                let c_0 = alpha_t * (1.0 - exp32(-2.0 * h));
                let c_1 = match self.solver_type {
                    SolverType::Midpoint => 0.5 * c_0,
                    SolverType::Heun => alpha_t * ((1.0 - exp32(-2.0 * h)) / (-2.0 * h) + 1.0),
                };
                let c_z = sigma_t * (1.0 - exp32(-2.0 * h)).sqrt();
                for (((s, &a), &b), &z) in sample.iter_mut().zip(m0).zip(m1).zip(z) {
                    *s = c_s * *s + c_0 * a + c_1 * d1(a, b) + c_z * z;
                }
            }
        }
    }
}

impl StepRule for DpmMultistep {
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
        let n = self.schedule.timesteps().len();
        let idx = self.schedule.index(i)?;
        let lower_order_final = idx == n - 1
            && (self.euler_at_final || (self.lower_order_final && n < 15) || self.final_zero);
        let x0 = self.convert(model_output, sample, idx);
        // sde-dpmsolver++ draws its noise on every step, before the update.
        let z = self.sde.then(|| noise.randn(sample.len()));
        if self.solver_order == 1 || self.lower_order_nums < 1 || lower_order_final {
            self.first_order(idx, &x0, sample, z.as_deref());
        } else {
            let m1 = self.prev_output.as_deref().unwrap_or(&x0);
            self.second_order(idx, &x0, m1, sample, z.as_deref());
        }
        self.prev_output = Some(x0);
        if self.lower_order_nums < self.solver_order {
            self.lower_order_nums += 1;
        }
        self.schedule.advance(idx);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: serde_json::Value) -> SchedulerConfig {
        SchedulerConfig::from_json(&v).unwrap()
    }

    #[test]
    fn deprecated_algorithms_and_order_3_are_unsupported() {
        for v in [
            json!({"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"}),
            json!({"solver_order": 3}),
            json!({"thresholding": true}),
            json!({"variance_type": "learned_range"}),
        ] {
            assert!(DpmMultistep::new(&config(v), 10).is_err());
        }
        assert!(DpmMultistep::new(&config(json!({"variance_type": "fixed_small"})), 10).is_ok());
    }
}
