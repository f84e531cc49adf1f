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
mod sdxl;
mod sdxl_weighted;
mod weighted;

use crate::error::Result;
use crate::model::agreement::TextSpec;
use crate::model::bindings::Bindings;
use crate::model::session::OnnxModel;
use crate::model::{ModelConfig, ModelFolder};
use crate::pipeline::{Call, GenerateParams, Timings};
use crate::scheduler::SchedulerKind;
use crate::tokenizer::ClipTokenizer;

pub use sd::SD_LATENT_RGB;

/// The UNet's conditioning for one call, every row for the UNet's batch: the unconditional
/// rows first under classifier-free guidance.
pub(crate) struct Conditioning {
    /// `encoder_hidden_states`: `[batch, tokens, hidden]` values, row-major.
    pub hidden_states: Vec<f32>,
    /// `[batch, tokens, hidden]`.
    pub shape: [usize; 3],
    /// SDXL's added conditioning.
    pub added: Option<Added>,
}

/// SDXL's added conditioning: the pooled text embedding and the micro-conditioning.
pub(crate) struct Added {
    /// `text_embeds`: `[batch, dim]` values.
    pub text_embeds: Vec<f32>,
    /// Its width.
    pub text_embeds_dim: usize,
    /// `time_ids`: `[batch, n]` values.
    pub time_ids: Vec<f32>,
    /// Its width (6, or 5 for a refiner).
    pub time_ids_dim: usize,
}

/// What a family's `encode` gets: the request, and what the plan decided of it.
pub(crate) struct EncodeRequest<'a> {
    /// The request.
    pub params: &'a GenerateParams,
    /// Output width and height in pixels.
    pub size: (usize, usize),
    /// Classifier-free guidance: encode the negative prompt too.
    pub cfg: bool,
    /// The call starts from an image or latents (diffusers' image-to-image and inpainting
    /// pipelines), not from noise.
    pub from_image: bool,
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
    /// `rgb[c] = sum_k latent[k] * w[k][c] + bias[c]` weights for `latent_rgb` previews;
    /// `None` when the family has none for its latent space.
    pub latent_rgb: Option<&'static [[f32; 3]]>,
    /// The bias of `latent_rgb`.
    pub latent_rgb_bias: [f32; 3],
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

    /// The name of its latent space, which tags the latents a call returns.
    fn latent_family(&self) -> &'static str;

    /// Its tokenizers, one per text part.
    fn tokenizers(&self) -> Vec<&ClipTokenizer>;

    /// The (first) tokenizer.
    fn tokenizer(&self) -> &ClipTokenizer;

    /// The prompts of the request as the UNet's conditioning for `params.count` images;
    /// `encoders` are the text parts' graphs, in order.
    fn encode(
        &self,
        call: &Call<'_>,
        encoders: &mut [&mut OnnxModel],
        io: &Bindings,
        req: &EncodeRequest<'_>,
        timings: &mut Timings,
    ) -> Result<Conditioning>;

    /// Checks a request against what the family can do, before any graph runs.
    fn check_request(&self, _params: &GenerateParams) -> Result<()> {
        Ok(())
    }

    /// Checks the bindings against the family's conventions (e.g. SDXL's `time_ids` width).
    fn check_bindings(&self, _folder: &ModelFolder, _io: &Bindings) -> Result<()> {
        Ok(())
    }

    /// The latent format of this model (`channels` as its graphs have them).
    fn latent_format(&self, config: &ModelConfig, channels: usize) -> LatentFormat;

    /// The scheduler the folder names, when sdrt implements it.
    fn default_scheduler(&self, config: &ModelConfig) -> Option<SchedulerKind> {
        config.default_scheduler
    }
}

/// A folder's family, detected from its files before anything is loaded.
pub(crate) struct Detected {
    /// What the family reads from its text encoders.
    pub text: TextSpec<'static>,
    load: fn(&ModelFolder) -> Result<Box<dyn Family>>,
}

impl Detected {
    /// Loads the family's tokenizers and settings.
    pub fn load(&self, folder: &ModelFolder) -> Result<Box<dyn Family>> {
        (self.load)(folder)
    }
}

/// The family of the model in `folder`: SDXL when it has a second text encoder
/// (`text_encoder_2/`; base, Turbo and fine-tunes have both encoders, a refiner only the
/// second), else Stable Diffusion 1.x/2.x (and their Turbo, LCM and inpainting variants).
pub(crate) fn detect(folder: &ModelFolder) -> Result<Detected> {
    if folder.has("text_encoder_2") {
        return sdxl::detect(folder);
    }
    Ok(Detected {
        text: sd::TEXT,
        load: |folder| Ok(Box::new(sd::StableDiffusion::load(folder)?)),
    })
}
