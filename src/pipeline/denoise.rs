//! The denoising loop, shared by every mode: build the UNet input (latents, duplicated for
//! classifier-free guidance, scaled by the scheduler), run the UNet, combine the guided noise,
//! step the scheduler, then the mode's per-step hook and the caller's progress callback.

use crate::error::{Error, Result};
use crate::model::session::{float_value, int_value, IoInfo, OnnxModel};
use crate::rng::NoiseSource;
use crate::scheduler::Scheduler;

use super::request::{Progress, Timings};
use super::text::TextEmbeddings;
use super::Call;

/// The shape of one call's latents and how to guide them.
pub(crate) struct LoopSpec {
    /// Images in the batch.
    pub count: usize,
    /// Latent channels (the UNet's output channels).
    pub channels: usize,
    /// Latent height.
    pub height: usize,
    /// Latent width.
    pub width: usize,
    /// Classifier-free guidance on (the UNet batch holds an unconditional half).
    pub cfg: bool,
    /// The guidance scale.
    pub guidance: f32,
}

impl LoopSpec {
    /// Values in the latents of all images.
    pub fn latent_len(&self) -> usize {
        self.count * self.channels * self.height * self.width
    }
}

/// What a mode adds to the shared loop.
pub(crate) trait StepHooks {
    /// Channels appended to every image's latents in the UNet input (after scaling), as
    /// `(values for all `count` images, channels per image)`.
    fn extra_channels(&self) -> Option<(&[f32], usize)> {
        None
    }

    /// Runs after the scheduler's step `i` (an index into the scheduler's timesteps).
    fn after_step(
        &mut self,
        _i: usize,
        _sched: &dyn Scheduler,
        _latents: &mut [f32],
    ) -> Result<()> {
        Ok(())
    }
}

/// Plain text-to-image: no hooks.
pub(crate) struct NoHooks;

impl StepHooks for NoHooks {}

/// Runs the scheduler's timesteps from index `start` over `latents` in place.
#[allow(clippy::too_many_arguments)]
pub(crate) fn denoise(
    call: &Call<'_>,
    unet: &mut OnnxModel,
    sched: &mut dyn Scheduler,
    spec: &LoopSpec,
    text: &TextEmbeddings,
    latents: &mut [f32],
    rng: &mut dyn NoiseSource,
    hooks: &mut dyn StepHooks,
    mut progress: Option<Progress<'_>>,
    timings: &mut Timings,
) -> Result<()> {
    let sample_info = unet.input("sample", 0)?.clone();
    let timestep_info = unet.input("timestep", 1)?.clone();
    let states_info = unet.input("encoder_hidden_states", 2)?.clone();
    let out_name = unet.output("out_sample", 0)?.name.clone();
    let latent_len = spec.latent_len();
    let plane = spec.height * spec.width;
    let batch = if spec.cfg { 2 * spec.count } else { spec.count };
    let extra = hooks.extra_channels().map(|(_, c)| c).unwrap_or(0);
    let in_channels = spec.channels + extra;
    let timesteps = sched.timesteps().to_vec();
    let total = timesteps.len();
    let mut scaled = vec![0f32; batch * spec.channels * plane];
    let mut model_in = if extra > 0 {
        vec![0f32; batch * in_channels * plane]
    } else {
        Vec::new()
    };
    let mut guided = vec![0f32; latent_len];
    for (i, &t) in timesteps.iter().enumerate() {
        call.check_cancel()?;
        scaled[..latent_len].copy_from_slice(latents);
        if spec.cfg {
            scaled[latent_len..].copy_from_slice(latents);
        }
        sched.scale_model_input(&mut scaled, i);
        let input: &[f32] = match hooks.extra_channels() {
            Some((values, c)) => {
                // Per image: its latent channels, then the mode's channels (diffusers'
                // `torch.cat([latents, mask, masked_image_latents], dim=1)`).
                let lat = spec.channels * plane;
                let ext = c * plane;
                for b in 0..batch {
                    let n = b % spec.count;
                    let dst = &mut model_in[b * (lat + ext)..(b + 1) * (lat + ext)];
                    dst[..lat].copy_from_slice(&scaled[b * lat..(b + 1) * lat]);
                    dst[lat..].copy_from_slice(&values[n * ext..(n + 1) * ext]);
                }
                &model_in
            }
            None => &scaled,
        };
        let inputs = vec![
            (
                sample_info.name.clone(),
                float_value(
                    &sample_info,
                    &[batch, in_channels, spec.height, spec.width],
                    input,
                )?,
            ),
            (
                timestep_info.name.clone(),
                timestep_value(&timestep_info, t)?,
            ),
            (
                states_info.name.clone(),
                float_value(&states_info, &text.shape, &text.states)?,
            ),
        ];
        let noise = call.first(unet.run(inputs, &[&out_name], call.run))?;
        timings.unet += unet.last_run();
        if noise.data.len() != scaled.len() {
            return Err(Error::model(format!(
                "unet returned shape {:?}, expected {:?}",
                noise.shape,
                [batch, spec.channels, spec.height, spec.width]
            )));
        }
        if spec.cfg {
            let (u, c) = noise.data.split_at(latent_len);
            for ((o, &u), &c) in guided.iter_mut().zip(u).zip(c) {
                *o = u + spec.guidance * (c - u);
            }
        } else {
            guided.copy_from_slice(&noise.data);
        }
        sched.step(&guided, i, latents, rng)?;
        hooks.after_step(i, sched, latents)?;
        if let Some(cb) = progress.as_mut() {
            if !cb(i + 1, total) {
                // Cancels this call only; other calls waiting on the pipeline go on.
                return Err(Call::cancelled_error());
            }
        }
    }
    call.check_cancel()
}

/// The timestep in the dtype and rank the UNet declares (rank 0, or `[n]`).
fn timestep_value(info: &IoInfo, t: f64) -> Result<ort::value::DynValue> {
    let shape: Vec<usize> = if info.shape.is_empty() {
        Vec::new()
    } else {
        match info.shape[0] {
            d if d > 0 => vec![d as usize],
            _ => vec![1],
        }
    };
    let n: usize = shape.iter().product();
    use ort::value::TensorElementType as T;
    match info.elem {
        // Truncated, as optimum's `astype(int64)` does with fractional (Karras) timesteps.
        T::Int64 | T::Int32 => int_value(info, &shape, &vec![t.trunc() as i64; n]),
        _ => float_value(info, &shape, &vec![t as f32; n]),
    }
}
