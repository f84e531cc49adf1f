//! The safety checker of SD 1.x exports (`safety_checker/model.onnx`): diffusers'
//! `StableDiffusionPipeline.run_safety_checker`. The images are prepared as transformers'
//! `CLIPImageProcessor` does (PIL's bicubic resize of the shortest edge, a center crop,
//! rescale, normalize), the graph flags images, and flagged images are blacked out.

use crate::error::{Error, Result};
use crate::model::session::{float_value, OnnxModel};

use super::Call;

/// `CLIPImageProcessor` settings (`feature_extractor/preprocessor_config.json`).
#[derive(Debug, Clone)]
pub struct ClipPreprocess {
    /// `size.shortest_edge`: the shorter side after resizing.
    pub shortest_edge: usize,
    /// `crop_size`: the square cut from the center.
    pub crop: usize,
    /// `rescale_factor` (1 / 255).
    pub rescale: f64,
    /// `image_mean` per channel.
    pub mean: [f32; 3],
    /// `image_std` per channel.
    pub std: [f32; 3],
}

impl Default for ClipPreprocess {
    fn default() -> Self {
        ClipPreprocess {
            shortest_edge: 224,
            crop: 224,
            rescale: 1.0 / 255.0,
            mean: [0.481_454_66, 0.457_827_5, 0.408_210_73],
            std: [0.268_629_54, 0.261_302_6, 0.275_777_1],
        }
    }
}

impl ClipPreprocess {
    /// Reads `preprocessor_config.json`; absent keys keep the CLIP defaults. Only the
    /// bicubic resize (`resample` 3) that SD checkpoints use is supported.
    pub fn from_json(v: &serde_json::Value) -> Result<ClipPreprocess> {
        let mut p = ClipPreprocess::default();
        let bad = |what: &str| {
            Error::model(format!(
                "feature_extractor/preprocessor_config.json: {what}"
            ))
        };
        if let Some(size) = v.get("size") {
            let edge = size
                .get("shortest_edge")
                .and_then(serde_json::Value::as_u64)
                .or_else(|| size.as_u64())
                .ok_or_else(|| bad("size must give shortest_edge"))?;
            p.shortest_edge = edge as usize;
        }
        if let Some(crop) = v.get("crop_size") {
            let c = crop
                .get("height")
                .and_then(serde_json::Value::as_u64)
                .or_else(|| crop.as_u64())
                .ok_or_else(|| bad("crop_size must give height"))?;
            if let Some(w) = crop.get("width").and_then(serde_json::Value::as_u64) {
                if w != c {
                    return Err(bad("only square crops are supported"));
                }
            }
            p.crop = c as usize;
        }
        if !(1..=4096).contains(&p.shortest_edge) || !(1..=p.shortest_edge).contains(&p.crop) {
            return Err(bad(&format!(
                "shortest_edge {} and crop {} are out of range",
                p.shortest_edge, p.crop
            )));
        }
        if let Some(r) = v.get("resample").and_then(serde_json::Value::as_u64) {
            if r != 3 {
                return Err(bad(&format!(
                    "resample {r} is not supported (only 3, bicubic)"
                )));
            }
        }
        for key in ["do_resize", "do_center_crop", "do_rescale", "do_normalize"] {
            if v.get(key).and_then(serde_json::Value::as_bool) == Some(false) {
                return Err(bad(&format!("{key} false is not supported")));
            }
        }
        if let Some(r) = v.get("rescale_factor").and_then(serde_json::Value::as_f64) {
            p.rescale = r;
        }
        let triple = |key: &str, out: &mut [f32; 3]| -> Result<()> {
            if let Some(a) = v.get(key) {
                let vals: Vec<f64> = a
                    .as_array()
                    .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                    .unwrap_or_default();
                if vals.len() != 3 {
                    return Err(bad(&format!("{key} must be 3 numbers")));
                }
                for (o, x) in out.iter_mut().zip(vals) {
                    *o = x as f32;
                }
            }
            Ok(())
        };
        triple("image_mean", &mut p.mean)?;
        triple("image_std", &mut p.std)?;
        if p.std.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(bad("image_std must be positive"));
        }
        Ok(p)
    }

    /// The size the shorter side is resized to and the other side follows from, as
    /// transformers' `get_resize_output_image_size`: `(width, height)` after resizing.
    pub fn resized_size(&self, width: usize, height: usize) -> (usize, usize) {
        if width <= height {
            (
                self.shortest_edge,
                (self.shortest_edge as f64 * height as f64 / width as f64) as usize,
            )
        } else {
            (
                (self.shortest_edge as f64 * width as f64 / height as f64) as usize,
                self.shortest_edge,
            )
        }
    }

    /// `pixel_values` `[3, crop, crop]` for one RGB8 image, as `CLIPImageProcessor`:
    /// resize (PIL bicubic) so the shorter side is `shortest_edge` (the other side
    /// `int(shortest_edge * long / short)`), center crop, `x * rescale` in float64 cast to
    /// float32, then `(x - mean) / std` in float32.
    pub fn pixel_values(&self, rgb: &[u8], width: usize, height: usize) -> Vec<f32> {
        let (w, h) = self.resized_size(width, height);
        let resized = pil_resize_bicubic(rgb, (width, height), (w, h));
        let c = self.crop;
        // transformers' center_crop: top = (h - crop) // 2, left = (w - crop) // 2.
        let (top, left) = ((h - c.min(h)) / 2, (w - c.min(w)) / 2);
        let mut out = vec![0f32; 3 * c * c];
        for y in 0..c.min(h) {
            for x in 0..c.min(w) {
                let px = &resized[((top + y) * w + left + x) * 3..][..3];
                for ch in 0..3 {
                    let v = (px[ch] as f64 * self.rescale) as f32;
                    out[ch * c * c + y * c + x] = (v - self.mean[ch]) / self.std[ch];
                }
            }
        }
        out
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

/// Pillow's `precompute_coeffs` for the bicubic filter (support 2), then its 8-bit fixed-point
/// normalization: per output index, the first input index and the integer weights.
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let mut k: Vec<f64> = (0..n)
                .map(|x| bicubic((x as f64 + xmin as f64 - center + 0.5) * ss))
                .collect();
            let ww: f64 = k.iter().sum();
            if ww != 0.0 {
                for v in k.iter_mut() {
                    *v /= ww;
                }
            }
            let one = (1u32 << PRECISION_BITS) as f64;
            let fixed = k
                .iter()
                .map(|&v| {
                    if v < 0.0 {
                        (-0.5 + v * one) as i32
                    } else {
                        (0.5 + v * one) as i32
                    }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// `PIL.Image.resize((w, h), Image.BICUBIC)` of an RGB image: a horizontal pass, then a
/// vertical one, each rounding to 8 bits, as Pillow's `ImagingResample` does (a pass whose
/// size does not change is skipped).
pub fn pil_resize_bicubic(
    rgb: &[u8],
    (iw, ih): (usize, usize),
    (ow, oh): (usize, usize),
) -> Vec<u8> {
    let round = 1i64 << (PRECISION_BITS - 1);
    let horizontal = if ow != iw {
        let k = coefficients(iw, ow);
        let mut out = vec![0u8; ow * ih * 3];
        for y in 0..ih {
            for (x, (xmin, w)) in k.iter().enumerate() {
                for c in 0..3 {
                    let mut s = round;
                    for (j, &wj) in w.iter().enumerate() {
                        s += rgb[(y * iw + xmin + j) * 3 + c] as i64 * wj as i64;
                    }
                    out[(y * ow + x) * 3 + c] = clip8(s);
                }
            }
        }
        out
    } else {
        rgb.to_vec()
    };
    if oh == ih {
        return horizontal;
    }
    let k = coefficients(ih, oh);
    let mut out = vec![0u8; ow * oh * 3];
    for (y, (ymin, w)) in k.iter().enumerate() {
        for x in 0..ow {
            for c in 0..3 {
                let mut s = round;
                for (j, &wj) in w.iter().enumerate() {
                    s += horizontal[((ymin + j) * ow + x) * 3 + c] as i64 * wj as i64;
                }
                out[(y * ow + x) * 3 + c] = clip8(s);
            }
        }
    }
    out
}

/// Runs the checker on RGB8 images: which are flagged. The graph takes `clip_input`
/// `[n, 3, crop, crop]` and `images` `[n, H, W, 3]` in [0, 1] and returns
/// `has_nsfw_concepts` `[n]`.
pub(crate) fn check(
    call: &Call<'_>,
    model: &mut OnnxModel,
    pre: &ClipPreprocess,
    images: &[Vec<u8>],
    (width, height): (usize, usize),
) -> Result<Vec<bool>> {
    let n = images.len();
    let mut clip = Vec::with_capacity(n * 3 * pre.crop * pre.crop);
    let mut pixels = Vec::with_capacity(n * width * height * 3);
    for img in images {
        clip.extend(pre.pixel_values(img, width, height));
        pixels.extend(img.iter().map(|&v| v as f32 / 255.0));
    }
    let clip_info = model.input("clip_input", 0)?.clone();
    let images_info = model.input("images", 1)?.clone();
    let flags_name = model.output("has_nsfw_concepts", 1)?.name.clone();
    let inputs = vec![
        (
            clip_info.name.clone(),
            float_value(&clip_info, &[n, 3, pre.crop, pre.crop], &clip)?,
        ),
        (
            images_info.name.clone(),
            float_value(&images_info, &[n, height, width, 3], &pixels)?,
        ),
    ];
    let flags = model.run_bool(inputs, &flags_name, call.options(true))?;
    if flags.len() != n {
        return Err(Error::model(format!(
            "safety_checker returned {} flags for {n} images",
            flags.len()
        )));
    }
    Ok(flags)
}
