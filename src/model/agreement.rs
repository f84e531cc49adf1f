//! How the parts of a pipeline must agree, checked when it is created (before any graph
//! runs): the text encoder's hidden size is the UNet's cross-attention width; the UNet's
//! latent channels are the VAE's; the tokenizer's ids fit the text encoder's token embedding;
//! fixed token dimensions equal the tokenizer's length; the configs, where they state a size,
//! agree with the graphs. Each part alone is checked (and bound) by [`super::graphs`].
//!
//! The check runs twice at create: on the files before any session is built (so a folder
//! whose graphs do not fit fails in milliseconds), then on the loaded sessions (whose
//! dimensions static shapes may have pinned), reusing what the first read from the files.

use std::path::Path;

use super::bindings::{Bindings, VaeDecoderIo, VaeEncoderIo};
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
) -> Result<(GraphDims, Bindings)> {
    let max_length = tok.map(|t| t.max_length);
    let (te_io, hidden) = text_encoder(&parts.text_encoder, max_length)?;
    let u = unet(&parts.unet, max_length)?;
    let (vd_io, vae_c, vae_fixed) = vae_decoder(&parts.vae_decoder)?;
    let enc_c = match &parts.vae_encoder {
        Some(p) => vae_encoder(p, u.latent_channels.or(vae_c))?.1,
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
    let dims = GraphDims {
        latent_channels: latent,
        unet_in_channels: in_channels,
        timestep_cond: u.timestep_cond,
        unet_fixed: u.fixed,
        vae_fixed,
    };
    let bindings = Bindings {
        text_encoder: te_io,
        unet: u.io,
        vae_decoder: vd_io,
    };
    Ok((dims, bindings))
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
    /// Rows of the text encoder's token embedding, when its graph shows them.
    embedding_rows: Option<usize>,
    /// The VAE encoder's declared inputs and outputs, when the folder has one.
    vae_encoder: Option<onnx_file::GraphSummary>,
}

/// Checks `folder`'s graphs from their files alone, before any session is built, so a folder
/// whose graphs do not fit fails in milliseconds (ONNX Runtime is not asked to optimize a
/// UNet that sits where the text encoder belongs).
pub fn check_files(folder: &ModelFolder, config: &ModelConfig) -> Result<FileFacts> {
    let te = read_part(&folder.onnx("text_encoder"))?;
    let un = read_part(&folder.onnx("unet"))?;
    let vd = read_part(&folder.onnx("vae_decoder"))?;
    let hidden = te
        .outputs
        .iter()
        .find(|o| o.name == "last_hidden_state")
        .or_else(|| te.outputs.first())
        .and_then(|o| fixed(o, 2));
    let ve_path = folder.onnx("vae_encoder");
    let facts = FileFacts {
        embedding_rows: te.embedding_rows(hidden),
        vae_encoder: if ve_path.is_file() {
            Some(read_part(&ve_path)?)
        } else {
            None
        },
    };
    check_parts(
        folder,
        config,
        None,
        [
            (&te.inputs, &te.outputs),
            (&un.inputs, &un.outputs),
            (&vd.inputs, &vd.outputs),
        ],
        &facts,
    )?;
    Ok(facts)
}

/// Checks the loaded text encoder, UNet and VAE decoder of `folder` (their sessions' inputs
/// and outputs, with any dimensions pinned for static shapes), and its VAE encoder's declared
/// inputs and outputs when it has one (as `check_files` read them: the encoder's session is
/// only built by the first call that needs it). What the stages run with: the dimensions each
/// call checks against, and the bindings.
pub fn check_models(
    folder: &ModelFolder,
    config: &ModelConfig,
    tokenizer: &ClipTokenizer,
    files: &FileFacts,
    io: [Io<'_>; 3],
) -> Result<(GraphDims, Bindings)> {
    check_parts(folder, config, Some(tokenizer), io, files)
}

/// A loaded graph's inputs and outputs.
pub type Io<'a> = (&'a [IoInfo], &'a [IoInfo]);

fn check_parts(
    folder: &ModelFolder,
    config: &ModelConfig,
    tokenizer: Option<&ClipTokenizer>,
    [te, un, vd]: [Io<'_>; 3],
    files: &FileFacts,
) -> Result<(GraphDims, Bindings)> {
    let te_path = folder.onnx("text_encoder");
    let un_path = folder.onnx("unet");
    let vd_path = folder.onnx("vae_decoder");
    let ve_path = folder.onnx("vae_encoder");
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
        vae_encoder: files.vae_encoder.as_ref().map(|g| Part {
            path: &ve_path,
            inputs: &g.inputs,
            outputs: &g.outputs,
        }),
        embedding_rows: files.embedding_rows,
    };
    check(&parts, config, tok.as_ref())
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
