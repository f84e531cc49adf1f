//! LoRA: low-rank adapters a pipeline loads once and each call chooses among, with a scale
//! each, without rebuilding a graph when the choice changes.
//!
//! The mechanism (ARCHITECTURE.md): the first LoRA that targets a layer gives that layer of the
//! stock optimum graph a low-rank branch whose matrices are graph inputs ([`graph`]); the part's
//! session is rebuilt once, then (through the graph cache) loads like any other. Each run feeds
//! every branch the concatenation of the call's active LoRAs on that layer (each up matrix times
//! its layer's and the call's scale), or rank 0 when none of them touches it; so a switch between
//! calls costs the copy of the chosen matrices, and a loaded LoRA holds its matrices as its file
//! stores them ([`Lora::bytes`]: float16 or float32).

pub mod file;
pub mod graph;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub use graph::Linear;

/// One layer of a loaded LoRA, in the branch's orientation.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Its rank.
    pub rank: usize,
    /// The layer's input features.
    pub inputs: usize,
    /// The layer's output features.
    pub outputs: usize,
    /// `[in, rank]`, row-major (the file's `A` transposed).
    pub down: file::Values,
    /// `[rank, out]`, row-major (the file's `B` transposed).
    pub up: file::Values,
    /// The layer's own scale (alpha / rank, or PEFT's metadata), times the call's.
    pub scale: f32,
}

/// A loaded LoRA: its layers by graph part and module path.
#[derive(Debug)]
pub struct Lora {
    /// The file it came from.
    pub path: PathBuf,
    /// Its layers: part, then module path.
    pub parts: BTreeMap<&'static str, BTreeMap<String, Pair>>,
}

impl Lora {
    /// The memory its matrices hold.
    pub fn bytes(&self) -> usize {
        self.parts
            .values()
            .flat_map(|m| m.values())
            .map(|p| p.down.bytes() + p.up.bytes())
            .sum()
    }
}

/// Resolves the layers of the file at `path` against the linear layers of each part of the
/// model (`linears(part)`: `None` when the model has no such part). A layer that matches no
/// linear layer, or one whose shapes differ from its layer's, is an error naming its key (the
/// first such key), so a LoRA made for another model is refused whole.
pub fn resolve(
    path: &Path,
    layers: Vec<file::Layer>,
    linears: &mut dyn FnMut(&str) -> Result<Option<Vec<Linear>>>,
) -> Result<Lora> {
    let shown = path.display();
    let mut by_part: HashMap<&'static str, Option<HashMap<String, Linear>>> = HashMap::new();
    let mut parts: BTreeMap<&'static str, BTreeMap<String, Pair>> = BTreeMap::new();
    for layer in layers {
        if !by_part.contains_key(layer.part) {
            let found = linears(layer.part)?.map(|list| {
                let mut map = HashMap::new();
                for l in list {
                    map.insert(format!("kohya:{}", l.module.replace('.', "_")), l.clone());
                    map.insert(l.module.clone(), l);
                }
                map
            });
            by_part.insert(layer.part, found);
        }
        let Some(Some(map)) = by_part.get(layer.part) else {
            return Err(Error::invalid(format!(
                "lora: {shown}: key '{}' targets {}, which this model does not have (a LoRA \
                 for another model family?)",
                layer.key, layer.part
            )));
        };
        let lookup = match &layer.name {
            file::Name::Path(m) => m.clone(),
            file::Name::Kohya(k) => format!("kohya:{k}"),
        };
        let Some(target) = map.get(&lookup) else {
            return Err(Error::invalid(format!(
                "lora: {shown}: key '{}' matches no linear layer of {} (a LoRA for another \
                 model?)",
                layer.key, layer.part
            )));
        };
        if (layer.inputs, layer.outputs) != (target.inputs, target.outputs) {
            return Err(Error::invalid(format!(
                "lora: {shown}: key '{}' is for a layer of {} inputs and {} outputs; {}'s '{}' \
                 has {} and {} (a LoRA for another model?)",
                layer.key,
                layer.inputs,
                layer.outputs,
                layer.part,
                target.module,
                target.inputs,
                target.outputs
            )));
        }
        let pair = Pair {
            rank: layer.rank,
            inputs: layer.inputs,
            outputs: layer.outputs,
            down: layer.down.transposed(layer.rank, layer.inputs),
            up: layer.up.transposed(layer.outputs, layer.rank),
            scale: layer.scale,
        };
        parts
            .entry(layer.part)
            .or_default()
            .insert(target.module.clone(), pair);
    }
    Ok(Lora {
        path: path.to_path_buf(),
        parts,
    })
}

/// One branch input's values: its graph input name, `[rows, cols]` and data.
pub struct Feed {
    /// The graph input.
    pub name: String,
    /// `[rows, cols]`.
    pub shape: [usize; 2],
    /// Row-major values.
    pub data: Vec<f32>,
}

/// What a run of `part` feeds its branches (`layers`: each branched layer) for the active
/// LoRAs and their scales: per layer the active pairs side by side along the rank, each up
/// matrix times its scale; rank 0 where none applies.
pub fn feeds(part: &str, layers: &[Linear], active: &[(&Lora, f32)]) -> Vec<Feed> {
    let mut out = Vec::with_capacity(layers.len() * 2);
    for l in layers {
        let pairs: Vec<(&Pair, f32)> = active
            .iter()
            .filter_map(|(lora, s)| Some((lora.parts.get(part)?.get(&l.module)?, *s)))
            .collect();
        let rank: usize = pairs.iter().map(|(p, _)| p.rank).sum();
        let mut down = vec![0f32; l.inputs * rank];
        let mut up = Vec::with_capacity(rank * l.outputs);
        let mut col = 0;
        for (p, s) in &pairs {
            for row in 0..l.inputs {
                for k in 0..p.rank {
                    down[row * rank + col + k] = p.down.get(row * p.rank + k);
                }
            }
            let scale = p.scale * s;
            up.extend((0..p.up.len()).map(|i| p.up.get(i) * scale));
            col += p.rank;
        }
        out.push(Feed {
            name: graph::down_input(&l.module),
            shape: [l.inputs, rank],
            data: down,
        });
        out.push(Feed {
            name: graph::up_input(&l.module),
            shape: [rank, l.outputs],
            data: up,
        });
    }
    out
}

/// The modules of `part` that `lora` targets.
pub fn modules(lora: &Lora, part: &str) -> BTreeSet<String> {
    lora.parts
        .get(part)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lin(module: &str, inputs: usize, outputs: usize) -> Linear {
        Linear {
            module: module.into(),
            inputs,
            outputs,
            elem: 1,
        }
    }

    #[test]
    fn active_pairs_concatenate_along_the_rank_with_their_scales() {
        let pair = |rank: usize, v: f32| Pair {
            rank,
            inputs: 2,
            outputs: 3,
            down: file::Values::F32((0..2 * rank).map(|i| v + i as f32).collect()),
            up: file::Values::F16(vec![half::f16::from_f32(v); rank * 3]),
            scale: 1.0,
        };
        let a = Lora {
            path: "a".into(),
            parts: BTreeMap::from([("unet", BTreeMap::from([("m".to_string(), pair(1, 10.0))]))]),
        };
        let b = Lora {
            path: "b".into(),
            parts: BTreeMap::from([("unet", BTreeMap::from([("m".to_string(), pair(2, 20.0))]))]),
        };
        let layers = [lin("m", 2, 3), lin("n", 2, 3)];
        let f = feeds("unet", &layers, &[(&a, 0.5), (&b, 2.0)]);
        assert_eq!(f[0].shape, [2, 3]);
        // Row r of down: a's row r, then b's row r (float16 values read as float32).
        assert_eq!(f[0].data, vec![10.0, 20.0, 21.0, 11.0, 22.0, 23.0]);
        assert_eq!(f[1].shape, [3, 3]);
        assert_eq!(
            f[1].data,
            vec![5.0, 5.0, 5.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0]
        );
        // A layer no active LoRA targets gets rank 0.
        assert_eq!((f[2].shape, f[3].shape), ([2, 0], [0, 3]));
        assert!(feeds("text_encoder", &layers, &[(&a, 1.0)])
            .iter()
            .all(|f| f.data.is_empty()));
    }
}
