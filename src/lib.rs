//! sdrt: a Stable Diffusion runtime for native apps.
//!
//! The engine is plain Rust ([`Pipeline`], [`runtime`], [`scheduler`], [`rng`],
//! [`tokenizer`]); `src/ffi/` exposes it through the C header `include/sdrt.h`.

#![warn(missing_docs)]

pub mod error;
pub mod ffi;
pub mod model;
pub mod pipeline;
pub mod rng;
pub mod runtime;
pub mod scheduler;
pub mod tokenizer;

pub use error::{Error, ErrorKind, Result};
pub use pipeline::{GenerateParams, Images, Pipeline, PipelineInfo, PipelineOptions};
pub use rng::Generator;
pub use runtime::{Provider, RuntimeOptions};
pub use scheduler::{PredictionType, SchedulerKind};
