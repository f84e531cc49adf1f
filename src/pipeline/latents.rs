//! The modes: the initial latents of text-to-image, image-to-image and inpainting, drawn from
//! the call's generator in diffusers' order, and the per-step hooks a mode adds to the shared
//! denoising loop.

use crate::error::{Error, Result};
use crate::family::LatentFormat;
use crate::model::bindings::VaeEncoderIo;
use crate::model::session::{float_value, OnnxModel};
use crate::rng::{Generator, NoiseSource, NumpyRandomState, TorchCudaGenerator, TorchGenerator};
use crate::scheduler::Scheduler;

use super::call::Call;
use super::denoise::{LoopSpec, NoHooks, StepHooks};
use super::plan::Mode;
use super::request::{GenerateParams, GrayImage, RgbImage, Timings};

/// The call's generator: the initial draws come first, then each stochastic step's noise.
pub(crate) fn generator(kind: Generator, seed: u64) -> Box<dyn NoiseSource> {
    match kind {
        Generator::Numpy => Box::new(NumpyRandomState::new(seed as u32)),
        Generator::Torch => Box::new(TorchGenerator::new(seed)),
        Generator::TorchCuda => Box::new(TorchCudaGenerator::new(seed)),
    }
}

/// Text-to-image: `randn(count, C, h, w) * init_noise_sigma`, one draw for the whole batch.
pub(crate) fn noise(rng: &mut dyn NoiseSource, len: usize, init_noise_sigma: f32) -> Vec<f32> {
    rng.randn(len)
        .into_iter()
        .map(|x| x * init_noise_sigma)
        .collect()
}

/// The init image as the VAE encoder takes it: `[1, 3, H, W]` in [-1, 1], as diffusers'
/// `VaeImageProcessor.preprocess` makes it (`x / 255`, then `2 x - 1`, in float32).
pub(crate) fn image_tensor(img: &RgbImage) -> Vec<f32> {
    let plane = img.width * img.height;
    let mut out = vec![0f32; 3 * plane];
    for (p, px) in img.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            let x = px[c] as f32 / 255.0;
            out[c * plane + p] = 2.0 * x - 1.0;
        }
    }
    out
}

/// The mask binarized as diffusers' mask processor does (`x / 255 >= 0.5` is 1), full size.
pub(crate) fn binary_mask(mask: &GrayImage) -> Vec<f32> {
    mask.data
        .iter()
        .map(|&v| if v as f32 / 255.0 < 0.5 { 0.0 } else { 1.0 })
        .collect()
}

/// `F.interpolate(mask, size=(h / f, w / f))` (mode "nearest"): the top-left pixel of every
/// `f` x `f` block.
pub(crate) fn mask_to_latent(
    mask: &[f32],
    width: usize,
    lh: usize,
    lw: usize,
    f: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(lh * lw);
    for y in 0..lh {
        for x in 0..lw {
            out.push(mask[(y * f) * width + x * f]);
        }
    }
    out
}

/// `image * (mask < 0.5)`: the init image with the repainted part set to 0 (grey).
pub(crate) fn masked_image(image: &[f32], mask: &[f32]) -> Vec<f32> {
    let plane = mask.len();
    image
        .iter()
        .enumerate()
        .map(|(k, &x)| if mask[k % plane] < 0.5 { x } else { 0.0 })
        .collect()
}

/// Encodes one image (`[1, 3, H, W]` in [-1, 1]) to UNet-space latents (the family's VAE
/// scaling): `latent_parameters` (mean and log-variance, current optimum exports) are
/// sampled with the call's generator as diffusers' `DiagonalGaussianDistribution.sample`
/// does; a `latent_sample` output (older exports, sampled inside the graph) is taken as it is.
fn encode_image(
    call: &Call<'_>,
    (vae, io): (&mut OnnxModel, &VaeEncoderIo),
    image: &[f32],
    (width, height): (usize, usize),
    format: &LatentFormat,
    rng: &mut dyn NoiseSource,
) -> Result<Vec<f32>> {
    let input = &io.sample;
    let (out_name, parameters) = (&io.latents.name, io.parameters);
    let out = call.first(vae.run(
        vec![(
            input.name.clone(),
            float_value(input, &[1, 3, height, width], image)?,
        )],
        &[out_name],
        call.options(true),
    ))?;
    let c = format.channels;
    let want_c = if parameters { 2 * c } else { c };
    let f = out.shape.get(2).copied().unwrap_or(0);
    if out.shape.len() != 4 || out.shape[0] != 1 || out.shape[1] != want_c || f == 0 {
        return Err(Error::model(format!(
            "vae_encoder returned '{out_name}' of shape {:?}, expected [1, {want_c}, h, w]",
            out.shape
        )));
    }
    let n = c * out.shape[2] * out.shape[3];
    let latents: Vec<f32> = if parameters {
        let (mean, logvar) = out.data.split_at(n);
        let z = rng.randn(n);
        mean.iter()
            .zip(logvar)
            .zip(&z)
            .map(|((&m, &lv), &z)| {
                let std = (0.5 * lv.clamp(-30.0, 20.0)).exp();
                m + std * z
            })
            .collect()
    } else {
        out.data
    };
    Ok(format.unet_latents(latents))
}

/// `count` copies of one image's latents, as diffusers repeats them for the batch.
pub(crate) fn repeat(latents: &[f32], count: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(latents.len() * count);
    for _ in 0..count {
        out.extend_from_slice(latents);
    }
    out
}

/// The 4-channel inpainting blend (diffusers' `StableDiffusionInpaintPipeline` with a
/// 4-channel UNet): after every step the unmasked part is replaced by the init image's
/// latents noised to the next timestep (un-noised after the last).
pub(crate) struct Blend {
    /// The init image's latents, repeated for the batch.
    pub image_latents: Vec<f32>,
    /// The noise the initial latents were made with.
    pub noise: Vec<f32>,
    /// The mask at latent size (1 = repaint), one plane for every image and channel.
    pub mask: Vec<f32>,
    /// One past the last scheduler index the call runs.
    pub end: usize,
}

impl StepHooks for Blend {
    fn after_step(&mut self, i: usize, sched: &dyn Scheduler, latents: &mut [f32]) -> Result<()> {
        let total = sched.timesteps().len().min(self.end);
        let proper = if i + 1 < total {
            sched.add_noise(&self.image_latents, &self.noise, i + 1)
        } else {
            self.image_latents.clone()
        };
        let plane = self.mask.len();
        for (k, (x, &p)) in latents.iter_mut().zip(&proper).enumerate() {
            let m = self.mask[k % plane];
            *x = (1.0 - m) * p + m * *x;
        }
        Ok(())
    }
}

/// The inpainting UNet's extra input channels: the mask, then the masked image's latents
/// (diffusers' `torch.cat([latents, mask, masked_latents], 1)`), the same for every image.
pub(crate) struct InpaintChannels {
    /// 1 mask plane then the latent channels of the masked image.
    pub values: Vec<f32>,
    /// Channels per image.
    pub channels: usize,
}

impl StepHooks for InpaintChannels {
    fn extra_channels(&self) -> Option<(&[f32], usize)> {
        Some((&self.values, self.channels))
    }
}

/// What a mode starts from.
pub(crate) struct ModeInput<'a> {
    /// The request.
    pub params: &'a GenerateParams,
    /// The mode.
    pub mode: Mode,
    /// The first scheduler index the denoising runs.
    pub begin: usize,
    /// One past the last one.
    pub end: usize,
    /// Output width and height in pixels.
    pub size: (usize, usize),
    /// The family's latent format.
    pub format: &'a LatentFormat,
    /// The UNet takes the mask and masked image as extra channels (an inpainting UNet).
    pub inpainting_unet: bool,
}

/// The initial latents and per-step hooks of the call's mode, drawing from `rng` in
/// diffusers' order: the init image's latent sample (when the mode uses it), the noise,
/// then the masked image's latent sample (inpainting).
pub(crate) fn initial_latents(
    call: &Call<'_>,
    vae_encoder: Option<(&mut OnnxModel, &VaeEncoderIo)>,
    m: &ModeInput<'_>,
    spec: &LoopSpec,
    sched: &dyn Scheduler,
    rng: &mut dyn NoiseSource,
    timings: &mut Timings,
) -> Result<(Vec<f32>, Box<dyn StepHooks>)> {
    let params = m.params;
    let len = spec.latent_len();
    let sigma = sched.init_noise_sigma();
    // Latents given (an SDXL base's, for its refiner): taken as they are after
    // `denoising_start`, else noised to the start step like an encoded image (diffusers'
    // image-to-image with a 4-channel "image").
    if let Some(given) = &params.latents {
        if given.data.len() != len {
            return Err(Error::internal("latents of the wrong size"));
        }
        if params.denoising_start.is_some() {
            return Ok((given.data.clone(), Box::new(NoHooks)));
        }
        let noise = rng.randn(len);
        return Ok((
            sched.add_noise(&given.data, &noise, m.begin),
            Box::new(NoHooks),
        ));
    }
    let (Some(img), Some((vae, io))) = (&params.init_image, vae_encoder) else {
        return Ok((noise(rng, len, sigma), Box::new(NoHooks)));
    };
    let size = m.size;
    let c = spec.channels;
    let pixels = image_tensor(img);
    let mut encode = |image: &[f32], rng: &mut dyn NoiseSource| -> Result<Vec<f32>> {
        let one = encode_image(call, (&mut *vae, io), image, size, m.format, rng)?;
        timings.vae_encoder += vae.last_run();
        if one.len() * spec.count != len {
            return Err(Error::model(format!(
                "vae_encoder gave {} latent values for a {}x{} image, expected {}",
                one.len(),
                size.0,
                size.1,
                len / spec.count
            )));
        }
        Ok(repeat(&one, spec.count))
    };
    match (m.mode, &params.mask) {
        (Mode::Inpaint, Some(mask)) => {
            let full_strength = params.strength == 1.0;
            let four = !m.inpainting_unet;
            let image_latents = if four || !full_strength {
                Some(encode(&pixels, rng)?)
            } else {
                None
            };
            let noise = rng.randn(len);
            let lat = match (&image_latents, full_strength) {
                (Some(init), false) => sched.add_noise(init, &noise, m.begin),
                _ => noise.iter().map(|&x| x * sigma).collect(),
            };
            let b = binary_mask(mask);
            let mask_lat = mask_to_latent(&b, size.0, spec.height, spec.width, m.format.factor);
            let masked = masked_image(&pixels, &b);
            let masked_lat = encode(&masked, rng)?;
            let hooks: Box<dyn StepHooks> = if four {
                Box::new(Blend {
                    image_latents: image_latents.unwrap_or_default(),
                    noise,
                    mask: mask_lat,
                    end: m.end,
                })
            } else {
                // Every image of the batch has the same mask and masked image.
                let per = c * spec.height * spec.width;
                let mut values = mask_lat;
                values.extend_from_slice(&masked_lat[..per]);
                Box::new(InpaintChannels {
                    values,
                    channels: 1 + c,
                })
            };
            Ok((lat, hooks))
        }
        _ => {
            let init = encode(&pixels, rng)?;
            let noise = rng.randn(len);
            Ok((sched.add_noise(&init, &noise, m.begin), Box::new(NoHooks)))
        }
    }
}
