//! Previews of the image forming: the predicted clean latents of a step, shown three ways
//! (a fixed latent-to-RGB map, a Tiny AutoEncoder, or the model's VAE decoder).

use crate::error::{Error, Result};
use crate::model::session::OnnxModel;
use crate::scheduler::PredictionType;

use super::request::PreviewKind;

use super::decode::decode;
use super::Call;

/// Latent channel to RGB weights for the 4-channel Stable Diffusion 1.x / 2.x VAE (the
/// approximation preview tools use): `rgb[c] = sum_k latent[k] * LATENT_RGB[k][c]`, then
/// `(rgb + 1) / 2` to [0, 1].
pub const LATENT_RGB: [[f32; 3]; 4] = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
];

/// The clean latents the model predicts from its input `x_in = sqrt(a) x0 + sqrt(1 - a) noise`
/// and output (noise, velocity or the sample itself).
pub(crate) fn predicted_x0(
    model_input: &[f32],
    model_output: &[f32],
    alpha_bar: f64,
    prediction: PredictionType,
) -> Vec<f32> {
    let a = alpha_bar.clamp(0.0, 1.0);
    let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
    model_input
        .iter()
        .zip(model_output)
        .map(|(&x, &o)| {
            let (x, o) = (x as f64, o as f64);
            (match prediction {
                PredictionType::Epsilon if sa > 1e-4 => (x - sb * o) / sa,
                PredictionType::Epsilon => x,
                PredictionType::VPrediction => sa * x - sb * o,
                PredictionType::Sample => o,
            }) as f32
        })
        .collect()
}

/// `latent_rgb`: `[count, 4, h, w]` latents to `count` RGB8 images of `w` x `h`.
pub fn latent_rgb(latents: &[f32], count: usize, (w, h): (usize, usize)) -> Vec<Vec<u8>> {
    let plane = w * h;
    (0..count)
        .map(|n| {
            let img = &latents[n * 4 * plane..(n + 1) * 4 * plane];
            let mut out = vec![0u8; plane * 3];
            for p in 0..plane {
                for c in 0..3 {
                    let v: f32 = (0..4).map(|k| img[k * plane + p] * LATENT_RGB[k][c]).sum();
                    let v = ((v + 1.0) / 2.0).clamp(0.0, 1.0);
                    out[p * 3 + c] = (v * 255.0).round_ties_even() as u8;
                }
            }
            out
        })
        .collect()
}

/// A decoder for `taesd` previews: TAESD's ONNX form takes the UNet's latents as they are
/// (its scaling factor is 1) on `latent_sample` and returns `sample` in [-1, 1].
pub(crate) fn taesd(
    call: &Call<'_>,
    model: &mut OnnxModel,
    latents: &[f32],
    shape: [usize; 4],
) -> Result<(usize, usize, Vec<Vec<u8>>)> {
    let (lh, lw) = (shape[2], shape[3]);
    // TAESD upsamples 8x, like the SD VAE.
    let (w, h) = (lw * 8, lh * 8);
    let images = decode(call, model, latents, shape, (w, h), false).map_err(|e| {
        if e.kind() == crate::ErrorKind::ModelInvalid {
            Error::model(format!("TAESD preview decoder: {e}"))
        } else {
            e
        }
    })?;
    Ok((w, h, images))
}

/// Renders UNet-space latents (`shape` = `[count, C, lh, lw]`) as a preview of `kind`:
/// `(width, height, one RGB8 image per latent)`. `full` divides by the VAE's `scaling` and
/// decodes at `factor` times the latent size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    call: &Call<'_>,
    kind: PreviewKind,
    latents: &[f32],
    shape: [usize; 4],
    vae: Option<&mut OnnxModel>,
    preview_decoder: Option<&mut OnnxModel>,
    scaling: f32,
    factor: usize,
) -> Result<(usize, usize, Vec<Vec<u8>>)> {
    let [count, c, lh, lw] = shape;
    match kind {
        PreviewKind::None => Ok((0, 0, Vec::new())),
        PreviewKind::LatentRgb if c == 4 => Ok((lw, lh, latent_rgb(latents, count, (lw, lh)))),
        PreviewKind::LatentRgb => Err(Error::invalid(
            "preview: latent_rgb needs 4 latent channels",
        )),
        PreviewKind::Taesd => match preview_decoder {
            Some(m) => taesd(call, m, latents, shape),
            None => Err(Error::internal("preview decoder not loaded")),
        },
        PreviewKind::Full => {
            let Some(vae) = vae else {
                return Err(Error::internal("VAE decoder not loaded"));
            };
            let scaled: Vec<f32> = latents.iter().map(|x| x / scaling).collect();
            let (w, h) = (lw * factor, lh * factor);
            Ok((w, h, decode(call, vae, &scaled, shape, (w, h), false)?))
        }
    }
}
