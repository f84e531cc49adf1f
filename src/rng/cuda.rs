//! PyTorch's CUDA generator reproduced on the CPU, bit for bit:
//! `torch.randn(shape, generator=torch.Generator("cuda").manual_seed(seed), device="cuda")` in
//! float32, as drawn on an NVIDIA H200. This is what A1111 and Forge call the "GPU" seed, what
//! diffusers pipelines draw with a CUDA generator, and what Apple's `nvidiaRNG` approximates.
//!
//! See [`TorchCudaGenerator`] for what torch and the GPU do.

/// Reproduces `torch.Generator("cuda").manual_seed(seed)` (or `torch.manual_seed(seed)` and
/// the default CUDA generator) followed by successive `torch.randn(..., device="cuda")` calls.
///
/// What torch does (ATen `normal_` on CUDA, `distribution_nullary_kernel`, curand):
///
/// - **Launch.** Blocks of 256 threads; `grid = min(ceil(numel / 256), SMs * (max threads per
///   SM / 256))`; `stride = 256 * grid`. Thread `idx` runs `curand_init(seed, idx, offset)`:
///   Philox4x32-10 with key `(seed & 0xffffffff, seed >> 32)` and the 128-bit counter
///   `offset / 4 + (idx << 64)`. Its loop iteration `k` takes one Philox output (four 32-bit
///   words, counter `+ k`) and fills elements `idx + stride * (4 k + i)`, `i = 0..4`, those
///   below `numel`. Up to `stride` elements (up to 270,336 on an H200) every element is its
///   thread's first word pair, so the values do not depend on the GPU; above that they do.
/// - **Offset.** After the call the generator's Philox offset grows by
///   `((numel - 1) / (4 * stride) + 1) * 4` (4 for calls of up to `4 * stride` elements). An
///   empty call draws nothing.
/// - **Box-Muller** (`curand_normal4`, float32): words `(a, b)` give elements `i = 0, 1` and
///   `(c, d)` elements `2, 3`. `u = fma(a, 2**-32, 2**-33)`,
///   `v = fma(b, 2**-32 * 2 pi, 2**-33 * 2 pi)` (words converted to float first, constants
///   rounded to float), `r = sqrt(-2 logf(u))` with CUDA's `logf` (a polynomial, reproduced
///   operation by operation) and a correctly rounded square root. The first element is
///   `r * sin v`, the second `r * cos v`, where sine and cosine are the GPU's fast
///   `__sincosf` (see `sincos_fast` below). `normal_` then computes `x * 1 + 0`.
///
/// float16 draws are these float32 values rounded to float16.
///
/// [`TorchCudaGenerator::new`] assumes an NVIDIA H200 (132 SMs, 2048 threads per SM), where
/// the reference values were drawn. Calls of up to `256 * SMs * (threads per SM / 256)`
/// elements (and the offsets after calls of up to four times that) are the same on every GPU
/// that computes `__sincosf` the same way: 43,008 elements on an RTX 3060 (28 SMs, 1536
/// threads), 196,608 on an RTX 4090 (128 SMs, 1536 threads). A `[1, 4, 64, 64]` latent is
/// 16,384. For larger calls, [`TorchCudaGenerator::with_device`] takes the GPU's figures. The
/// special-function unit's sine and cosine were measured on an H200 (Hopper); other
/// architectures were not checked.
#[derive(Debug, Clone)]
pub struct TorchCudaGenerator {
    seed: u64,
    /// torch's `philox_offset_per_thread`, a multiple of 4.
    offset: u64,
    /// `256 * SMs * (max threads per SM / 256)`: the largest grid's thread count.
    max_threads: u64,
}

/// Threads per block (`block_size_bound`).
const BLOCK: u64 = 256;

impl TorchCudaGenerator {
    /// Multiprocessors of an NVIDIA H200.
    pub const H200_MULTIPROCESSORS: u32 = 132;
    /// Maximum resident threads per multiprocessor of an NVIDIA H200.
    pub const H200_MAX_THREADS_PER_MULTIPROCESSOR: u32 = 2048;

    /// `torch.Generator("cuda").manual_seed(seed)` on an NVIDIA H200. A negative Python seed
    /// `s` corresponds to `s as u64` (two's complement).
    pub fn new(seed: u64) -> TorchCudaGenerator {
        TorchCudaGenerator::with_device(
            seed,
            TorchCudaGenerator::H200_MULTIPROCESSORS,
            TorchCudaGenerator::H200_MAX_THREADS_PER_MULTIPROCESSOR,
        )
    }

    /// Like [`TorchCudaGenerator::new`] on a GPU with `multiprocessors` SMs of
    /// `max_threads_per_multiprocessor` threads each (`torch.cuda.get_device_properties`:
    /// `multi_processor_count`, `max_threads_per_multi_processor`). Only calls of more than
    /// `256 * multiprocessors * (max_threads_per_multiprocessor / 256)` elements depend on
    /// them. Values below one block per SM are taken as one block.
    pub fn with_device(
        seed: u64,
        multiprocessors: u32,
        max_threads_per_multiprocessor: u32,
    ) -> TorchCudaGenerator {
        let blocks_per_sm = (max_threads_per_multiprocessor as u64 / BLOCK).max(1);
        TorchCudaGenerator {
            seed,
            offset: 0,
            max_threads: BLOCK * blocks_per_sm * (multiprocessors as u64).max(1),
        }
    }

    /// The Philox offset the next call starts at (`generator.get_offset()`).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// `torch.randn(count, device="cuda")` as float32. The result depends only on the element
    /// count: a contiguous tensor of any shape gets these values in C order. Successive calls
    /// continue as successive `torch.randn` calls on one generator do.
    pub fn randn(&mut self, count: usize) -> Vec<f32> {
        let mut out = vec![0f32; count];
        if count == 0 {
            return out;
        }
        let n = count as u64;
        let stride = n
            .div_ceil(BLOCK)
            .saturating_mul(BLOCK)
            .min(self.max_threads);
        let key = [self.seed as u32, (self.seed >> 32) as u32];
        let base = (self.offset / 4) as u128;
        for idx in 0..stride.min(n) {
            let mut first = idx;
            let mut k = 0u128;
            while first < n {
                let word = philox4x32_10(base + k + ((idx as u128) << 64), key);
                for pair in 0..2u64 {
                    let at = first + 2 * pair * stride;
                    if at >= n {
                        break;
                    }
                    let p = 2 * pair as usize;
                    let (s, c) = box_muller(word[p], word[p + 1]);
                    out[at as usize] = s;
                    if at + stride < n {
                        out[(at + stride) as usize] = c;
                    }
                }
                first += 4 * stride;
                k += 1;
            }
        }
        self.offset += ((n - 1) / (4 * stride) + 1) * 4;
        out
    }
}

/// Philox4x32-10 (Salmon et al. 2011) as curand computes it: the counter's 32-bit words low
/// first, ten rounds, the key bumped between rounds.
fn philox4x32_10(counter: u128, key: [u32; 2]) -> [u32; 4] {
    const M0: u64 = 0xD251_1F53;
    const M1: u64 = 0xCD9E_8D57;
    const W0: u32 = 0x9E37_79B9;
    const W1: u32 = 0xBB67_AE85;
    let mut c = [
        counter as u32,
        (counter >> 32) as u32,
        (counter >> 64) as u32,
        (counter >> 96) as u32,
    ];
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let p0 = M0 * c[0] as u64;
        let p1 = M1 * c[2] as u64;
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k0,
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k1,
            p0 as u32,
        ];
    }
    c
}

/// curand's `_curand_box_muller` on the GPU, then torch's `x * 1 + 0`: `(r sin v, r cos v)`.
fn box_muller(a: u32, b: u32) -> (f32, f32) {
    // CURAND_2POW32_INV, CURAND_2POW32_INV_2PI and their halves, as float.
    const INV: f32 = f32::from_bits(0x2f80_0000);
    const INV_2PI: f32 = f32::from_bits(0x30c9_0fdb);
    let u = (a as f32).mul_add(INV, INV / 2.0);
    let v = (b as f32).mul_add(INV_2PI, f32::from_bits(0x3049_0fdb));
    let r = (logf(u) * -2.0).sqrt();
    let (sin, cos) = sincos_fast(v);
    (sin * r + 0.0, cos * r + 0.0)
}

/// CUDA's `logf` for normal positive finite `x` (here `u` in `[2**-33, 1]`), operation by
/// operation as the compiled kernel runs it: `x = m * 2**e` with `m` in `[2/3, 4/3)`, a
/// polynomial in `f = m - 1`, then `e * ln 2` added.
fn logf(x: f32) -> f32 {
    const C: [u32; 7] = [
        0x3e10_39f6, // 0.14084610
        0xbdf8_cdcc, // -0.12148628
        0x3e0f_2955, // 0.13980611
        0xbe2a_d8b9, // -0.16684236
        0x3e4c_ed0b, // 0.20012300
        0xbe7f_ff22, // -0.24999669
        0x3eaa_aa78, // 0.33333182
    ];
    let bits = x.to_bits();
    let e_bits = bits.wrapping_sub(0x3f2a_aaab) & 0xff80_0000;
    let f = f32::from_bits(bits.wrapping_sub(e_bits)) - 1.0;
    let mut p = f.mul_add(-f32::from_bits(0x3e05_5027), f32::from_bits(C[0]));
    for &c in &C[1..] {
        p = f.mul_add(p, f32::from_bits(c));
    }
    p = f.mul_add(p, -0.5);
    p *= f;
    p = f.mul_add(p, f);
    // The exponent: `e_bits` read as a signed integer, times 2**-23 (exact).
    let e = (e_bits as i32 as f32) * (1.0 / 8_388_608.0);
    e.mul_add(f32::from_bits(0x3f31_7218), p)
}

/// `__sincosf(v)` on the GPU for `v` in `(0, 2 pi]`: `t = v * (float)(1 / (2 pi))` rounded
/// toward zero (`FMUL.RZ`), then the special-function unit's `MUFU.SIN` and `MUFU.COS` of `t`
/// revolutions.
///
/// The unit takes `floor(t * 2**25)` (t in `[0, 1)` here): the quadrant in the top 2 bits and
/// 23 bits `x` within it. Sine and cosine come from one function `G` of `x` (the sine over the
/// quadrant), read at `x` or at its complement `2**23 - 1 - x`, with the quadrant's sign; see
/// [`quadrant_sine`]. Measured on an H200 for every input that `curand_normal4` can produce.
pub(crate) fn sincos_fast(v: f32) -> (f32, f32) {
    let t = mul_toward_zero(v, f32::from_bits(0x3e22_f983));
    let fixed = (t as f64 * 33_554_432.0) as u32 & 0x1ff_ffff;
    let x = fixed & 0x7f_ffff;
    let g = quadrant_sine(x);
    let h = quadrant_sine(0x7f_ffff - x);
    match fixed >> 23 {
        0 => (g, h),
        1 => (h, -g),
        2 => (-g, -h),
        _ => (-h, g),
    }
}

/// `a * b` rounded toward zero, for non-negative finite `a` and `b`: the product of two floats
/// is exact in f64.
fn mul_toward_zero(a: f32, b: f32) -> f32 {
    toward_zero(a as f64 * b as f64)
}

/// A non-negative f64 rounded toward zero to f32 (values in f32's normal range).
fn toward_zero(p: f64) -> f32 {
    let r = p as f32;
    if r as f64 > p {
        f32::from_bits(r.to_bits() - 1)
    } else {
        r
    }
}

/// The special-function unit's sine over one quadrant: `x` (23 bits) is `x / 2**23` of the
/// quadrant. 64 segments (the top 6 bits of `x`), each a quadratic in the low 17 bits `xl`:
/// `V = c0 * 2**12 + c1 * xl + c2 * (S(xl) >> 19)` in units of `2**-37`, where `S` is the
/// hardware squarer's truncated `xl * xl` (see [`truncated_square`]); the result is `V * 2**-37`
/// rounded toward zero to float. So `c0` is the segment's start in units of `2**-25`, `c1` the
/// slope in `2**-14` per quadrant and `c2` the curvature in `2**-10` per quadrant squared.
/// Found from the H200's outputs for all `2**23` inputs, which it reproduces exactly.
fn quadrant_sine(x: u32) -> f32 {
    let (c0, c1, c2) = SINE_SEGMENTS[(x >> 17) as usize];
    let xl = x & 0x1_ffff;
    let v = ((c0 as i64) << 12)
        + c1 as i64 * xl as i64
        + c2 as i64 * (truncated_square(xl) >> 19) as i64;
    // v is non-negative and below 2**38: exact in f64.
    toward_zero(v as f64 * (1.0 / 137_438_953_472.0))
}

/// `xl * xl` (17 bits) as the squarer computes it: of the partial products `x_i x_j`, those
/// whose column (`2 i` for `i = j`, `i + j + 1` for a pair `i > j`) is below 19 are dropped.
fn truncated_square(xl: u32) -> u64 {
    let x = xl as u64;
    let mut s = 0u64;
    for i in 0..17u32 {
        if (x >> i) & 1 == 0 {
            continue;
        }
        if 2 * i >= 19 {
            s += 1 << (2 * i);
        }
        // Pairs with lower bits j, kept where i + j + 1 >= 19.
        let low = 18u32.saturating_sub(i);
        if low < i {
            let mask = ((1u64 << i) - 1) & !((1u64 << low) - 1);
            s += (x & mask) << (i + 1);
        }
    }
    s
}

/// `(c0, c1, c2)` of each segment of [`quadrant_sine`].
#[rustfmt::skip]
const SINE_SEGMENTS: [(u32, u16, i16); 64] = [
    (0, 25737, -14), (823463, 25730, -48), (1646436, 25706, -76),
    (2468414, 25668, -110), (3288906, 25613, -137), (4107418, 25544, -171),
    (4923453, 25459, -201), (5736526, 25358, -229), (6546141, 25243, -262),
    (7351816, 25112, -292), (8153060, 24966, -322), (8949394, 24805, -352),
    (9740335, 24629, -381), (10525413, 24438, -410), (11304145, 24233, -441),
    (12076070, 24013, -470), (12840725, 23778, -497), (13597643, 23529, -525),
    (14346367, 23266, -553), (15086452, 22989, -581), (15817450, 22698, -608),
    (16538916, 22394, -637), (17250422, 22076, -664), (17951542, 21744, -688),
    (18641840, 21400, -715), (19320916, 21042, -738), (19988350, 20672, -763),
    (20643746, 20290, -790), (21286703, 19895, -812), (21916841, 19489, -839),
    (22533776, 19070, -859), (23137138, 18640, -881), (23726565, 18199, -904),
    (24301698, 17747, -926), (24862194, 17284, -946), (25407711, 16811, -967),
    (25937924, 16328, -988), (26452518, 15834, -1004), (26951170, 15332, -1025),
    (27433593, 14820, -1043), (27899488, 14299, -1059), (28348583, 13769, -1074),
    (28780594, 13232, -1093), (29195273, 12686, -1107), (29592364, 12133, -1123),
    (29971632, 11572, -1136), (30332846, 11004, -1148), (30675788, 10430, -1162),
    (31000253, 9849, -1172), (31306042, 9263, -1185), (31592974, 8671, -1196),
    (31860879, 8073, -1203), (32109590, 7471, -1213), (32338961, 6864, -1220),
    (32548845, 6254, -1230), (32739132, 5639, -1236), (32909694, 5021, -1242),
    (33060432, 4400, -1247), (33191257, 3776, -1250), (33302087, 3151, -1258),
    (33392857, 2523, -1260), (33463517, 1893, -1260), (33514014, 1263, -1263),
    (33544326, 632, -1265),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrant_sine_matches_measured_values() {
        // MUFU.SIN outputs read on an H200 (bit patterns).
        for (x, bits) in [
            (0, 0),
            (1, 0x3449_1200),
            (3, 0x3516_cd80),
            (100, 0x379d_1610),
            (131_073, 0x3cc9_0ad4),
            (1_048_576, 0x3e47_c5ba),
            (0x7f_ffff, 0x3f80_0000),
        ] {
            assert_eq!(quadrant_sine(x).to_bits(), bits, "x = {x}");
        }
    }

    #[test]
    fn sincos_matches_the_h200() {
        // `__sincosf(v)` measured on an H200 (tests/goldens/cuda_device.json, written by
        // tools/cuda_sincos.py): every quadrant, v from 2**-33 to 2 pi.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/goldens/cuda_device.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let rows = doc["sincos"].as_array().unwrap();
        assert!(rows.len() > 1000);
        for row in rows {
            let [v, sin, cos] = [0, 1, 2].map(|k| row[k].as_u64().unwrap() as u32);
            let (s, c) = sincos_fast(f32::from_bits(v));
            assert_eq!((s.to_bits(), c.to_bits()), (sin, cos), "v = {v:#010x}");
        }
    }

    #[test]
    fn first_values() {
        // torch.randn(4, generator=torch.Generator("cuda").manual_seed(0), device="cuda").
        let got: Vec<u32> = TorchCudaGenerator::new(0)
            .randn(4)
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(
            got,
            [3_211_572_909, 3_201_943_224, 3_223_925_957, 1_041_541_908]
        );
    }

    #[test]
    fn offset_grows_by_four_per_call_and_more_for_large_calls() {
        let mut g = TorchCudaGenerator::new(1);
        assert!(g.randn(0).is_empty());
        assert_eq!(g.offset(), 0);
        g.randn(5);
        assert_eq!(g.offset(), 4);
        // 4 * 132 * 2048 + 1 elements: two Philox outputs per thread.
        g.randn(4 * 132 * 2048 + 1);
        assert_eq!(g.offset(), 12);
        let mut small = TorchCudaGenerator::with_device(1, 1, 256);
        small.randn(1025);
        assert_eq!(small.offset(), 8);
    }

    #[test]
    fn truncated_square_keeps_columns_from_19() {
        assert_eq!(truncated_square(1023), 0);
        assert_eq!(truncated_square(1024), 1 << 20);
        assert_eq!(truncated_square(1280), (1 << 20) + (1 << 19));
        // Bits 10, 9 and 8: 2**20 + 2**20 (pair 10, 9) + 2**19 (pair 10, 8); 2**18 dropped.
        assert_eq!(truncated_square(1792), 5 << 19);
        assert_eq!(truncated_square(0x1_ffff), 17_175_150_592);
    }
}
