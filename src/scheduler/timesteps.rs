//! How inference timesteps are spread over the training range (`timestep_spacing`).

use crate::error::{Error, Result};

/// How inference timesteps are spread over the training range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestepSpacing {
    /// Evenly spaced, including both ends.
    Linspace,
    /// Multiples of `T / steps` from 0, plus `steps_offset`.
    Leading,
    /// Evenly spaced down from `T`, minus one.
    Trailing,
}

impl TimestepSpacing {
    /// The diffusers spelling.
    pub fn name(self) -> &'static str {
        match self {
            TimestepSpacing::Linspace => "linspace",
            TimestepSpacing::Leading => "leading",
            TimestepSpacing::Trailing => "trailing",
        }
    }

    /// Parses the diffusers spelling.
    pub fn parse(s: &str) -> Result<TimestepSpacing> {
        match s {
            "linspace" => Ok(TimestepSpacing::Linspace),
            "leading" => Ok(TimestepSpacing::Leading),
            "trailing" => Ok(TimestepSpacing::Trailing),
            _ => Err(Error::model(format!("unknown timestep_spacing '{s}'"))),
        }
    }
}
