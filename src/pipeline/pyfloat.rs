//! Python-float numerics: diffusers does its scalar arithmetic on Python floats (float64),
//! from the decimals the caller wrote.

/// The float64 a Python caller would have written for `x`: the shortest decimal that rounds
/// to it (0.7f32 is 0.7, not 0.699999988). diffusers does its scalar arithmetic (strength
/// times steps, `guidance_scale - 1`, `1 - guidance_rescale`) on such Python floats.
pub(crate) fn decimal_f64(x: f32) -> f64 {
    format!("{x}").parse().unwrap_or(x as f64)
}

#[cfg(test)]
mod tests {
    use super::decimal_f64;

    #[test]
    fn a_float32_reads_as_the_decimal_written() {
        assert_eq!(decimal_f64(0.7), 0.7);
        assert_eq!(decimal_f64(0.1), 0.1);
        assert_eq!((10.0 * decimal_f64(0.3)) as usize, 3);
        assert_ne!(0.7f32 as f64, 0.7);
    }
}
