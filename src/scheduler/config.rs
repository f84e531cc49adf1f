//! `scheduler_config.json`, read key by key with the reading class's defaults.

use serde_json::{Map, Value};

use super::{PredictionType, TimestepSpacing};
use crate::error::{Error, Result};

/// A parsed `scheduler_config.json`. Keys are read on demand with the reading scheduler's
/// own defaults; JSON `null` counts as absent, as in diffusers.
#[derive(Debug, Clone, Default)]
pub struct SchedulerConfig {
    map: Map<String, Value>,
}

fn type_error(key: &str, want: &str, v: &Value) -> Error {
    Error::model(format!(
        "scheduler config: '{key}' should be {want}, got {v}"
    ))
}

impl SchedulerConfig {
    /// Reads a parsed `scheduler_config.json`.
    pub fn from_json(v: &Value) -> Result<SchedulerConfig> {
        let map = v
            .as_object()
            .ok_or_else(|| Error::model("scheduler_config.json is not a JSON object"))?
            .clone();
        let c = SchedulerConfig { map };
        // Validate what every scheduler relies on.
        c.num_train_timesteps()?;
        c.prediction_type()?;
        c.timestep_spacing(TimestepSpacing::Leading)?;
        Ok(c)
    }

    /// Sets a key, as a keyword argument to `from_config` would.
    pub fn set(&mut self, key: &str, value: Value) {
        self.map.insert(key.to_string(), value);
    }

    /// `_class_name` (empty when absent).
    pub fn class_name(&self) -> &str {
        self.map
            .get("_class_name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A number, or `default`.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| type_error(key, "a number", v)),
        }
    }

    /// A non-negative integer, or `default`.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|&n| n <= 1_000_000)
                .map(|n| n as usize)
                .ok_or_else(|| type_error(key, "an integer in 0..=1000000", v)),
        }
    }

    /// A boolean, or `default`.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| type_error(key, "true or false", v)),
        }
    }

    /// A string, or `default`.
    pub fn str_or(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| type_error(key, "a string", v)),
        }
    }

    /// A list of numbers, if present.
    pub fn f64_list(&self, key: &str) -> Result<Option<Vec<f64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                let arr = v.as_array().ok_or_else(|| type_error(key, "a list", v))?;
                arr.iter()
                    .map(|x| {
                        x.as_f64()
                            .ok_or_else(|| type_error(key, "a list of numbers", v))
                    })
                    .collect::<Result<Vec<f64>>>()
                    .map(Some)
            }
        }
    }

    /// `num_train_timesteps` (default 1000), at least 2.
    pub fn num_train_timesteps(&self) -> Result<usize> {
        let n = self.usize_or("num_train_timesteps", 1000)?;
        if n < 2 {
            return Err(Error::model(format!(
                "num_train_timesteps {n} is too small"
            )));
        }
        Ok(n)
    }

    /// `prediction_type` (default epsilon).
    pub fn prediction_type(&self) -> Result<PredictionType> {
        PredictionType::parse(&self.str_or("prediction_type", "epsilon")?)
    }

    /// `timestep_spacing`, or the reading class's `default`.
    pub fn timestep_spacing(&self, default: TimestepSpacing) -> Result<TimestepSpacing> {
        match self.get("timestep_spacing") {
            None => Ok(default),
            Some(v) => TimestepSpacing::parse(
                v.as_str()
                    .ok_or_else(|| type_error("timestep_spacing", "a string", v))?,
            ),
        }
    }
}

/// Rejects configuration switches that select schedules sdrt does not build.
pub(super) fn reject_unsupported_flags(
    config: &SchedulerConfig,
    class: &str,
    keys: &[&str],
) -> Result<()> {
    for key in keys {
        if config.bool_or(key, false)? {
            return Err(Error::unsupported(format!(
                "{class} with {key} is not supported"
            )));
        }
    }
    Ok(())
}
