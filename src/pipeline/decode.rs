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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::session::IoInfo;
    use ort::value::TensorElementType as T;

    fn io(input: T, output: T) -> VaeDecoderIo {
        let info = |name: &str, elem| IoInfo {
            name: name.into(),
            elem,
            shape: vec![-1, 4, -1, -1],
            symbols: Vec::new(),
        };
        VaeDecoderIo {
            latent_sample: info("latent_sample", input),
            sample: info("sample", output),
        }
    }

    #[test]
    fn a_non_finite_decode_names_the_file_and_the_fix() {
        let file = Path::new("m/vae_decoder/model.onnx");
        let data = [0.5, f32::NAN, f32::INFINITY, -f32::INFINITY, 0.0];
        assert!(check_finite(file, &io(T::Float16, T::Float16), &data[4..]).is_ok());
        let rows = [
            (T::Float16, T::Float16, "this float16 decoder overflows"),
            (T::Float32, T::Float16, "this float16 decoder overflows"),
            // float32 inputs and outputs around float16 weights (a converter's keep_io_types).
            (
                T::Float32,
                T::Float32,
                "a decoder that computes in float16 overflows",
            ),
        ];
        for (input, output, cause) in rows {
            let e = check_finite(file, &io(input, output), &data).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::ModelInvalid);
            let m = e.message();
            assert!(
                m.starts_with("m/vae_decoder/model.onnx: 3 of 5 decoded values"),
                "{m}"
            );
            for needle in [cause, "float32", "madebyollin/sdxl-vae-fp16-fix"] {
                assert!(m.contains(needle), "{needle:?} not in {m:?}");
            }
        }
    }
}
