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
    /// The ControlNet residual inputs of a UNet exported to take them
    /// (`tools/export_controlnet.py`).
    pub residuals: Option<ResidualIo>,
    /// `out_sample` `[batch, C, h, w]`: the model output.
    pub out_sample: IoInfo,
}

/// A UNet's ControlNet residual inputs, each `[batch, channels, h_k, w_k]`.
#[derive(Debug, Clone)]
pub struct ResidualIo {
    /// `down_block_additional_residual_0..N-1`, in order.
    pub down: Vec<IoInfo>,
    /// `mid_block_additional_residual`.
    pub mid: IoInfo,
}

impl ResidualIo {
    /// The down residuals, then the mid one: the order ControlNets return them in.
    pub fn all(&self) -> impl Iterator<Item = &IoInfo> {
        self.down.iter().chain(std::iter::once(&self.mid))
    }
}

/// A ControlNet's inputs and outputs.
#[derive(Debug, Clone)]
pub struct ControlNetIo {
    /// `sample` `[batch, C, h, w]`: the scaled latents.
    pub sample: IoInfo,
    /// `timestep`, rank 0 or 1.
    pub timestep: IoInfo,
    /// `encoder_hidden_states` `[batch, tokens, cross]`.
    pub hidden_states: IoInfo,
    /// `controlnet_cond` `[batch, 3, H, W]`: the control image in [0, 1].
    pub cond: IoInfo,
    /// `conditioning_scale` (rank 0 or `[1]`).
    pub scale: IoInfo,
    /// SDXL's `text_embeds` and `time_ids`.
    pub added: Option<AddedIo>,
    /// `down_block_res_sample_0..N-1` then `mid_block_res_sample`.
    pub outputs: Vec<IoInfo>,
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
