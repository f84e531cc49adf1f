//! What the model predicts (`prediction_type`).

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
