//! ControlNets in a call, as diffusers' `StableDiffusionControlNetPipeline` and
//! `StableDiffusionXLControlNetPipeline` run them: the request's checks (before any graph
//! runs), loading each ControlNet on first use, and per denoising step the residuals the UNet
//! takes (`down_block_additional_residual_*`, `mid_block_additional_residual`).
//!
//! Per step `i` (of `n` timesteps run), a ControlNet is kept unless
//! `i / n < start or (i + 1) / n > end` (diffusers' `controlnet_keep`, in float64); a kept
//! ControlNet runs on the scaled latents, the text conditioning and its control image (RGB /
//! 255, repeated per image, doubled for classifier-free guidance unless in guess mode) with its
//! scale. In guess mode it runs on the conditional half only, with scale 1, each residual `k`
//! is then multiplied by `float32(logspace(-1, 0, N)[k] * scale)` (diffusers' ramp; sdrt's
//! float32 powers are correctly rounded, torch's may differ by 2 ulps), and the unconditional
//! half's residuals are zero. Several ControlNets' residuals are summed in request order
//! (diffusers' `MultiControlNetModel`). A ControlNet not kept (or of scale 0) is not run: its
//! residuals would be zeros, which add nothing. With no ControlNet kept, or none asked for, a
//! UNet that takes residuals gets zeros, which give the plain UNet's output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ort::value::DynValue;

use crate::error::{Error, ErrorKind, Result};
use crate::family::Conditioning;
use crate::model::bindings::{ControlNetIo, ResidualIo};
use crate::model::controlnet::{check_agreement, controlnet, resolve, side_at};
use crate::model::graphs::Part;
use crate::model::loader::Loader;
use crate::model::session::{float_value, OnnxModel};

use super::call::Call;
use super::denoise::{timestep_value, LoopSpec};
use super::pyfloat::decimal_f64;
use super::request::{GenerateParams, RgbImage, Timings};

/// One ControlNet of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlNet {
    /// The ControlNet: a folder name under the model's `controlnet/` (`"canny"` for
    /// `controlnet/canny/model.onnx`), or a path (with a `/`) to such a folder or to its
    /// `.onnx` file.
    pub model: String,
    /// The control image, the output's size (no resizing is done).
    pub image: RgbImage,
    /// `controlnet_conditioning_scale`: its residuals are multiplied by this (1.0).
    pub scale: f32,
    /// `control_guidance_start`: the fraction of the steps before which it is not applied,
    /// in [0, 1) (0.0).
    pub start: f32,
    /// `control_guidance_end`: the fraction of the steps after which it is not applied, in
    /// (0, 1], above `start` (1.0).
    pub end: f32,
    /// diffusers' `guess_mode`: it sees the conditional half of the batch only, with
    /// diffusers' residual ramp. diffusers has one flag per call; here each ControlNet has its
    /// own (the same for all is diffusers' behaviour).
    pub guess_mode: bool,
}

impl ControlNet {
    /// `model` with `image`, scale 1, the whole schedule, guess mode off.
    pub fn new(model: impl Into<String>, image: RgbImage) -> ControlNet {
        ControlNet {
            model: model.into(),
            image,
            scale: 1.0,
            start: 0.0,
            end: 1.0,
            guess_mode: false,
        }
    }
}

/// A ControlNet loaded by a call, kept by the pipeline (dropped after each call in the
/// low-memory mode).
pub(crate) struct Loaded {
    model: OnnxModel,
    io: ControlNetIo,
}

/// The request's ControlNets checked against the output size and the UNet, before any graph
/// runs: their graph files, in request order.
pub(crate) fn check(
    params: &GenerateParams,
    root: &Path,
    (width, height): (usize, usize),
    unet: Option<&ResidualIo>,
    unet_path: &Path,
) -> Result<Vec<PathBuf>> {
    if params.controlnets.is_empty() {
        return Ok(Vec::new());
    }
    if unet.is_none() {
        return Err(Error::invalid(format!(
            "controlnets: the UNet {} takes no ControlNet residuals \
             (down_block_additional_residual_*, mid_block_additional_residual); export it \
             with tools/export_controlnet.py --unet",
            unet_path.display()
        )));
    }
    let mut files = Vec::new();
    for (k, c) in params.controlnets.iter().enumerate() {
        let field = |f: &str| format!("controlnets[{k}].{f}");
        let bad = |f: &str, why: String| Err(Error::invalid(format!("{}: {why}", field(f))));
        let img = &c.image;
        if img.width == 0 || img.height == 0 || img.data.is_empty() {
            return bad("image", "the control image is empty".into());
        }
        if img.data.len() != img.width * img.height * 3 {
            return bad(
                "image",
                format!(
                    "{} bytes for {}x{} RGB (expected {})",
                    img.data.len(),
                    img.width,
                    img.height,
                    img.width * img.height * 3
                ),
            );
        }
        if (img.width, img.height) != (width, height) {
            return bad(
                "image",
                format!(
                    "the control image is {}x{}, the output {width}x{height}: give it at the \
                     output's size",
                    img.width, img.height
                ),
            );
        }
        if !c.scale.is_finite() {
            return bad("scale", format!("{} is not a finite number", c.scale));
        }
        for (f, v) in [("start", c.start), ("end", c.end)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(f, format!("{v} is outside [0, 1]"));
            }
        }
        if c.start >= c.end {
            return bad(
                "start",
                format!("start {} is not below end {}", c.start, c.end),
            );
        }
        files.push(resolve(root, &c.model, &field("model"))?);
    }
    Ok(files)
}

/// Loads the ControlNets in `files` not loaded yet and checks them against the UNet;
/// whether any was loaded.
pub(crate) fn ensure(
    loader: &Loader,
    loaded: &mut HashMap<PathBuf, Loaded>,
    files: &[PathBuf],
    added: bool,
    unet_path: &Path,
    levels: &[(usize, usize)],
) -> Result<bool> {
    let mut any = false;
    for f in files {
        if loaded.contains_key(f) {
            continue;
        }
        let model = loader.load_file("controlnet", f)?;
        let part = Part {
            path: f,
            inputs: model.inputs(),
            outputs: model.outputs(),
        };
        let io = controlnet(&part, added)?;
        check_agreement(f, &io, unet_path, levels)?;
        loaded.insert(f.clone(), Loaded { model, io });
        any = true;
    }
    Ok(any)
}

/// diffusers' guess-mode ramp `torch.logspace(-1, 0, n)`, as torch's CPU kernel spaces the
/// exponents (float32 steps from each end), with correctly rounded powers.
pub fn guess_ramp(n: usize) -> Vec<f32> {
    let step = 1.0f32 / (n.max(2) - 1) as f32;
    (0..n)
        .map(|i| {
            let e = if i < n / 2 {
                -1.0f32 + step * i as f32
            } else {
                0.0f32 - step * (n - i - 1) as f32
            };
            10f64.powf(e as f64) as f32
        })
        .collect()
}

/// The rows of the batch a ControlNet runs on: both halves under classifier-free guidance,
/// the conditional half only in guess mode (or without guidance).
fn batch_rows(guess: bool, spec: &LoopSpec) -> usize {
    if spec.cfg && !guess {
        2 * spec.count
    } else {
        spec.count
    }
}

struct Net {
    file: PathBuf,
    /// The control image in [0, 1], once per row of its batch (`[rows, 3, H, W]`, made once
    /// per call), and its `(W, H)`.
    image: Vec<f32>,
    size: (usize, usize),
    scale: f32,
    start: f64,
    end: f64,
    guess: bool,
}

/// The ControlNets of one call, for the denoising loop.
pub(crate) struct Control<'a> {
    loaded: &'a mut HashMap<PathBuf, Loaded>,
    nets: Vec<Net>,
    unet: &'a ResidualIo,
    /// The first scheduler index run and how many are run (diffusers' `len(timesteps)`).
    begin: usize,
    n: usize,
    /// Zero residuals of the whole batch, one per UNet input.
    zeros: Vec<Vec<f32>>,
    shapes: Vec<[usize; 4]>,
}

impl<'a> Control<'a> {
    /// The call's ControlNets (`files` from [`check`], loaded by [`ensure`]).
    pub fn new(
        params: &GenerateParams,
        files: Vec<PathBuf>,
        loaded: &'a mut HashMap<PathBuf, Loaded>,
        unet: &'a ResidualIo,
        levels: &'a [(usize, usize)],
        spec: &LoopSpec,
        n_timesteps: usize,
    ) -> Control<'a> {
        let nets = params
            .controlnets
            .iter()
            .zip(files)
            .map(|(c, file)| {
                let plane = c.image.width * c.image.height;
                let mut one = vec![0f32; 3 * plane];
                for (p, px) in c.image.data.chunks_exact(3).enumerate() {
                    for ch in 0..3 {
                        one[ch * plane + p] = px[ch] as f32 / 255.0;
                    }
                }
                let rows = batch_rows(c.guess_mode, spec);
                Net {
                    file,
                    image: one.repeat(rows),
                    size: (c.image.width, c.image.height),
                    scale: c.scale,
                    start: decimal_f64(c.start),
                    end: decimal_f64(c.end),
                    guess: c.guess_mode,
                }
            })
            .collect();
        let batch = if spec.cfg { 2 * spec.count } else { spec.count };
        let shapes: Vec<[usize; 4]> = levels
            .iter()
            .map(|&(c, l)| [batch, c, side_at(spec.height, l), side_at(spec.width, l)])
            .collect();
        let zeros = shapes
            .iter()
            .map(|s| vec![0f32; s.iter().product()])
            .collect();
        Control {
            loaded,
            nets,
            unet,
            begin: spec.begin,
            n: n_timesteps.saturating_sub(spec.begin).max(1),
            zeros,
            shapes,
        }
    }

    /// The UNet's residual inputs for scheduler index `i` at timestep `t`; `scaled` is the
    /// UNet's scaled latents (the whole batch, latent channels only).
    #[allow(clippy::too_many_arguments)]
    pub fn unet_inputs(
        &mut self,
        call: &Call<'_>,
        i: usize,
        t: f64,
        scaled: &[f32],
        spec: &LoopSpec,
        text: &Conditioning,
        timings: &mut Timings,
    ) -> Result<Vec<(String, DynValue)>> {
        let k = (i - self.begin) as f64;
        let n = self.n as f64;
        let mut sum: Option<Vec<Vec<f32>>> = None;
        for net in &self.nets {
            if k / n < net.start || (k + 1.0) / n > net.end || net.scale == 0.0 {
                continue;
            }
            let loaded = self
                .loaded
                .get_mut(&net.file)
                .ok_or_else(|| Error::internal("a ControlNet is not loaded"))?;
            let mut res = run(call, loaded, net, t, scaled, spec, text, &self.shapes)?;
            timings.controlnet += loaded.model.last_run();
            if net.guess {
                let ramp = guess_ramp(res.len());
                for (r, s) in res.iter_mut().zip(ramp) {
                    let s = s * net.scale;
                    r.iter_mut().for_each(|x| *x *= s);
                }
            }
            if net.guess && spec.cfg {
                for (r, z) in res.iter_mut().zip(&self.zeros) {
                    let mut full = z[..z.len() - r.len()].to_vec();
                    full.extend_from_slice(r);
                    *r = full;
                }
            }
            sum = Some(match sum {
                None => res,
                Some(mut acc) => {
                    for (a, r) in acc.iter_mut().zip(&res) {
                        a.iter_mut().zip(r).for_each(|(a, &r)| *a += r);
                    }
                    acc
                }
            });
        }
        let values = sum.as_ref().unwrap_or(&self.zeros);
        self.unet
            .all()
            .zip(values)
            .zip(&self.shapes)
            .map(|((info, v), s)| Ok((info.name.clone(), float_value(info, s, v)?)))
            .collect()
    }
}

/// One ControlNet's residuals at one step (guess mode: the conditional half only, scale 1).
#[allow(clippy::too_many_arguments)]
fn run(
    call: &Call<'_>,
    loaded: &mut Loaded,
    net: &Net,
    t: f64,
    scaled: &[f32],
    spec: &LoopSpec,
    text: &Conditioning,
    shapes: &[[usize; 4]],
) -> Result<Vec<Vec<f32>>> {
    let io = &loaded.io;
    let half = net.guess && spec.cfg;
    let rows = batch_rows(net.guess, spec);
    let lat = spec.count * spec.channels * spec.height * spec.width;
    let sample = if half { &scaled[lat..] } else { scaled };
    let tail = |v: &[f32], total_rows: usize| -> Vec<f32> {
        let per = v.len() / total_rows.max(1);
        v[v.len() - rows * per..].to_vec()
    };
    let [b, tokens, cross] = text.shape;
    let states = tail(&text.hidden_states, b);
    let scale = if net.guess { 1.0 } else { net.scale };
    let (h, w) = (spec.height, spec.width);
    let scale_shape: Vec<usize> = if io.scale.shape.is_empty() {
        vec![]
    } else {
        vec![1]
    };
    let mut inputs = vec![
        (
            io.sample.name.clone(),
            float_value(&io.sample, &[rows, spec.channels, h, w], sample)?,
        ),
        (io.timestep.name.clone(), timestep_value(&io.timestep, t)?),
        (
            io.hidden_states.name.clone(),
            float_value(&io.hidden_states, &[rows, tokens, cross], &states)?,
        ),
        (
            io.cond.name.clone(),
            float_value(&io.cond, &[rows, 3, net.size.1, net.size.0], &net.image)?,
        ),
        (
            io.scale.name.clone(),
            float_value(&io.scale, &scale_shape, &[scale])?,
        ),
    ];
    if let (Some(a), Some(added)) = (&io.added, &text.added) {
        let te = tail(&added.text_embeds, b);
        let ti = tail(&added.time_ids, b);
        inputs.push((
            a.text_embeds.name.clone(),
            float_value(&a.text_embeds, &[rows, added.text_embeds_dim], &te)?,
        ));
        inputs.push((
            a.time_ids.name.clone(),
            float_value(&a.time_ids, &[rows, added.time_ids_dim], &ti)?,
        ));
    }
    let names: Vec<&str> = io.outputs.iter().map(|o| o.name.as_str()).collect();
    let outs = loaded
        .model
        .run(inputs, &names, call.options(false))
        .map_err(|e| match call.check_cancel() {
            Err(c) => c,
            Ok(()) => e,
        })?;
    let mut res = Vec::with_capacity(outs.len());
    for (o, s) in outs.into_iter().zip(shapes) {
        let want = [rows, s[1], s[2], s[3]];
        if o.shape != want {
            return Err(Error::new(
                ErrorKind::ModelInvalid,
                format!(
                    "{}: a residual has shape {:?}, but the UNet takes {:?} there: the \
                     ControlNet was made for another UNet architecture",
                    net.file.display(),
                    o.shape,
                    want
                ),
            ));
        }
        res.push(o.data);
    }
    Ok(res)
}
