//! The initial latents of each mode, drawn from the call's generator in diffusers' order.

use crate::error::{Error, Result};
use crate::model::session::{float_value, OnnxModel};
use crate::rng::{Generator, NoiseSource, NumpyRandomState, TorchCudaGenerator, TorchGenerator};
use crate::scheduler::Scheduler;

use super::denoise::StepHooks;
use super::request::{GrayImage, RgbImage};
use super::Call;

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

/// Encodes one image (`[1, 3, H, W]` in [-1, 1]) to latents scaled by the VAE's
/// `scaling_factor`: `latent_parameters` (mean and log-variance, current optimum exports) are
/// sampled with the call's generator as diffusers' `DiagonalGaussianDistribution.sample`
/// does; a `latent_sample` output (older exports, sampled inside the graph) is taken as it is.
pub(crate) fn encode_image(
    call: &Call<'_>,
    vae: &mut OnnxModel,
    image: &[f32],
    (width, height): (usize, usize),
    latent_channels: usize,
    scaling_factor: f32,
    rng: &mut dyn NoiseSource,
) -> Result<Vec<f32>> {
    let input = vae.input("sample", 0)?.clone();
    let (out_name, parameters) = match vae.outputs().iter().find(|o| o.name == "latent_parameters")
    {
        Some(o) => (o.name.clone(), true),
        None => match vae.outputs().iter().find(|o| o.name == "latent_sample") {
            Some(o) => (o.name.clone(), false),
            None => {
                let o = vae.output("latent_parameters", 0)?;
                let two = o
                    .shape
                    .get(1)
                    .is_some_and(|&c| c == 2 * latent_channels as i64);
                (o.name.clone(), two)
            }
        },
    };
    let out = call.first(vae.run(
        vec![(
            input.name.clone(),
            float_value(&input, &[1, 3, height, width], image)?,
        )],
        &[&out_name],
        call.options(true),
    ))?;
    let c = latent_channels;
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
    Ok(latents.into_iter().map(|x| scaling_factor * x).collect())
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
}

impl StepHooks for Blend {
    fn after_step(&mut self, i: usize, sched: &dyn Scheduler, latents: &mut [f32]) -> Result<()> {
        let total = sched.timesteps().len();
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
