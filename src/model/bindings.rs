//! The graph I/O contract resolved once, when a pipeline is created: for each part, the
//! inputs and outputs the stages feed and read, as the graph declares them (names, element
//! types, ranks). The stages take these and never look a name up again.

use super::session::IoInfo;

/// The text encoder's inputs and outputs.
#[derive(Debug, Clone)]
pub struct TextEncoderIo {
    /// `input_ids` `[batch, tokens]`, integer (or float) ids.
    pub input_ids: IoInfo,
    /// `last_hidden_state` `[batch, tokens, hidden]`.
    pub last_hidden_state: IoInfo,
}

/// The UNet's inputs and output.
#[derive(Debug, Clone)]
pub struct UnetIo {
    /// `sample` `[batch, C_in, h, w]`: the latents (and an inpainting UNet's extra channels).
    pub sample: IoInfo,
    /// `timestep`, rank 0 or 1, float or integer.
    pub timestep: IoInfo,
    /// `encoder_hidden_states` `[batch, tokens, cross]`: the text conditioning.
    pub hidden_states: IoInfo,
    /// `timestep_cond` `[batch, dim]`: an LCM-distilled UNet's guidance embedding.
    pub timestep_cond: Option<IoInfo>,
    /// `out_sample` `[batch, C, h, w]`: the model output.
    pub out_sample: IoInfo,
}

/// A VAE decoder's (or a TAESD preview decoder's) input and output.
#[derive(Debug, Clone)]
pub struct VaeDecoderIo {
    /// `latent_sample` `[batch, C, h, w]`.
    pub latent_sample: IoInfo,
    /// `sample` `[batch, 3, H, W]` in [-1, 1].
    pub sample: IoInfo,
}

/// A VAE encoder's input and output.
#[derive(Debug, Clone)]
pub struct VaeEncoderIo {
    /// `sample` `[batch, 3, H, W]` in [-1, 1].
    pub sample: IoInfo,
    /// `latent_parameters` (mean and log-variance, current optimum exports) or
    /// `latent_sample` (older exports, sampled inside the graph).
    pub latents: IoInfo,
    /// Whether `latents` holds mean and log-variance (sampled by the pipeline) rather than
    /// latents.
    pub parameters: bool,
}

/// The bindings of the graphs a pipeline loads at create.
#[derive(Debug, Clone)]
pub struct Bindings {
    /// `text_encoder`.
    pub text_encoder: TextEncoderIo,
    /// `unet`.
    pub unet: UnetIo,
    /// `vae_decoder`.
    pub vae_decoder: VaeDecoderIo,
}
