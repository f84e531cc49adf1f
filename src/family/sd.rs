//! Stable Diffusion 1.x and 2.x (and their Turbo, LCM and inpainting variants): one CLIP
//! tokenizer and text encoder whose last hidden state is the UNet's `encoder_hidden_states`
//! (as diffusers' `StableDiffusionPipeline.encode_prompt`), 4 latent channels at 1/8 of the
//! image's size, the VAE's `scaling_factor` from its config (0.18215).

use crate::error::{Error, Result};
use crate::model::agreement::TextSpec;
use crate::model::bindings::{Bindings, TextEncoderIo, TextOutputs};
use crate::model::session::{int_value, OnnxModel};
use crate::model::{ModelConfig, ModelFolder};
use crate::pipeline::{Call, PromptWeighting, Timings};
use crate::runtime::LogLevel;
use crate::tokenizer::{ClipTokenizer, Encoded};

use super::{Conditioning, EncodeRequest, Family, LatentFormat};

/// One text encoder, its last hidden state, no added conditioning.
pub(super) const TEXT: TextSpec<'static> = TextSpec {
    parts: &["text_encoder"],
    outputs: &[TextOutputs {
        penultimate: false,
        pooled: false,
    }],
    added: false,
};

/// Latent channel to RGB weights for the 4-channel Stable Diffusion 1.x / 2.x VAE (the
/// approximation preview tools use): `rgb[c] = sum_k latent[k] * SD_LATENT_RGB[k][c]`, then
/// `(rgb + 1) / 2` to [0, 1].
pub const SD_LATENT_RGB: [[f32; 3]; 4] = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
];

/// The Stable Diffusion 1.x / 2.x family.
pub(crate) struct StableDiffusion {
    tokenizer: ClipTokenizer,
}

impl StableDiffusion {
    /// Loads the folder's tokenizer.
    pub(crate) fn load(folder: &ModelFolder) -> Result<StableDiffusion> {
        Ok(StableDiffusion {
            tokenizer: ClipTokenizer::from_dir(&folder.tokenizer_dir())?,
        })
    }
}

impl Family for StableDiffusion {
    fn name(&self) -> &'static str {
        "Stable Diffusion"
    }

    fn latent_family(&self) -> &'static str {
        "sd"
    }

    fn tokenizers(&self) -> Vec<&ClipTokenizer> {
        vec![&self.tokenizer]
    }

    fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    fn encode(
        &self,
        call: &Call<'_>,
        encoders: &mut [&mut OnnxModel],
        io: &Bindings,
        req: &EncodeRequest<'_>,
        timings: &mut Timings,
    ) -> Result<Conditioning> {
        let (params, cfg) = (req.params, req.cfg);
        let ([encoder], [text_io]) = (encoders, &io.text[..]) else {
            return Err(Error::internal("the text encoder is not loaded"));
        };
        let negative = params.negative_prompt.as_deref().unwrap_or("");
        if params.prompt_weighting == PromptWeighting::A1111 {
            let (cond, uncond, tokens, hidden) = super::weighted::encode_weighted(
                call,
                encoder,
                text_io,
                &self.tokenizer,
                &params.prompt,
                negative,
                cfg,
                &io.unet.hidden_states.shape,
                timings,
            )?;
            return Ok(rows(uncond.as_deref(), &cond, params.count, tokens, hidden));
        }
        encode_prompts(
            call,
            encoder,
            text_io,
            &self.tokenizer,
            &params.prompt,
            negative,
            params.count,
            cfg,
            timings,
        )
    }

    fn latent_format(&self, config: &ModelConfig, channels: usize) -> LatentFormat {
        LatentFormat {
            channels,
            factor: config.vae_scale_factor,
            scaling_factor: config.vae_scaling_factor,
            latent_rgb: (channels == 4).then_some(&SD_LATENT_RGB[..]),
            latent_rgb_bias: [0.0; 3],
        }
    }
}

/// `[uncond x count, cond x count]` (no unconditional rows without one).
fn rows(
    uncond: Option<&[f32]>,
    cond: &[f32],
    count: usize,
    tokens: usize,
    hidden: usize,
) -> Conditioning {
    let mut states = Vec::with_capacity(cond.len() * count * (1 + uncond.is_some() as usize));
    if let Some(u) = uncond {
        for _ in 0..count {
            states.extend_from_slice(u);
        }
    }
    for _ in 0..count {
        states.extend_from_slice(cond);
    }
    Conditioning {
        hidden_states: states,
        shape: [states_batch(uncond.is_some(), count), tokens, hidden],
        added: None,
    }
}

fn states_batch(cfg: bool, count: usize) -> usize {
    if cfg {
        2 * count
    } else {
        count
    }
}

/// Encodes the prompt (and, with `cfg`, the negative prompt) into `count` (or `2 * count`)
/// rows: `[uncond x count, cond x count]`. Each prompt is one batch-1 encoder call.
#[allow(clippy::too_many_arguments)]
fn encode_prompts(
    call: &Call<'_>,
    encoder: &mut OnnxModel,
    io: &TextEncoderIo,
    tokenizer: &ClipTokenizer,
    prompt: &str,
    negative: &str,
    count: usize,
    cfg: bool,
    timings: &mut Timings,
) -> Result<Conditioning> {
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
    let cond = encode(call, encoder, io, &cond_ids)?;
    timings.text_encoder += encoder.last_run();
    let hidden_shape = cond.1;
    let mut states: Vec<f32> = Vec::with_capacity(cond.0.len() * count * (1 + cfg as usize));
    if let Some(ids) = uncond_ids {
        let uncond = encode(call, encoder, io, &ids)?;
        timings.text_encoder += encoder.last_run();
        for _ in 0..count {
            states.extend_from_slice(&uncond.0);
        }
    }
    for _ in 0..count {
        states.extend_from_slice(&cond.0);
    }
    let batch = if cfg { 2 * count } else { count };
    Ok(Conditioning {
        hidden_states: states,
        shape: [batch, hidden_shape[1], hidden_shape[2]],
        added: None,
    })
}

pub(super) fn warn_truncated(call: &Call<'_>, what: &str, e: &Encoded, tokenizer: &ClipTokenizer) {
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
pub(super) fn encode(
    call: &Call<'_>,
    model: &mut OnnxModel,
    io: &TextEncoderIo,
    ids: &[u32],
) -> Result<(Vec<f32>, Vec<usize>)> {
    let ids: Vec<i64> = ids.iter().map(|&x| x as i64).collect();
    let value = int_value(&io.input_ids, &[1, ids.len()], &ids)?;
    let t = call.first(model.run(
        vec![(io.input_ids.name.clone(), value)],
        &[&io.last_hidden_state.name],
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
