//! How the parts of a pipeline must agree, checked when it is created (before any graph
//! runs): the text encoder's hidden size is the UNet's cross-attention width; the UNet's
//! latent channels are the VAE's; the tokenizer's ids fit the text encoder's token embedding;
//! fixed token dimensions equal the tokenizer's length; the configs, where they state a size,
//! agree with the graphs. Each part alone is checked (and bound) by [`super::graphs`].
//!
//! The check runs twice at create: on the files before any session is built (so a folder
//! whose graphs do not fit fails in milliseconds), then on the loaded sessions (whose
//! dimensions static shapes may have pinned), reusing what the first read from the files.

use std::path::{Path, PathBuf};

use super::bindings::{Bindings, TextEncoderIo, TextOutputs, VaeDecoderIo, VaeEncoderIo};
use super::graphs::{
    fixed, text_encoder, unet, vae_decoder, vae_encoder, GraphDims, Part, TokenizerFacts,
};
use super::onnx_file;
use super::session::{IoInfo, OnnxModel};
use super::{ModelConfig, ModelFolder, TextConfig};
use crate::error::{Error, Result};
use crate::tokenizer::ClipTokenizer;

fn disagree(what: &str, a: (&Path, usize), b: (&str, usize), why: &str) -> Error {
    Error::model(format!(
        "{}: {what} is {}, but {} says {}{why}",
        a.0.display(),
        a.1,
        b.0,
        b.1
    ))
}

/// What a family reads from its text encoders, for the checks.
#[derive(Debug, Clone, Copy)]
pub struct TextSpec<'a> {
    /// Its text parts (`text_encoder`, `text_encoder_2`), in order; the states the UNet
    /// attends to are theirs concatenated.
    pub parts: &'a [&'a str],
    /// The outputs read from each part besides `last_hidden_state`.
    pub outputs: &'a [TextOutputs],
    /// Whether the UNet takes SDXL's added conditioning (`text_embeds`, `time_ids`).
    pub added: bool,
}

/// One text part: its graph, and what its config and file say.
pub struct TextPart<'a> {
    /// The part's folder name (`text_encoder`).
    pub name: &'a str,
    /// Its graph.
    pub part: Part<'a>,
    /// The outputs read besides `last_hidden_state`.
    pub outputs: TextOutputs,
    /// `<name>/config.json`.
    pub config: TextConfig,
    /// Rows of its token embedding, when its graph shows them.
    pub embedding_rows: Option<usize>,
    /// Its tokenizer's side (skipped before the tokenizers are loaded).
    pub tokenizer: Option<TokenizerFacts>,
}

/// Every part of a pipeline, checked alone and against each other.
pub struct Parts<'a> {
    /// The family's text encoders.
    pub text: Vec<TextPart<'a>>,
    /// Whether the UNet takes SDXL's added conditioning.
    pub added: bool,
    /// `unet/model.onnx`.
    pub unet: Part<'a>,
    /// `vae_decoder/model.onnx`.
    pub vae_decoder: Part<'a>,
    /// `vae_encoder/model.onnx`, when the folder has one.
    pub vae_encoder: Option<Part<'a>>,
}

/// Checks every part and their agreement; the dimensions each call checks against, and the
/// bindings. Before the tokenizers are loaded the checks against them are skipped.
pub fn check(parts: &Parts<'_>, config: &ModelConfig) -> Result<(GraphDims, Bindings)> {
    // The UNet attends to tokens of the first tokenizer's length (they all agree: SDXL's two
    // tokenizers both make 77).
    let max_length = parts
        .text
        .first()
        .and_then(|t| t.tokenizer.as_ref())
        .map(|t| t.max_length);
    let mut text_io = Vec::new();
    let mut widths = Vec::new();
    for t in &parts.text {
        let (io, width) = text_encoder(
            &t.part,
            t.tokenizer.as_ref().map(|k| k.max_length),
            t.outputs,
        )?;
        check_text_part(t, &io)?;
        text_io.push(io);
        widths.push(width);
    }
    let u = unet(&parts.unet, max_length, parts.added)?;
    let (vd_io, vae_c, vae_fixed) = vae_decoder(&parts.vae_decoder)?;
    let enc_c = match &parts.vae_encoder {
        Some(p) => vae_encoder(p, u.latent_channels.or(vae_c))?.1,
        None => None,
    };
    let un = parts.unet.path;
    let vd = parts.vae_decoder.path;

    // Text encoders <-> UNet: the embeddings the UNet attends to, side by side.
    let sum: Option<usize> = widths.iter().copied().sum();
    if let (Some(h), Some(c)) = (sum, u.cross) {
        if h != c {
            return Err(match &parts.text[..] {
                [one] => disagree(
                    "'encoder_hidden_states' width (cross_attention_dim)",
                    (un, c),
                    (
                        &format!("{} ('last_hidden_state')", one.part.path.display()),
                        h,
                    ),
                    ": the text encoder and the UNet come from different models",
                ),
                many => {
                    let list: Vec<String> = many
                        .iter()
                        .zip(&widths)
                        .map(|(t, w)| format!("{} ({})", t.part.path.display(), w.unwrap_or(0)))
                        .collect();
                    Error::model(format!(
                        "{}: 'encoder_hidden_states' width (cross_attention_dim) is {c}, but the \
                         text encoders' hidden sizes add up to {h}: {}; the text encoders and \
                         the UNet come from different models",
                        un.display(),
                        list.join(" + ")
                    ))
                }
            });
        }
    }
    // The pooled embedding is the UNet's `text_embeds`.
    if let (Some(added), Some(pooled)) = (
        &u.io.added,
        text_io.last().and_then(|io| io.pooled.as_ref()),
    ) {
        if let (Some(g), Some(p)) = (fixed(&added.text_embeds, 1), fixed(pooled, 1)) {
            if g != p {
                let last = parts.text.last().map(|t| t.part.path);
                return Err(disagree(
                    "'text_embeds' width",
                    (un, g),
                    (
                        &format!(
                            "{} ('text_embeds')",
                            last.map(|p| p.display().to_string()).unwrap_or_default()
                        ),
                        p,
                    ),
                    ": the text encoder and the UNet come from different models",
                ));
            }
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
    let dims = GraphDims {
        latent_channels: latent,
        unet_in_channels: in_channels,
        timestep_cond: u.timestep_cond,
        unet_fixed: u.fixed,
        vae_fixed,
    };
    let bindings = Bindings {
        text: text_io,
        unet: u.io,
        vae_decoder: vd_io,
    };
    Ok((dims, bindings))
}

/// A text part against its config and tokenizer: its hidden size and token embedding rows
/// as the config states them, and the tokenizer's largest id within the embedding.
fn check_text_part(t: &TextPart<'_>, io: &TextEncoderIo) -> Result<()> {
    let te = t.part.path;
    let config_name = format!("{}/config.json", t.name);
    let hidden = fixed(&io.last_hidden_state, 2);
    let TextConfig {
        hidden_size,
        vocab_size,
    } = t.config;
    if let (Some(h), Some(cfg)) = (hidden, hidden_size) {
        if h != cfg {
            return Err(disagree(
                "'last_hidden_state' width",
                (te, h),
                (&format!("{config_name} (hidden_size)"), cfg),
                "",
            ));
        }
    }
    if let (Some(r), Some(v)) = (t.embedding_rows, vocab_size) {
        if r != v {
            return Err(disagree(
                "the token embedding's row count",
                (te, r),
                (&format!("{config_name} (vocab_size)"), v),
                "",
            ));
        }
    }
    let (rows, rows_from) = match (t.embedding_rows, vocab_size) {
        (Some(r), _) => (Some(r), format!("{}'s token embedding", te.display())),
        (None, Some(v)) => (Some(v), format!("{config_name}'s vocab_size")),
        (None, None) => (None, String::new()),
    };
    if let (Some(rows), Some(tok)) = (rows, &t.tokenizer) {
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
    Ok(())
}

/// Reads a part's graph from its file, with its external data checked.
fn read_part(path: &Path) -> Result<onnx_file::GraphSummary> {
    let g = onnx_file::read_graph(path)?;
    onnx_file::check_external_data(path, &g)?;
    Ok(g)
}

/// What the check of the files keeps for the check of the loaded sessions, so no file is
/// read twice.
pub struct FileFacts {
    /// Rows of each text encoder's token embedding, when its graph shows them.
    embedding_rows: Vec<Option<usize>>,
    /// Each text encoder's config.
    text_configs: Vec<TextConfig>,
    /// The VAE encoder's declared inputs and outputs, when the folder has one.
    vae_encoder: Option<onnx_file::GraphSummary>,
}

/// Checks `folder`'s graphs from their files alone, before any session is built, so a folder
/// whose graphs do not fit fails in milliseconds (ONNX Runtime is not asked to optimize a
/// UNet that sits where the text encoder belongs).
pub fn check_files(
    folder: &ModelFolder,
    config: &ModelConfig,
    text: &TextSpec<'_>,
) -> Result<FileFacts> {
    let mut graphs = Vec::new();
    let mut embedding_rows = Vec::new();
    let mut text_configs = Vec::new();
    for name in text.parts {
        let g = read_part(&folder.onnx(name))?;
        let hidden = g
            .outputs
            .iter()
            .find(|o| o.name == "last_hidden_state")
            .or_else(|| g.outputs.first())
            .and_then(|o| fixed(o, 2));
        embedding_rows.push(g.embedding_rows(hidden));
        text_configs.push(folder.text_config(name)?);
        graphs.push(g);
    }
    let un = read_part(&folder.onnx("unet"))?;
    let vd = read_part(&folder.onnx("vae_decoder"))?;
    let ve_path = folder.onnx("vae_encoder");
    let facts = FileFacts {
        embedding_rows,
        text_configs,
        vae_encoder: if ve_path.is_file() {
            Some(read_part(&ve_path)?)
        } else {
            None
        },
    };
    let text_io: Vec<Io<'_>> = graphs
        .iter()
        .map(|g| (&g.inputs[..], &g.outputs[..]))
        .collect();
    check_parts(
        folder,
        config,
        text,
        None,
        &text_io,
        [(&un.inputs, &un.outputs), (&vd.inputs, &vd.outputs)],
        &facts,
    )?;
    Ok(facts)
}

/// Checks the loaded text encoders, UNet and VAE decoder of `folder` (their sessions' inputs
/// and outputs, with any dimensions pinned for static shapes), and its VAE encoder's declared
/// inputs and outputs when it has one (as `check_files` read them: the encoder's session is
/// only built by the first call that needs it). What the stages run with: the dimensions each
/// call checks against, and the bindings.
pub fn check_models(
    folder: &ModelFolder,
    config: &ModelConfig,
    text: &TextSpec<'_>,
    tokenizers: &[&ClipTokenizer],
    files: &FileFacts,
    text_io: &[Io<'_>],
    [unet, vae_decoder]: [Io<'_>; 2],
) -> Result<(GraphDims, Bindings)> {
    check_parts(
        folder,
        config,
        text,
        Some(tokenizers),
        text_io,
        [unet, vae_decoder],
        files,
    )
}

/// A loaded graph's inputs and outputs.
pub type Io<'a> = (&'a [IoInfo], &'a [IoInfo]);

fn check_parts(
    folder: &ModelFolder,
    config: &ModelConfig,
    text: &TextSpec<'_>,
    tokenizers: Option<&[&ClipTokenizer]>,
    text_io: &[Io<'_>],
    [un, vd]: [Io<'_>; 2],
    files: &FileFacts,
) -> Result<(GraphDims, Bindings)> {
    let paths: Vec<PathBuf> = text.parts.iter().map(|p| folder.onnx(p)).collect();
    let un_path = folder.onnx("unet");
    let vd_path = folder.onnx("vae_decoder");
    let ve_path = folder.onnx("vae_encoder");
    let facts = |t: &ClipTokenizer| {
        let (max_id, token) = t.max_id();
        TokenizerFacts {
            max_length: t.max_length(),
            max_id: (max_id, token.to_string()),
            source: t.source().to_string(),
        }
    };
    let mut parts_text = Vec::new();
    for (k, name) in text.parts.iter().enumerate() {
        let (Some(io), Some(path)) = (text_io.get(k), paths.get(k)) else {
            return Err(Error::internal(format!("{name}: not loaded")));
        };
        parts_text.push(TextPart {
            name,
            part: Part {
                path,
                inputs: io.0,
                outputs: io.1,
            },
            outputs: text.outputs.get(k).copied().unwrap_or_default(),
            config: files.text_configs.get(k).copied().unwrap_or_default(),
            embedding_rows: files.embedding_rows.get(k).copied().flatten(),
            tokenizer: tokenizers.and_then(|t| t.get(k)).map(|t| facts(t)),
        });
    }
    let parts = Parts {
        text: parts_text,
        added: text.added,
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
        vae_encoder: files.vae_encoder.as_ref().map(|g| Part {
            path: &ve_path,
            inputs: &g.inputs,
            outputs: &g.outputs,
        }),
    };
    check(&parts, config)
}

/// Checks a lazily loaded VAE encoder against the latent channels the pipeline runs with;
/// its binding.
pub fn check_loaded_vae_encoder(
    path: &Path,
    model: &OnnxModel,
    latent: usize,
) -> Result<VaeEncoderIo> {
    let p = Part {
        path,
        inputs: model.inputs(),
        outputs: model.outputs(),
    };
    match vae_encoder(&p, Some(latent))? {
        (_, Some(c)) if c != latent => Err(disagree(
            "the latent channels of its output",
            (path, c),
            ("the UNet", latent),
            ": the VAE encoder comes from a different model",
        )),
        (io, _) => Ok(io),
    }
}

/// Checks a lazily loaded preview decoder (TAESD) against the latent channels; its binding.
pub fn check_loaded_preview_decoder(
    path: &Path,
    model: &OnnxModel,
    latent: usize,
) -> Result<VaeDecoderIo> {
    let p = Part {
        path,
        inputs: model.inputs(),
        outputs: model.outputs(),
    };
    match vae_decoder(&p)? {
        (_, Some(c), _) if c != latent => Err(disagree(
            "'latent_sample' channels",
            (path, c),
            ("the UNet", latent),
            ": the preview decoder is for another latent space",
        )),
        (io, _, _) => Ok(io),
    }
}
