//! ControlNets (`controlnet/<name>/model.onnx`) and the UNet's side of them: the residual
//! inputs a UNet exported by `tools/export_controlnet.py` takes, the ControlNet graph's inputs
//! and outputs, and how the two must agree.
//!
//! - UNet: besides its usual inputs, `down_block_additional_residual_0..N-1` and
//!   `mid_block_additional_residual`, each `[batch, channels, h_k, w_k]` (float). Their
//!   channels and sizes follow `unet/config.json` as diffusers' down path makes them:
//!   `conv_in`'s output, then per down block `layers_per_block` outputs and, but for the last
//!   block, the downsampler's (half size, rounded up); the mid block's at the last size.
//! - ControlNet: inputs `sample`, `timestep`, `encoder_hidden_states` (as the UNet's),
//!   `controlnet_cond` `[batch, 3, H, W]`, `conditioning_scale` (rank 0 or `[1]`), and SDXL's
//!   `text_embeds` and `time_ids`; outputs `down_block_res_sample_0..N-1` and
//!   `mid_block_res_sample` (else its outputs in order, the mid block's last).

use std::path::{Path, PathBuf};

use super::{check_role, describe, find_role, fixed, unexpected_inputs, Elem, Part, Role};
use crate::error::{Error, ErrorKind, Result};
use crate::model::bindings::{AddedIo, ControlNetIo, ResidualIo};
use crate::model::session::IoInfo;
use crate::model::UnetConfig;

const DOWN: &str = "down_block_additional_residual_";
const MID: &str = "mid_block_additional_residual";

fn down_index(name: &str) -> Option<usize> {
    name.strip_prefix(DOWN)?.parse().ok()
}

/// Whether a UNet input is a ControlNet residual.
pub fn is_residual(name: &str) -> bool {
    name == MID || down_index(name).is_some()
}

fn check_residual(p: &Part<'_>, io: &IoInfo) -> Result<()> {
    if io.shape.len() != 4 || !Elem::Float.accepts(io.elem) {
        return Err(Error::model(format!(
            "{}: input {} does not match the expected [batch, channels, height, width] of a \
             float type",
            p.path.display(),
            describe(std::slice::from_ref(io))
        )));
    }
    Ok(())
}

/// The UNet's residual inputs, `None` when it has none.
pub(crate) fn unet_residuals(p: &Part<'_>) -> Result<Option<ResidualIo>> {
    let mut down: Vec<(usize, &IoInfo)> = p
        .inputs
        .iter()
        .filter_map(|i| Some((down_index(&i.name)?, i)))
        .collect();
    let mid = p.inputs.iter().find(|i| i.name == MID);
    if down.is_empty() && mid.is_none() {
        return Ok(None);
    }
    down.sort_by_key(|&(k, _)| k);
    let contiguous = down.iter().enumerate().all(|(k, &(i, _))| k == i);
    let Some(mid) = mid.filter(|_| contiguous && !down.is_empty()) else {
        return Err(Error::model(format!(
            "{}: ControlNet residual inputs {} are incomplete: expected \
             {DOWN}0..N-1 and {MID}",
            p.path.display(),
            describe(
                &p.inputs
                    .iter()
                    .filter(|i| is_residual(&i.name))
                    .cloned()
                    .collect::<Vec<_>>()
            )
        )));
    };
    for (_, io) in &down {
        check_residual(p, io)?;
    }
    check_residual(p, mid)?;
    Ok(Some(ResidualIo {
        down: down.into_iter().map(|(_, i)| i.clone()).collect(),
        mid: mid.clone(),
    }))
}

/// Channels and size level (times halved) of each residual, down then mid, as diffusers'
/// `UNet2DConditionModel` makes them from its config.
pub fn residual_levels(cfg: &UnetConfig) -> Vec<(usize, usize)> {
    let blocks = &cfg.block_out_channels;
    let mut out = Vec::new();
    if let Some(&c0) = blocks.first() {
        out.push((c0, 0));
    }
    for (b, &c) in blocks.iter().enumerate() {
        let layers = cfg.layers_per_block.get(b).copied().unwrap_or(2);
        out.extend(std::iter::repeat_n((c, b), layers));
        if b + 1 < blocks.len() {
            out.push((c, b + 1));
        }
    }
    if let Some(&c) = blocks.last() {
        out.push((c, blocks.len() - 1));
    }
    out
}

/// A latent side after `level` stride-2 convolutions (kernel 3, padding 1): halved, rounded up.
pub fn side_at(side: usize, level: usize) -> usize {
    (0..level).fold(side, |s, _| s.div_ceil(2))
}

/// The UNet's residual inputs against its config: their count and (fixed) channels. Returns
/// the levels ([`residual_levels`]).
pub fn check_unet_residuals(
    path: &Path,
    io: &ResidualIo,
    cfg: &UnetConfig,
) -> Result<Vec<(usize, usize)>> {
    let levels = residual_levels(cfg);
    let n = io.down.len() + 1;
    if levels.len() != n {
        return Err(Error::model(format!(
            "{}: {n} ControlNet residual inputs, but unet/config.json's blocks \
             (block_out_channels {:?}, layers_per_block {:?}) make {}",
            path.display(),
            cfg.block_out_channels,
            cfg.layers_per_block,
            levels.len()
        )));
    }
    for (io, &(c, _)) in io.all().zip(&levels) {
        if let Some(got) = fixed(io, 1).filter(|&got| got != c) {
            return Err(Error::model(format!(
                "{}: input '{}' has {got} channels, but unet/config.json's blocks make {c}",
                path.display(),
                io.name
            )));
        }
    }
    Ok(levels)
}

/// A ControlNet graph's binding; `added`: it takes SDXL's `text_embeds` and `time_ids`.
pub fn controlnet(p: &Part<'_>, added: bool) -> Result<ControlNetIo> {
    const fn role(name: &'static str, index: usize, ranks: &'static [usize], elem: Elem) -> Role {
        Role {
            name,
            index: Some(index),
            ranks,
            elem,
            shape: "",
        }
    }
    let part = "a ControlNet";
    let sample = check_role(p, false, &role("sample", 0, &[4], Elem::Float), part)?;
    let timestep = check_role(
        p,
        false,
        &role("timestep", 1, &[0, 1], Elem::FloatOrInteger),
        part,
    )?;
    let states = check_role(
        p,
        false,
        &role("encoder_hidden_states", 2, &[3], Elem::Float),
        part,
    )?;
    let cond = check_role(
        p,
        false,
        &role("controlnet_cond", 3, &[4], Elem::Float),
        part,
    )?;
    let scale = check_role(
        p,
        false,
        &role("conditioning_scale", 4, &[0, 1], Elem::Float),
        part,
    )?;
    let mut used = vec![sample, timestep, states, cond, scale];
    let added = if added {
        let te = Role {
            index: None,
            ..role("text_embeds", 0, &[2], Elem::Float)
        };
        let ti = Role {
            index: None,
            ..role("time_ids", 0, &[2], Elem::Float)
        };
        let (te, ti) = (
            check_role(p, false, &te, part)?,
            check_role(p, false, &ti, part)?,
        );
        used.extend([te, ti]);
        Some(AddedIo {
            text_embeds: te.clone(),
            time_ids: ti.clone(),
        })
    } else {
        None
    };
    if find_role(p.inputs, &role("text_embeds", 9, &[2], Elem::Float)).is_some() && added.is_none()
    {
        return Err(Error::model(format!(
            "{}: this ControlNet takes text_embeds (an SDXL ControlNet); the model is not SDXL",
            p.path.display()
        )));
    }
    unexpected_inputs(
        p,
        &used,
        "sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale (and \
         SDXL's text_embeds, time_ids)",
        part,
    )?;
    let named = |o: &IoInfo| {
        o.name == "mid_block_res_sample"
            || o.name
                .strip_prefix("down_block_res_sample_")
                .is_some_and(|k| k.parse::<usize>().is_ok())
    };
    let mut outputs = p.outputs.to_vec();
    if outputs.iter().all(named) {
        let key = |o: &IoInfo| {
            o.name
                .strip_prefix("down_block_res_sample_")
                .and_then(|k| k.parse::<usize>().ok())
                .unwrap_or(usize::MAX)
        };
        outputs.sort_by_key(key);
    }
    if outputs.len() < 2 || outputs.iter().any(|o| o.shape.len() != 4) {
        return Err(Error::model(format!(
            "{}: outputs {} are not ControlNet residuals (down_block_res_sample_0..N-1 and \
             mid_block_res_sample, each [batch, channels, height, width])",
            p.path.display(),
            describe(p.outputs)
        )));
    }
    Ok(ControlNetIo {
        sample: sample.clone(),
        timestep: timestep.clone(),
        hidden_states: states.clone(),
        cond: cond.clone(),
        scale: scale.clone(),
        added,
        outputs,
    })
}

/// A ControlNet's residuals against the UNet's inputs: the same count and (fixed) channels.
pub fn check_agreement(
    cn_path: &Path,
    cn: &ControlNetIo,
    unet_path: &Path,
    levels: &[(usize, usize)],
) -> Result<()> {
    if cn.outputs.len() != levels.len() {
        return Err(Error::model(format!(
            "{}: the ControlNet gives {} residuals, but the UNet {} takes {}: it was made for \
             another UNet architecture",
            cn_path.display(),
            cn.outputs.len(),
            unet_path.display(),
            levels.len()
        )));
    }
    for (o, &(c, _)) in cn.outputs.iter().zip(levels) {
        if let Some(got) = fixed(o, 1).filter(|&got| got != c) {
            return Err(Error::model(format!(
                "{}: output '{}' has {got} channels, but the UNet {} takes {c} there: the \
                 ControlNet was made for another UNet architecture",
                cn_path.display(),
                o.name,
                unet_path.display()
            )));
        }
    }
    Ok(())
}

/// The graph a ControlNet reference names: a folder name under `<root>/controlnet/` (no path
/// separator), else a path to a folder holding `model.onnx` or to an `.onnx` file. `field`
/// names the request field in messages.
pub fn resolve(root: &Path, reference: &str, field: &str) -> Result<PathBuf> {
    let is_path = reference.contains('/') || reference.contains('\\');
    if reference.is_empty() || reference == "." || reference == ".." {
        return Err(Error::invalid(format!(
            "{field}: {reference:?} is not a ControlNet name or path"
        )));
    }
    if !is_path {
        let dir = root.join("controlnet");
        let file = dir.join(reference).join("model.onnx");
        if file.is_file() {
            return Ok(file);
        }
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("model.onnx").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        return Err(Error::new(
            ErrorKind::ModelNotFound,
            format!(
                "{field}: no ControlNet named '{reference}': {} does not exist (ControlNets in \
                 {}: {})",
                file.display(),
                dir.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
    let p = PathBuf::from(reference);
    let file = if p.is_dir() { p.join("model.onnx") } else { p };
    if !file.is_file() {
        return Err(Error::new(
            ErrorKind::ModelNotFound,
            format!("{field}: the ControlNet {} does not exist", file.display()),
        ));
    }
    Ok(file)
}
