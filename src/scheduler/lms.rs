//! diffusers' `LMSDiscreteScheduler`: linear multistep (order 4) on the k-diffusion sigmas,
//! all three timestep spacings with `steps_offset`, `use_karras_sigmas`, and epsilon /
//! v-prediction / sample models.
//!
//! The LMS coefficients are what `scipy.integrate.quad` returns for diffusers' integrand:
//! the integrand (a product of Lagrange basis factors) is evaluated on float32 0-dim tensors,
//! so quad sees float32-rounded values; with these smooth, low-degree integrands QUADPACK
//! accepts its first 21-point Gauss-Kronrod estimate, which is reproduced here sum for sum.
//! Where quad would subdivide (nearly coincident sigmas), the exact polynomial integral is
//! used instead.
//!
//! Bit-exact against diffusers run with a correctly rounded float32 sqrt; the coefficients
//! amplify one-ulp differences in the training sigmas (torch's MKL sqrt), more so with many
//! steps.
//!
//! The class has no `rescale_betas_zero_snr`: diffusers ignores that key, and so does this.
//!
//! Not supported (`Unsupported`): `use_exponential_sigmas`, `use_beta_sigmas`.

use super::config::reject_unsupported_flags;
use super::numeric::np_interp_arange;
use super::prediction::sigma_x0;
use super::schedule::StepRule;
use super::sigmas::{karras_sigmas, sigmas_to_t, train_sigmas, Indexing, SigmaSchedule};
use super::timesteps::float_timesteps;
use super::{BetaDefaults, PredictionType, SchedulerConfig, TimestepSpacing};
use crate::error::Result;
use crate::rng::NoiseSource;

/// The order diffusers' `step` uses by default.
const ORDER: usize = 4;

/// LMS state for one generation.
pub struct Lms {
    /// One sigma per timestep plus the final zero; counted.
    schedule: SigmaSchedule,
    prediction: PredictionType,
    /// The last `ORDER` derivatives, oldest first.
    derivatives: Vec<Vec<f32>>,
}

impl Lms {
    /// `LMSDiscreteScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Lms> {
        const CLASS: &str = "LMSDiscreteScheduler";
        reject_unsupported_flags(
            config,
            CLASS,
            &["use_exponential_sigmas", "use_beta_sigmas"],
        )?;
        let karras = config.bool_or("use_karras_sigmas", false)?;
        // Not a parameter of this class: from_config drops it.
        let mut config = config.clone();
        config.set("rescale_betas_zero_snr", false.into());
        let ac = config.alphas_cumprod(BetaDefaults::LINEAR)?;
        let train = train_sigmas(&ac);
        let timesteps = float_timesteps(&config, steps)?;
        let mut sigmas: Vec<f64> = timesteps
            .iter()
            .map(|&t| np_interp_arange(t as f64, &train))
            .collect();
        let timesteps: Vec<f64> = if karras {
            // LMS's own _convert_to_karras: the ends of the interpolated sigmas, no config
            // override; timesteps stay fractional.
            let (min, max) = (sigmas[sigmas.len() - 1], sigmas[0]);
            sigmas = karras_sigmas(min, max, steps);
            sigmas_to_t(&sigmas, &train)
                .iter()
                .map(|&t| t as f32 as f64)
                .collect()
        } else {
            timesteps.iter().map(|&t| t as f64).collect()
        };
        let mut sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        sigmas.push(0.0);
        let spacing = config.timestep_spacing(TimestepSpacing::Linspace)?;
        Ok(Lms {
            schedule: SigmaSchedule::k_diffusion(
                CLASS,
                timesteps,
                sigmas,
                spacing,
                Indexing::Counter,
            )?,
            prediction: config.prediction_type()?,
            derivatives: Vec::new(),
        })
    }
}

/// 21-point Gauss-Kronrod nodes (QUADPACK `dqk21`), descending, the last one the centre.
#[allow(clippy::excessive_precision)] // QUADPACK's published digits, as scipy's C source
const XGK: [f64; 11] = [
    0.995_657_163_025_808_080_735_527_280_689_003,
    0.973_906_528_517_171_720_077_964_012_084_452,
    0.930_157_491_355_708_226_001_207_180_059_508,
    0.865_063_366_688_984_510_732_096_688_423_493,
    0.780_817_726_586_416_897_063_717_578_345_042,
    0.679_409_568_299_024_406_234_327_365_114_874,
    0.562_757_134_668_604_683_339_000_099_272_694,
    0.433_395_394_129_247_190_799_265_943_165_784,
    0.294_392_862_701_460_198_131_126_603_103_866,
    0.148_874_338_981_631_210_884_826_001_129_720,
    0.0,
];

/// Their Kronrod weights.
#[allow(clippy::excessive_precision)] // QUADPACK's published digits, as scipy's C source
const WGK: [f64; 11] = [
    0.011_694_638_867_371_874_278_064_396_062_192,
    0.032_558_162_307_964_727_478_818_972_459_390,
    0.054_755_896_574_351_996_031_381_300_244_580,
    0.075_039_674_810_919_952_767_043_140_916_190,
    0.093_125_454_583_697_605_535_065_465_083_366,
    0.109_387_158_802_297_641_899_210_590_325_805,
    0.123_491_976_262_065_851_077_208_980_292_348,
    0.134_709_217_311_473_325_928_054_001_771_707,
    0.142_775_938_577_060_080_797_094_273_138_717,
    0.147_739_104_901_338_491_374_841_515_972_068,
    0.149_445_554_002_916_905_664_936_468_389_821,
];

/// The 10-point Gauss weights of the odd-indexed nodes.
#[allow(clippy::excessive_precision)] // QUADPACK's published digits, as scipy's C source
const WG: [f64; 5] = [
    0.066_671_344_308_688_137_593_568_809_893_332,
    0.149_451_349_150_580_593_145_776_339_657_697,
    0.219_086_362_515_982_043_995_534_934_228_163,
    0.269_266_719_309_996_355_091_226_921_569_469,
    0.295_524_224_714_752_870_173_892_994_651_338,
];

/// `scipy.integrate.quad(f, a, b, epsrel=1e-4)` when QUADPACK's `dqagse` stops after its
/// first `dqk21` estimate (the result), or `None` when it would go on subdividing.
fn quad_first_estimate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> Option<f64> {
    let centr = 0.5 * (a + b);
    let hlgth = 0.5 * (b - a);
    let dhlgth = hlgth.abs();
    let mut resg = 0.0f64;
    let fc = f(centr);
    let mut resk = WGK[10] * fc;
    let mut resabs = resk.abs();
    let mut fv1 = [0.0f64; 10];
    let mut fv2 = [0.0f64; 10];
    // Gauss nodes (1-based even indices) first, then the Kronrod-only ones, as dqk21 does.
    for j in 1..=5 {
        let jtw = 2 * j - 1; // 0-based index of QUADPACK's jtw = 2j
        let absc = hlgth * XGK[jtw];
        let (f1, f2) = (f(centr - absc), f(centr + absc));
        fv1[jtw] = f1;
        fv2[jtw] = f2;
        let fsum = f1 + f2;
        resg += WG[j - 1] * fsum;
        resk += WGK[jtw] * fsum;
        resabs += WGK[jtw] * (f1.abs() + f2.abs());
    }
    for j in 1..=5 {
        let jtwm1 = 2 * j - 2; // 0-based index of QUADPACK's jtwm1 = 2j - 1
        let absc = hlgth * XGK[jtwm1];
        let (f1, f2) = (f(centr - absc), f(centr + absc));
        fv1[jtwm1] = f1;
        fv2[jtwm1] = f2;
        let fsum = f1 + f2;
        resk += WGK[jtwm1] * fsum;
        resabs += WGK[jtwm1] * (f1.abs() + f2.abs());
    }
    let reskh = resk * 0.5;
    let mut resasc = WGK[10] * (fc - reskh).abs();
    for j in 0..10 {
        resasc += WGK[j] * ((fv1[j] - reskh).abs() + (fv2[j] - reskh).abs());
    }
    let result = resk * hlgth;
    resabs *= dhlgth;
    resasc *= dhlgth;
    let mut abserr = ((resk - resg) * hlgth).abs();
    if resasc != 0.0 && abserr != 0.0 {
        abserr = resasc * (200.0 * abserr / resasc).powf(1.5).min(1.0);
    }
    let epmach = f64::EPSILON;
    if resabs > f64::MIN_POSITIVE / (50.0 * epmach) {
        abserr = abserr.max(epmach * 50.0 * resabs);
    }
    // dqagse with epsabs = 1.49e-8, epsrel = 1e-4: the first estimate is final on a
    // roundoff error (ier 2), when it meets the tolerance, or when it is exact.
    let errbnd = 1.49e-8f64.max(1e-4 * result.abs());
    let roundoff = abserr <= 100.0 * epmach * resabs && abserr > errbnd;
    if roundoff || (abserr <= errbnd && abserr != resabs) || abserr == 0.0 {
        Some(result)
    } else {
        None
    }
}

/// `get_lms_coefficient(order, t, current_order)`: the integral from `sigmas[t]` to
/// `sigmas[t + 1]` of the Lagrange basis polynomial of node `t - current_order` over the
/// nodes `sigmas[t - k]`, `k < order`.
fn lms_coefficient(sigmas: &[f32], order: usize, t: usize, current: usize) -> f64 {
    let others: Vec<usize> = (0..order).filter(|&k| k != current).collect();
    let node = sigmas[t - current];
    // diffusers' integrand: `prod *= (tau - sigmas[t - k]) / (sigmas[t - current] -
    // sigmas[t - k])` on float32 0-dim tensors, tau (a Python float) cast to float32.
    let integrand = |tau: f64| -> f64 {
        let tau = tau as f32;
        let mut prod: Option<f32> = None;
        for &k in &others {
            let v = (tau - sigmas[t - k]) / (node - sigmas[t - k]);
            prod = Some(match prod {
                None => v,
                Some(p) => p * v,
            });
        }
        prod.map_or(1.0, f64::from)
    };
    let (a, b) = (sigmas[t] as f64, sigmas[t + 1] as f64);
    quad_first_estimate(integrand, a, b)
        .unwrap_or_else(|| lagrange_integral(sigmas, order, t, current))
}

/// The exact integral of the same basis polynomial, in float64 (monomial coefficients,
/// Horner): what quad converges to where it subdivides.
fn lagrange_integral(sigmas: &[f32], order: usize, t: usize, current: usize) -> f64 {
    let node = sigmas[t - current] as f64;
    let mut poly = vec![1.0f64];
    for k in (0..order).filter(|&k| k != current) {
        let xk = sigmas[t - k] as f64;
        let denom = node - xk;
        let mut next = vec![0.0f64; poly.len() + 1];
        for (d, &c) in poly.iter().enumerate() {
            next[d + 1] += c / denom;
            next[d] -= c * xk / denom;
        }
        poly = next;
    }
    let antiderivative = |x: f64| {
        poly.iter()
            .enumerate()
            .rev()
            .fold(0.0, |acc, (d, &c)| acc * x + c / (d + 1) as f64)
            * x
    };
    antiderivative(sigmas[t + 1] as f64) - antiderivative(sigmas[t] as f64)
}

impl StepRule for Lms {
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
        let idx = self.schedule.index(i)?;
        let sigma = self.schedule.sigma(idx);
        let derivative: Vec<f32> = sample
            .iter()
            .zip(model_output)
            .map(|(&s, &m)| (s - sigma_x0(self.prediction, sigma, s, m)) / sigma)
            .collect();
        self.derivatives.push(derivative);
        if self.derivatives.len() > ORDER {
            self.derivatives.remove(0);
        }
        let order = (idx + 1).min(ORDER);
        let coeffs: Vec<f32> = (0..order)
            .map(|c| lms_coefficient(self.schedule.sigmas(), order, idx, c) as f32)
            .collect();
        // sample + sum(coeff * derivative for newest-first derivatives), summed from 0.
        for (k, s) in sample.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (c, d) in coeffs.iter().zip(self.derivatives.iter().rev()) {
                acc += c * d[k];
            }
            *s += acc;
        }
        self.schedule.advance(idx);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_kronrod_estimate_integrates_polynomials() {
        let r = quad_first_estimate(|x| 3.0 * x * x, 2.0, 0.5).unwrap();
        assert!((r - (0.125 - 8.0)).abs() < 1e-13);
    }

    #[test]
    fn coefficients_of_a_step_sum_to_its_length() {
        // The Lagrange basis sums to one, so the coefficients integrate to sigma[t+1] - sigma[t].
        let sigmas = [14.6f32, 9.1, 5.2, 2.9, 1.4, 0.0];
        for t in 0..5 {
            let order = (t + 1).min(ORDER);
            let sum: f64 = (0..order)
                .map(|c| lms_coefficient(&sigmas, order, t, c))
                .sum();
            let want = (sigmas[t + 1] - sigmas[t]) as f64;
            assert!(
                (sum - want).abs() < 1e-5 * want.abs(),
                "t {t}: {sum} vs {want}"
            );
        }
    }

    #[test]
    fn noisy_integrands_are_left_to_the_exact_integral() {
        assert!(quad_first_estimate(|x| (x * 1e6).sin(), 0.0, 1.0).is_none());
    }

    #[test]
    fn exact_integral_of_the_lagrange_basis() {
        // Order 2 over nodes 9.1 (current 0) and 14.6: basis (tau - 14.6) / (9.1 - 14.6),
        // integrated from 9.1 to 5.2.
        let sigmas = [14.6f32, 9.1, 5.2];
        let (x0, x1, a, b) = (14.6f32 as f64, 9.1f32 as f64, 9.1f32 as f64, 5.2f32 as f64);
        let want = ((b - x0).powi(2) - (a - x0).powi(2)) / 2.0 / (x1 - x0);
        let got = lagrange_integral(&sigmas, 2, 1, 0);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        let quad = lms_coefficient(&sigmas, 2, 1, 0);
        assert!((quad - want).abs() < 1e-6, "{quad} vs {want}");
    }
}
