//! The schedulers sdrt implements, by the names the C API and the command line use, and the
//! diffusers class each one is.

use serde_json::Value;

use super::SchedulerConfig;
use crate::error::{Error, Result};

/// Scheduler names the pipeline knows. The C API numbers them in this order from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    /// `PNDMScheduler` ("pndm").
    Pndm,
    /// `DDIMScheduler` ("ddim").
    Ddim,
    /// `EulerDiscreteScheduler` ("euler").
    Euler,
    /// `EulerAncestralDiscreteScheduler` ("euler-a").
    EulerAncestral,
    /// `DPMSolverMultistepScheduler`, dpmsolver++, order 2 ("dpm++2m").
    DpmPp2m,
    /// The same with `use_karras_sigmas` ("dpm++2m-karras").
    DpmPp2mKarras,
    /// `DPMSolverMultistepScheduler`, sde-dpmsolver++, order 2 ("dpm++2m-sde").
    DpmPp2mSde,
    /// `LMSDiscreteScheduler` ("lms").
    Lms,
    /// `HeunDiscreteScheduler` ("heun").
    Heun,
    /// `UniPCMultistepScheduler` ("unipc").
    UniPc,
    /// `LCMScheduler` ("lcm"), for latent-consistency models.
    Lcm,
    /// `DDPMScheduler` ("ddpm").
    Ddpm,
}

impl SchedulerKind {
    /// Every scheduler, in C API order.
    pub const ALL: [SchedulerKind; 12] = [
        SchedulerKind::Pndm,
        SchedulerKind::Ddim,
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::DpmPp2m,
        SchedulerKind::DpmPp2mKarras,
        SchedulerKind::DpmPp2mSde,
        SchedulerKind::Lms,
        SchedulerKind::Heun,
        SchedulerKind::UniPc,
        SchedulerKind::Lcm,
        SchedulerKind::Ddpm,
    ];

    /// The name used by the C API docs and `generate --scheduler`.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Pndm => "pndm",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Euler => "euler",
            SchedulerKind::EulerAncestral => "euler-a",
            SchedulerKind::DpmPp2m => "dpm++2m",
            SchedulerKind::DpmPp2mKarras => "dpm++2m-karras",
            SchedulerKind::DpmPp2mSde => "dpm++2m-sde",
            SchedulerKind::Lms => "lms",
            SchedulerKind::Heun => "heun",
            SchedulerKind::UniPc => "unipc",
            SchedulerKind::Lcm => "lcm",
            SchedulerKind::Ddpm => "ddpm",
        }
    }

    /// The diffusers class.
    pub fn class_name(self) -> &'static str {
        match self {
            SchedulerKind::Pndm => "PNDMScheduler",
            SchedulerKind::Ddim => "DDIMScheduler",
            SchedulerKind::Euler => "EulerDiscreteScheduler",
            SchedulerKind::EulerAncestral => "EulerAncestralDiscreteScheduler",
            SchedulerKind::DpmPp2m | SchedulerKind::DpmPp2mKarras | SchedulerKind::DpmPp2mSde => {
                "DPMSolverMultistepScheduler"
            }
            SchedulerKind::Lms => "LMSDiscreteScheduler",
            SchedulerKind::Heun => "HeunDiscreteScheduler",
            SchedulerKind::UniPc => "UniPCMultistepScheduler",
            SchedulerKind::Lcm => "LCMScheduler",
            SchedulerKind::Ddpm => "DDPMScheduler",
        }
    }

    /// Parses a scheduler name (`pndm`, `ddim`, `euler`, `euler-a`, `dpm++2m`,
    /// `dpm++2m-karras`, `dpm++2m-sde`, `lms`, `heun`, `unipc`, `lcm`, `ddpm`).
    pub fn parse(s: &str) -> Result<SchedulerKind> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                Error::invalid(format!(
                    "unknown scheduler '{s}'; available: {}",
                    names.join(", ")
                ))
            })
    }

    /// The scheduler a model folder names: its class, refined by the config for
    /// `DPMSolverMultistepScheduler`. `None` for classes sdrt does not implement.
    pub fn from_config(config: &SchedulerConfig) -> Option<SchedulerKind> {
        let class = config.class_name();
        if class == "DPMSolverMultistepScheduler" {
            let algo = config.str_or("algorithm_type", "dpmsolver++").ok()?;
            let karras = config.bool_or("use_karras_sigmas", false).ok()?;
            let order = config.usize_or("solver_order", 2).ok()?;
            return match (algo.as_str(), karras, order) {
                ("dpmsolver++", false, 2) => Some(SchedulerKind::DpmPp2m),
                ("dpmsolver++", true, 2) => Some(SchedulerKind::DpmPp2mKarras),
                ("sde-dpmsolver++", false, 2) => Some(SchedulerKind::DpmPp2mSde),
                _ => None,
            };
        }
        Self::ALL.iter().copied().find(|k| {
            k.class_name() == class
                && !matches!(
                    k,
                    SchedulerKind::DpmPp2m
                        | SchedulerKind::DpmPp2mKarras
                        | SchedulerKind::DpmPp2mSde
                )
        })
    }

    /// The config keys this name sets on top of the model's config, as
    /// `from_config(config, **extra)` does.
    pub(super) fn extra_config(self) -> Vec<(&'static str, Value)> {
        match self {
            SchedulerKind::DpmPp2m => vec![
                ("algorithm_type", "dpmsolver++".into()),
                ("solver_order", 2.into()),
                ("use_karras_sigmas", false.into()),
            ],
            SchedulerKind::DpmPp2mKarras => vec![
                ("algorithm_type", "dpmsolver++".into()),
                ("solver_order", 2.into()),
                ("use_karras_sigmas", true.into()),
            ],
            SchedulerKind::DpmPp2mSde => vec![
                ("algorithm_type", "sde-dpmsolver++".into()),
                ("solver_order", 2.into()),
                ("use_karras_sigmas", false.into()),
            ],
            _ => Vec::new(),
        }
    }
}
