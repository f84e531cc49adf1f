//! The memory a call will need, estimated from the model configs before any graph runs.

use crate::model::ModelConfig;

/// The largest single tensor one call's graphs must hold, as estimated before they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeakEstimate {
    /// Bytes.
    pub bytes: u64,
    /// Which tensor, and how it was counted.
    pub what: String,
}

/// Estimates the largest activation tensor of a call (float32, as ONNX Runtime's CPU provider
/// materializes it) from the model configs: the larger of
///
/// - the UNet's self-attention scores at each level that has attention:
///   `batch x heads x (h * w)^2 x 4` bytes, with `batch` = 2 x count under classifier-free
///   guidance and `h x w` that level's latent size;
/// - the UNet's feature maps: `batch x channels x h x w x 4` per level;
/// - the VAE decoder's feature maps at full resolution, `count x max(block_out_channels) x
///   H x W x 4`, and its mid-block attention, `count x (h * w)^2 x 4` (one image for the
///   encoder).
///
/// Fused attention kernels (some CUDA and CoreML graphs) need less than the attention term.
pub fn estimate_peak(
    config: &ModelConfig,
    width: usize,
    height: usize,
    count: usize,
    cfg: bool,
    encodes_image: bool,
) -> PeakEstimate {
    let f = config.vae_scale_factor.max(1);
    let (lw, lh) = ((width / f) as u128, (height / f) as u128);
    let batch = (count as u128) * if cfg { 2 } else { 1 };
    let mut best = PeakEstimate {
        bytes: 0,
        what: String::new(),
    };
    let mut consider = |bytes: u128, what: String| {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if bytes > best.bytes {
            best = PeakEstimate { bytes, what };
        }
    };
    let u = &config.unet;
    for (k, &channels) in u.block_out_channels.iter().enumerate() {
        let (h, w) = (lh >> k, lw >> k);
        let seq = h * w;
        if u.attention.get(k).copied().unwrap_or(false) {
            let heads = u.heads.get(k).copied().unwrap_or(8) as u128;
            consider(
                batch * heads * seq * seq * 4,
                format!(
                    "the UNet's attention scores at {w}x{h} latents (batch {batch} x {heads} \
                     heads x {seq}^2 x 4 bytes)"
                ),
            );
        }
        consider(
            batch * channels as u128 * seq * 4,
            format!("the UNet's {channels}-channel feature maps at {w}x{h} latents"),
        );
    }
    let vae = &config.vae;
    let channels = vae.block_out_channels.iter().copied().max().unwrap_or(512) as u128;
    let pixels = (width * height) as u128;
    let seq = lh * lw;
    let images = (count as u128).max(u128::from(encodes_image));
    consider(
        images * channels * pixels * 4,
        format!(
            "the VAE's {channels}-channel feature maps at {width}x{height} ({images} x \
             {channels} x {pixels} x 4 bytes)"
        ),
    );
    if vae.mid_attention {
        consider(
            images * seq * seq * 4,
            format!("the VAE's mid-block attention scores ({images} x {seq}^2 x 4 bytes)"),
        );
    }
    best
}

/// `1.5 GiB`, `512 MiB`, `1.0 TiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TextConfig, UnetConfig, VaeConfig};
    use crate::pipeline::DEFAULT_MEMORY_LIMIT;
    use crate::scheduler::PredictionType;
    use crate::scheduler::SchedulerConfig;

    fn config(unet: UnetConfig) -> ModelConfig {
        ModelConfig {
            scheduler: SchedulerConfig::default(),
            default_scheduler: None,
            prediction_type: PredictionType::Epsilon,
            vae_scaling_factor: 0.18215,
            vae_scale_factor: 8,
            unet_sample_size: 64,
            unet,
            vae: VaeConfig::default(),
            text: TextConfig::default(),
        }
    }

    fn sd2() -> UnetConfig {
        UnetConfig {
            heads: vec![5, 10, 20, 20],
            ..UnetConfig::default()
        }
    }

    fn tiny() -> UnetConfig {
        UnetConfig {
            block_out_channels: vec![16, 16, 32],
            attention: vec![true, true, false],
            heads: vec![2, 4, 8],
            ..UnetConfig::default()
        }
    }

    #[test]
    fn the_attention_at_full_latent_resolution_dominates() {
        // SD 2-base at its native 512x512 with guidance: 2 x 5 heads x 4096^2 x 4 bytes.
        let e = estimate_peak(&config(sd2()), 512, 512, 1, true, false);
        assert_eq!(e.bytes, 2 * 5 * 4096 * 4096 * 4, "{e:?}");
        assert!(e.what.contains("attention"), "{e:?}");
        // 4096x4096: 2.5 TiB for SD 2, 1 TiB for the tiny test UNet (2 heads).
        let e = estimate_peak(&config(sd2()), 4096, 4096, 1, true, false);
        assert_eq!(human_bytes(e.bytes), "2.5 TiB");
        let e = estimate_peak(&config(tiny()), 4096, 4096, 1, true, false);
        assert_eq!(human_bytes(e.bytes), "1.0 TiB");
        // Without guidance the UNet batch halves.
        let a = estimate_peak(&config(sd2()), 768, 768, 4, true, false);
        let b = estimate_peak(&config(sd2()), 768, 768, 4, false, false);
        assert_eq!(a.bytes, 2 * b.bytes);
    }

    #[test]
    fn what_the_default_limit_admits() {
        let fits = |u: UnetConfig, side: usize, count: usize| {
            estimate_peak(&config(u), side, side, count, true, false).bytes <= DEFAULT_MEMORY_LIMIT
        };
        // SD 1.x (8 heads): 16 images of 512x512 need exactly 16 GiB; 17 are refused.
        assert!(fits(UnetConfig::default(), 512, 16));
        assert!(!fits(UnetConfig::default(), 512, 17));
        // SD 2-base: 1024x1024 fits for one image, not for two.
        assert!(fits(sd2(), 1024, 1));
        assert!(!fits(sd2(), 1024, 2));
        // SD 2.1-768: five 768x768 images fit, six do not.
        assert!(fits(sd2(), 768, 5));
        assert!(!fits(sd2(), 768, 6));
    }

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(16 << 30), "16.0 GiB");
        assert_eq!(human_bytes(3 << 19), "1.5 MiB");
    }
}
