//! The denoising loop, shared by every mode: build the UNet input (latents, duplicated for
//! classifier-free guidance, scaled by the scheduler), run the UNet, combine the guided noise,
//! step the scheduler, then the mode's per-step hook and the caller's progress callback.

use crate::error::{Error, Result};
use crate::family::Conditioning;
use crate::model::bindings::UnetIo;
use crate::model::session::{float_value, int_value, IoInfo, OnnxModel};
use crate::rng::NoiseSource;
use crate::scheduler::Scheduler;

use super::call::Call;
use super::controlnet::Control;
use super::pyfloat::decimal_f64;
use super::request::Timings;

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
    /// diffusers' `guidance_rescale` (0 = off); applied with `cfg` only.
    pub guidance_rescale: f32,
    /// The first scheduler index to run (image-to-image strength); 0 runs every step.
    pub begin: usize,
    /// One past the last scheduler index to run (`denoising_end`).
    pub end: usize,
    /// `timestep_cond` for LCM-distilled UNets: `[count, dim]` values and `dim`.
    pub timestep_cond: Option<(Vec<f32>, usize)>,
}

impl LoopSpec {
    /// Values in the latents of all images.
    pub fn latent_len(&self) -> usize {
        self.count * self.channels * self.height * self.width
    }
}

/// What a mode adds to the shared loop.
pub(crate) trait StepHooks {
    /// Channels appended to every image's latents in the UNet input (after scaling), the same
    /// for every image and step: `(one image's values, their channels)`.
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

/// Plain text-to-image and image-to-image: no hooks.
pub(crate) struct NoHooks;

impl StepHooks for NoHooks {}

/// What the loop shows its caller after each UNet evaluation.
pub(crate) struct StepEvent<'a> {
    /// The scheduler index just run.
    pub index: usize,
    /// Its timestep.
    pub timestep: f64,
    /// The (scaled) latents the UNet saw, first `count` images of the batch.
    pub model_input: &'a [f32],
    /// The guided model output for them.
    pub model_output: &'a [f32],
    /// The scheduler's cumulative alpha for the model input (see `Scheduler::alpha_bar`).
    pub alpha_bar: f64,
}

/// Called after every step (and hook); `Ok(false)` cancels the call.
pub(crate) type OnStep<'a> = &'a mut dyn FnMut(&StepEvent<'_>) -> Result<bool>;

/// Runs the scheduler's timesteps from index `start` over `latents` in place.
#[allow(clippy::too_many_arguments)]
pub(crate) fn denoise(
    call: &Call<'_>,
    unet: &mut OnnxModel,
    io: &UnetIo,
    sched: &mut dyn Scheduler,
    spec: &LoopSpec,
    text: &Conditioning,
    latents: &mut [f32],
    rng: &mut dyn NoiseSource,
    hooks: &mut dyn StepHooks,
    mut control: Option<&mut Control<'_>>,
    on_step: OnStep<'_>,
    timings: &mut Timings,
) -> Result<()> {
    let sample_info = &io.sample;
    let timestep_info = &io.timestep;
    let states_info = &io.hidden_states;
    let out_name = &io.out_sample.name;
    let cond_input = match &spec.timestep_cond {
        Some((values, dim)) => {
            let Some(info) = &io.timestep_cond else {
                return Err(Error::internal("the UNet takes no timestep_cond"));
            };
            let rows = values.len() / dim.max(&1);
            let batch_values = if spec.cfg {
                [values.as_slice(), values.as_slice()].concat()
            } else {
                values.clone()
            };
            let rows = if spec.cfg { 2 * rows } else { rows };
            Some((info, batch_values, [rows, *dim]))
        }
        None => None,
    };
    let latent_len = spec.latent_len();
    let plane = spec.height * spec.width;
    let batch = if spec.cfg { 2 * spec.count } else { spec.count };
    let extra = hooks.extra_channels().map(|(_, c)| c).unwrap_or(0);
    let in_channels = spec.channels + extra;
    let timesteps = sched.timesteps().to_vec();
    // SDXL's added conditioning, the same every step.
    let added = match (&text.added, &io.added) {
        (Some(a), Some(bound)) => {
            let rows = a.text_embeds.len() / a.text_embeds_dim.max(1);
            Some([
                (
                    &bound.text_embeds,
                    [rows, a.text_embeds_dim],
                    &a.text_embeds[..],
                ),
                (&bound.time_ids, [rows, a.time_ids_dim], &a.time_ids[..]),
            ])
        }
        (None, None) => None,
        _ => {
            return Err(Error::internal(
                "added conditioning and UNet inputs disagree",
            ))
        }
    };
    let mut scaled = vec![0f32; batch * spec.channels * plane];
    // Diffusers' `torch.cat([latents, mask, masked_image_latents], dim=1)`: the mode's
    // channels never change, so they are written once and only the latents each step.
    let mut model_in = Vec::new();
    if let Some((values, c)) = hooks.extra_channels() {
        let (lat, row) = (spec.channels * plane, in_channels * plane);
        if values.len() != c * plane {
            return Err(Error::internal(format!(
                "{} conditioning values for {c} channels of {plane}",
                values.len()
            )));
        }
        model_in = vec![0f32; batch * row];
        for b in 0..batch {
            model_in[b * row + lat..(b + 1) * row].copy_from_slice(values);
        }
    }
    let mut guided = vec![0f32; latent_len];
    sched.set_begin_index(spec.begin);
    for (i, &t) in timesteps.iter().enumerate().take(spec.end).skip(spec.begin) {
        call.check_cancel()?;
        scaled[..latent_len].copy_from_slice(latents);
        if spec.cfg {
            scaled[latent_len..].copy_from_slice(latents);
        }
        sched.scale_model_input(&mut scaled, i)?;
        let input: &[f32] = if extra > 0 {
            // Per image: its latent channels, then the mode's (written before the loop).
            let lat = spec.channels * plane;
            let row = lat + extra * plane;
            for b in 0..batch {
                model_in[b * row..b * row + lat].copy_from_slice(&scaled[b * lat..(b + 1) * lat]);
            }
            &model_in
        } else {
            &scaled
        };
        let mut inputs = vec![
            (
                sample_info.name.clone(),
                float_value(
                    sample_info,
                    &[batch, in_channels, spec.height, spec.width],
                    input,
                )?,
            ),
            (
                timestep_info.name.clone(),
                timestep_value(timestep_info, t)?,
            ),
            (
                states_info.name.clone(),
                float_value(states_info, &text.shape, &text.hidden_states)?,
            ),
        ];
        if let Some((info, values, shape)) = &cond_input {
            inputs.push((info.name.clone(), float_value(info, shape, values)?));
        }
        if let Some(added) = &added {
            for (info, shape, values) in added {
                inputs.push((info.name.clone(), float_value(info, shape, values)?));
            }
        }
        if let Some(c) = control.as_mut() {
            inputs.extend(c.unet_inputs(call, i, t, &scaled, spec, text, timings)?);
        }
        let last = i + 1 == spec.end.min(timesteps.len());
        let noise = call.first(unet.run(inputs, &[out_name], call.options(last)))?;
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
            if spec.guidance_rescale > 0.0 {
                rescale_noise_cfg(&mut guided, c, spec.count, spec.guidance_rescale);
            }
        } else {
            guided.copy_from_slice(&noise.data);
        }
        // The model input of the conditional half, for previews (the sample before the step).
        let event_input = if spec.cfg {
            &scaled[latent_len..]
        } else {
            &scaled[..latent_len]
        };
        let alpha_bar = sched.alpha_bar(i);
        sched.step(&guided, i, latents, rng)?;
        hooks.after_step(i, sched, latents)?;
        let event = StepEvent {
            index: i,
            timestep: t,
            model_input: event_input,
            model_output: &guided,
            alpha_bar,
        };
        if !on_step(&event)? {
            // Cancels this call only; other calls waiting on the pipeline go on.
            return Err(Call::cancelled_error());
        }
    }
    call.check_cancel()
}

/// diffusers' `rescale_noise_cfg`: each image's guided output rescaled to the standard
/// deviation of its conditional output, mixed by `rescale`
/// (`rescale * cfg * std(text) / std(cfg) + (1 - rescale) * cfg`). Standard deviations are
/// unbiased, over each image's values, accumulated in float64 as torch does on the CPU.
pub fn rescale_noise_cfg(cfg: &mut [f32], text: &[f32], count: usize, rescale: f32) {
    let n = cfg.len() / count.max(1);
    // Python computes `1 - guidance_rescale` in float64; torch then rounds both factors to
    // the tensor's float32.
    let r64 = decimal_f64(rescale);
    let keep = (1.0 - r64) as f32;
    for (g, t) in cfg.chunks_mut(n).zip(text.chunks(n)) {
        let ratio = std_unbiased(t) / std_unbiased(g);
        for x in g.iter_mut() {
            let rescaled = *x * ratio;
            *x = rescale * rescaled + keep * *x;
        }
    }
}

fn std_unbiased(x: &[f32]) -> f32 {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    var.sqrt() as f32
}

/// diffusers' `get_guidance_scale_embedding(w, embedding_dim)` for one `w` (the LCM pipeline
/// passes `guidance_scale - 1`), in float32 as torch computes it: `w * 1000` times
/// `exp(-k * ln(10000) / (dim / 2 - 1))` for `k < dim / 2`, then sines and cosines (and a
/// zero for odd `dim`).
pub fn guidance_embedding(w: f32, dim: usize) -> Vec<f32> {
    let half = dim / 2;
    let w = w * 1000.0;
    let scale = (10000f32).ln() / (half as f32 - 1.0);
    let emb: Vec<f32> = (0..half).map(|k| w * (k as f32 * -scale).exp()).collect();
    let mut out: Vec<f32> = emb.iter().map(|x| x.sin()).collect();
    out.extend(emb.iter().map(|x| x.cos()));
    if dim % 2 == 1 {
        out.push(0.0);
    }
    out
}

/// The timestep in the dtype and rank the UNet declares (rank 0, or `[n]`).
pub(crate) fn timestep_value(info: &IoInfo, t: f64) -> Result<ort::value::DynValue> {
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
