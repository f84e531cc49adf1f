//! Previews of the image forming: after the steps a request asks for, the clean latents the
//! model predicts, shown three ways (the family's latent-to-RGB map, a Tiny AutoEncoder, or the
//! model's VAE decoder).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::family::{LatentFormat, SD_LATENT_RGB};
use crate::model::bindings::VaeDecoderIo;
use crate::model::session::OnnxModel;
use crate::scheduler::PredictionType;

use super::call::Call;
use super::decode::decode;
use super::denoise::StepEvent;
use super::request::PreviewKind;

/// `(width, height, one RGB8 image per latent)`.
pub(crate) type Rendered = (usize, usize, Vec<Vec<u8>>);

/// A graph that decodes previews, with its binding and its `model.onnx` (named when its output
/// is not finite).
pub(crate) type Decoder<'a> = (&'a mut OnnxModel, &'a VaeDecoderIo, &'a Path);

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

/// `latent_rgb` for Stable Diffusion's 4-channel latents: `[count, 4, h, w]` latents to
/// `count` RGB8 images of `w` x `h`.
pub fn latent_rgb(latents: &[f32], count: usize, size: (usize, usize)) -> Vec<Vec<u8>> {
    latent_rgb_with(&SD_LATENT_RGB, [0.0; 3], latents, count, size)
}

/// `[count, C, h, w]` latents to `count` RGB8 images of `w` x `h` through `weights` (one row
/// of RGB weights per latent channel) and `bias`, then `(rgb + 1) / 2` to [0, 1].
fn latent_rgb_with(
    weights: &[[f32; 3]],
    bias: [f32; 3],
    latents: &[f32],
    count: usize,
    (w, h): (usize, usize),
) -> Vec<Vec<u8>> {
    let plane = w * h;
    let c = weights.len();
    (0..count)
        .map(|n| {
            let img = &latents[n * c * plane..(n + 1) * c * plane];
            let mut out = vec![0u8; plane * 3];
            for p in 0..plane {
                for ch in 0..3 {
                    let v: f32 = (0..c)
                        .map(|k| img[k * plane + p] * weights[k][ch])
                        .sum::<f32>()
                        + bias[ch];
                    let v = ((v + 1.0) / 2.0).clamp(0.0, 1.0);
                    out[p * 3 + ch] = (v * 255.0).round_ties_even() as u8;
                }
            }
            out
        })
        .collect()
}

/// Renders UNet-space latents (`shape` = `[count, C, lh, lw]`) as a preview of `kind`.
/// `full` decodes with the VAE decoder (through the family's VAE scaling), `taesd` with the
/// TAESD decoder (which takes the UNet's latents as they are); both decode to `factor` pixels
/// per latent cell. A decoder whose output is not finite (a float16 VAE that overflows) is an
/// error naming its file, as for the final images, never a black preview.
pub(crate) fn render(
    call: &Call<'_>,
    kind: PreviewKind,
    latents: &[f32],
    shape: [usize; 4],
    format: &LatentFormat,
    vae: Option<Decoder<'_>>,
    preview_decoder: Option<Decoder<'_>>,
) -> Result<Rendered> {
    let [count, _, lh, lw] = shape;
    let (w, h) = (lw * format.factor, lh * format.factor);
    // A model fault names the decoder's role; cancellation and the like pass as they are.
    let role = |what: &'static str| {
        move |e: Error| {
            if e.kind() == crate::ErrorKind::ModelInvalid {
                Error::model(format!("{what}: {e}"))
            } else {
                e
            }
        }
    };
    match kind {
        PreviewKind::None => Ok((0, 0, Vec::new())),
        PreviewKind::LatentRgb => match format.latent_rgb {
            Some(weights) if weights.len() == shape[1] => {
                let bias = format.latent_rgb_bias;
                Ok((
                    lw,
                    lh,
                    latent_rgb_with(weights, bias, latents, count, (lw, lh)),
                ))
            }
            _ => Err(Error::invalid(
                "preview: latent_rgb needs 4 latent channels",
            )),
        },
        PreviewKind::Taesd => {
            let Some((model, io, file)) = preview_decoder else {
                return Err(Error::internal("preview decoder not loaded"));
            };
            let images = decode(call, model, io, latents, shape, (w, h), false, file)
                .map_err(role("TAESD preview decoder"))?;
            Ok((w, h, images))
        }
        PreviewKind::Full => {
            let Some((vae, io, file)) = vae else {
                return Err(Error::internal("VAE decoder not loaded"));
            };
            let scaled = format.vae_input(latents);
            let images = decode(call, vae, io, &scaled, shape, (w, h), false, file)
                .map_err(role("full preview"))?;
            Ok((w, h, images))
        }
    }
}

/// The previews of one call: which steps get one, and the time they took.
pub(crate) struct Previews<'a> {
    /// The kind asked for.
    pub kind: PreviewKind,
    /// A preview every this many UNet evaluations (and after the last); 0 = never.
    pub every: usize,
    /// UNet evaluations in the call.
    pub total: usize,
    /// The prediction type the scheduler runs with.
    pub prediction: PredictionType,
    /// The call's latents' shape.
    pub shape: [usize; 4],
    /// The family's latent format.
    pub format: &'a LatentFormat,
    /// Time spent making previews.
    pub time: Duration,
}

impl Previews<'_> {
    /// The preview after UNet evaluation `step` (1-based), when the request asks for one then.
    pub(crate) fn after_step(
        &mut self,
        call: &Call<'_>,
        step: usize,
        e: &StepEvent<'_>,
        vae: Option<Decoder<'_>>,
        preview_decoder: Option<Decoder<'_>>,
    ) -> Result<Option<Rendered>> {
        let every = self.every;
        let wants = self.kind != PreviewKind::None
            && every > 0
            && (step.is_multiple_of(every) || step == self.total);
        if !wants {
            return Ok(None);
        }
        let t0 = Instant::now();
        let x0 = predicted_x0(e.model_input, e.model_output, e.alpha_bar, self.prediction);
        let r = render(
            call,
            self.kind,
            &x0,
            self.shape,
            self.format,
            vae,
            preview_decoder,
        )?;
        self.time += t0.elapsed();
        Ok(Some(r))
    }
}
