//! Stable Diffusion XL (base, Turbo, fine-tunes, the refiner, inpainting), as diffusers'
//! `StableDiffusionXL*Pipeline.encode_prompt` and `_get_add_time_ids`: two CLIP tokenizers and
//! text encoders (a refiner has only the second), each tokenizer with its own pad token; the
//! penultimate hidden states of each encoder side by side; the second encoder's pooled
//! `text_embeds`; the micro-conditioning `time_ids`; `force_zeros_for_empty_prompt`; the VAE's
//! `scaling_factor` from its config (0.13025).

use crate::error::{Error, Result};
use crate::model::agreement::TextSpec;
use crate::model::bindings::{Bindings, TextEncoderIo, TextOutputs};
use crate::model::session::{int_value, OnnxModel};
use crate::model::{ModelConfig, ModelFolder};
use crate::pipeline::{Call, GenerateParams, MicroConditioning, PromptWeighting, Timings};
use crate::tokenizer::ClipTokenizer;

use super::sd::warn_truncated;
use super::{Added, Conditioning, Detected, EncodeRequest, Family, LatentFormat};

/// Latent channel to RGB weights for SDXL's VAE (the approximation preview tools use), with
/// [`SDXL_LATENT_RGB_BIAS`].
pub const SDXL_LATENT_RGB: [[f32; 3]; 4] = [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
];

/// The bias of [`SDXL_LATENT_RGB`].
pub const SDXL_LATENT_RGB_BIAS: [f32; 3] = [0.1084, -0.0175, -0.0011];

const FIRST: TextOutputs = TextOutputs {
    penultimate: true,
    pooled: false,
};
const SECOND: TextOutputs = TextOutputs {
    penultimate: true,
    pooled: true,
};

/// Base, Turbo and fine-tunes: both encoders.
const BASE: TextSpec<'static> = TextSpec {
    parts: &["text_encoder", "text_encoder_2"],
    outputs: &[FIRST, SECOND],
    added: true,
};

/// The refiner: the second encoder only.
const REFINER: TextSpec<'static> = TextSpec {
    parts: &["text_encoder_2"],
    outputs: &[SECOND],
    added: true,
};

/// What `model_index.json` says of an SDXL pipeline.
#[derive(Debug, Clone, Copy)]
struct Settings {
    /// `force_zeros_for_empty_prompt` (default true): no negative prompt gives zero embeddings.
    force_zeros: bool,
    /// `requires_aesthetics_score` (the refiner): `time_ids` end with the aesthetic score.
    aesthetics: bool,
}

fn settings(folder: &ModelFolder) -> Result<Settings> {
    let index = folder.model_index()?;
    let flag = |key: &str, default: bool| -> Result<bool> {
        match index.as_ref().and_then(|v| v.get(key)) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(v) => Err(Error::model(format!(
                "{}: {key} is {v}, expected true or false",
                folder.root.join("model_index.json").display()
            ))),
        }
    };
    Ok(Settings {
        force_zeros: flag("force_zeros_for_empty_prompt", true)?,
        aesthetics: flag("requires_aesthetics_score", false)?,
    })
}

/// An SDXL folder: base (both encoders) or refiner (the second only); both tokenizers must be
/// there for the encoders that are.
pub(super) fn detect(folder: &ModelFolder) -> Result<Detected> {
    let base = folder.has("text_encoder");
    for (encoder, tokenizer) in [
        ("text_encoder", "tokenizer"),
        ("text_encoder_2", "tokenizer_2"),
    ] {
        if (encoder == "text_encoder_2" || base) && !folder.root.join(tokenizer).is_dir() {
            return Err(Error::new(
                crate::ErrorKind::ModelNotFound,
                format!(
                    "{} is missing: an SDXL folder ({encoder}/ is there) needs its tokenizer",
                    folder.root.join(tokenizer).display()
                ),
            ));
        }
    }
    Ok(if base {
        Detected {
            text: BASE,
            load: |f| Ok(Box::new(StableDiffusionXl::load(f, true)?)),
        }
    } else {
        Detected {
            text: REFINER,
            load: |f| Ok(Box::new(StableDiffusionXl::load(f, false)?)),
        }
    })
}

/// The SDXL family.
pub(crate) struct StableDiffusionXl {
    /// One per text part: `[tokenizer, tokenizer_2]`, or `[tokenizer_2]` for a refiner.
    tokenizers: Vec<ClipTokenizer>,
    base: bool,
    settings: Settings,
}

impl StableDiffusionXl {
    fn load(folder: &ModelFolder, base: bool) -> Result<StableDiffusionXl> {
        let mut tokenizers = Vec::new();
        if base {
            tokenizers.push(ClipTokenizer::from_dir(&folder.tokenizer_dir())?);
        }
        tokenizers.push(ClipTokenizer::from_dir(&folder.root.join("tokenizer_2"))?);
        Ok(StableDiffusionXl {
            tokenizers,
            base,
            settings: settings(folder)?,
        })
    }

    /// Encodes one prompt per text part: the penultimate hidden states side by side
    /// (`[tokens, sum of hidden]`) and the pooled embedding of the part that has one.
    fn encode_one(
        &self,
        call: &Call<'_>,
        encoders: &mut [&mut OnnxModel],
        io: &[TextEncoderIo],
        prompts: &[&str],
        what: &str,
        timings: &mut Timings,
    ) -> Result<(Vec<Vec<f32>>, usize, Vec<f32>)> {
        let mut states = Vec::new();
        let mut tokens = 0;
        let mut pooled = Vec::new();
        for (((encoder, io), tokenizer), prompt) in encoders
            .iter_mut()
            .zip(io)
            .zip(&self.tokenizers)
            .zip(prompts)
        {
            let e = tokenizer.encode_prompt(prompt)?;
            warn_truncated(call, what, &e, tokenizer);
            let out = run_encoder(call, encoder, io, &e.ids, timings)?;
            tokens = out.tokens;
            if let Some(p) = out.pooled {
                pooled = p;
            }
            states.push(out.states);
        }
        Ok((states, tokens, pooled))
    }

    /// The unweighted conditioning (diffusers' truncation): `(pos, tokens, pooled, neg)`.
    #[allow(clippy::type_complexity)]
    fn encode_plain(
        &self,
        call: &Call<'_>,
        encoders: &mut [&mut OnnxModel],
        io: &Bindings,
        req: &EncodeRequest<'_>,
        prompts: &[&str],
        timings: &mut Timings,
    ) -> Result<(Vec<f32>, usize, Vec<f32>, Option<(Vec<f32>, Vec<f32>)>)> {
        let p = req.params;
        let (pos, tokens, pooled) =
            self.encode_one(call, encoders, &io.text, prompts, "prompt", timings)?;
        let pos = concat_last(&pos, tokens);
        let neg = if !req.cfg {
            None
        } else if p.negative_prompt.is_none() && self.settings.force_zeros {
            Some((vec![0.0; pos.len()], vec![0.0; pooled.len()]))
        } else {
            let n1 = p.negative_prompt.as_deref().unwrap_or("");
            let negatives = [n1, or(p.negative_prompt_2.as_deref(), n1)];
            let (neg, _, neg_pooled) = self.encode_one(
                call,
                encoders,
                &io.text,
                &negatives,
                "negative prompt",
                timings,
            )?;
            Some((concat_last(&neg, tokens), neg_pooled))
        };
        Ok((pos, tokens, pooled, neg))
    }
}

/// What one text part gives for one prompt.
pub(super) struct EncoderOut {
    /// The penultimate hidden states, `[tokens, width]` row-major.
    pub states: Vec<f32>,
    pub tokens: usize,
    pub width: usize,
    /// The pooled embedding, from the part that has one.
    pub pooled: Option<Vec<f32>>,
}

/// Runs one text part on `ids` (one prompt, `[1, tokens]`).
pub(super) fn run_encoder(
    call: &Call<'_>,
    encoder: &mut OnnxModel,
    io: &TextEncoderIo,
    ids: &[u32],
    timings: &mut Timings,
) -> Result<EncoderOut> {
    call.check_cancel()?;
    let penultimate = io
        .penultimate
        .as_ref()
        .ok_or_else(|| Error::internal("no penultimate hidden state bound"))?;
    let mut names = vec![penultimate.name.as_str()];
    if let Some(p) = &io.pooled {
        names.push(p.name.as_str());
    }
    let ids: Vec<i64> = ids.iter().map(|&x| x as i64).collect();
    let value = int_value(&io.input_ids, &[1, ids.len()], &ids)?;
    let out = encoder.run(
        vec![(io.input_ids.name.clone(), value)],
        &names,
        call.options(true),
    );
    let mut out = match out {
        Err(_) if call.check_cancel().is_err() => return Err(Call::cancelled_error()),
        r => r?,
    };
    timings.text_encoder += encoder.last_run();
    let hidden = out.swap_remove(0);
    if hidden.shape.len() != 3 || hidden.shape[0] != 1 || hidden.shape[1] != ids.len() {
        return Err(Error::model(format!(
            "{}: '{}' has shape {:?}, expected [1, {}, hidden]",
            encoder.name(),
            penultimate.name,
            hidden.shape,
            ids.len()
        )));
    }
    let pooled = match out.pop() {
        Some(p) if p.shape.len() == 2 && p.shape[0] == 1 => Some(p.data),
        Some(p) => {
            return Err(Error::model(format!(
                "{}: 'text_embeds' has shape {:?}, expected [1, projection]",
                encoder.name(),
                p.shape
            )))
        }
        None => None,
    };
    Ok(EncoderOut {
        tokens: hidden.shape[1],
        width: hidden.shape[2],
        states: hidden.data,
        pooled,
    })
}

/// Rows `[tokens, h1]` and `[tokens, h2]` side by side: `[tokens, h1 + h2]` (diffusers'
/// `torch.concat(prompt_embeds_list, dim=-1)`).
pub(super) fn concat_last(parts: &[Vec<f32>], tokens: usize) -> Vec<f32> {
    let widths: Vec<usize> = parts.iter().map(|p| p.len() / tokens.max(1)).collect();
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for t in 0..tokens {
        for (p, &w) in parts.iter().zip(&widths) {
            out.extend_from_slice(&p[t * w..(t + 1) * w]);
        }
    }
    out
}

/// `(height, width)` of a `(width, height)` size, as diffusers' tuples hold them.
fn hw((w, h): (usize, usize)) -> [f32; 2] {
    [h as f32, w as f32]
}

/// `(top, left)` of an `(x, y)` crop.
fn tl((x, y): (usize, usize)) -> [f32; 2] {
    [y as f32, x as f32]
}

/// diffusers' `_get_add_time_ids`: the positive and negative `time_ids`. Text-to-image
/// (`StableDiffusionXLPipeline`): `original + crop + target`, the negative ones only when both
/// negative sizes are given. Image-to-image and inpainting: each negative size defaults to its
/// positive; a refiner (`aesthetics`) ends with the aesthetic score instead of the target size;
/// otherwise the negative row takes the positive crop, as diffusers does.
pub(crate) fn time_ids(
    m: &MicroConditioning,
    size: (usize, usize),
    from_image: bool,
    aesthetics: bool,
) -> (Vec<f32>, Vec<f32>) {
    let original = m.original_size.unwrap_or(size);
    let target = m.target_size.unwrap_or(size);
    let row = |o, c, t: Vec<f32>| -> Vec<f32> {
        let mut v = hw(o).to_vec();
        v.extend(tl(c));
        v.extend(t);
        v
    };
    if !from_image {
        let pos = row(original, m.crop, hw(target).to_vec());
        let neg = match (m.negative_original_size, m.negative_target_size) {
            (Some(o), Some(t)) => row(o, m.negative_crop, hw(t).to_vec()),
            _ => pos.clone(),
        };
        return (pos, neg);
    }
    let neg_original = m.negative_original_size.unwrap_or(original);
    let neg_target = m.negative_target_size.unwrap_or(target);
    if aesthetics {
        (
            row(original, m.crop, vec![m.aesthetic_score]),
            row(
                neg_original,
                m.negative_crop,
                vec![m.negative_aesthetic_score],
            ),
        )
    } else {
        (
            row(original, m.crop, hw(target).to_vec()),
            row(neg_original, m.crop, hw(neg_target).to_vec()),
        )
    }
}

/// `count` copies of `neg` then `count` of `pos` (with guidance), or `count` of `pos`.
fn batch(neg: Option<&[f32]>, pos: &[f32], count: usize) -> Vec<f32> {
    let mut out = Vec::new();
    if let Some(neg) = neg {
        for _ in 0..count {
            out.extend_from_slice(neg);
        }
    }
    for _ in 0..count {
        out.extend_from_slice(pos);
    }
    out
}

/// The `time_ids` rows of the UNet batch. Text-to-image (`StableDiffusionXLPipeline`) stacks
/// `[negative, positive]` and then repeats that pair per image (`[n, p, n, p]` for 2 images,
/// while the prompt embeddings are `[n, n, p, p]`); image-to-image and inpainting repeat each
/// first (`[n, n, p, p]`). The two differ only when the negative micro-conditioning does.
fn time_id_rows(neg: &[f32], pos: &[f32], count: usize, cfg: bool, from_image: bool) -> Vec<f32> {
    if cfg && !from_image {
        [neg, pos].concat().repeat(count)
    } else {
        batch(cfg.then_some(neg), pos, count)
    }
}

/// Python's `a or b` for an optional string.
fn or<'a>(a: Option<&'a str>, b: &'a str) -> &'a str {
    a.filter(|s| !s.is_empty()).unwrap_or(b)
}

impl Family for StableDiffusionXl {
    fn name(&self) -> &'static str {
        if self.base {
            "Stable Diffusion XL"
        } else {
            "Stable Diffusion XL refiner"
        }
    }

    fn latent_family(&self) -> &'static str {
        "sdxl"
    }

    fn tokenizers(&self) -> Vec<&ClipTokenizer> {
        self.tokenizers.iter().collect()
    }

    fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizers[0]
    }

    fn encode(
        &self,
        call: &Call<'_>,
        encoders: &mut [&mut OnnxModel],
        io: &Bindings,
        req: &EncodeRequest<'_>,
        timings: &mut Timings,
    ) -> Result<Conditioning> {
        let p = req.params;
        if encoders.len() != self.tokenizers.len() || io.text.len() != self.tokenizers.len() {
            return Err(Error::internal("the text encoders are not loaded"));
        }
        // diffusers zips [prompt, prompt_2] with the encoders there are: a refiner encodes
        // `prompt` with its one encoder.
        let prompts = [p.prompt.as_str(), or(p.prompt_2.as_deref(), &p.prompt)];
        let (pos, tokens, pooled, neg) = if p.prompt_weighting == PromptWeighting::A1111 {
            let zeros = p.negative_prompt.is_none() && self.settings.force_zeros;
            let n1 = p.negative_prompt.as_deref().unwrap_or("");
            let negatives = [n1, or(p.negative_prompt_2.as_deref(), n1)];
            let (pos, pooled, neg, tokens, _) = super::sdxl_weighted::encode(
                call,
                encoders,
                &io.text,
                &self.tokenizers,
                &prompts,
                (req.cfg && !zeros).then_some(&negatives[..]),
                &io.unet.hidden_states.shape,
                timings,
            )?;
            let neg = match neg {
                None if req.cfg => Some((vec![0.0; pos.len()], vec![0.0; pooled.len()])),
                n => n,
            };
            (pos, tokens, pooled, neg)
        } else {
            self.encode_plain(call, encoders, io, req, &prompts, timings)?
        };
        let hidden = pos.len() / tokens.max(1);
        let count = p.count;
        let (pos_ids, neg_ids) =
            time_ids(&p.micro, req.size, req.from_image, self.settings.aesthetics);
        let rows = if req.cfg { 2 * count } else { count };
        Ok(Conditioning {
            hidden_states: batch(neg.as_ref().map(|n| &n.0[..]), &pos, count),
            shape: [rows, tokens, hidden],
            added: Some(Added {
                text_embeds: batch(neg.as_ref().map(|n| &n.1[..]), &pooled, count),
                text_embeds_dim: pooled.len(),
                time_ids_dim: pos_ids.len(),
                time_ids: time_id_rows(&neg_ids, &pos_ids, count, req.cfg, req.from_image),
            }),
        })
    }

    fn check_request(&self, params: &GenerateParams) -> Result<()> {
        if !self.base && params.init_image.is_none() && params.latents.is_none() {
            return Err(Error::invalid(
                "init_image/latents: this is an SDXL refiner (only text_encoder_2, \
                 requires_aesthetics_score): it refines an image or a base model's latents and \
                 cannot start from noise; use it with an init image or latents",
            ));
        }
        Ok(())
    }

    fn check_bindings(&self, folder: &ModelFolder, io: &Bindings) -> Result<()> {
        let Some(added) = &io.unet.added else {
            return Err(Error::internal("SDXL's UNet inputs are not bound"));
        };
        let want = if self.settings.aesthetics { 5 } else { 6 };
        match added.time_ids.shape.get(1).copied() {
            Some(n) if n > 0 && n as usize != want => Err(Error::model(format!(
                "{}: 'time_ids' takes {n} values per image; model_index.json's \
                 requires_aesthetics_score ({}) means {want}",
                folder.onnx("unet").display(),
                self.settings.aesthetics
            ))),
            _ => Ok(()),
        }
    }

    fn latent_format(&self, config: &ModelConfig, channels: usize) -> LatentFormat {
        LatentFormat {
            channels,
            factor: config.vae_scale_factor,
            scaling_factor: config.vae_scaling_factor,
            latent_rgb: (channels == 4).then_some(&SDXL_LATENT_RGB[..]),
            latent_rgb_bias: SDXL_LATENT_RGB_BIAS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ids_follow_diffusers() {
        let m = MicroConditioning::default();
        // Text-to-image, 96 wide and 64 high: (h, w, top, left, h, w), negatives the same.
        let (p, n) = time_ids(&m, (96, 64), false, false);
        assert_eq!(p, [64.0, 96.0, 0.0, 0.0, 64.0, 96.0]);
        assert_eq!(n, p);
        // One negative size alone does not make negative time ids (text-to-image).
        let half = MicroConditioning {
            negative_original_size: Some((32, 32)),
            ..m
        };
        assert_eq!(time_ids(&half, (96, 64), false, false).1, p);
        // Image-to-image: the negative row keeps the positive crop.
        let crop = MicroConditioning {
            crop: (8, 16),
            negative_crop: (1, 2),
            negative_original_size: Some((32, 48)),
            ..m
        };
        let (p, n) = time_ids(&crop, (96, 64), true, false);
        assert_eq!(p, [64.0, 96.0, 16.0, 8.0, 64.0, 96.0]);
        assert_eq!(n, [48.0, 32.0, 16.0, 8.0, 64.0, 96.0]);
        // A refiner: the aesthetic scores, the negative crop.
        let (p, n) = time_ids(&crop, (96, 64), true, true);
        assert_eq!(p, [64.0, 96.0, 16.0, 8.0, 6.0]);
        assert_eq!(n, [48.0, 32.0, 2.0, 1.0, 2.5]);
    }

    #[test]
    fn time_id_rows_follow_each_pipeline() {
        let (n, p) = ([0.0], [1.0]);
        assert_eq!(time_id_rows(&n, &p, 2, true, false), [0.0, 1.0, 0.0, 1.0]);
        assert_eq!(time_id_rows(&n, &p, 2, true, true), [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(time_id_rows(&n, &p, 2, false, false), [1.0, 1.0]);
    }

    #[test]
    fn hidden_states_go_side_by_side() {
        let a = vec![1.0, 2.0, 3.0, 4.0]; // 2 tokens x 2
        let b = vec![5.0, 6.0, 7.0, 8.0, 9.0, 10.0]; // 2 tokens x 3
        assert_eq!(
            concat_last(&[a, b], 2),
            [1.0, 2.0, 5.0, 6.0, 7.0, 3.0, 4.0, 8.0, 9.0, 10.0]
        );
    }
}
