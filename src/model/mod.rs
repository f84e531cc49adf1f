//! The model folder `optimum-cli export onnx` writes for Stable Diffusion, and its configs.

pub mod agreement;
pub mod bindings;
pub mod cache;
pub mod graphs;
pub(crate) mod loader;
pub mod onnx_file;
pub mod session;

pub use graphs::controlnet;

use std::path::{Path, PathBuf};

use serde_json::Value;

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
    /// What `unet/config.json` says about the UNet's blocks (diffusers' defaults when absent).
    pub unet: UnetConfig,
    /// What `vae_decoder/config.json` says about the VAE.
    pub vae: VaeConfig,
    /// What `text_encoder/config.json` says, when present.
    pub text: TextConfig,
}

/// The UNet's architecture as far as sizes and memory depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnetConfig {
    /// `block_out_channels`, one per down block (320, 640, 1280, 1280 for SD).
    pub block_out_channels: Vec<usize>,
    /// Whether each down block has attention (`CrossAttnDownBlock2D`).
    pub attention: Vec<bool>,
    /// Attention heads of each down block (`num_attention_heads`, else `attention_head_dim`,
    /// which diffusers reads as the head count).
    pub heads: Vec<usize>,
    /// `in_channels`, when given.
    pub in_channels: Option<usize>,
    /// `out_channels`, when given.
    pub out_channels: Option<usize>,
    /// `cross_attention_dim`, when given as one number.
    pub cross_attention_dim: Option<usize>,
    /// `layers_per_block` of each down block (2 when absent): with `block_out_channels` it
    /// fixes the shapes of the ControlNet residuals the UNet takes.
    pub layers_per_block: Vec<usize>,
}

impl UnetConfig {
    /// How many times the UNet halves the latents: one per down block but the last.
    pub fn downsamples(&self) -> usize {
        self.block_out_channels.len().saturating_sub(1)
    }
}

impl Default for UnetConfig {
    /// diffusers' `UNet2DConditionModel` defaults (the SD 1.x layout).
    fn default() -> Self {
        UnetConfig {
            block_out_channels: vec![320, 640, 1280, 1280],
            attention: vec![true, true, true, false],
            heads: vec![8; 4],
            in_channels: None,
            out_channels: None,
            cross_attention_dim: None,
            layers_per_block: vec![2; 4],
        }
    }
}

/// The VAE's architecture as far as memory depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaeConfig {
    /// `block_out_channels` (128, 256, 512, 512 for SD).
    pub block_out_channels: Vec<usize>,
    /// `latent_channels`, when given.
    pub latent_channels: Option<usize>,
    /// `mid_block_add_attention` (default true): a self-attention at latent resolution.
    pub mid_attention: bool,
}

impl Default for VaeConfig {
    fn default() -> Self {
        VaeConfig {
            block_out_channels: vec![128, 256, 512, 512],
            latent_channels: None,
            mid_attention: true,
        }
    }
}

/// What a text encoder's `config.json` says, when present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextConfig {
    /// `hidden_size`.
    pub hidden_size: Option<usize>,
    /// `vocab_size`: the token embedding's rows.
    pub vocab_size: Option<usize>,
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
        // An SDXL refiner has only the second text encoder.
        let text =
            if !folder.onnx("text_encoder").is_file() && folder.onnx("text_encoder_2").is_file() {
                "text_encoder_2"
            } else {
                "text_encoder"
            };
        for part in [text, "unet", "vae_decoder"] {
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

    /// Whether the folder has `<part>/model.onnx`.
    pub fn has(&self, part: &str) -> bool {
        self.onnx(part).is_file()
    }

    /// `model_index.json`, when present.
    pub fn model_index(&self) -> Result<Option<Value>> {
        read_json_opt(&self.root.join("model_index.json"))
    }

    /// What `<part>/config.json` says of a text encoder (defaults when absent).
    pub fn text_config(&self, part: &str) -> Result<TextConfig> {
        let path = self.root.join(part).join("config.json");
        Ok(match read_json_opt(&path)? {
            Some(v) => TextConfig {
                hidden_size: opt_count(&v, "hidden_size", 1 << 20)
                    .map_err(|e| e.context(path.display()))?,
                vocab_size: opt_count(&v, "vocab_size", 1 << 24)
                    .map_err(|e| e.context(path.display()))?,
            },
            None => TextConfig::default(),
        })
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
        let vae_cfg = match &vae {
            Some(v) => vae_config(v)
                .map_err(|e| e.context(self.root.join("vae_decoder/config.json").display()))?,
            None => VaeConfig::default(),
        };
        let vae_scale_factor = 1usize << (vae_cfg.block_out_channels.len() - 1);

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
        let unet_cfg = match &unet {
            Some(v) => unet_config(v)
                .map_err(|e| e.context(self.root.join("unet/config.json").display()))?,
            None => UnetConfig::default(),
        };
        let text = self.text_config("text_encoder")?;
        Ok(ModelConfig {
            scheduler,
            default_scheduler,
            prediction_type,
            vae_scaling_factor,
            vae_scale_factor,
            unet_sample_size,
            unet: unet_cfg,
            vae: vae_cfg,
            text,
        })
    }
}

fn not_object() -> Error {
    Error::model("not a JSON object")
}

/// `key` as a count in `1..=max`; `None` when absent or null.
fn opt_count(v: &Value, key: &str, max: u64) -> Result<Option<usize>> {
    let o = v.as_object().ok_or_else(not_object)?;
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => match x.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(Some(n as usize)),
            _ => Err(Error::model(format!(
                "'{key}' should be an integer in 1..={max}, got {x}"
            ))),
        },
    }
}

/// `key` as a list of counts in `1..=max`, or one count repeated `len` times; `None` when
/// absent or null.
fn opt_counts(v: &Value, key: &str, len: usize, max: u64) -> Result<Option<Vec<usize>>> {
    let o = v.as_object().ok_or_else(not_object)?;
    let bad = |x: &Value| {
        Error::model(format!(
            "'{key}' should be an integer in 1..={max} or a list of {len} of them, got {x}"
        ))
    };
    let one = |x: &Value| -> Result<usize> {
        match x.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(n as usize),
            _ => Err(bad(x)),
        }
    };
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) if a.len() == len => {
            a.iter().map(one).collect::<Result<_>>().map(Some)
        }
        Some(x @ Value::Array(_)) => Err(bad(x)),
        Some(x) => Ok(Some(vec![one(x)?; len])),
    }
}

fn unet_config(v: &Value) -> Result<UnetConfig> {
    let o = v.as_object().ok_or_else(not_object)?;
    let d = UnetConfig::default();
    let block_out_channels = match o.get("block_out_channels") {
        None | Some(Value::Null) => d.block_out_channels.clone(),
        Some(Value::Array(a)) if (1..=8).contains(&a.len()) => a
            .iter()
            .map(|x| match x.as_u64() {
                Some(n) if (1..=65536).contains(&n) => Ok(n as usize),
                _ => Err(Error::model(format!(
                    "'block_out_channels' should hold integers in 1..=65536, got {x}"
                ))),
            })
            .collect::<Result<_>>()?,
        Some(x) => {
            return Err(Error::model(format!(
                "'block_out_channels' should be a list of 1 to 8 integers, got {x}"
            )))
        }
    };
    let n = block_out_channels.len();
    let attention = match o.get("down_block_types") {
        None | Some(Value::Null) if n == d.attention.len() => d.attention.clone(),
        None | Some(Value::Null) => vec![true; n],
        Some(Value::Array(a)) if a.len() == n && a.iter().all(Value::is_string) => a
            .iter()
            .map(|t| t.as_str().is_some_and(|t| t.contains("Attn")))
            .collect(),
        Some(x) => {
            return Err(Error::model(format!(
                "'down_block_types' should be a list of {n} block names (one per \
                 block_out_channels), got {x}"
            )))
        }
    };
    let heads = match opt_counts(v, "num_attention_heads", n, 1024)? {
        Some(h) => h,
        None => opt_counts(v, "attention_head_dim", n, 1024)?.unwrap_or_else(|| vec![8; n]),
    };
    let cross_attention_dim = match o.get("cross_attention_dim") {
        Some(Value::Array(a)) => {
            let first = a.first().and_then(Value::as_u64);
            if a.iter().all(|x| x.as_u64() == first) {
                first.map(|x| x as usize)
            } else {
                None
            }
        }
        _ => opt_count(v, "cross_attention_dim", 1 << 20)?,
    };
    Ok(UnetConfig {
        block_out_channels,
        attention,
        heads,
        in_channels: opt_count(v, "in_channels", 4096)?,
        out_channels: opt_count(v, "out_channels", 4096)?,
        cross_attention_dim,
        layers_per_block: opt_counts(v, "layers_per_block", n, 64)?.unwrap_or_else(|| vec![2; n]),
    })
}

fn vae_config(v: &Value) -> Result<VaeConfig> {
    let o = v.as_object().ok_or_else(not_object)?;
    let d = VaeConfig::default();
    let block_out_channels = match o.get("block_out_channels") {
        None | Some(Value::Null) => d.block_out_channels,
        Some(Value::Array(a)) if (1..=8).contains(&a.len()) => a
            .iter()
            .map(|x| match x.as_u64() {
                Some(n) if (1..=65536).contains(&n) => Ok(n as usize),
                _ => Err(Error::model(format!(
                    "'block_out_channels' should hold integers in 1..=65536, got {x}"
                ))),
            })
            .collect::<Result<_>>()?,
        Some(Value::Array(a)) => {
            return Err(Error::model(format!(
                "{} blocks is out of range (1 to 8)",
                a.len()
            )))
        }
        Some(x) => {
            return Err(Error::model(format!(
                "'block_out_channels' should be a list of 1 to 8 integers, got {x}"
            )))
        }
    };
    let mid_attention = match o.get("mid_block_add_attention") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(x) => {
            return Err(Error::model(format!(
                "'mid_block_add_attention' should be true or false, got {x}"
            )))
        }
    };
    Ok(VaeConfig {
        block_out_channels,
        latent_channels: opt_count(v, "latent_channels", 4096)?,
        mid_attention,
    })
}
