//! A LoRA file: safetensors (read with the `safetensors` crate) in one of the two forms users
//! have — diffusers/PEFT (`unet.<module>.lora_A.weight`, `lora_B`, as `save_lora_weights`
//! writes; also the older `.lora.down.weight`/`.lora.up.weight`) and kohya
//! (`lora_unet_<module_with_underscores>.lora_down.weight`, `lora_up`, `alpha`; text encoders
//! `lora_te_`, or `lora_te1_`/`lora_te2_` for SDXL's two). Each layer's matrices come out as
//! `f32` with the graph part they belong to; kohya names are resolved against the graph's
//! module paths later (underscores are ambiguous without them).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, ErrorKind, Result};

/// How a layer is named in the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Name {
    /// A module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`).
    Path(String),
    /// kohya's path with every `.` an `_`.
    Kohya(String),
}

/// One layer's low-rank pair as the file holds it.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The graph part (`unet`, `text_encoder`, `text_encoder_2`).
    pub part: &'static str,
    /// The layer's name.
    pub name: Name,
    /// The key of its down matrix, for messages.
    pub key: String,
    /// Down (`A`): `[rank, in]`, row-major.
    pub down: Values,
    /// Up (`B`): `[out, rank]`, row-major.
    pub up: Values,
    /// Its rank.
    pub rank: usize,
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
    /// The layer's own scale: kohya's alpha / rank, PEFT's `lora_alpha / r` from the file's
    /// adapter metadata (`alpha / sqrt(r)` with rsLoRA), else 1.
    pub scale: f32,
}

/// PEFT's adapter configs, as diffusers writes them into the file's metadata
/// (`lora_adapter_metadata`: a JSON object of `<part>.<field>` keys).
struct AdapterMetadata(serde_json::Map<String, serde_json::Value>);

impl AdapterMetadata {
    fn read(
        st_meta: Option<&std::collections::HashMap<String, String>>,
        shown: &str,
    ) -> Result<Self> {
        let Some(text) = st_meta.and_then(|m| m.get("lora_adapter_metadata")) else {
            return Ok(AdapterMetadata(Default::default()));
        };
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => Ok(AdapterMetadata(map)),
            _ => Err(Error::invalid(format!(
                "lora: {shown}: its lora_adapter_metadata is not a JSON object"
            ))),
        }
    }

    /// `pattern`'s value for `module` (PEFT's `rank_pattern`/`alpha_pattern`: a key matches
    /// the module path or its tail after a `.`).
    fn pattern(&self, part: &str, field: &str, module: &str) -> Option<f64> {
        let map = self.0.get(&format!("{part}.{field}"))?.as_object()?;
        map.iter()
            .find(|(k, _)| module == k.as_str() || module.ends_with(&format!(".{k}")))
            .and_then(|(_, v)| v.as_f64())
    }

    /// The scale PEFT gives `module` of `part`: `lora_alpha / r` (or over `sqrt(r)`); `None`
    /// without metadata for the part.
    fn scale(&self, part: &str, module: &str) -> Option<f32> {
        let get = |f: &str| self.0.get(&format!("{part}.{f}"));
        let r = self
            .pattern(part, "rank_pattern", module)
            .or_else(|| get("r")?.as_f64())?;
        let alpha = self
            .pattern(part, "alpha_pattern", module)
            .or_else(|| get("lora_alpha")?.as_f64())
            .unwrap_or(r);
        let rs = get("use_rslora").and_then(|v| v.as_bool()).unwrap_or(false);
        Some((alpha / if rs { r.sqrt() } else { r }) as f32)
    }
}

/// Which part a key's prefix names, and the rest of the key.
fn split_part(key: &str) -> Option<(&'static str, Name, &str)> {
    const PEFT: [(&str, &str); 3] = [
        ("unet.", "unet"),
        ("text_encoder.", "text_encoder"),
        ("text_encoder_2.", "text_encoder_2"),
    ];
    const KOHYA: [(&str, &str); 4] = [
        ("lora_unet_", "unet"),
        ("lora_te_", "text_encoder"),
        ("lora_te1_", "text_encoder"),
        ("lora_te2_", "text_encoder_2"),
    ];
    for (prefix, part) in KOHYA {
        if let Some(rest) = key.strip_prefix(prefix) {
            let (module, what) = rest.split_once('.')?;
            return Some((part, Name::Kohya(module.to_string()), what));
        }
    }
    for (prefix, part) in PEFT {
        if let Some(rest) = key.strip_prefix(prefix) {
            for suffix in [
                "lora_A.weight",
                "lora_B.weight",
                "lora.down.weight",
                "lora.up.weight",
                "alpha",
            ] {
                if let Some(module) = rest.strip_suffix(suffix).and_then(|m| m.strip_suffix('.')) {
                    let what = &rest[module.len() + 1..];
                    return Some((part, Name::Path(module.to_string()), what));
                }
            }
            let (module, what) = rest.rsplit_once('.')?;
            return Some((part, Name::Path(module.to_string()), what));
        }
    }
    None
}

/// A matrix's values as the file stores them: float32, or float16 kept as it is (so a loaded
/// LoRA holds about its file's size); bfloat16 is widened to float32.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 16-bit floats.
    F16(Vec<half::f16>),
}

impl Values {
    /// Elements.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F16(v) => v.len(),
        }
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as `f32`.
    pub fn get(&self, i: usize) -> f32 {
        match self {
            Values::F32(v) => v[i],
            Values::F16(v) => v[i].to_f32(),
        }
    }

    /// The bytes its elements hold.
    pub fn bytes(&self) -> usize {
        match self {
            Values::F32(v) => v.len() * 4,
            Values::F16(v) => v.len() * 2,
        }
    }

    /// The `[rows, cols]` matrix transposed.
    pub fn transposed(&self, rows: usize, cols: usize) -> Values {
        fn t<T: Copy + Default>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
            let mut out = vec![T::default(); m.len()];
            for r in 0..rows {
                for c in 0..cols {
                    out[c * rows + r] = m[r * cols + c];
                }
            }
            out
        }
        match self {
            Values::F32(v) => Values::F32(t(v, rows, cols)),
            Values::F16(v) => Values::F16(t(v, rows, cols)),
        }
    }
}

/// The tensor's values (F32, F16 kept; BF16 as F32); a non-finite value is an error.
fn floats(key: &str, t: &safetensors::tensor::TensorView) -> Result<Values> {
    let data = t.data();
    let values = match t.dtype() {
        Dtype::F32 => Values::F32(
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Dtype::F16 => Values::F16(
            data.chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]))
                .collect(),
        ),
        Dtype::BF16 => Values::F32(
            data.chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        other => {
            return Err(Error::invalid(format!(
                "lora: {key} is {other:?}; LoRA matrices must be F32, F16 or BF16"
            )))
        }
    };
    if let Some(i) = (0..values.len()).find(|&i| !values.get(i).is_finite()) {
        return Err(Error::invalid(format!(
            "lora: {key} holds a non-finite value at {i}"
        )));
    }
    Ok(values)
}

/// A matrix's `[rows, cols]`: rank 2, or a 1x1 convolution's `[rows, cols, 1, 1]`.
fn matrix(key: &str, shape: &[usize]) -> Result<(usize, usize)> {
    match shape {
        [r, c] | [r, c, 1, 1] if *r > 0 && *c > 0 => Ok((*r, *c)),
        _ => Err(Error::invalid(format!(
            "lora: {key} has shape {shape:?}; only linear layers (rank-2 matrices) are supported"
        ))),
    }
}

#[derive(Default)]
struct Parts {
    down: Option<(String, Values, (usize, usize))>,
    up: Option<(String, Values, (usize, usize))>,
    alpha: Option<f32>,
}

/// Reads the LoRA at `path`: every layer it holds. A file that is not safetensors, a key of
/// neither form, a layer missing its down or up matrix, ranks that disagree or a matrix
/// that is not one are errors naming the file and the key.
pub fn read(path: &Path) -> Result<Vec<Layer>> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::ModelNotFound
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("lora: {shown}: {e}"))
    })?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::invalid(format!("lora: {shown} is not a safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::invalid(format!("lora: {shown} is not a safetensors file: {e}")))?;
    let adapters = AdapterMetadata::read(header.metadata().as_ref(), &shown.to_string())?;
    let mut layers: BTreeMap<(&'static str, Name), Parts> = BTreeMap::new();
    let mut names: Vec<_> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    for key in &names {
        let t = st
            .tensor(key)
            .map_err(|e| Error::invalid(format!("lora: {shown}: {key}: {e}")))?;
        let Some((part, name, what)) = split_part(key) else {
            return Err(Error::invalid(format!(
                "lora: {shown}: key '{key}' is neither diffusers/PEFT (unet., text_encoder., \
                 text_encoder_2.) nor kohya (lora_unet_, lora_te_, lora_te1_, lora_te2_)"
            )));
        };
        let entry = layers.entry((part, name)).or_default();
        match what {
            "lora_A.weight" | "lora.down.weight" | "lora_down.weight" => {
                let dims = matrix(key, t.shape())?;
                entry.down = Some((key.clone(), floats(key, &t)?, dims));
            }
            "lora_B.weight" | "lora.up.weight" | "lora_up.weight" => {
                let dims = matrix(key, t.shape())?;
                entry.up = Some((key.clone(), floats(key, &t)?, dims));
            }
            "alpha" => {
                let v = floats(key, &t)?;
                if v.len() != 1 {
                    return Err(Error::invalid(format!(
                        "lora: {shown}: {key} holds {} values, not one",
                        v.len()
                    )));
                }
                entry.alpha = Some(v.get(0));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "lora: {shown}: key '{key}' ('{what}') is not a LoRA matrix sdrt reads \
                         (LoRA's down/up and alpha; not DoRA, LoHa or LoKr)"
                    ),
                ))
            }
        }
    }
    let mut out = Vec::with_capacity(layers.len());
    for ((part, name), p) in layers {
        let label = match &name {
            Name::Path(m) | Name::Kohya(m) => m.clone(),
        };
        let (Some((key, down, (rank, inputs))), Some((up_key, up, (outputs, up_rank)))) =
            (p.down, p.up)
        else {
            return Err(Error::invalid(format!(
                "lora: {shown}: layer '{label}' of {part} lacks its down or up matrix"
            )));
        };
        if up_rank != rank {
            return Err(Error::invalid(format!(
                "lora: {shown}: rank mismatch in '{label}': {key} has rank {rank}, {up_key} has \
                 rank {up_rank}"
            )));
        }
        let scale = match (&name, p.alpha) {
            (_, Some(alpha)) => alpha / rank as f32,
            (Name::Path(module), None) => adapters.scale(part, module).unwrap_or(1.0),
            (Name::Kohya(_), None) => 1.0,
        };
        if !scale.is_finite() {
            return Err(Error::invalid(format!(
                "lora: {shown}: '{key}' has a non-finite scale (alpha / rank)"
            )));
        }
        out.push(Layer {
            part,
            name,
            key,
            down,
            up,
            rank,
            inputs,
            outputs,
            scale,
        });
    }
    if out.is_empty() {
        return Err(Error::invalid(format!("lora: {shown} holds no LoRA layer")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_split_into_part_module_and_matrix() {
        let peft = split_part("unet.down_blocks.0.attentions.0.proj_in.lora_A.weight").unwrap();
        assert_eq!(
            peft,
            (
                "unet",
                Name::Path("down_blocks.0.attentions.0.proj_in".into()),
                "lora_A.weight"
            )
        );
        let old =
            split_part("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora.up.weight");
        assert_eq!(
            old.unwrap(),
            (
                "text_encoder",
                Name::Path("text_model.encoder.layers.0.self_attn.q_proj".into()),
                "lora.up.weight"
            )
        );
        let kohya = split_part("lora_te2_text_model_encoder_layers_0_mlp_fc1.alpha").unwrap();
        assert_eq!(
            kohya,
            (
                "text_encoder_2",
                Name::Kohya("text_model_encoder_layers_0_mlp_fc1".into()),
                "alpha"
            )
        );
        assert_eq!(split_part("model.diffusion_model.x.weight"), None);
    }
}
