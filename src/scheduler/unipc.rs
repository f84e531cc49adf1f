//! diffusers' `UniPCMultistepScheduler`: the UniP predictor and UniC corrector (B(h)
//! versions `bh1` / `bh2`) at solver order 1 or 2, `predict_x0` on or off,
//! `disable_corrector`, `lower_order_final`, `use_karras_sigmas` (with `sigma_min` /
//! `sigma_max`), `final_sigmas_type` zero / sigma_min, all three timestep spacings with
//! `steps_offset`, `rescale_betas_zero_snr`, and epsilon / v-prediction / sample models.
//!
//! Float32 as diffusers computes it: 0-dim tensors for the coefficients, element-wise tensor
//! ops in diffusers' order, and the corrector's 2x2 `torch.linalg.solve` as LAPACK's LU with
//! partial pivoting (MKL's `sgesv`) evaluates it.
//!
//! Bit-exact against diffusers run with correctly rounded float32 `sqrt` / `log` / `expm1`;
//! like DPM-Solver, it amplifies the ulp-level differences of torch's (MKL) sqrt and log.
//!
//! diffusers quirk kept: with `solver_type` bh1 and `final_sigmas_type` zero, the last
//! predictor step multiplies an infinite `B(h)` by zero, so the final sample is NaN.
//!
//! Not supported (`Unsupported`): solver order 3 and above (a general linear solve),
//! `thresholding`, `solver_p`, and the exponential / beta / flow sigma schedules.

use super::config::reject_unsupported_flags;
use super::numeric::expm1_32;
use super::schedule::{Schedule, StepRule};
use super::sigmas::{
    alpha_sigma, final_sigma_is_zero, interp_sigmas, karras_schedule, lambda, sigma_alphas_cumprod,
    train_sigmas, SigmaSchedule,
};
use super::timesteps::multistep_timesteps;
use super::{PredictionType, SchedulerConfig};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// UniPC state for one generation.
pub struct UniPc {
    /// One sigma per timestep plus the final one; counted.
    schedule: SigmaSchedule,
    prediction: PredictionType,
    predict_x0: bool,
    bh2: bool,
    solver_order: usize,
    lower_order_final: bool,
    disable_corrector: Vec<i64>,
    /// Converted model outputs, oldest first (`solver_order` slots).
    model_outputs: Vec<Option<Vec<f32>>>,
    lower_order_nums: usize,
    this_order: usize,
    last_sample: Option<Vec<f32>>,
}

/// The float32 0-dim quantities both UniP and UniC start from, between the sigmas at
/// `s0` (earlier) and `t` (later).
struct Coeffs {
    alpha_t: f32,
    sigma_t: f32,
    alpha_s0: f32,
    sigma_s0: f32,
    lambda_s0: f32,
    h: f32,
    hh: f32,
    h_phi_1: f32,
    b_h: f32,
}

impl UniPc {
    /// `UniPCMultistepScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<UniPc> {
        const CLASS: &str = "UniPCMultistepScheduler";
        let bh2 = match config.str_or("solver_type", "bh2")?.as_str() {
            "bh1" => false,
            // diffusers registers DPM-Solver's solver types as bh2.
            "bh2" | "midpoint" | "heun" | "logrho" => true,
            other => {
                return Err(Error::model(format!(
                    "{CLASS}: unknown solver_type '{other}'"
                )))
            }
        };
        let solver_order = config.usize_or("solver_order", 2)?;
        match solver_order {
            1 | 2 => {}
            0 => {
                return Err(Error::model(format!(
                    "{CLASS}: solver_order must be at least 1"
                )))
            }
            n => {
                return Err(Error::unsupported(format!(
                    "{CLASS} with solver_order {n} is not supported (1 or 2)"
                )))
            }
        }
        reject_unsupported_flags(config, CLASS, &["thresholding"])?;
        if !matches!(config.str_or("solver_p", ""), Ok(p) if p.is_empty()) {
            return Err(Error::unsupported(format!(
                "{CLASS} with solver_p is not supported"
            )));
        }
        reject_unsupported_flags(
            config,
            CLASS,
            &[
                "use_exponential_sigmas",
                "use_beta_sigmas",
                "use_flow_sigmas",
                "use_dynamic_shifting",
            ],
        )?;
        let final_zero = final_sigma_is_zero(config, CLASS)?;
        let disable_corrector: Vec<i64> = config
            .f64_list("disable_corrector")?
            .unwrap_or_default()
            .iter()
            .map(|&x| x as i64)
            .collect();

        let ac = sigma_alphas_cumprod(config)?;
        let train = train_sigmas(&ac);
        let (sigmas64, timesteps, sigma_last) = if config.bool_or("use_karras_sigmas", false)? {
            let (s, t) = karras_schedule(config, steps, &train, true)?;
            // sigma_min: the last Karras sigma (float64), not the training one.
            let last = s.last().copied().unwrap_or(0.0) as f32;
            (s, t, last)
        } else {
            let t = multistep_timesteps(config, steps, config.num_train_timesteps()?)?;
            (interp_sigmas(&t, &train), t, train[0])
        };
        let mut sigmas: Vec<f32> = sigmas64.iter().map(|&s| s as f32).collect();
        sigmas.push(if final_zero { 0.0 } else { sigma_last });
        let timesteps: Vec<f64> = timesteps.iter().map(|&t| t as f64).collect();
        Ok(UniPc {
            schedule: SigmaSchedule::multistep(CLASS, timesteps, sigmas)?,
            prediction: config.prediction_type()?,
            predict_x0: config.bool_or("predict_x0", true)?,
            bh2,
            solver_order,
            lower_order_final: config.bool_or("lower_order_final", true)?,
            disable_corrector,
            model_outputs: vec![None; solver_order],
            lower_order_nums: 0,
            this_order: 0,
            last_sample: None,
        })
    }

    /// `convert_model_output`: the predicted clean sample (`predict_x0`) or noise.
    fn convert(&self, model_output: &[f32], sample: &[f32], idx: usize) -> Vec<f32> {
        let (alpha_t, sigma_t) = alpha_sigma(self.schedule.sigma(idx));
        model_output
            .iter()
            .zip(sample)
            .map(|(&m, &s)| match (self.predict_x0, self.prediction) {
                (true, PredictionType::Epsilon) => (s - sigma_t * m) / alpha_t,
                (true, PredictionType::VPrediction) => alpha_t * s - sigma_t * m,
                (true, PredictionType::Sample) => m,
                (false, PredictionType::Epsilon) => m,
                (false, PredictionType::VPrediction) => alpha_t * m + sigma_t * s,
                (false, PredictionType::Sample) => (s - alpha_t * m) / sigma_t,
            })
            .collect()
    }

    /// The step from sigma index `s0` to `t` (`h`, `h * phi_1(h)`, `B(h)`, ...).
    fn coeffs(&self, s0: usize, t: usize) -> Coeffs {
        let (alpha_t, sigma_t) = alpha_sigma(self.schedule.sigma(t));
        let (alpha_s0, sigma_s0) = alpha_sigma(self.schedule.sigma(s0));
        let lambda_t = lambda(alpha_t, sigma_t);
        let lambda_s0 = lambda(alpha_s0, sigma_s0);
        let h = lambda_t - lambda_s0;
        let hh = if self.predict_x0 { -h } else { h };
        let h_phi_1 = expm1_32(hh);
        Coeffs {
            alpha_t,
            sigma_t,
            alpha_s0,
            sigma_s0,
            lambda_s0,
            h,
            hh,
            h_phi_1,
            b_h: if self.bh2 { expm1_32(hh) } else { hh },
        }
    }

    /// `rk = (lambda_si - lambda_s0) / h` for the earlier sigma index `si`.
    fn rk(&self, c: &Coeffs, si: usize) -> f32 {
        let (alpha_si, sigma_si) = alpha_sigma(self.schedule.sigma(si));
        (lambda(alpha_si, sigma_si) - c.lambda_s0) / c.h
    }

    /// `x_t_`, the first-order part shared by UniP and UniC, and the factor of the
    /// higher-order residual (`alpha_t * B(h)` or `sigma_t * B(h)`).
    fn base(&self, c: &Coeffs) -> (f32, f32, f32) {
        if self.predict_x0 {
            (
                c.sigma_t / c.sigma_s0,
                c.alpha_t * c.h_phi_1,
                c.alpha_t * c.b_h,
            )
        } else {
            (
                c.alpha_t / c.alpha_s0,
                c.sigma_t * c.h_phi_1,
                c.sigma_t * c.b_h,
            )
        }
    }

    fn output(&self, back: usize) -> &[f32] {
        let n = self.model_outputs.len();
        self.model_outputs[n - 1 - back].as_deref().unwrap_or(&[])
    }

    /// `multistep_uni_p_bh_update` of the given order, from the sample at `idx`.
    fn predictor(&self, idx: usize, order: usize, x: &mut [f32]) {
        let c = self.coeffs(idx, idx + 1);
        let (c_x, c_m, c_r) = self.base(&c);
        let m0 = self.output(0);
        if order >= 2 {
            let rk = self.rk(&c, idx - 1);
            let m1 = self.output(1);
            // rhos_p = [0.5]; pred_res = 0.5 * D1, D1 = (m1 - m0) / rk.
            for ((x, &a), &b) in x.iter_mut().zip(m0).zip(m1) {
                *x = (c_x * *x - c_m * a) - c_r * (0.5 * ((b - a) / rk));
            }
        } else {
            // pred_res = 0: `alpha_t * B_h * 0` (NaN when B_h is infinite, as in diffusers).
            let r = c_r * 0.0;
            for (x, &a) in x.iter_mut().zip(m0) {
                *x = (c_x * *x - c_m * a) - r;
            }
        }
    }

    /// `multistep_uni_c_bh_update` of the given order: corrects `x` (the sample at `idx`)
    /// from `last_sample` with the new converted output `model_t`.
    fn corrector(&self, idx: usize, order: usize, model_t: &[f32], last: &[f32]) -> Vec<f32> {
        let c = self.coeffs(idx - 1, idx);
        let (c_x, c_m, c_r) = self.base(&c);
        let m0 = self.output(0);
        // b_i = h_phi_k * i! / B_h, h_phi_k = h_phi_(k-1) / hh - 1 / k!.
        let h_phi_k = c.h_phi_1 / c.hh - 1.0;
        let b1 = h_phi_k / c.b_h;
        let h_phi_k = h_phi_k / c.hh - 0.5;
        let b2 = h_phi_k * 2.0 / c.b_h;
        if order >= 2 {
            let rk = self.rk(&c, idx - 2);
            let (rho0, rho1) = solve_2x2(rk, b1, b2);
            let m1 = self.output(1);
            model_t
                .iter()
                .zip(last)
                .zip(m0)
                .zip(m1)
                .map(|(((&mt, &x), &a), &b)| {
                    let corr_res = rho0 * ((b - a) / rk);
                    (c_x * x - c_m * a) - c_r * (corr_res + rho1 * (mt - a))
                })
                .collect()
        } else {
            model_t
                .iter()
                .zip(last)
                .zip(m0)
                .map(|((&mt, &x), &a)| (c_x * x - c_m * a) - c_r * (0.5 * (mt - a)))
                .collect()
        }
    }
}

/// `torch.linalg.solve([[1, 1], [rk, 1]], [b1, b2])` in float32 as LAPACK's `sgesv` (MKL)
/// evaluates it: LU with partial pivoting (rows swapped when `|rk| > 1`), then forward and
/// back substitution multiplying by the reciprocal of each pivot.
fn solve_2x2(rk: f32, b1: f32, b2: f32) -> (f32, f32) {
    // Rows (a00, 1 | c0) and (a10, 1 | c1) after pivoting.
    let (a00, a10, c0, c1) = if rk.abs() > 1.0 {
        (rk, 1.0f32, b2, b1)
    } else {
        (1.0f32, rk, b1, b2)
    };
    let l = a10 / a00;
    let u11 = 1.0 - l;
    let y1 = c1 - l * c0;
    let x1 = y1 * (1.0 / u11);
    let x0 = (c0 - x1) * (1.0 / a00);
    (x0, x1)
}

impl StepRule for UniPc {
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
        let n = self.schedule.timesteps().len();
        let idx = self.schedule.index(i)?;
        let use_corrector = idx > 0 && !self.disable_corrector.contains(&(idx as i64 - 1));
        let converted = self.convert(model_output, sample, idx);
        if use_corrector {
            if let Some(last) = self.last_sample.take() {
                let corrected = self.corrector(idx, self.this_order, &converted, &last);
                sample.copy_from_slice(&corrected);
            }
        }
        self.model_outputs.remove(0);
        self.model_outputs.push(Some(converted));
        let order = if self.lower_order_final {
            self.solver_order.min(n - idx)
        } else {
            self.solver_order
        };
        self.this_order = order.min(self.lower_order_nums + 1);
        self.last_sample = Some(sample.to_vec());
        self.predictor(idx, self.this_order, sample);
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

    #[test]
    fn solves_the_corrector_system_on_both_pivot_branches() {
        for (rk, b1, b2) in [(-0.8f32, 0.3f32, -0.7f32), (-1.7, 0.3, -0.7)] {
            let (x0, x1) = solve_2x2(rk, b1, b2);
            assert!((x0 + x1 - b1).abs() < 1e-6);
            assert!((rk * x0 + x1 - b2).abs() < 1e-6);
        }
    }

    #[test]
    fn order_3_is_unsupported() {
        let mut c = SchedulerConfig::default();
        c.set("solver_order", 3.into());
        assert!(UniPc::new(&c, 10).is_err());
    }
}
