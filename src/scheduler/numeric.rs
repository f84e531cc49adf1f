//! numpy's and torch's array constructors, reproduced to the bit: the schedules are built
//! from these, so an ulp here moves every timestep and sigma after it.

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
