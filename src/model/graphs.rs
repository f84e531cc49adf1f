//! What each part's graph must declare for the pipeline to run it, checked when a pipeline is
//! created (before any graph runs), and resolved into the part's [`super::bindings`]:
//!
//! - text encoder: one input `input_ids` `[batch, tokens]` (integer ids), an output
//!   `last_hidden_state` `[batch, tokens, hidden]`;
//! - UNet: inputs `sample` `[batch, C_in, h, w]`, `timestep` (rank 0 or 1),
//!   `encoder_hidden_states` `[batch, tokens, cross]`, optionally `timestep_cond`
//!   `[batch, dim]` (LCM) and ControlNet residuals ([`controlnet`]), nothing else; an
//!   output `out_sample` `[batch, C, h, w]` where `C_in` is `C`, or `2 * C + 1` for inpainting
//!   UNets;
//! - VAE decoder: `latent_sample` `[batch, C, h, w]` in, `sample` `[batch, 3, H, W]` out;
//! - VAE encoder (when present): `sample` `[batch, 3, H, W]` in, `latent_parameters`
//!   `[batch, 2 * C, h, w]` (or `latent_sample` `[batch, C, h, w]`) out.
//!
//! How the parts must agree is [`super::agreement`]'s.
//!
//! A name the graph lacks falls back to the input or output at the position the pipeline
//! would use, as the pipeline does; the rank and type checks then decide.

pub mod controlnet;

use std::path::Path;

use ort::value::TensorElementType;

use super::bindings::{AddedIo, TextEncoderIo, TextOutputs, UnetIo, VaeDecoderIo, VaeEncoderIo};
use super::session::IoInfo;
use crate::error::{Error, Result};

/// One part's declared inputs and outputs and the file they come from.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// The file, for messages.
    pub path: &'a Path,
    /// Declared inputs.
    pub inputs: &'a [IoInfo],
    /// Declared outputs.
    pub outputs: &'a [IoInfo],
}

/// What the checked graphs fix, for the checks each call makes before it runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphDims {
    /// Latent channels (the UNet's `out_sample` channels; 4 when not fixed).
    pub latent_channels: usize,
    /// The UNet's `sample` channels (`latent_channels` when not fixed).
    pub unet_in_channels: usize,
    /// Width of `timestep_cond` (LCM-distilled UNets).
    pub timestep_cond: Option<usize>,
    /// Fixed UNet batch, latent height and width (`sample` dimensions 0, 2, 3).
    pub unet_fixed: [Option<usize>; 3],
    /// Fixed VAE decoder batch, latent height and width (`latent_sample` dimensions 0, 2, 3).
    pub vae_fixed: [Option<usize>; 3],
}

impl GraphDims {
    /// The SD 2 inpainting layout: the UNet takes latents, mask and masked-image latents
    /// (9 channels for 4-channel latents).
    pub fn is_inpainting(&self) -> bool {
        self.unet_in_channels == 2 * self.latent_channels + 1
    }
}

/// The tokenizer's side of the agreement: its sequence length and its largest id (with the
/// token, for messages) and where its vocabulary comes from.
#[derive(Debug, Clone)]
pub struct TokenizerFacts {
    /// Ids per prompt (77 for CLIP).
    pub max_length: usize,
    /// The largest id the tokenizer can produce, and its token.
    pub max_id: (u32, String),
    /// The files the vocabulary comes from, for messages.
    pub source: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Elem {
    Float,
    FloatOrInteger,
}

fn is_float(t: TensorElementType) -> bool {
    matches!(
        t,
        TensorElementType::Float32 | TensorElementType::Float16 | TensorElementType::Float64
    )
}

fn is_integer(t: TensorElementType) -> bool {
    matches!(t, TensorElementType::Int32 | TensorElementType::Int64)
}

impl Elem {
    fn accepts(self, t: TensorElementType) -> bool {
        match self {
            Elem::Float => is_float(t),
            Elem::FloatOrInteger => is_float(t) || is_integer(t),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Elem::Float => "float32/float16/float64",
            Elem::FloatOrInteger => "a float or integer type",
        }
    }
}

/// `name float32 [batch_size, 4, height, width]`.
pub(super) fn describe_one(i: &IoInfo) -> String {
    let dims: Vec<String> = i
        .shape
        .iter()
        .enumerate()
        .map(|(k, &d)| {
            if d >= 0 {
                d.to_string()
            } else {
                match i.symbols.get(k).filter(|s| !s.is_empty()) {
                    Some(s) => s.clone(),
                    None => "?".into(),
                }
            }
        })
        .collect();
    format!("'{}' {:?} [{}]", i.name, i.elem, dims.join(", "))
}

pub(super) fn describe(list: &[IoInfo]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter().map(describe_one).collect::<Vec<_>>().join(", ")
}

/// Which part a graph looks like, from its input names, as a hint for swapped files.
fn looks_like(p: &Part<'_>) -> &'static str {
    let has = |n: &str| p.inputs.iter().any(|i| i.name == n);
    let out = |n: &str| p.outputs.iter().any(|i| i.name == n);
    if has("input_ids") {
        "a text encoder"
    } else if has("encoder_hidden_states") {
        "a UNet"
    } else if has("latent_sample") {
        "a VAE decoder"
    } else if has("sample") && (out("latent_parameters") || out("latent_sample")) {
        "a VAE encoder"
    } else {
        ""
    }
}

fn hint(p: &Part<'_>, expected: &str) -> String {
    match looks_like(p) {
        "" => String::new(),
        l if l == expected => String::new(),
        l => format!(" (this graph looks like {l}'s: are the files swapped?)"),
    }
}

/// A fixed dimension, `None` when free.
pub(super) fn fixed(i: &IoInfo, k: usize) -> Option<usize> {
    i.shape.get(k).and_then(|&d| (d > 0).then_some(d as usize))
}

struct Role {
    name: &'static str,
    /// The position the pipeline falls back to when no input has the name.
    index: Option<usize>,
    ranks: &'static [usize],
    elem: Elem,
    /// The expected shape, for messages.
    shape: &'static str,
}

fn find_role<'a>(list: &'a [IoInfo], role: &Role) -> Option<&'a IoInfo> {
    list.iter()
        .find(|i| i.name == role.name)
        .or_else(|| role.index.and_then(|k| list.get(k)))
}

/// The input or output playing `role`, with its rank and element type checked.
fn check_role<'a>(p: &Part<'a>, outputs: bool, role: &Role, part: &str) -> Result<&'a IoInfo> {
    let (list, kind) = if outputs {
        (p.outputs, "output")
    } else {
        (p.inputs, "input")
    };
    let file = p.path.display();
    let Some(io) = find_role(list, role) else {
        return Err(Error::model(format!(
            "{file}: no {kind} '{}' {} (its {kind}s: {}){}",
            role.name,
            role.shape,
            describe(list),
            hint(p, part)
        )));
    };
    if !role.ranks.contains(&io.shape.len()) || !role.elem.accepts(io.elem) {
        let called = if io.name == role.name {
            String::new()
        } else {
            format!(" (taken for '{}')", role.name)
        };
        return Err(Error::model(format!(
            "{file}: {kind} {}{called} does not match the expected '{}' {} of {}{}",
            describe_one(io),
            role.name,
            role.shape,
            role.elem.name(),
            hint(p, part)
        )));
    }
    Ok(io)
}

fn unexpected_inputs(p: &Part<'_>, used: &[&IoInfo], fed: &str, part: &str) -> Result<()> {
    let extra: Vec<&IoInfo> = p
        .inputs
        .iter()
        .filter(|i| !used.iter().any(|u| u.name == i.name))
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = extra.iter().map(|i| describe_one(i)).collect();
    Err(Error::model(format!(
        "{}: unexpected input{} {}: sdrt feeds this part only {fed}{}",
        p.path.display(),
        if extra.len() == 1 { "" } else { "s" },
        list.join(", "),
        hint(p, part)
    )))
}

fn check_tokens(p: &Part<'_>, io: &IoInfo, dim: usize, max_length: Option<usize>) -> Result<()> {
    let Some(max_length) = max_length else {
        return Ok(());
    };
    match fixed(io, dim) {
        Some(n) if n != max_length => Err(Error::model(format!(
            "{}: '{}' is fixed to {n} tokens, the tokenizer makes {max_length} \
             (tokenizer_config.json's model_max_length)",
            p.path.display(),
            io.name
        ))),
        _ => Ok(()),
    }
}

/// The text encoder: its binding and hidden size (when fixed).
pub(super) fn text_encoder(
    p: &Part<'_>,
    max_length: Option<usize>,
    want: TextOutputs,
) -> Result<(TextEncoderIo, Option<usize>)> {
    const IDS: Role = Role {
        name: "input_ids",
        index: Some(0),
        ranks: &[2],
        elem: Elem::FloatOrInteger,
        shape: "[batch, tokens]",
    };
    const HIDDEN: Role = Role {
        name: "last_hidden_state",
        index: Some(0),
        ranks: &[3],
        elem: Elem::Float,
        shape: "[batch, tokens, hidden]",
    };
    let part = "a text encoder";
    let ids = check_role(p, false, &IDS, part)?;
    // Every other input of a text encoder would go unfed.
    unexpected_inputs(p, &[ids], "input_ids", part)?;
    if fixed(ids, 0).is_some_and(|b| b != 1) {
        return Err(Error::model(format!(
            "{}: 'input_ids' is fixed to a batch of {}; sdrt encodes one prompt per run",
            p.path.display(),
            fixed(ids, 0).unwrap_or(0)
        )));
    }
    check_tokens(p, ids, 1, max_length)?;
    let hidden = check_role(p, true, &HIDDEN, part)?;
    check_tokens(p, hidden, 1, max_length)?;
    let penultimate = if want.penultimate {
        Some(penultimate_hidden_state(p)?.clone())
    } else {
        None
    };
    let pooled = if want.pooled {
        const POOLED: Role = Role {
            name: "text_embeds",
            index: None,
            ranks: &[2],
            elem: Elem::Float,
            shape: "[batch, projection_dim] (CLIPTextModelWithProjection's pooled output)",
        };
        Some(check_role(p, true, &POOLED, part)?.clone())
    } else {
        None
    };
    // The state the UNet attends to: the penultimate one when the family takes it.
    let width = fixed(penultimate.as_ref().unwrap_or(hidden), 2);
    let io = TextEncoderIo {
        input_ids: ids.clone(),
        last_hidden_state: hidden.clone(),
        penultimate,
        pooled,
    };
    Ok((io, width))
}

/// `hidden_states.{N-1}` of the `hidden_states.0..=N` outputs an export with
/// `output_hidden_states` has (N layers: the embeddings, then each layer's output): the
/// penultimate layer's, whatever the encoder's depth.
fn penultimate_hidden_state<'a>(p: &Part<'a>) -> Result<&'a IoInfo> {
    let layers: Vec<(usize, &IoInfo)> = p
        .outputs
        .iter()
        .filter_map(|o| {
            let k = o.name.strip_prefix("hidden_states.")?.parse().ok()?;
            Some((k, o))
        })
        .collect();
    let last = layers.iter().map(|&(k, _)| k).max();
    let found = last
        .filter(|&n| n >= 1 && layers.len() == n + 1)
        .and_then(|n| layers.iter().find(|&&(k, _)| k == n - 1));
    match found {
        Some(&(_, io)) if io.shape.len() == 3 && is_float(io.elem) => Ok(io),
        Some(&(_, io)) => Err(Error::model(format!(
            "{}: output {} does not match the expected [batch, tokens, hidden] of a float type",
            p.path.display(),
            describe_one(io)
        ))),
        None => Err(Error::model(format!(
            "{}: no hidden_states.0 .. hidden_states.N outputs (its outputs: {}): export the \
             text encoder with its hidden states, as optimum-cli does for SDXL",
            p.path.display(),
            describe(p.outputs)
        ))),
    }
}

/// What the UNet's graph fixes, and its binding.
pub(super) struct Unet {
    pub io: UnetIo,
    pub in_channels: Option<usize>,
    pub latent_channels: Option<usize>,
    pub cross: Option<usize>,
    pub timestep_cond: Option<usize>,
    pub fixed: [Option<usize>; 3],
}

/// The UNet; `added`: the family feeds SDXL's `text_embeds` and `time_ids` (required then,
/// unexpected otherwise).
pub(super) fn unet(p: &Part<'_>, max_length: Option<usize>, added: bool) -> Result<Unet> {
    const SAMPLE: Role = Role {
        name: "sample",
        index: Some(0),
        ranks: &[4],
        elem: Elem::Float,
        shape: "[batch, channels, height, width]",
    };
    const TIMESTEP: Role = Role {
        name: "timestep",
        index: Some(1),
        ranks: &[0, 1],
        elem: Elem::FloatOrInteger,
        shape: "[] or [1]",
    };
    const STATES: Role = Role {
        name: "encoder_hidden_states",
        index: Some(2),
        ranks: &[3],
        elem: Elem::Float,
        shape: "[batch, tokens, cross_attention_dim]",
    };
    const COND: Role = Role {
        name: "timestep_cond",
        index: None,
        ranks: &[2],
        elem: Elem::Float,
        shape: "[batch, time_cond_proj_dim]",
    };
    const OUT: Role = Role {
        name: "out_sample",
        index: Some(0),
        ranks: &[4],
        elem: Elem::Float,
        shape: "[batch, channels, height, width]",
    };
    let part = "a UNet";
    let sample = check_role(p, false, &SAMPLE, part)?;
    let timestep = check_role(p, false, &TIMESTEP, part)?;
    let states = check_role(p, false, &STATES, part)?;
    let mut used = vec![sample, timestep, states];
    let mut cond_io = None;
    let cond = match find_role(p.inputs, &COND) {
        Some(_) => {
            let c = check_role(p, false, &COND, part)?;
            used.push(c);
            cond_io = Some(c.clone());
            Some(fixed(c, 1).ok_or_else(|| {
                Error::model(format!(
                    "{}: 'timestep_cond' has shape {:?}; expected [batch, time_cond_proj_dim] \
                     with a fixed width",
                    p.path.display(),
                    c.shape
                ))
            })?)
        }
        None => None,
    };
    let added_io = if added {
        const TEXT_EMBEDS: Role = Role {
            name: "text_embeds",
            index: None,
            ranks: &[2],
            elem: Elem::Float,
            shape: "[batch, projection_dim]",
        };
        const TIME_IDS: Role = Role {
            name: "time_ids",
            index: None,
            ranks: &[2],
            elem: Elem::Float,
            shape: "[batch, 6] (or [batch, 5] for a refiner)",
        };
        let text_embeds = check_role(p, false, &TEXT_EMBEDS, part)?;
        let time_ids = check_role(p, false, &TIME_IDS, part)?;
        used.push(text_embeds);
        used.push(time_ids);
        Some(AddedIo {
            text_embeds: text_embeds.clone(),
            time_ids: time_ids.clone(),
        })
    } else {
        None
    };
    let residuals = controlnet::unet_residuals(p)?;
    used.extend(p.inputs.iter().filter(|i| controlnet::is_residual(&i.name)));
    let distinct = used
        .iter()
        .enumerate()
        .all(|(k, a)| used[..k].iter().all(|b| b.name != a.name));
    if !distinct {
        return Err(Error::model(format!(
            "{}: inputs {} do not name sample, timestep and encoder_hidden_states apart{}",
            p.path.display(),
            describe(p.inputs),
            hint(p, part)
        )));
    }
    unexpected_inputs(
        p,
        &used,
        if added {
            "sample, timestep, encoder_hidden_states, text_embeds, time_ids, (LCM) \
             timestep_cond and (ControlNet) *_additional_residual*"
        } else {
            "sample, timestep, encoder_hidden_states, (LCM) timestep_cond and (ControlNet) \
             *_additional_residual*"
        },
        part,
    )?;
    check_tokens(p, states, 1, max_length)?;
    let out = check_role(p, true, &OUT, part)?;
    Ok(Unet {
        io: UnetIo {
            sample: sample.clone(),
            timestep: timestep.clone(),
            hidden_states: states.clone(),
            timestep_cond: cond_io,
            added: added_io,
            residuals,
            out_sample: out.clone(),
        },
        in_channels: fixed(sample, 1),
        latent_channels: fixed(out, 1),
        cross: fixed(states, 2),
        timestep_cond: cond,
        fixed: [fixed(sample, 0), fixed(sample, 2), fixed(sample, 3)],
    })
}

/// The VAE's image side: the decoder's output, the encoder's input.
const RGB_IMAGE: Role = Role {
    name: "sample",
    index: Some(0),
    ranks: &[4],
    elem: Elem::Float,
    shape: "[batch, 3, height, width]",
};

/// `RGB_IMAGE` as an input (`outputs` false) or output of `p`, with 3 channels when fixed.
fn rgb_image<'a>(p: &Part<'a>, outputs: bool, part: &str) -> Result<&'a IoInfo> {
    let image = check_role(p, outputs, &RGB_IMAGE, part)?;
    if let Some(c) = fixed(image, 1).filter(|&c| c != 3) {
        return Err(Error::model(format!(
            "{}: {} '{}' has {c} channels; expected 3 (RGB){}",
            p.path.display(),
            if outputs { "output" } else { "input" },
            image.name,
            hint(p, part)
        )));
    }
    Ok(image)
}

/// A VAE decoder (or a TAESD preview decoder): its binding, latent channels and fixed
/// dimensions.
pub fn vae_decoder(p: &Part<'_>) -> Result<(VaeDecoderIo, Option<usize>, [Option<usize>; 3])> {
    const LATENT: Role = Role {
        name: "latent_sample",
        index: Some(0),
        ranks: &[4],
        elem: Elem::Float,
        shape: "[batch, latent_channels, latent_height, latent_width]",
    };
    let part = "a VAE decoder";
    let latent = check_role(p, false, &LATENT, part)?;
    unexpected_inputs(p, &[latent], "latent_sample", part)?;
    let image = rgb_image(p, true, part)?;
    Ok((
        VaeDecoderIo {
            latent_sample: latent.clone(),
            sample: image.clone(),
        },
        fixed(latent, 1),
        [fixed(latent, 0), fixed(latent, 2), fixed(latent, 3)],
    ))
}

/// A VAE encoder: its binding (`parameters` as its output is read when the latent channels
/// are `latent`, for a graph whose output is not named) and the latent channels its output
/// implies (when fixed).
pub fn vae_encoder(p: &Part<'_>, latent: Option<usize>) -> Result<(VaeEncoderIo, Option<usize>)> {
    let part = "a VAE encoder";
    let image = rgb_image(p, false, part)?;
    unexpected_inputs(p, &[image], "sample", part)?;
    // `latent_parameters` (mean and log-variance) is what the pipeline samples from; a
    // `latent_sample` output is taken as it is; else the first output, read as parameters.
    let (out, halves, named) = match p.outputs.iter().find(|o| o.name == "latent_parameters") {
        Some(o) => (o, true, true),
        None => match p.outputs.iter().find(|o| o.name == "latent_sample") {
            Some(o) => (o, false, true),
            None => (
                check_role(
                    p,
                    true,
                    &Role {
                        name: "latent_parameters",
                        index: Some(0),
                        ranks: &[4],
                        elem: Elem::Float,
                        shape: "[batch, 2 * latent_channels, latent_height, latent_width]",
                    },
                    part,
                )?,
                true,
                false,
            ),
        },
    };
    if out.shape.len() != 4 || !is_float(out.elem) {
        return Err(Error::model(format!(
            "{}: output {} does not match the expected [batch, channels, latent_height, \
             latent_width] of a float type{}",
            p.path.display(),
            describe_one(out),
            hint(p, part)
        )));
    }
    // An unnamed output is read as mean and log-variance when it has twice the latent
    // channels, else as latents.
    let parameters = if named {
        halves
    } else {
        latent.is_some_and(|c| fixed(out, 1) == Some(2 * c))
    };
    let io = VaeEncoderIo {
        sample: image.clone(),
        latents: out.clone(),
        parameters,
    };
    Ok(match fixed(out, 1) {
        Some(c) if halves && c % 2 == 1 => {
            return Err(Error::model(format!(
                "{}: output '{}' has {c} channels; expected an even number (mean and \
                 log-variance of each latent channel)",
                p.path.display(),
                out.name
            )))
        }
        Some(c) if halves => (io, Some(c / 2)),
        other => (io, other),
    })
}
