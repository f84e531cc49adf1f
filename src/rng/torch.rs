//! PyTorch's CPU generator, reproduced bit for bit:
//! `torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))` in float32.
//!
//! See [`TorchGenerator`] for what torch does and which of its code paths are reproduced.

use std::f64::consts::PI;

use super::NumpyRandomState;

/// Which of torch's Box-Muller kernels for 16+ elements is reproduced. Both use the same
/// uniforms and the same pairing; they differ only in the float32 `log`, `sin` and `cos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// `NormalFill16<float>` with `avx_mathfun.h`, written out in portable Rust.
    Avx2,
    /// The generic `NormalFill16` on the platform's `logf`, `cosf` and `sinf`.
    Scalar,
}

/// Reproduces `torch.Generator("cpu").manual_seed(seed)` followed by successive
/// `torch.randn(..., generator=g, dtype=torch.float32)` calls, bit for bit.
///
/// What torch does (ATen, CPU):
///
/// - **Engine.** `CPUGeneratorImpl` wraps an MT19937 seeded with `init_genrand` from the low
///   32 bits of the 64-bit seed (`seed & 0xffffffff`; seeds `s` and `s + 2**32` give the same
///   stream). `random()` is one 32-bit draw; `random64()` is two, the first one as the high
///   half. The generator also holds a cached second Box-Muller value
///   (`next_double_normal_sample`), empty after seeding.
/// - **`normal_` on 16 or more contiguous elements** (`normal_fill`): first every element gets
///   a float uniform `(random() & 0xffffff) * 2**-24`, in order. Then each full block of 16 is
///   transformed in place by Box-Muller, element `j` paired with `j + 8` (`j < 8`):
///   `u1 = 1 - d[j]`, `u2 = d[j + 8]`, `r = sqrt(-2 ln u1)`, `theta = 2 pi u2`,
///   `d[j] = r cos theta`, `d[j + 8] = r sin theta`. When the count is not a multiple of 16,
///   16 fresh uniforms overwrite the *last* 16 elements (overlapping the last full block) and
///   that window is transformed again. The cached sample is neither read nor written.
/// - **`normal_` on fewer than 16 elements** (the serial `at::normal_distribution<double>`):
///   each element takes the cached sample if there is one (clearing it); otherwise it draws
///   `u1` then `u2` as doubles `(random64() & (2**53 - 1)) * 2**-53`, returns
///   `r cos theta` with `r = sqrt(-2 log1p(-u2))`, `theta = 2 pi u1`, and caches `r sin theta`
///   for the next small draw. Values are computed in f64 and cast to f32. So `randn(1)` twice
///   equals `randn(2)`, and a cache left by an odd small call survives any number of calls of
///   16+ elements in between.
/// - **Which Box-Muller kernel.** The 16-element transform is compiled per CPU capability.
///   `normal_` is never dispatched to the AVX-512 build, so both AVX2 and AVX-512 CPUs run the
///   AVX2 kernel: eight lanes of float32 math using `log256_ps` and `sincos256_ps` from
///   `avx_mathfun.h` (Cephes polynomials). GCC built it with its default floating-point
///   contraction, so a multiply that feeds an add became a fused multiply-add. Where an add
///   takes two products, the first one is fused. The Rust code writes out each of these FMAs;
///   where they are was found by comparing against torch's output. CPUs without AVX2,
///   `ATEN_CPU_CAPABILITY=default`, and non-x86 builds (aarch64, Apple silicon) run a scalar
///   kernel calling the C library's `logf`, `cosf` and `sinf`; its values differ from the AVX2
///   kernel's in the last bits.
///
/// [`TorchGenerator::new`] reproduces the AVX2 kernel, which is what torch uses on x86-64
/// machines from roughly 2013 on (Intel Haswell, AMD Excavator and later). Its float32
/// operations (Cephes polynomials, FMAs included) are written out in portable Rust, so the
/// result is the same on every platform sdrt runs on.
/// [`TorchGenerator::with_scalar_kernel`] reproduces the scalar kernel by calling the
/// platform's `logf`, `cosf` and `sinf` as torch does. It matches torch only where both use the
/// same C math library. This was checked against glibc on x86-64 Linux; macOS and Windows were
/// not checked.
///
/// The small-tensor path calls the platform's `log1p`, `sin` and `cos` in f64, as torch does.
/// Its f32 results can only differ from torch on a platform whose f64 functions round
/// differently from glibc, and then only for a value within one f64 ulp of an f32 rounding
/// boundary.
#[derive(Clone)]
pub struct TorchGenerator {
    /// MT19937 seeded by `init_genrand(seed as u32)`. This is the same engine as numpy's
    /// legacy `RandomState`.
    engine: NumpyRandomState,
    kernel: Kernel,
    /// `CPUGeneratorImpl::next_double_normal_sample_`.
    next_double_normal: Option<f64>,
}

impl TorchGenerator {
    /// `torch.Generator("cpu").manual_seed(seed)`, reproducing torch's AVX2 kernel. That is
    /// the kernel x86-64 machines with AVX2 or AVX-512 use. The result is the same on every
    /// platform sdrt runs on. Only the low 32 bits of `seed` matter, as in torch. A negative
    /// Python seed `s` corresponds to `s as u64` (two's complement).
    pub fn new(seed: u64) -> TorchGenerator {
        TorchGenerator::with_kernel(seed, Kernel::Avx2)
    }

    /// Like [`TorchGenerator::new`], but calls of 16 or more elements reproduce torch's
    /// scalar kernel instead. Torch uses that kernel on x86-64 CPUs without AVX2
    /// (`ATEN_CPU_CAPABILITY=default`) and on other architectures (aarch64, Apple silicon).
    /// Like torch, it calls the platform's `logf`, `cosf` and `sinf`, so it matches torch only
    /// where both use the same C math library. Checked against glibc on x86-64 Linux. Calls of
    /// fewer than 16 elements are the same for both constructors.
    pub fn with_scalar_kernel(seed: u64) -> TorchGenerator {
        TorchGenerator::with_kernel(seed, Kernel::Scalar)
    }

    fn with_kernel(seed: u64, kernel: Kernel) -> TorchGenerator {
        TorchGenerator {
            // torch: `state[0] = seed & 0xffffffff`, then the usual init_genrand recurrence.
            engine: NumpyRandomState::new(seed as u32),
            kernel,
            next_double_normal: None,
        }
    }

    /// `torch.randn(count)` as float32. The result depends only on the element count: a
    /// contiguous tensor of any shape gets these values in C order. Successive calls continue
    /// the stream exactly as successive `torch.randn` calls on one generator do. `count == 0`
    /// draws nothing.
    pub fn randn(&mut self, count: usize) -> Vec<f32> {
        if count < 16 {
            return (0..count).map(|_| self.normal_f64() as f32).collect();
        }
        let mut data: Vec<f32> = (0..count).map(|_| self.uniform_f32()).collect();
        let box_muller: fn(&mut [f32]) = match self.kernel {
            Kernel::Avx2 => box_muller16_avx2,
            Kernel::Scalar => box_muller16_scalar,
        };
        for block in data.chunks_exact_mut(16) {
            box_muller(block);
        }
        if !count.is_multiple_of(16) {
            let tail = &mut data[count - 16..];
            for v in tail.iter_mut() {
                *v = self.uniform_f32();
            }
            box_muller(tail);
        }
        data
    }

    /// `CPUGeneratorImpl::random64`: two 32-bit draws, the first one as the high half.
    fn random64(&mut self) -> u64 {
        let hi = self.engine.next_u32() as u64;
        let lo = self.engine.next_u32() as u64;
        (hi << 32) | lo
    }

    /// `at::uniform_real_distribution<float>(0, 1)`: the low 24 bits of one draw, over 2**24.
    fn uniform_f32(&mut self) -> f32 {
        (self.engine.next_u32() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0)
    }

    /// `at::uniform_real_distribution<double>(0, 1)`: the low 53 bits of `random64`, over 2**53.
    fn uniform_f64(&mut self) -> f64 {
        (self.random64() & ((1u64 << 53) - 1)) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `at::normal_distribution<double>(0, 1)` with the generator's cached second sample.
    fn normal_f64(&mut self) -> f64 {
        // `transformation::normal(v, 0, 1)` is `v * 1 + 0`, which only turns -0 into +0.
        if let Some(v) = self.next_double_normal.take() {
            return v + 0.0;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * PI * u1;
        self.next_double_normal = Some(r * theta.sin());
        r * theta.cos() + 0.0
    }
}

/// torch's scalar `NormalFill16<float>` on `d[0..16]` (uniforms in, normals out).
fn box_muller16_scalar(d: &mut [f32]) {
    for j in 0..8 {
        let u1 = 1.0 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        // `2.0f * c10::pi<double> * u2` is evaluated in double, then stored as float.
        let theta = (2.0 * PI * u2 as f64) as f32;
        // `std::fma(x, std = 1, mean = 0)` is `x + 0`.
        d[j] = radius * theta.cos() + 0.0;
        d[j + 8] = radius * theta.sin() + 0.0;
    }
}

/// torch's AVX2 `NormalFill16<float>` on `d[0..16]`. Each AVX lane is computed independently,
/// so lane `j` here is plain f32 arithmetic in the same order.
fn box_muller16_avx2(d: &mut [f32]) {
    for j in 0..8 {
        let u1 = 1.0 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0 * log_avx(u1)).sqrt();
        let theta = TWO_PI * u2;
        let (sin, cos) = sincos_avx(theta);
        // `_mm256_fmadd_ps(n, std = 1, mean = 0)` is `n + 0`.
        d[j] = radius * cos + 0.0;
        d[j + 8] = radius * sin + 0.0;
    }
}

// Constants of `avx_mathfun.h`, as the float bit patterns the C initializers produce.
/// `(float)(2.0 * pi)`, 6.2831855.
const TWO_PI: f32 = f32::from_bits(0x40c9_0fdb);
/// `cephes_SQRTHF`, sqrt(1/2).
const SQRTHF: f32 = f32::from_bits(0x3f35_04f3);
/// `cephes_log_p0` ... `cephes_log_p8` (7.0376836292E-2 ... 3.3333331174E-1).
const LOG_P: [f32; 9] = [
    f32::from_bits(0x3d90_21bb),
    f32::from_bits(0xbdeb_d1b8),
    f32::from_bits(0x3def_251a),
    f32::from_bits(0xbdfe_5d4f),
    f32::from_bits(0x3e11_e9bf),
    f32::from_bits(0xbe2a_ae50),
    f32::from_bits(0x3e4c_ceac),
    f32::from_bits(0xbe7f_fffc),
    f32::from_bits(0x3eaa_aaaa),
];
/// `cephes_log_q1`, -2.12194440e-4.
const LOG_Q1: f32 = f32::from_bits(0xb95e_8083);
/// `cephes_log_q2`, 0.693359375.
const LOG_Q2: f32 = f32::from_bits(0x3f31_8000);
/// `minus_cephes_DP1..3`: -pi/4 split in three parts.
const MINUS_DP: [f32; 3] = [
    f32::from_bits(0xbf49_0000),
    f32::from_bits(0xb97d_a000),
    f32::from_bits(0xb322_2169),
];
/// `sincof_p0..2` (-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1).
const SINCOF: [f32; 3] = [
    f32::from_bits(0xb94c_a1f9),
    f32::from_bits(0x3c08_839e),
    f32::from_bits(0xbe2a_aaa3),
];
/// `coscof_p0..2` (2.443315711809948E-5, -1.388731625493765E-3, 4.166664568298827E-2).
const COSCOF: [f32; 3] = [
    f32::from_bits(0x37cc_f5ce),
    f32::from_bits(0xbab6_061a),
    f32::from_bits(0x3d2a_aaa5),
];
/// `cephes_FOPI`, 4/pi.
const FOPI: f32 = f32::from_bits(0x3fa2_f983);

/// One lane of `log256_ps` as torch's build computes it. Arguments here are in
/// `[2**-24, 1]`, so the invalid-argument mask (NaN for x <= 0) never applies.
fn log_avx(x: f32) -> f32 {
    // Cut off denormals, split into exponent and mantissa in [0.5, 1).
    let x = x.max(f32::MIN_POSITIVE);
    let exponent = (x.to_bits() >> 23) as i32 - 0x7f;
    let mut x = f32::from_bits((x.to_bits() & !0x7f80_0000) | 0.5f32.to_bits());
    let mut e = exponent as f32 + 1.0;
    // if x < sqrt(1/2) { e -= 1; x = x + x - 1 } else { x = x - 1 }, in the header's order.
    let small = x < SQRTHF;
    let tmp = if small { x } else { 0.0 };
    x -= 1.0;
    e -= if small { 1.0 } else { 0.0 };
    x += tmp;
    let z = x * x;
    // Horner; GCC fused every `y * x + p` into one FMA.
    let mut y = LOG_P[0];
    for &p in &LOG_P[1..] {
        y = y.mul_add(x, p);
    }
    y *= x;
    // `y * z + e * q1`: the first product is fused, the second rounded on its own.
    y = y.mul_add(z, e * LOG_Q1);
    // `y - z * 0.5`, fused.
    y = (-z).mul_add(0.5, y);
    x += y;
    e.mul_add(LOG_Q2, x)
}

/// One lane of `sincos256_ps` as torch's build computes it: `(sin x, cos x)`.
fn sincos_avx(x: f32) -> (f32, f32) {
    const SIGN: u32 = 0x8000_0000;
    let mut sign_sin = x.to_bits() & SIGN;
    let mut x = f32::from_bits(x.to_bits() & !SIGN);
    // Octant j (rounded up to even) from x * 4/pi, truncated like `_mm256_cvttps_epi32`
    // (x < 2 pi here, far from the i32 limits).
    let mut j = (x * FOPI) as i32;
    j = j.wrapping_add(1) & !1;
    let y = j as f32;
    let swap_sign_sin = ((j & 4) as u32) << 29;
    let use_sin_poly = (j & 2) == 0;
    // Extended-precision reduction x - j * pi/4, each step fused.
    for &dp in &MINUS_DP {
        x = y.mul_add(dp, x);
    }
    let sign_cos = ((!j.wrapping_sub(2) & 4) as u32) << 29;
    sign_sin ^= swap_sign_sin;

    let z = x * x;
    // Cosine polynomial: 1 - z/2 + z^2 (c0 z^2 + c1 z + c2).
    let mut yc = COSCOF[0].mul_add(z, COSCOF[1]);
    yc = yc.mul_add(z, COSCOF[2]);
    yc *= z;
    // `y * z - z * 0.5`: z * 0.5 is exact, so only the fused y * z matters.
    yc = yc.mul_add(z, -(z * 0.5));
    yc += 1.0;
    // Sine polynomial: x + x z (s0 z^2 + s1 z + s2).
    let mut ys = SINCOF[0].mul_add(z, SINCOF[1]);
    ys = ys.mul_add(z, SINCOF[2]);
    ys *= z;
    ys = ys.mul_add(x, x);

    // Lane selection with bit masks, subtractions and additions, exactly as the header does
    // (this decides the sign of zero results).
    let mask = if use_sin_poly { u32::MAX } else { 0 };
    let ysin2 = f32::from_bits(ys.to_bits() & mask);
    let ysin1 = f32::from_bits(yc.to_bits() & !mask);
    let ys = ys - ysin2;
    let yc = yc - ysin1;
    let sin = ysin1 + ysin2;
    let cos = yc + ys;
    (
        f32::from_bits(sin.to_bits() ^ sign_sin),
        f32::from_bits(cos.to_bits() ^ sign_cos),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_first_values() {
        // torch.randn(16)[0] with seeds 0 and 42, torch.randn(3)[0] with seed 2**64 - 1.
        assert_eq!(TorchGenerator::new(0).randn(16)[0], -1.125_839_8);
        assert_eq!(TorchGenerator::new(42).randn(16)[0], 1.926_915_3);
        assert_eq!(TorchGenerator::new(u64::MAX).randn(3)[0], 1.219_763);
    }

    #[test]
    fn cache_spans_large_calls() {
        let mut a = TorchGenerator::new(7);
        let first = a.randn(1);
        let _ = a.randn(20);
        let second = a.randn(1);
        assert_eq!([first[0], second[0]], *TorchGenerator::new(7).randn(2));
    }

    #[test]
    fn constants_match_the_c_initializers() {
        // The header initializes float arrays from these double literals.
        let f = |lit: &str| lit.parse::<f64>().unwrap() as f32;
        assert_eq!(TWO_PI, (2.0 * PI) as f32);
        assert_eq!(SQRTHF, f("0.707106781186547524"));
        let log_p = [
            "7.0376836292E-2",
            "-1.1514610310E-1",
            "1.1676998740E-1",
            "-1.2420140846E-1",
            "1.4249322787E-1",
            "-1.6668057665E-1",
            "2.0000714765E-1",
            "-2.4999993993E-1",
            "3.3333331174E-1",
        ];
        for (c, lit) in LOG_P.iter().zip(log_p) {
            assert_eq!(*c, f(lit), "{lit}");
        }
        assert_eq!(LOG_Q1, f("-2.12194440e-4"));
        assert_eq!(LOG_Q2, f("0.693359375"));
        let dp = [
            "-0.78515625",
            "-2.4187564849853515625e-4",
            "-3.77489497744594108e-8",
        ];
        for (c, lit) in MINUS_DP.iter().zip(dp) {
            assert_eq!(*c, f(lit), "{lit}");
        }
        let sincof = ["-1.9515295891E-4", "8.3321608736E-3", "-1.6666654611E-1"];
        for (c, lit) in SINCOF.iter().zip(sincof) {
            assert_eq!(*c, f(lit), "{lit}");
        }
        let coscof = [
            "2.443315711809948E-005",
            "-1.388731625493765E-003",
            "4.166664568298827E-002",
        ];
        for (c, lit) in COSCOF.iter().zip(coscof) {
            assert_eq!(*c, f(lit), "{lit}");
        }
        assert_eq!(FOPI, f("1.27323954473516"));
    }
}
