//! sdrt: a Stable Diffusion runtime for native apps.
//!
//! The engine is plain Rust ([`Pipeline`], [`runtime`], [`scheduler`], [`rng`],
//! [`tokenizer`]); `src/ffi/` exposes it through the C header `include/sdrt.h`.

#![warn(missing_docs)]
// Nothing a caller controls may panic: no unwrap/expect in the library (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

/// cbindgen:ignore
pub mod error;
/// cbindgen:ignore
mod family;
pub mod ffi;
/// cbindgen:ignore
pub mod lora;
/// cbindgen:ignore
pub mod memory;
/// cbindgen:ignore
pub mod model;
/// cbindgen:ignore
pub mod pipeline;
/// cbindgen:ignore
pub mod prompt_weights;
/// cbindgen:ignore
pub mod rng;
/// cbindgen:ignore
pub mod runtime;
/// cbindgen:ignore
pub mod scheduler;
/// cbindgen:ignore
pub mod tokenizer;

pub use error::{Error, ErrorKind, Result};
pub use pipeline::{
    CacheDir, ControlNet, GenerateParams, GrayImage, Images, Latents, LoraId, LoraWeight,
    MicroConditioning, Pipeline, PipelineInfo, PipelineOptions, Preview, PreviewKind,
    PromptWeighting, RgbImage, StepInfo, Timings,
};
pub use rng::Generator;
pub use runtime::{Provider, RuntimeOptions};
pub use scheduler::{PredictionType, SchedulerKind};
