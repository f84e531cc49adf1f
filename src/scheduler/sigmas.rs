//! Sigma-schedule helpers shared by the k-diffusion and multistep schedulers: a sigma's
//! fractional training timestep and the Karras respacing.

use super::numeric::np_linspace;

/// diffusers' `_sigma_to_t`: the fractional training timestep of `sigma`, interpolating the
/// float32 `log_sigmas` (ascending with `t`) as numpy does: `log(max(sigma, 1e-10))` and the
/// weight in float64, except `low - high`, which numpy subtracts in float32.
pub(crate) fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
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
