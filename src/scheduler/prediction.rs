//! What the model predicts (`prediction_type`), and the clean sample (x0) the schedulers
//! derive from it: in the alpha form (DDIM, DDPM, LCM) and the sigma form (Euler, Euler
//! ancestral, Heun, LMS), clipped by `clip_sample`; `thresholding` is refused.

use super::SchedulerConfig;
use crate::error::{Error, Result};

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionType {
    /// The noise (SD 1.x, SD 2 base).
    Epsilon,
    /// The velocity `v` (SD 2.1 768).
    VPrediction,
    /// The denoised sample.
    Sample,
}

impl PredictionType {
    /// The diffusers config spelling.
    pub fn name(self) -> &'static str {
        match self {
            PredictionType::Epsilon => "epsilon",
            PredictionType::VPrediction => "v_prediction",
            PredictionType::Sample => "sample",
        }
    }

    /// Parses the diffusers spelling.
    pub fn parse(s: &str) -> Result<PredictionType> {
        match s {
            "epsilon" => Ok(PredictionType::Epsilon),
            "v_prediction" => Ok(PredictionType::VPrediction),
            "sample" => Ok(PredictionType::Sample),
            _ => Err(Error::model(format!("unknown prediction_type '{s}'"))),
        }
    }
}

/// `pred_original_sample` of the alpha-based schedulers (DDIM, DDPM, LCM) from the model
/// output `m` at sample `s`, with `sa`/`sb` the square roots of `alpha_prod_t` and
/// `beta_prod_t`, in float32 as torch evaluates it.
pub(super) fn alpha_x0(prediction: PredictionType, sa: f32, sb: f32, s: f32, m: f32) -> f32 {
    match prediction {
        PredictionType::Epsilon => (s - sb * m) / sa,
        PredictionType::Sample => m,
        PredictionType::VPrediction => sa * s - sb * m,
    }
}

/// The denoised prediction from an epsilon or v-prediction model at `sigma`, in float32 as
/// diffusers' Euler schedulers compute it; `Sample` passes the model output through.
pub(super) fn sigma_x0(prediction: PredictionType, sigma: f32, s: f32, m: f32) -> f32 {
    match prediction {
        PredictionType::Epsilon => s - sigma * m,
        PredictionType::VPrediction => {
            let c = sigma * sigma + 1.0;
            m * (-sigma / c.sqrt()) + s / c
        }
        PredictionType::Sample => m,
    }
}

/// `clip_sample_range` when `clip_sample` is on (with the class's default for
/// `clip_sample`), as the float32 bound torch's `clamp` uses.
pub(super) fn clip_range(config: &SchedulerConfig, default_clip: bool) -> Result<Option<f32>> {
    if config.bool_or("clip_sample", default_clip)? {
        let r = config.f64_or("clip_sample_range", 1.0)?;
        if r.is_nan() || r < 0.0 {
            return Err(Error::model(format!(
                "scheduler config: clip_sample_range {r} must be >= 0"
            )));
        }
        Ok(Some(r as f32))
    } else {
        Ok(None)
    }
}

/// `clamp(x, -r, r)` when clipping is on (`r` from [`clip_range`], never negative or NaN).
pub(super) fn clip(x: f32, range: Option<f32>) -> f32 {
    match range {
        Some(r) => x.clamp(-r, r),
        None => x,
    }
}

/// `thresholding: true` (dynamic thresholding, for pixel-space models) is not implemented.
pub(super) fn reject_thresholding(config: &SchedulerConfig, class: &str) -> Result<()> {
    if config.bool_or("thresholding", false)? {
        return Err(Error::unsupported(format!(
            "{class} with thresholding is not supported (it is meant for pixel-space models)"
        )));
    }
    Ok(())
}
