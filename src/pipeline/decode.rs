//! Latents to pixels: the VAE decoder and diffusers' conversion to RGB8.

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::bindings::VaeDecoderIo;
use crate::model::session::{float_value, OnnxModel};

use super::call::Call;

/// Decodes `latents` (`[count, channels, lh, lw]`, in the decoder's space) to `count` RGB8
/// images of `width` x `height`. `last`: the graph's last run of the call. `file`: the
/// decoder's `model.onnx`, named when its output is not finite (final images and previews
/// alike: a NaN or infinite value would come out as a black or saturated pixel).
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode(
    call: &Call<'_>,
    vae: &mut OnnxModel,
    io: &VaeDecoderIo,
    latents: &[f32],
    shape: [usize; 4],
    (width, height): (usize, usize),
    last: bool,
    file: &Path,
) -> Result<Vec<Vec<u8>>> {
    let count = shape[0];
    let input = &io.latent_sample;
    let image = call.first(vae.run(
        vec![(input.name.clone(), float_value(input, &shape, latents)?)],
        &[&io.sample.name],
        call.options(last),
    ))?;
    if image.shape != [count, 3, height, width] {
        return Err(Error::model(format!(
            "{} returned shape {:?}, expected {:?}",
            vae.name(),
            image.shape,
            [count, 3, height, width]
        )));
    }
    check_finite(file, io, &image.data)?;
    Ok(to_rgb8(&image.data, count, width, height))
}

/// A VAE that overflows (SDXL's in float16: diffusers' `force_upcast`) gives NaN or infinite
/// pixels, which would come out black: an error naming the file instead, with the fix. A graph
/// with float16 inputs or outputs is a float16 decoder; one with float32 ones may still compute
/// in float16 inside, so the fix is named for it too.
fn check_finite(file: &Path, io: &VaeDecoderIo, data: &[f32]) -> Result<()> {
    let bad = data.iter().filter(|x| !x.is_finite()).count();
    if bad == 0 {
        return Ok(());
    }
    let fp16 = io.latent_sample.elem == ort::value::TensorElementType::Float16
        || io.sample.elem == ort::value::TensorElementType::Float16;
    Err(Error::model(format!(
        "{}: {bad} of {} decoded values are not finite (NaN or infinite); {} (SDXL's VAE does \
         in float16): export it in float32, or use a float16-fixed VAE such as \
         madebyollin/sdxl-vae-fp16-fix",
        file.display(),
        data.len(),
        if fp16 {
            "this float16 decoder overflows"
        } else {
            "a decoder that computes in float16 overflows"
        }
    )))
}

/// NCHW floats in [-1, 1] to interleaved RGB8, as diffusers: `round(clamp(x/2+0.5, 0, 1)*255)`.
pub fn to_rgb8(data: &[f32], count: usize, width: usize, height: usize) -> Vec<Vec<u8>> {
    let plane = width * height;
    (0..count)
        .map(|n| {
            let img = &data[n * 3 * plane..(n + 1) * 3 * plane];
            let mut out = vec![0u8; plane * 3];
            for c in 0..3 {
                for (p, &x) in img[c * plane..(c + 1) * plane].iter().enumerate() {
                    let v = (x / 2.0 + 0.5).clamp(0.0, 1.0);
                    out[p * 3 + c] = (v * 255.0).round_ties_even() as u8;
                }
            }
            out
        })
        .collect()
}
