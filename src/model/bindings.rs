//! The graph I/O contract resolved once, when a pipeline is created: for each part, the
//! inputs and outputs the stages feed and read, as the graph declares them (names, element
//! types, ranks). The stages take these and never look a name up again.

use super::session::IoInfo;

/// A text encoder's inputs and outputs.
#[derive(Debug, Clone)]
pub struct TextEncoderIo {
    /// `input_ids` `[batch, tokens]`, integer (or float) ids.
    pub input_ids: IoInfo,
    /// `last_hidden_state` `[batch, tokens, hidden]`.
    pub last_hidden_state: IoInfo,
    /// The penultimate hidden state, `hidden_states.{N-1}` of the `hidden_states.0..=N` an
    /// export with `output_hidden_states` has (SDXL's conditioning); `None` unless the family
    /// asks for it.
    pub penultimate: Option<IoInfo>,
    /// The pooled, projected embedding `text_embeds` `[batch, projection]`
    /// (`CLIPTextModelWithProjection`, SDXL's second encoder); `None` unless asked for.
    pub pooled: Option<IoInfo>,
}

/// Which text-encoder outputs a family reads besides `last_hidden_state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOutputs {
    /// The penultimate hidden state.
    pub penultimate: bool,
    /// The pooled `text_embeds`.
    pub pooled: bool,
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
    /// SDXL's added conditioning: `text_embeds` `[batch, projection]` (the pooled prompt
    /// embedding) and `time_ids` `[batch, n]` (the micro-conditioning).
    pub added: Option<AddedIo>,
    /// `out_sample` `[batch, C, h, w]`: the model output.
    pub out_sample: IoInfo,
}

/// SDXL's added UNet inputs.
#[derive(Debug, Clone)]
pub struct AddedIo {
    /// `text_embeds` `[batch, projection]`.
    pub text_embeds: IoInfo,
    /// `time_ids` `[batch, n]`: 6 for a base model, 5 for a refiner (aesthetic score).
    pub time_ids: IoInfo,
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
    /// The family's text encoders, in the order of its text parts.
    pub text: Vec<TextEncoderIo>,
    /// `unet`.
    pub unet: UnetIo,
    /// `vae_decoder`.
    pub vae_decoder: VaeDecoderIo,
}
