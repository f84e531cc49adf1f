//! Prompt to text embeddings: tokenize, run the text encoder, and lay out the UNet's
//! `encoder_hidden_states` batch (unconditional half first when guidance is on), as
//! diffusers' `encode_prompt` does.

use crate::error::{Error, Result};
use crate::model::session::{int_value, OnnxModel};
use crate::runtime::LogLevel;
use crate::tokenizer::{ClipTokenizer, Encoded};

use super::request::Timings;
use super::Call;

/// The UNet's `encoder_hidden_states` for one call.
pub(crate) struct TextEmbeddings {
    /// `[batch, tokens, hidden]` values, row-major.
    pub states: Vec<f32>,
    /// `[batch, tokens, hidden]`.
    pub shape: [usize; 3],
}

/// Encodes the prompt (and, with `cfg`, the negative prompt) into `count` (or `2 * count`)
/// rows: `[uncond x count, cond x count]`. Each prompt is one batch-1 encoder call.
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_prompts(
    call: &Call<'_>,
    encoder: &mut OnnxModel,
    tokenizer: &ClipTokenizer,
    prompt: &str,
    negative: &str,
    count: usize,
    cfg: bool,
    timings: &mut Timings,
) -> Result<TextEmbeddings> {
    let cond = tokenizer.encode_prompt(prompt)?;
    warn_truncated(call, "prompt", &cond, tokenizer);
    let cond_ids = cond.ids;
    let uncond_ids = if cfg {
        let uncond = tokenizer.encode_prompt(negative)?;
        warn_truncated(call, "negative prompt", &uncond, tokenizer);
        Some(uncond.ids)
    } else {
        None
    };
    call.check_cancel()?;
    let cond = encode(call, encoder, &cond_ids)?;
    timings.text_encoder += encoder.last_run();
    let hidden_shape = cond.1;
    let mut states: Vec<f32> = Vec::with_capacity(cond.0.len() * count * (1 + cfg as usize));
    if let Some(ids) = uncond_ids {
        let uncond = encode(call, encoder, &ids)?;
        timings.text_encoder += encoder.last_run();
        for _ in 0..count {
            states.extend_from_slice(&uncond.0);
        }
    }
    for _ in 0..count {
        states.extend_from_slice(&cond.0);
    }
    let batch = if cfg { 2 * count } else { count };
    Ok(TextEmbeddings {
        states,
        shape: [batch, hidden_shape[1], hidden_shape[2]],
    })
}

fn warn_truncated(call: &Call<'_>, what: &str, e: &Encoded, tokenizer: &ClipTokenizer) {
    if e.cut > 0 {
        // Long prompts are cut before tokenizing: then only a lower bound is known.
        let (at_least, cut) = (if e.exact { "" } else { "at least " }, e.cut);
        call.log.log(
            LogLevel::Warn,
            &format!(
                "{what} is {at_least}{cut} tokens longer than CLIP's {} and was truncated",
                tokenizer.max_length() - 2
            ),
        );
    }
}

/// One text-encoder call on a batch of one: `(last_hidden_state, its shape)`.
fn encode(call: &Call<'_>, model: &mut OnnxModel, ids: &[u32]) -> Result<(Vec<f32>, Vec<usize>)> {
    let ids_info = model.input("input_ids", 0)?.clone();
    let out = model.output("last_hidden_state", 0)?.name.clone();
    let ids: Vec<i64> = ids.iter().map(|&x| x as i64).collect();
    let value = int_value(&ids_info, &[1, ids.len()], &ids)?;
    let t = call.first(model.run(
        vec![(ids_info.name.clone(), value)],
        &[&out],
        call.options(true),
    ))?;
    if t.shape.len() != 3 || t.shape[0] != 1 {
        return Err(Error::model(format!(
            "text_encoder returned shape {:?}, expected [1, tokens, hidden]",
            t.shape
        )));
    }
    Ok((t.data, t.shape))
}
