//! What each part's graph must declare for the pipeline to run it, and how the parts must agree,
//! checked when a pipeline is created (before any graph runs):
//!
//! - text encoder: one input `input_ids` `[batch, tokens]` (integer ids), an output
//!   `last_hidden_state` `[batch, tokens, hidden]`;
//! - UNet: inputs `sample` `[batch, C_in, h, w]`, `timestep` (rank 0 or 1),
//!   `encoder_hidden_states` `[batch, tokens, cross]`, optionally `timestep_cond`
//!   `[batch, dim]` (LCM) and nothing else; an output `out_sample` `[batch, C, h, w]` where
//!   `C_in` is `C`, or `2 * C + 1` for inpainting UNets;
//! - VAE decoder: `latent_sample` `[batch, C, h, w]` in, `sample` `[batch, 3, H, W]` out;
//! - VAE encoder (when present): `sample` `[batch, 3, H, W]` in, `latent_parameters`
//!   `[batch, 2 * C, h, w]` (or `latent_sample` `[batch, C, h, w]`) out;
//! - across parts: `hidden` = `cross`; the UNet's `C` = the VAE's; the tokenizer's ids fit the
//!   text encoder's token embedding; fixed token dimensions equal the tokenizer's length; the
//!   configs, where they state a size, agree with the graphs.
//!
//! A name the graph lacks falls back to the input or output at the position the pipeline
//! would use, as the pipeline does; the rank and type checks then decide.

use std::path::Path;

use ort::value::TensorElementType;

use super::onnx_file;
use super::session::{IoInfo, OnnxModel};
use super::{ModelConfig, ModelFolder, TextConfig};
use crate::error::{Error, Result};
use crate::tokenizer::ClipTokenizer;

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
fn describe_one(i: &IoInfo) -> String {
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

fn describe(list: &[IoInfo]) -> String {
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
fn fixed(i: &IoInfo, k: usize) -> Option<usize> {
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

/// The text encoder: its hidden size (when fixed).
fn text_encoder(p: &Part<'_>, max_length: Option<usize>) -> Result<Option<usize>> {
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
    Ok(fixed(hidden, 2))
}

struct Unet {
    in_channels: Option<usize>,
    latent_channels: Option<usize>,
    cross: Option<usize>,
    timestep_cond: Option<usize>,
    fixed: [Option<usize>; 3],
}

fn unet(p: &Part<'_>, max_length: Option<usize>) -> Result<Unet> {
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
    let cond = match find_role(p.inputs, &COND) {
        Some(_) => {
            let c = check_role(p, false, &COND, part)?;
            used.push(c);
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
        "sample, timestep, encoder_hidden_states and (LCM) timestep_cond",
        part,
    )?;
    check_tokens(p, states, 1, max_length)?;
    let out = check_role(p, true, &OUT, part)?;
    Ok(Unet {
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

/// A VAE decoder (or a TAESD preview decoder): its latent channels and fixed dimensions.
pub fn vae_decoder(p: &Part<'_>) -> Result<(Option<usize>, [Option<usize>; 3])> {
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
    rgb_image(p, true, part)?;
    Ok((
        fixed(latent, 1),
        [fixed(latent, 0), fixed(latent, 2), fixed(latent, 3)],
    ))
}

/// A VAE encoder: the latent channels its output implies (when fixed).
pub fn vae_encoder(p: &Part<'_>) -> Result<Option<usize>> {
    let part = "a VAE encoder";
    let image = rgb_image(p, false, part)?;
    unexpected_inputs(p, &[image], "sample", part)?;
    // `latent_parameters` (mean and log-variance) is what the pipeline samples from; a
    // `latent_sample` output is taken as it is; else the first output, read as parameters.
    let (out, halves) = match p.outputs.iter().find(|o| o.name == "latent_parameters") {
        Some(o) => (o, true),
        None => match p.outputs.iter().find(|o| o.name == "latent_sample") {
            Some(o) => (o, false),
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
    Ok(match fixed(out, 1) {
        Some(c) if halves && c % 2 == 1 => {
            return Err(Error::model(format!(
                "{}: output '{}' has {c} channels; expected an even number (mean and \
                 log-variance of each latent channel)",
                p.path.display(),
                out.name
            )))
        }
        Some(c) if halves => Some(c / 2),
        other => other,
    })
}

fn disagree(what: &str, a: (&Path, usize), b: (&str, usize), why: &str) -> Error {
    Error::model(format!(
        "{}: {what} is {}, but {} says {}{why}",
        a.0.display(),
        a.1,
        b.0,
        b.1
    ))
}

/// Every part of a pipeline, checked alone and against each other.
pub struct Parts<'a> {
    /// `text_encoder/model.onnx`.
    pub text_encoder: Part<'a>,
    /// `unet/model.onnx`.
    pub unet: Part<'a>,
    /// `vae_decoder/model.onnx`.
    pub vae_decoder: Part<'a>,
    /// `vae_encoder/model.onnx`, when the folder has one.
    pub vae_encoder: Option<Part<'a>>,
    /// Rows of the text encoder's token embedding, when its graph shows them.
    pub embedding_rows: Option<usize>,
}

/// Checks every part and their agreement; the dimensions each call checks against. Without
/// `tok` (before the tokenizer is loaded) the checks against the tokenizer are skipped.
pub fn check(
    parts: &Parts<'_>,
    config: &ModelConfig,
    tok: Option<&TokenizerFacts>,
) -> Result<GraphDims> {
    let max_length = tok.map(|t| t.max_length);
    let hidden = text_encoder(&parts.text_encoder, max_length)?;
    let u = unet(&parts.unet, max_length)?;
    let (vae_c, vae_fixed) = vae_decoder(&parts.vae_decoder)?;
    let enc_c = match &parts.vae_encoder {
        Some(p) => vae_encoder(p)?,
        None => None,
    };
    let te = parts.text_encoder.path;
    let un = parts.unet.path;
    let vd = parts.vae_decoder.path;

    // Text encoder <-> UNet: the embeddings the UNet attends to.
    if let (Some(h), Some(c)) = (hidden, u.cross) {
        if h != c {
            return Err(disagree(
                "'encoder_hidden_states' width (cross_attention_dim)",
                (un, c),
                (&format!("{} ('last_hidden_state')", te.display()), h),
                ": the text encoder and the UNet come from different models",
            ));
        }
    }
    // The tokenizer's ids index the text encoder's token embedding.
    let TextConfig {
        hidden_size,
        vocab_size,
    } = config.text;
    if let (Some(h), Some(cfg)) = (hidden, hidden_size) {
        if h != cfg {
            return Err(disagree(
                "'last_hidden_state' width",
                (te, h),
                ("text_encoder/config.json (hidden_size)", cfg),
                "",
            ));
        }
    }
    if let (Some(r), Some(v)) = (parts.embedding_rows, vocab_size) {
        if r != v {
            return Err(disagree(
                "the token embedding's row count",
                (te, r),
                ("text_encoder/config.json (vocab_size)", v),
                "",
            ));
        }
    }
    let (rows, rows_from) = match (parts.embedding_rows, vocab_size) {
        (Some(r), _) => (Some(r), format!("{}'s token embedding", te.display())),
        (None, Some(v)) => (Some(v), "text_encoder/config.json's vocab_size".to_string()),
        (None, None) => (None, String::new()),
    };
    if let (Some(rows), Some(tok)) = (rows, tok) {
        let (id, token) = &tok.max_id;
        if *id as usize >= rows {
            return Err(Error::model(format!(
                "{}: id {id} ('{token}') does not fit {rows_from} of {rows} rows (ids \
                 0..={}): the tokenizer and the text encoder come from different models",
                tok.source,
                rows - 1
            )));
        }
    }

    // UNet <-> VAE: the latents they exchange.
    let latent = u.latent_channels.or(vae_c).or(enc_c).unwrap_or(4);
    if let Some(c) = u.latent_channels.filter(|&c| vae_c.is_some_and(|v| v != c)) {
        return Err(disagree(
            "'out_sample' channels (latent channels)",
            (un, c),
            (
                &format!("{} ('latent_sample')", vd.display()),
                vae_c.unwrap_or(0),
            ),
            ": the UNet and the VAE come from different models",
        ));
    }
    if let (Some(p), Some(e)) = (&parts.vae_encoder, enc_c) {
        if e != latent {
            return Err(disagree(
                "the latent channels of its output",
                (p.path, e),
                (&format!("{} and {}", un.display(), vd.display()), latent),
                ": the VAE encoder comes from a different model",
            ));
        }
    }
    let in_channels = u.in_channels.unwrap_or(latent);
    if in_channels != latent && in_channels != 2 * latent + 1 {
        return Err(Error::model(format!(
            "{}: 'sample' has {in_channels} channels; expected {latent} (the latent channels \
             of 'out_sample') or {} (an inpainting UNet: latents, mask, masked-image latents)",
            un.display(),
            2 * latent + 1
        )));
    }

    // The configs, where they state a size, describe these graphs.
    let unet_cfg = "unet/config.json";
    for (what, graph, cfg) in [
        ("'sample' channels", u.in_channels, config.unet.in_channels),
        (
            "'out_sample' channels",
            u.latent_channels,
            config.unet.out_channels,
        ),
        (
            "'encoder_hidden_states' width",
            u.cross,
            config.unet.cross_attention_dim,
        ),
    ] {
        if let (Some(g), Some(c)) = (graph, cfg) {
            if g != c {
                return Err(disagree(
                    what,
                    (un, g),
                    (unet_cfg, c),
                    ": the config belongs to another UNet",
                ));
            }
        }
    }
    if let (Some(g), Some(c)) = (vae_c, config.vae.latent_channels) {
        if g != c {
            return Err(disagree(
                "'latent_sample' channels",
                (vd, g),
                ("vae_decoder/config.json (latent_channels)", c),
                ": the config belongs to another VAE",
            ));
        }
    }
    Ok(GraphDims {
        latent_channels: latent,
        unet_in_channels: in_channels,
        timestep_cond: u.timestep_cond,
        unet_fixed: u.fixed,
        vae_fixed,
    })
}

/// Reads a part's graph from its file, with its external data checked.
fn read_part(path: &Path) -> Result<onnx_file::GraphSummary> {
    let g = onnx_file::read_graph(path)?;
    onnx_file::check_external_data(path, &g)?;
    Ok(g)
}

/// Checks `folder`'s graphs from their files alone, before any session is built, so a folder
/// whose graphs do not fit fails in milliseconds (ONNX Runtime is not asked to optimize a
/// UNet that sits where the text encoder belongs).
pub fn check_files(folder: &ModelFolder, config: &ModelConfig) -> Result<GraphDims> {
    let te = read_part(&folder.onnx("text_encoder"))?;
    let un = read_part(&folder.onnx("unet"))?;
    let vd = read_part(&folder.onnx("vae_decoder"))?;
    check_parts(
        folder,
        config,
        None,
        [
            (&te.inputs, &te.outputs),
            (&un.inputs, &un.outputs),
            (&vd.inputs, &vd.outputs),
        ],
        &te,
    )
}

/// Checks the loaded text encoder, UNet and VAE decoder of `folder` (their sessions' inputs
/// and outputs, with any dimensions pinned for static shapes), and its VAE encoder's declared
/// inputs and outputs when it has one (read from the file: the encoder's session is only built
/// by the first call that needs it).
pub fn check_models(
    folder: &ModelFolder,
    config: &ModelConfig,
    tokenizer: &ClipTokenizer,
    [text_encoder, unet, vae_decoder]: [Io<'_>; 3],
) -> Result<GraphDims> {
    let te = onnx_file::read_graph(&folder.onnx("text_encoder"))?;
    check_parts(
        folder,
        config,
        Some(tokenizer),
        [text_encoder, unet, vae_decoder],
        &te,
    )
}

/// A loaded graph's inputs and outputs.
pub type Io<'a> = (&'a [IoInfo], &'a [IoInfo]);

fn check_parts(
    folder: &ModelFolder,
    config: &ModelConfig,
    tokenizer: Option<&ClipTokenizer>,
    [te, un, vd]: [Io<'_>; 3],
    te_graph: &onnx_file::GraphSummary,
) -> Result<GraphDims> {
    let te_path = folder.onnx("text_encoder");
    let un_path = folder.onnx("unet");
    let vd_path = folder.onnx("vae_decoder");
    let ve_path = folder.onnx("vae_encoder");
    let hidden =
        te.1.iter()
            .find(|o| o.name == "last_hidden_state")
            .or_else(|| te.1.first())
            .and_then(|o| fixed(o, 2));
    let embedding_rows = te_graph.embedding_rows(hidden);
    let encoder = if ve_path.is_file() {
        Some(read_part(&ve_path)?)
    } else {
        None
    };
    let tok = tokenizer.map(|t| {
        let (max_id, token) = t.max_id();
        TokenizerFacts {
            max_length: t.max_length(),
            max_id: (max_id, token.to_string()),
            source: t.source().to_string(),
        }
    });
    let parts = Parts {
        text_encoder: Part {
            path: &te_path,
            inputs: te.0,
            outputs: te.1,
        },
        unet: Part {
            path: &un_path,
            inputs: un.0,
            outputs: un.1,
        },
        vae_decoder: Part {
            path: &vd_path,
            inputs: vd.0,
            outputs: vd.1,
        },
        vae_encoder: encoder.as_ref().map(|g| Part {
            path: &ve_path,
            inputs: &g.inputs,
            outputs: &g.outputs,
        }),
        embedding_rows,
    };
    check(&parts, config, tok.as_ref())
}

/// Checks a lazily loaded VAE encoder against the latent channels the pipeline runs with.
pub fn check_loaded_vae_encoder(path: &Path, model: &OnnxModel, latent: usize) -> Result<()> {
    let p = Part {
        path,
        inputs: model.inputs(),
        outputs: model.outputs(),
    };
    match vae_encoder(&p)? {
        Some(c) if c != latent => Err(disagree(
            "the latent channels of its output",
            (path, c),
            ("the UNet", latent),
            ": the VAE encoder comes from a different model",
        )),
        _ => Ok(()),
    }
}

/// Checks a lazily loaded preview decoder (TAESD) against the latent channels.
pub fn check_loaded_preview_decoder(path: &Path, model: &OnnxModel, latent: usize) -> Result<()> {
    let p = Part {
        path,
        inputs: model.inputs(),
        outputs: model.outputs(),
    };
    match vae_decoder(&p)?.0 {
        Some(c) if c != latent => Err(disagree(
            "'latent_sample' channels",
            (path, c),
            ("the UNet", latent),
            ": the preview decoder is for another latent space",
        )),
        _ => Ok(()),
    }
}
