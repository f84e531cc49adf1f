//! A pipeline's LoRAs: loading one (its layers resolved against the graphs, the branches it
//! needs added, the parts it touches rebuilt once), freeing one, and what each call feeds.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;

use super::call::Reentry;
use super::{GenerateParams, Graphs, Pipeline};
use crate::error::{Error, Result};
use crate::lora::{self, Linear, Lora};
use crate::model::session::{float_value, OnnxModel};
use crate::runtime::{self, LogLevel};

/// A loaded LoRA's handle: unique to the pipeline that loaded it (another pipeline's, or a
/// freed one, is refused by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoraId(pub u64);

/// A LoRA chosen for a call, and its scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoraWeight {
    /// The loaded LoRA.
    pub id: LoraId,
    /// Its scale (1.0: as trained).
    pub scale: f32,
}

/// The LoRAs of one pipeline and what their resolution reads of the graphs.
pub(crate) struct Registry {
    /// Random per pipeline: the high bits of its handles.
    tag: u64,
    next: u64,
    loaded: BTreeMap<LoraId, Arc<Lora>>,
    /// Each part's linear layers, read from its file once.
    linears: HashMap<String, Option<Vec<Linear>>>,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        let tag = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            & 0xffff_ffff_0000_0000;
        Registry {
            tag,
            next: 1,
            loaded: BTreeMap::new(),
            linears: HashMap::new(),
        }
    }

    fn get(&self, id: LoraId) -> Result<&Arc<Lora>> {
        self.loaded.get(&id).ok_or_else(|| {
            Error::invalid(format!(
                "loras: handle {:#x} is not loaded in this pipeline (freed, or another \
                 pipeline's)",
                id.0
            ))
        })
    }
}

impl Pipeline {
    /// The graph slot of a text part or the UNet.
    fn slot<'g>(&self, g: &'g mut Graphs, part: &str) -> Option<&'g mut Option<OnnxModel>> {
        if part == "unet" {
            return Some(&mut g.unet);
        }
        let i = self.text_parts.iter().position(|p| *p == part)?;
        g.text.get_mut(i)
    }

    /// The linear layers of `part`'s graph (`None`: the model has no such part).
    fn linears_of(&self, reg: &mut Registry, part: &str) -> Result<Option<Vec<Linear>>> {
        if let Some(l) = reg.linears.get(part) {
            return Ok(l.clone());
        }
        let known = part == "unet" || self.text_parts.contains(&part);
        let path = self.folder.onnx(part);
        let found = if known && path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::new(crate::ErrorKind::Io, format!("{}: {e}", path.display()))
            })?;
            let list = lora::graph::linears(&bytes)
                .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
            Some(list)
        } else {
            None
        };
        reg.linears.insert(part.to_string(), found.clone());
        Ok(found)
    }

    /// Loads the LoRA at `path` (safetensors, diffusers/PEFT or kohya form) for calls to choose.
    /// The first LoRA that targets a layer adds a branch to it, so the parts it touches are
    /// rebuilt once (through the graph cache, like a create); a LoRA whose layers all have
    /// branches loads without touching a graph. Waits for a call in progress.
    pub fn load_lora(&self, path: &Path) -> Result<LoraId> {
        let _route = runtime::enter(&self.log);
        let _reentry = Reentry::enter(self.id())?;
        let layers = lora::file::read(path)?;
        let mut g = self.graphs.lock();
        let mut reg = self.loras.lock();
        let loaded = lora::resolve(path, layers, &mut |part| self.linears_of(&mut reg, part))?;
        for part in loaded.parts.keys() {
            let before = self.loader.branches(part);
            let wanted = lora::modules(&loaded, part);
            if wanted.is_subset(&before) {
                continue;
            }
            let t0 = std::time::Instant::now();
            self.loader
                .set_branches(part, before.union(&wanted).cloned().collect());
            let Some(slot) = self.slot(&mut g, part) else {
                continue;
            };
            if slot.is_none() {
                continue; // the low-memory mode: loaded by the next call's stage
            }
            *slot = None;
            crate::memory::trim_heap();
            match self.loader.load(part) {
                Ok(m) => *slot = Some(m),
                Err(e) => {
                    // The part's stage loads the graph as it was at the next call.
                    self.loader.set_branches(part, before);
                    return Err(e.context("lora"));
                }
            }
            self.log.log(
                LogLevel::Info,
                &format!(
                    "lora: {part} rebuilt with branches on {} layers in {:.2}s",
                    self.loader.branches(part).len(),
                    t0.elapsed().as_secs_f64()
                ),
            );
        }
        let id = LoraId(reg.tag | reg.next);
        reg.next += 1;
        self.log.log(
            LogLevel::Info,
            &format!(
                "lora: loaded {} ({} layers, {} bytes)",
                path.display(),
                loaded.parts.values().map(|m| m.len()).sum::<usize>(),
                loaded.bytes()
            ),
        );
        reg.loaded.insert(id, Arc::new(loaded));
        Ok(id)
    }

    /// Frees a loaded LoRA: its matrices are released; the branches it added stay (a later
    /// LoRA on the same layers loads without a rebuild). Waits for a call in progress.
    pub fn free_lora(&self, id: LoraId) -> Result<()> {
        let _reentry = Reentry::enter(self.id())?;
        let _g = self.graphs.lock();
        let mut reg = self.loras.lock();
        reg.get(id)?;
        reg.loaded.remove(&id);
        Ok(())
    }

    /// A call's LoRAs: each loaded here, with a finite scale (checked before any graph runs).
    pub(super) fn check_loras(&self, params: &GenerateParams) -> Result<()> {
        let reg = self.loras.lock();
        for (i, w) in params.loras.iter().enumerate() {
            reg.get(w.id)
                .map_err(|e| e.context(format!("loras[{i}]")))?;
            if !w.scale.is_finite() {
                return Err(Error::invalid(format!(
                    "loras[{i}].scale: {} is not a finite number",
                    w.scale
                )));
            }
        }
        Ok(())
    }

    /// Sets what `model` (graph `part`) feeds its LoRA branches in this call.
    pub(super) fn bind_loras(
        &self,
        model: &mut OnnxModel,
        part: &str,
        params: &GenerateParams,
    ) -> Result<()> {
        let branches = self.loader.branches(part);
        if branches.is_empty() {
            return Ok(());
        }
        let mut reg = self.loras.lock();
        let layers: Vec<Linear> = self
            .linears_of(&mut reg, part)?
            .unwrap_or_default()
            .into_iter()
            .filter(|l| branches.contains(&l.module))
            .collect();
        let mut active = Vec::with_capacity(params.loras.len());
        for w in &params.loras {
            active.push((reg.get(w.id)?.clone(), w.scale));
        }
        drop(reg);
        let active: Vec<(&Lora, f32)> = active.iter().map(|(l, s)| (&**l, *s)).collect();
        let mut values = Vec::with_capacity(layers.len() * 2);
        for feed in lora::feeds(part, &layers, &active) {
            let info = model
                .inputs()
                .iter()
                .find(|i| i.name == feed.name)
                .ok_or_else(|| Error::internal(format!("{part}: no LoRA input '{}'", feed.name)))?;
            values.push((feed.name, float_value(info, &feed.shape, &feed.data)?));
        }
        model.set_extra_inputs(values);
        Ok(())
    }
}
