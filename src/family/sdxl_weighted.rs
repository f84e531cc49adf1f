//! SDXL's weighted, chunked prompt encoding ([`PromptWeighting::A1111`]), as A1111 conditions
//! SDXL: each text encoder chunks its prompt alike (`prompt_weights::chunks`, its own
//! tokenizer's padding), each chunk's penultimate hidden states are weighted and rescaled to
//! their unweighted mean per encoder and per chunk (`weighted::emphasize`), the chunks are
//! concatenated on the token axis and the encoders side by side; the pooled `text_embeds` come
//! from the first chunk. Every list of chunks (both encoders, prompt and negative prompt; a
//! `prompt_2` may make more chunks than `prompt`) is padded with the empty prompt's chunk to
//! the longest. A negative prompt of zeros (`force_zeros_for_empty_prompt`) stays zeros.
//!
//! [`PromptWeighting::A1111`]: crate::pipeline::PromptWeighting::A1111

use crate::error::{Error, Result};
use crate::model::bindings::TextEncoderIo;
use crate::model::session::OnnxModel;
use crate::pipeline::{Call, Timings};
use crate::prompt_weights::{self, Chunk};
use crate::tokenizer::ClipTokenizer;

use super::sdxl::run_encoder;
use super::weighted::{chunks_of, emphasize};

/// One chunk through one encoder: the weighted penultimate hidden states `[77 * hidden]`,
/// `hidden`, and the pooled embedding when the encoder has one.
fn run_chunk(
    call: &Call<'_>,
    encoder: &mut OnnxModel,
    io: &TextEncoderIo,
    chunk: &Chunk,
    timings: &mut Timings,
) -> Result<(Vec<f32>, usize, Option<Vec<f32>>)> {
    let mut out = run_encoder(call, encoder, io, &chunk.ids, timings)?;
    emphasize(&mut out.states, &chunk.weights, out.width);
    Ok((out.states, out.width, out.pooled))
}

/// The weighted conditioning of the prompts (one per encoder) and, when given, the negative
/// prompts: `(pos, pos_pooled, neg: Option<(states, pooled)>, tokens, hidden)`, the states
/// `[tokens, hidden]` with the encoders side by side.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
pub(super) fn encode(
    call: &Call<'_>,
    encoders: &mut [&mut OnnxModel],
    io: &[TextEncoderIo],
    tokenizers: &[ClipTokenizer],
    prompts: &[&str],
    negatives: Option<&[&str]>,
    unet_shape: &[i64],
    timings: &mut Timings,
) -> Result<(
    Vec<f32>,
    Vec<f32>,
    Option<(Vec<f32>, Vec<f32>)>,
    usize,
    usize,
)> {
    let names = ["prompt", "prompt_2"];
    let neg_names = ["negative_prompt", "negative_prompt_2"];
    let mut pos_chunks = Vec::new();
    let mut neg_chunks = Vec::new();
    for (k, tokenizer) in tokenizers.iter().enumerate() {
        pos_chunks.push(chunks_of(tokenizer, names[k.min(1)], prompts[k])?);
        if let Some(n) = negatives {
            neg_chunks.push(chunks_of(tokenizer, neg_names[k.min(1)], n[k])?);
        }
    }
    let total = pos_chunks
        .iter()
        .chain(&neg_chunks)
        .map(Vec::len)
        .max()
        .unwrap_or(1);
    let length = tokenizers.first().map_or(77, ClipTokenizer::max_length);
    let tokens = total * length;
    super::weighted::check_unet_tokens(unet_shape, tokens)?;
    let mut side = |lists: &[Vec<Chunk>], timings: &mut Timings| -> Result<(Vec<f32>, Vec<f32>)> {
        let mut parts = Vec::new();
        let mut pooled = Vec::new();
        for (k, ((encoder, io), tokenizer)) in
            encoders.iter_mut().zip(io).zip(tokenizers).enumerate()
        {
            let empty = prompt_weights::chunks(tokenizer, "", 1)?
                .pop()
                .ok_or_else(|| Error::internal("the empty prompt has no chunk"))?;
            let mut states = Vec::new();
            for c in 0..total {
                let chunk = lists[k].get(c).unwrap_or(&empty);
                let (s, _, p) = run_chunk(call, encoder, io, chunk, timings)?;
                if c == 0 {
                    if let Some(p) = p {
                        pooled = p;
                    }
                }
                states.extend_from_slice(&s);
            }
            parts.push(states);
        }
        Ok((super::sdxl::concat_last(&parts, tokens), pooled))
    };
    let (pos, pos_pooled) = side(&pos_chunks, timings)?;
    let neg = if negatives.is_some() {
        Some(side(&neg_chunks, timings)?)
    } else {
        None
    };
    let hidden = pos.len() / tokens.max(1);
    Ok((pos, pos_pooled, neg, tokens, hidden))
}
