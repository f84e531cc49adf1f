//! Latents to pixels: the VAE decoder and diffusers' conversion to RGB8.

use crate::error::{Error, Result};
use crate::model::bindings::VaeDecoderIo;
use crate::model::session::{float_value, OnnxModel};

use super::call::Call;

/// Decodes `latents` (`[count, channels, lh, lw]`, in the VAE's space) to `count` RGB8 images
/// of `width` x `height`. `last`: the graph's last run of the call.
pub(crate) fn decode(
    call: &Call<'_>,
    vae: &mut OnnxModel,
    io: &VaeDecoderIo,
    latents: &[f32],
    shape: [usize; 4],
    (width, height): (usize, usize),
    last: bool,
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
    Ok(to_rgb8(&image.data, count, width, height))
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
