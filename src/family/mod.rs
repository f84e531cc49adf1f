//! Model families: what differs between Stable Diffusion 1.x/2.x, SDXL, SD3 or Flux over the
//! same modes (text-to-image, image-to-image, inpainting), the same denoising loop and the same
//! C API. A family is
//!
//! - which text graphs it loads (`text_parts`) beside the UNet and VAE every family has;
//! - how prompts become the UNet's conditioning (`encode`), with its tokenizers;
//! - its latent and VAE conventions ([`LatentFormat`]: channels, pixels per latent cell, the
//!   VAE's scaling, the latent-to-RGB preview coefficients);
//! - its default scheduler.
//!
//! [`detect`] picks the family of a model folder. Modes and per-step hooks are shared
//! (`pipeline/latents.rs`, `pipeline/denoise.rs`); a new family is a file here plus its
//! detection.

mod sd;

use crate::error::Result;
use crate::model::bindings::Bindings;
use crate::model::session::OnnxModel;
use crate::model::{ModelConfig, ModelFolder};
use crate::pipeline::{Call, GenerateParams, Timings};
use crate::scheduler::SchedulerKind;
use crate::tokenizer::ClipTokenizer;

pub use sd::SD_LATENT_RGB;

/// The UNet's text conditioning for one call.
pub(crate) struct Conditioning {
    /// `encoder_hidden_states`: `[batch, tokens, hidden]` values, row-major, the
    /// unconditional half first under classifier-free guidance.
    pub hidden_states: Vec<f32>,
    /// `[batch, tokens, hidden]`.
    pub shape: [usize; 3],
}

/// How a family's latents relate to the VAE and to pixels; known in this one place.
#[derive(Debug, Clone)]
pub(crate) struct LatentFormat {
    /// Latent channels.
    pub channels: usize,
    /// Pixels per latent cell: the VAE's upsampling, and TAESD's, which decodes to the same
    /// size.
    pub factor: usize,
    /// The VAE's `scaling_factor`: the UNet's latents are the VAE's times this.
    pub scaling_factor: f32,
    /// `rgb[c] = sum_k latent[k] * w[k][c]` weights for `latent_rgb` previews; `None` when the
    /// family has none for its latent space.
    pub latent_rgb: Option<&'static [[f32; 3]]>,
}

impl LatentFormat {
    /// UNet-space latents to the VAE decoder's input.
    pub fn vae_input(&self, latents: &[f32]) -> Vec<f32> {
        latents.iter().map(|x| x / self.scaling_factor).collect()
    }

    /// The VAE encoder's latents to UNet space.
    pub fn unet_latents(&self, latents: Vec<f32>) -> Vec<f32> {
        latents
            .into_iter()
            .map(|x| self.scaling_factor * x)
            .collect()
    }
}

/// One model family (see the module's documentation).
pub(crate) trait Family: Send + Sync {
    /// The family's name, for messages.
    fn name(&self) -> &'static str;

    /// The text graphs loaded at create, in the order [`Family::encode`] takes them.
    fn text_parts(&self) -> &'static [&'static str];

    /// The (first) tokenizer.
    fn tokenizer(&self) -> &ClipTokenizer;

    /// The prompt and (under guidance) negative prompt of `params` as the UNet's
    /// conditioning for `params.count` images; `encoders` are the `text_parts` graphs.
    fn encode(
        &self,
        call: &Call<'_>,
        encoders: &mut [&mut OnnxModel],
        io: &Bindings,
        params: &GenerateParams,
        cfg: bool,
        timings: &mut Timings,
    ) -> Result<Conditioning>;

    /// The latent format of this model (`channels` as its graphs have them).
    fn latent_format(&self, config: &ModelConfig, channels: usize) -> LatentFormat;

    /// The scheduler the folder names, when sdrt implements it.
    fn default_scheduler(&self, config: &ModelConfig) -> Option<SchedulerKind>;
}

/// The family of the model in `folder`. Stable Diffusion 1.x/2.x (and their Turbo, LCM and
/// inpainting variants) is the only one yet; the next family's detection goes here (SDXL: a
/// `text_encoder_2`, a `tokenizer_2`, a UNet with `text_embeds` and `time_ids`).
pub(crate) fn detect(folder: &ModelFolder) -> Result<Box<dyn Family>> {
    Ok(Box::new(sd::StableDiffusion::load(folder)?))
}
