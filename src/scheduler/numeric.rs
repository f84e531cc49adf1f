//! numpy's and torch's array constructors and float32 functions, reproduced to the bit: the
//! schedules and steps are built from these, so an ulp here moves every timestep and sigma
//! after it.

/// `torch.linspace(start, end, steps, dtype=torch.float32)`, including torch's two-sided
/// evaluation (from the start for the first half, from the end for the second). torch's CPU
/// kernel (AVX2/AVX512 builds, what diffusers users run) evaluates each element with a fused
/// multiply-add, so this does too; plain mul-then-add differs in the last bit for ~10%.
pub(crate) fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            if i < halfway {
                step.mul_add(i as f32, start)
            } else {
                (-step).mul_add((steps - i - 1) as f32, end)
            }
        })
        .collect()
}

/// `np.linspace(start, stop, num)` in float64 (the last element is `stop` exactly).
pub(crate) fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let div = (num - 1) as f64;
            let delta = stop - start;
            let step = delta / div;
            let mut v: Vec<f64> = (0..num)
                .map(|i| {
                    if step == 0.0 {
                        (i as f64 / div) * delta + start
                    } else {
                        i as f64 * step + start
                    }
                })
                .collect();
            v[num - 1] = stop;
            v
        }
    }
}

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

/// `np.interp(x, np.arange(len(fp)), fp)` in float64, as numpy's C loop computes it: the end
/// values outside the range, `fp[j]` where `x` is exactly `j`, else
/// `slope * (x - j) + fp[j]` with `slope = fp[j + 1] - fp[j]` (no fused multiply-add).
pub(super) fn np_interp_arange(x: f64, fp: &[f32]) -> f64 {
    let n = fp.len();
    if x.is_nan() || n == 0 {
        return f64::NAN;
    }
    let last = (n - 1) as f64;
    if x < 0.0 {
        return fp[0] as f64;
    }
    if x >= last {
        return fp[n - 1] as f64;
    }
    let j = x.floor() as usize;
    let (y0, y1) = (fp[j] as f64, fp[j + 1] as f64);
    if x == j as f64 {
        return y0;
    }
    let slope = y1 - y0;
    let r = slope * (x - j as f64) + y0;
    if r.is_nan() {
        let r2 = slope * (x - (j + 1) as f64) + y1;
        if r2.is_nan() && y0 == y1 {
            return y0;
        }
        return r2;
    }
    r
}

/// float32 `exp`, correctly rounded (through float64) rather than the platform's `expf`.
/// torch's own float32 exp and log (MKL VML) are within an ulp of these, not always equal.
pub(super) fn exp32(x: f32) -> f32 {
    (x as f64).exp() as f32
}

/// float32 `log`, correctly rounded (through float64).
pub(super) fn ln32(x: f32) -> f32 {
    (x as f64).ln() as f32
}

/// float32 `expm1`, correctly rounded (through float64).
pub(super) fn expm1_32(x: f32) -> f32 {
    (x as f64).exp_m1() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_hits_both_ends_exactly() {
        let v = linspace_f32(0.1, 0.7, 7);
        assert_eq!(v[0], 0.1);
        assert_eq!(v[6], 0.7);
        assert_eq!(v.len(), 7);
    }
}
