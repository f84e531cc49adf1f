//! Weighted, chunked prompt encoding ([`PromptWeighting::A1111`]): A1111's original emphasis.
//! The prompt is split into 77-id chunks (`prompt_weights::chunks`); each chunk is one
//! text-encoder call whose hidden states are multiplied, token by token, by the chunk's
//! weights and then rescaled so that the chunk's mean (over all its values) is the unweighted
//! mean again (A1111's `EmphasisOriginal`; per chunk, not over the concatenation). When the
//! weighted mean is exactly zero (every weight 0) the rescale is skipped rather than dividing
//! by zero. The chunks' hidden states are concatenated along the token axis; the shorter of
//! the prompt and the negative prompt is padded with the encoding of the empty prompt's chunk
//! until both have as many chunks (A1111's `CFGDenoiser` padding).
//!
//! [`PromptWeighting::A1111`]: crate::pipeline::PromptWeighting::A1111

use crate::error::{Error, Result};
use crate::model::bindings::TextEncoderIo;
use crate::model::session::OnnxModel;
use crate::pipeline::{Call, Timings};
use crate::prompt_weights::{self, Chunk};
use crate::tokenizer::ClipTokenizer;

use super::sd::encode;

/// The most chunks a prompt may take (2400 tokens): bounds the encoder calls and the UNet's
/// cross-attention length.
pub(crate) const MAX_CHUNKS: usize = 32;

/// The most bytes a weighted prompt may have (bounds the tokenizer's work before chunking).
const MAX_PROMPT_BYTES: usize = 64 << 10;

/// The hidden states of one chunk, weighted and rescaled as A1111's original emphasis:
/// `z * w`, then `* mean(z) / mean(z * w)` unless `mean(z * w)` is 0. Means accumulate in
/// `f64`, the factor is taken in `f32` as torch does.
pub fn emphasize(states: &mut [f32], weights: &[f64], hidden: usize) {
    let mean = |s: &[f32]| (s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64) as f32;
    let before = mean(states);
    for (row, &w) in states.chunks_mut(hidden).zip(weights) {
        let w = w as f32;
        for x in row {
            *x *= w;
        }
    }
    let after = mean(states);
    if after != 0.0 && after.is_finite() {
        let factor = before / after;
        for x in states.iter_mut() {
            *x *= factor;
        }
    }
}

/// The chunks of `text` for the tokenizer, with the prompt's name in messages.
pub(crate) fn chunks_of(tokenizer: &ClipTokenizer, what: &str, text: &str) -> Result<Vec<Chunk>> {
    if text.len() > MAX_PROMPT_BYTES {
        return Err(Error::invalid(format!(
            "{what}: {} bytes; a weighted prompt takes at most {MAX_PROMPT_BYTES}",
            text.len()
        )));
    }
    prompt_weights::chunks(tokenizer, text, MAX_CHUNKS).map_err(|e| {
        // The parser names "prompt"; say which prompt.
        match e.message().strip_prefix("prompt:") {
            Some(rest) if what != "prompt" => {
                Error::new(e.kind(), format!("prompt ({what}):{rest}"))
            }
            _ => e,
        }
    })
}

/// Refuses a conditioning of `tokens` tokens when the UNet's `encoder_hidden_states` (declared
/// `shape`, `-1` where free) fixes another length: an export with a static sequence axis takes
/// one chunk only.
pub(crate) fn check_unet_tokens(shape: &[i64], tokens: usize) -> Result<()> {
    match shape.get(1) {
        Some(&n) if n > 0 && n as usize != tokens => Err(Error::invalid(format!(
            "prompt: the weighted prompts need {tokens} tokens ({} chunks of 77), but the \
             UNet's encoder_hidden_states is fixed to {n}; shorten the prompts to 75 tokens \
             or use a UNet exported with a free sequence axis",
            tokens / 77
        ))),
        _ => Ok(()),
    }
}

/// Encodes `chunks` (padded with `empty` to `total` chunks): `[total * 77, hidden]` values
/// and `hidden`.
fn encode_chunks(
    call: &Call<'_>,
    encoder: &mut OnnxModel,
    io: &TextEncoderIo,
    chunks: &[Chunk],
    empty: &Chunk,
    total: usize,
    timings: &mut Timings,
) -> Result<(Vec<f32>, usize)> {
    let mut out = Vec::new();
    let mut hidden = 0;
    let mut pad: Option<Vec<f32>> = None;
    let mut run = |c: &Chunk, hidden: &mut usize| -> Result<Vec<f32>> {
        let (mut states, shape) = encode(call, encoder, io, &c.ids)?;
        timings.text_encoder += encoder.last_run();
        *hidden = shape[2];
        emphasize(&mut states, &c.weights, *hidden);
        Ok(states)
    };
    for k in 0..total {
        call.check_cancel()?;
        match chunks.get(k) {
            Some(c) => out.extend_from_slice(&run(c, &mut hidden)?),
            None => {
                if pad.is_none() {
                    pad = Some(run(empty, &mut hidden)?);
                }
                out.extend_from_slice(pad.as_deref().unwrap_or_default());
            }
        }
    }
    Ok((out, hidden))
}

/// The weighted encodings of the prompt and (with `cfg`) the negative prompt, both
/// `[chunks * 77, hidden]`: `(cond, uncond, tokens, hidden)`.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn encode_weighted(
    call: &Call<'_>,
    encoder: &mut OnnxModel,
    io: &TextEncoderIo,
    tokenizer: &ClipTokenizer,
    prompt: &str,
    negative: &str,
    cfg: bool,
    unet_shape: &[i64],
    timings: &mut Timings,
) -> Result<(Vec<f32>, Option<Vec<f32>>, usize, usize)> {
    let cond = chunks_of(tokenizer, "prompt", prompt)?;
    let uncond = if cfg {
        Some(chunks_of(tokenizer, "negative_prompt", negative)?)
    } else {
        None
    };
    let total = cond.len().max(uncond.as_ref().map_or(0, Vec::len));
    check_unet_tokens(unet_shape, total * tokenizer.max_length())?;
    let empty = prompt_weights::chunks(tokenizer, "", 1)?
        .pop()
        .ok_or_else(|| Error::internal("the empty prompt has no chunk"))?;
    let (cond, hidden) = encode_chunks(call, encoder, io, &cond, &empty, total, timings)?;
    let uncond = match uncond {
        Some(u) => Some(encode_chunks(call, encoder, io, &u, &empty, total, timings)?.0),
        None => None,
    };
    Ok((cond, uncond, total * tokenizer.max_length(), hidden))
}

#[cfg(test)]
mod tests {
    use super::{check_unet_tokens, emphasize};

    #[test]
    fn a_fixed_sequence_axis_takes_one_chunk() {
        assert!(check_unet_tokens(&[-1, -1, 1024], 154).is_ok());
        assert!(check_unet_tokens(&[2, 77, 1024], 77).is_ok());
        let e = check_unet_tokens(&[2, 77, 1024], 154).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.message().starts_with("prompt:"), "{e}");
    }

    #[test]
    fn rescale_restores_the_mean_and_skips_a_zero_one() {
        let mut z = vec![1.0f32, 2.0, 3.0, 4.0];
        emphasize(&mut z, &[1.0, 2.0], 2);
        let mean = z.iter().sum::<f32>() / 4.0;
        assert!((mean - 2.5).abs() < 1e-6);
        assert!((z[2] / z[0] - 6.0).abs() < 1e-5);
        let mut z = vec![1.0f32, 2.0, 3.0, 4.0];
        emphasize(&mut z, &[0.0, 0.0], 2);
        assert_eq!(z, [0.0; 4]);
    }
}
