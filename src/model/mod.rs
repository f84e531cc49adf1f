//! The model folder `optimum-cli export onnx` writes for Stable Diffusion, and its configs.

pub mod session;

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::scheduler::{PredictionType, SchedulerConfig, SchedulerKind};

/// Paths of a model folder's parts.
#[derive(Debug, Clone)]
pub struct ModelFolder {
    /// The folder itself.
    pub root: PathBuf,
}

/// What the configs say about the model.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// `scheduler/scheduler_config.json`.
    pub scheduler: SchedulerConfig,
    /// The scheduler class the folder names, when sdrt implements it.
    pub default_scheduler: Option<SchedulerKind>,
    /// The config's `prediction_type`.
    pub prediction_type: PredictionType,
    /// VAE `scaling_factor` (0.18215 when absent).
    pub vae_scaling_factor: f32,
    /// Pixels per latent cell: `2 ** (len(vae block_out_channels) - 1)`, 8 for SD.
    pub vae_scale_factor: usize,
    /// UNet `sample_size` in latent cells (64 for SD2-base, 96 for SD2.1-768).
    pub unet_sample_size: usize,
}

impl ModelConfig {
    /// Native image width and height in pixels.
    pub fn native_size(&self) -> (usize, usize) {
        let s = self.unet_sample_size * self.vae_scale_factor;
        (s, s)
    }
}

pub(crate) fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::ModelNotFound
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("{}: {e}", path.display()))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| Error::model(format!("{}: invalid JSON: {e}", path.display())))
}

fn read_json_opt(path: &Path) -> Result<Option<serde_json::Value>> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

impl ModelFolder {
    /// Checks that `root` looks like an exported Stable Diffusion folder.
    pub fn open(root: &Path) -> Result<ModelFolder> {
        if !root.is_dir() {
            return Err(Error::new(
                ErrorKind::ModelNotFound,
                format!("model folder {} does not exist", root.display()),
            ));
        }
        let folder = ModelFolder {
            root: root.to_path_buf(),
        };
        for part in ["text_encoder", "unet", "vae_decoder"] {
            let p = folder.onnx(part);
            if !p.is_file() {
                return Err(Error::new(
                    ErrorKind::ModelNotFound,
                    format!(
                        "{} is missing: expected the layout of `optimum-cli export onnx` \
                         (model_index.json, tokenizer/, text_encoder/, unet/, vae_decoder/)",
                        p.display()
                    ),
                ));
            }
        }
        Ok(folder)
    }

    /// `<root>/<part>/model.onnx`.
    pub fn onnx(&self, part: &str) -> PathBuf {
        self.root.join(part).join("model.onnx")
    }

    /// `<root>/tokenizer`.
    pub fn tokenizer_dir(&self) -> PathBuf {
        self.root.join("tokenizer")
    }

    /// Reads the configs that shape generation.
    pub fn config(&self) -> Result<ModelConfig> {
        let sched_path = self.root.join("scheduler").join("scheduler_config.json");
        let scheduler = match read_json_opt(&sched_path)? {
            Some(v) => {
                SchedulerConfig::from_json(&v).map_err(|e| e.context(sched_path.display()))?
            }
            None => {
                return Err(Error::new(
                    ErrorKind::ModelNotFound,
                    format!("{} is missing", sched_path.display()),
                ))
            }
        };
        let default_scheduler = SchedulerKind::from_config(&scheduler);
        let prediction_type = scheduler.prediction_type()?;

        let vae = read_json_opt(&self.root.join("vae_decoder").join("config.json"))?;
        let vae_scaling_factor = vae
            .as_ref()
            .and_then(|v| v.get("scaling_factor"))
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.18215) as f32;
        if !(vae_scaling_factor.is_finite() && vae_scaling_factor > 0.0) {
            return Err(Error::model(format!(
                "vae_decoder/config.json: scaling_factor {vae_scaling_factor} must be positive"
            )));
        }
        let vae_blocks = vae
            .as_ref()
            .and_then(|v| v.get("block_out_channels"))
            .and_then(serde_json::Value::as_array)
            .map(Vec::len)
            .unwrap_or(4);
        if !(1..=8).contains(&vae_blocks) {
            return Err(Error::model(format!(
                "vae_decoder/config.json: {vae_blocks} blocks is out of range"
            )));
        }
        let vae_scale_factor = 1usize << (vae_blocks - 1);

        let unet = read_json_opt(&self.root.join("unet").join("config.json"))?;
        let unet_sample_size = unet
            .as_ref()
            .and_then(|v| v.get("sample_size"))
            .and_then(|s| s.as_u64().or_else(|| s.as_array()?.first()?.as_u64()))
            .unwrap_or(64) as usize;
        if !(1..=1024).contains(&unet_sample_size) {
            return Err(Error::model(format!(
                "unet/config.json: sample_size {unet_sample_size} is out of range"
            )));
        }
        Ok(ModelConfig {
            scheduler,
            default_scheduler,
            prediction_type,
            vae_scaling_factor,
            vae_scale_factor,
            unet_sample_size,
        })
    }
}
