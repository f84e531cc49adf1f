//! How inference timesteps are spread over the training range (`timestep_spacing`), and the
//! three ways diffusers' schedulers apply it in `set_timesteps`: integer timesteps (DDIM,
//! DDPM), float32 ones (Euler, Euler ancestral, Heun, LMS) and the multistep solvers' `steps
//! + 1` points (DPM-Solver, UniPC). PNDM and LCM build their own.

use super::numeric::{np_arange, np_linspace};
use super::SchedulerConfig;
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

/// The integer timesteps of DDIM's / DDPM's `set_timesteps`, descending, with the class's
/// `default` spacing when the config has no `timestep_spacing`:
/// - linspace: `np.linspace(0, T - 1, steps).round()[::-1]` (round half to even);
/// - leading: `arange(steps) * (T // steps)` reversed, plus `steps_offset`;
/// - trailing: `np.round(np.arange(T, 0, -T / steps)) - 1`.
///
/// diffusers indexes `alphas_cumprod` with these; a value outside `0..T` (leading with a
/// large `steps_offset`, or trailing at step counts such as 61 where numpy's `arange` gives
/// one element too many, ending in -1, which torch reads as the *last* alpha) makes
/// diffusers fail or silently use the wrong alpha, so it is an error here.
pub(super) fn integer_timesteps(
    config: &SchedulerConfig,
    steps: usize,
    default: TimestepSpacing,
) -> Result<Vec<i64>> {
    let t = config.num_train_timesteps()?;
    let steps_offset = config.usize_or("steps_offset", 0)? as i64;
    let v: Vec<i64> = match config.timestep_spacing(default)? {
        TimestepSpacing::Linspace => np_linspace(0.0, (t - 1) as f64, steps)
            .iter()
            .rev()
            .map(|x| x.round_ties_even() as i64)
            .collect(),
        TimestepSpacing::Leading => {
            let ratio = (t / steps) as i64;
            (0..steps as i64)
                .rev()
                .map(|i| i * ratio + steps_offset)
                .collect()
        }
        TimestepSpacing::Trailing => np_arange(t as f64, 0.0, -(t as f64 / steps as f64))
            .iter()
            .map(|x| x.round_ties_even() as i64 - 1)
            .collect(),
    };
    if let Some(&bad) = v.iter().find(|&&x| x < 0 || x >= t as i64) {
        return Err(Error::invalid(format!(
            "{steps} steps with this timestep spacing give timestep {bad}, outside 0..{t} \
             (diffusers would index alphas_cumprod out of range); choose another step count"
        )));
    }
    Ok(v)
}

/// The float32 timesteps of Euler's / Euler ancestral's `set_timesteps` (default spacing
/// linspace), descending:
/// - linspace: `np.linspace(0, T - 1, steps, dtype=float32)[::-1]` (float64, then cast);
/// - leading: `arange(steps) * (T // steps)` reversed, as float32, plus `steps_offset`;
/// - trailing: `np.arange(T, 0, -T / steps).round()` as float32, minus 1. For step counts
///   where numpy's `arange` gives one element too many (61 of 1000, say) the last timestep is
///   -1 and its sigma is the smallest training sigma, as in diffusers.
pub(super) fn float_timesteps(config: &SchedulerConfig, steps: usize) -> Result<Vec<f32>> {
    let t = config.num_train_timesteps()?;
    Ok(match config.timestep_spacing(TimestepSpacing::Linspace)? {
        TimestepSpacing::Linspace => np_linspace(0.0, (t - 1) as f64, steps)
            .iter()
            .rev()
            .map(|&x| x as f32)
            .collect(),
        TimestepSpacing::Leading => {
            let ratio = t / steps;
            let offset = config.usize_or("steps_offset", 0)? as f32;
            (0..steps)
                .rev()
                .map(|i| (i * ratio) as f32 + offset)
                .collect()
        }
        TimestepSpacing::Trailing => np_arange(t as f64, 0.0, -(t as f64 / steps as f64))
            .iter()
            .map(|&x| x.round_ties_even() as f32 - 1.0)
            .collect(),
    })
}

/// The integer timesteps of the multistep solvers' `set_timesteps` (DPM-Solver, UniPC),
/// descending; these spread `steps + 1` points and drop the last:
/// - linspace: `np.linspace(0, last - 1, steps + 1).round()[::-1][:-1]`;
/// - leading: `arange(steps + 1) * (last // (steps + 1))` reversed, minus the last, plus
///   `steps_offset`;
/// - trailing: `np.arange(last, 0, -T / steps).round() - 1` (one element too many, ending
///   in -1, at step counts such as 61 of 1000 where numpy's `arange` overshoots, as in
///   diffusers).
///
/// `last` is `num_train_timesteps` unless DPM-Solver's `lambda_min_clipped` cuts it.
pub(super) fn multistep_timesteps(
    config: &SchedulerConfig,
    steps: usize,
    last: usize,
) -> Result<Vec<i64>> {
    let t = config.num_train_timesteps()?;
    Ok(match config.timestep_spacing(TimestepSpacing::Linspace)? {
        TimestepSpacing::Linspace => {
            let v = np_linspace(0.0, last as f64 - 1.0, steps + 1);
            v[1..]
                .iter()
                .rev()
                .map(|x| x.round_ties_even() as i64)
                .collect()
        }
        TimestepSpacing::Leading => {
            let ratio = (last / (steps + 1)) as i64;
            let offset = config.usize_or("steps_offset", 0)? as i64;
            (1..=steps as i64)
                .rev()
                .map(|i| i * ratio + offset)
                .collect()
        }
        TimestepSpacing::Trailing => np_arange(last as f64, 0.0, -(t as f64 / steps as f64))
            .iter()
            .map(|x| x.round_ties_even() as i64 - 1)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: serde_json::Value) -> SchedulerConfig {
        SchedulerConfig::from_json(&v).unwrap()
    }

    #[test]
    fn multistep_spacings_match_diffusers() {
        let leading = config(json!({"timestep_spacing": "leading", "steps_offset": 1}));
        assert_eq!(
            multistep_timesteps(&leading, 10, 1000).unwrap(),
            [901, 811, 721, 631, 541, 451, 361, 271, 181, 91]
        );
        let linspace = config(json!({}));
        assert_eq!(
            multistep_timesteps(&linspace, 5, 1000).unwrap(),
            [999, 799, 599, 400, 200]
        );
        // numpy's arange overshoots at 61 steps: 62 timesteps, the last -1.
        let trailing = config(json!({"timestep_spacing": "trailing"}));
        let t = multistep_timesteps(&trailing, 61, 1000).unwrap();
        assert_eq!((t.len(), t[0], t[61]), (62, 999, -1));
    }
}
