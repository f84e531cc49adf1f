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
