//! Builds the ONNX Runtime session of each part of a model folder, the same way for every
//! part: the session settings of the pipeline, the dimensions pinned for static-shape
//! providers, the graph cache (CPU) and CoreML's compiled-model cache, both keyed by
//! [`cache_settings`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::cache::CacheDir;
use super::session::{load_session, OnnxModel};
use super::ModelFolder;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::{self, CoreMlOptions, LogLevel, PipelineLog, PluginEp, Provider};

/// What a pipeline was pinned to for static-shape providers: width, height, images.
pub(crate) type StaticShape = (usize, usize, usize);

/// The settings every session of a pipeline is built with (those of its options that change
/// what ONNX Runtime or CoreML builds, and where their caches live).
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionSettings {
    /// The provider the sessions run on (resolved: never `Auto`).
    pub provider: Provider,
    /// What a plugin provider's sessions append (with `OpenVino` and `PluginEp`).
    pub plugin: Option<PluginEp>,
    /// A plugin provider that refuses a graph is an error (else that graph runs on CPU).
    pub strict_provider: bool,
    /// Threads per graph for ONNX Runtime's intra-op pool; 0 = ORT's default.
    pub intra_op_threads: usize,
    /// CoreML settings (used when the provider is CoreML).
    pub coreml: CoreMlOptions,
    /// CUDA device ordinal.
    pub cuda_device_id: i32,
    /// The graph cache's folder.
    pub graph_cache: CacheDir,
}

/// What the cache keys of `part` hold besides its files: every setting that changes the graph
/// ONNX Runtime or CoreML builds from them.
fn cache_settings(
    ort_version: &str,
    options: &SessionSettings,
    part: &str,
    pinned: &[(&'static str, usize)],
) -> String {
    let mut s = format!(
        "sdrt graph cache 1; onnxruntime {ort_version}; provider {}; intra-op threads {}; \
         part {part}; level all",
        options.provider.name(),
        options.intra_op_threads
    );
    if !pinned.is_empty() {
        s.push_str(&format!("; pinned {pinned:?}"));
    }
    if let (true, Some(ep)) = (options.provider.is_plugin(), &options.plugin) {
        s.push_str(&format!(
            "; plugin {}, device {:?}, options {:?}",
            ep.ep_name, ep.device, ep.options
        ));
    }
    if options.provider == Provider::CoreMl {
        let c = &options.coreml;
        s.push_str(&format!(
            "; coreml units {:?}, ml program {}, static shapes {}",
            c.compute_units, c.ml_program, c.static_shapes
        ));
    }
    s
}

/// Builds ONNX Runtime sessions for the parts of one model folder, the same way for every part.
pub(crate) struct Loader {
    folder: ModelFolder,
    settings: SessionSettings,
    log: PipelineLog,
    static_shape: Option<StaticShape>,
    /// The provider each graph loaded so far runs on, by part.
    placements: parking_lot::Mutex<Vec<(String, Provider)>>,
    /// Token ids per prompt (pinned for static shapes).
    tokens: usize,
    /// Pixels per latent cell (pinned latent sizes for static shapes).
    factor: usize,
    /// The layers of each part that carry a LoRA branch (`lora::graph`); empty: the stock graph.
    branches: parking_lot::Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl Loader {
    /// A loader for `folder`'s parts; `static_shape` pins free dimensions (CoreML's static
    /// shapes) to that size, `tokens` ids per prompt and `factor` pixels per latent cell.
    pub(crate) fn new(
        folder: ModelFolder,
        settings: SessionSettings,
        log: PipelineLog,
        static_shape: Option<StaticShape>,
        tokens: usize,
        factor: usize,
    ) -> Loader {
        Loader {
            folder,
            settings,
            log,
            static_shape,
            placements: Default::default(),
            tokens,
            factor,
            branches: Default::default(),
        }
    }

    /// The layers of `part` that carry a LoRA branch.
    pub(crate) fn branches(&self, part: &str) -> BTreeSet<String> {
        self.branches.lock().get(part).cloned().unwrap_or_default()
    }

    /// Sets the layers of `part` that carry a LoRA branch in the sessions loaded from now on.
    pub(crate) fn set_branches(&self, part: &str, modules: BTreeSet<String>) {
        self.branches.lock().insert(part.to_string(), modules);
    }

    /// What the cache key of `part` adds for its LoRA branches (nothing without them).
    fn branch_settings(&self, part: &str) -> String {
        let b = self.branches(part);
        if b.is_empty() {
            return String::new();
        }
        let list: Vec<&str> = b.iter().map(String::as_str).collect();
        format!("; lora branches {}", list.join(","))
    }

    /// Commits `part`'s session from `path`: the file as it is, or with the LoRA branches
    /// of `part` added (the edited graph is built in memory; its external data stays where
    /// it is, next to `path`).
    fn commit(
        &self,
        part: &str,
        builder: ort::session::builder::SessionBuilder,
        path: &Path,
    ) -> Result<ort::session::Session> {
        let branches = self.branches(part);
        if branches.is_empty() {
            return load_session(builder, path);
        }
        super::session::preflight(path)?;
        let bytes = std::fs::read(path)
            .map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
        let edited = crate::lora::graph::with_branches(&bytes, &branches)
            .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
        drop(bytes);
        let folder = path.parent().unwrap_or(Path::new("."));
        let mut builder = builder.with_config_entry(
            "session.model_external_initializers_file_folder_path",
            folder.to_string_lossy(),
        )?;
        builder
            .commit_from_memory(&edited)
            .map_err(|e| Error::model(format!("{} with LoRA branches: {e}", path.display())))
    }

    /// The provider the sessions run on.
    pub(crate) fn provider(&self) -> Provider {
        self.settings.provider
    }

    /// Each graph loaded so far and the provider it runs on.
    pub(crate) fn graph_providers(&self) -> Vec<(String, Provider)> {
        self.placements.lock().clone()
    }

    /// The static shape the sessions are pinned to, if any.
    pub(crate) fn static_shape(&self) -> Option<StaticShape> {
        self.static_shape
    }

    /// Loads `part` from its folder (`<part>/model.onnx`).
    pub(crate) fn load(&self, part: &str) -> Result<OnnxModel> {
        self.load_file(part, &self.folder.onnx(part))
    }

    /// What the graph cache's and CoreML's cache keys hold besides the model files: every
    /// setting that changes the graph ONNX Runtime or CoreML builds from them.
    fn cache_settings(&self, part: &str, pinned: &[(&'static str, usize)]) -> Result<String> {
        let rt = runtime::get_or_init()?;
        let s = cache_settings(rt.version(), &self.settings, part, pinned);
        Ok(s + &self.branch_settings(part))
    }

    /// The cache settings of `part` on the CPU provider (a plugin's graph that fell back).
    fn cpu_cache_settings(&self, part: &str) -> Result<String> {
        let rt = runtime::get_or_init()?;
        let cpu = SessionSettings {
            provider: Provider::Cpu,
            plugin: None,
            ..self.settings.clone()
        };
        Ok(cache_settings(rt.version(), &cpu, part, &[]) + &self.branch_settings(part))
    }

    /// CoreML's `ModelCacheDirectory` for `part`: one folder per graph and key under the
    /// pipeline's CoreML cache folder (its option, else `coreml/` in the cache folder), so a
    /// changed model file or option never reuses a stale compiled model (CoreML's own key is
    /// the model's path). `None`: not CoreML, or no cache.
    fn coreml_cache_dir(
        &self,
        part: &str,
        path: &Path,
        pinned: &[(&'static str, usize)],
    ) -> Result<Option<PathBuf>> {
        if self.settings.provider != Provider::CoreMl {
            return Ok(None);
        }
        let base = match &self.settings.coreml.cache_dir {
            Some(dir) => dir.clone(),
            None => match self.settings.graph_cache.resolve() {
                Some(dir) => dir.join("coreml"),
                None => return Ok(None),
            },
        };
        let key = crate::model::cache::key(path, &self.cache_settings(part, pinned)?)?;
        Ok(Some(base.join(format!("{part}-{key}"))))
    }

    /// The free dimensions `part` gets pinned to (static shapes only).
    fn pinned(&self, part: &str) -> Vec<(&'static str, usize)> {
        self.static_shape
            .map(|shape| static_dims(part, shape, self.tokens, self.factor))
            .unwrap_or_default()
    }

    /// A session builder with every option of this pipeline (logger, threads, the `pinned`
    /// dimensions, providers).
    fn builder(
        &self,
        part: &str,
        path: &Path,
        pinned: &[(&'static str, usize)],
        provider: Provider,
    ) -> Result<ort::session::builder::SessionBuilder> {
        let rt = runtime::get_or_init()?;
        let options = &self.settings;
        let mut coreml = options.coreml.clone();
        match self.coreml_cache_dir(part, path, pinned) {
            Ok(dir) => coreml.cache_dir = dir,
            Err(e) => {
                self.log.log(
                    LogLevel::Warn,
                    &format!("coreml cache: {e}; compiling {part} without it"),
                );
                coreml.cache_dir = None;
            }
        }
        runtime::session_builder(
            rt,
            &runtime::SessionSpec {
                part,
                provider,
                plugin: options.plugin.as_ref().filter(|_| provider.is_plugin()),
                intra_op_threads: options.intra_op_threads,
                // No memory pattern for the UNet: ONNX Runtime would plan one block for all of a
                // run's intermediate tensors, which at 512x512 holds 1.5 GB more at the UNet's
                // peak than allocating them from the arena as they come, for the same speed. The
                // VAE's convolutions are the other way round: their planned block is smaller than
                // the arena's (BENCHMARKS.md, "Session settings").
                memory_pattern: part != "unet",
                pinned,
                coreml,
                cuda_device_id: options.cuda_device_id,
                log: &self.log,
            },
        )
    }

    /// Loads `part` from `path` (a preview decoder may live outside the folder). A plugin
    /// provider that cannot build the graph leaves it on the CPU provider with a warning, or
    /// is [`ErrorKind::ProviderUnavailable`] in strict mode.
    pub(crate) fn load_file(&self, part: &str, path: &Path) -> Result<OnnxModel> {
        let pinned = self.pinned(part);
        let provider = self.settings.provider;
        let (model, ran_on) = match self.load_on(part, path, &pinned, provider) {
            Ok(m) => (m, provider),
            Err(e) if provider.is_plugin() => {
                let e = Error::new(
                    ErrorKind::ProviderUnavailable,
                    format!("{part}: {} could not build the graph: {e}", provider.name()),
                );
                if self.settings.strict_provider {
                    return Err(e);
                }
                self.log
                    .log(LogLevel::Warn, &format!("{e}; running {part} on cpu"));
                (
                    self.load_on(part, path, &pinned, Provider::Cpu)?,
                    Provider::Cpu,
                )
            }
            Err(e) => return Err(e),
        };
        {
            let mut placements = self.placements.lock();
            placements.retain(|(p, _)| p != part);
            placements.push((part.to_string(), ran_on));
        }
        // Overrides whose names the export does not use are silently ignored by ONNX
        // Runtime; static shapes mean no free dimension may remain.
        if !pinned.is_empty() {
            if let Some(free) = model
                .inputs()
                .iter()
                .find(|i| i.shape.iter().any(|&d| d < 0))
            {
                return Err(Error::model(format!(
                    "{part}: input '{}' keeps free dimensions {:?} after pinning {:?} for \
                     static shapes",
                    free.name, free.symbols, pinned
                )));
            }
        }
        Ok(model)
    }

    /// `part`'s session on `provider`: through the graph cache on the CPU provider without
    /// pinned dimensions (the cache holds CPU graphs; CoreML keeps its compiled models in its
    /// cache directory, keyed the same way), else built from the file.
    fn load_on(
        &self,
        part: &str,
        path: &Path,
        pinned: &[(&'static str, usize)],
        provider: Provider,
    ) -> Result<OnnxModel> {
        let cached = match self.settings.graph_cache.resolve() {
            Some(dir) if provider == Provider::Cpu && pinned.is_empty() => {
                match self.load_cached(part, path, &dir) {
                    Ok(model) => Some(model),
                    Err(e) => {
                        self.log.log(
                            LogLevel::Warn,
                            &format!("graph cache: {e}; loading {part} without it"),
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        match cached {
            Some(m) => Ok(m),
            None => OnnxModel::new(
                part,
                self.commit(part, self.builder(part, path, pinned, provider)?, path)?,
            ),
        }
    }

    /// `part` through the graph cache: the saved optimized graph with optimizations off (a
    /// hit), or the original graph optimized as usual and saved for next time (a miss). After
    /// a miss the session that wrote the entry is dropped and the entry loaded like a hit: the
    /// session that optimized the graph holds more memory than one built from its result
    /// (ONNX Runtime keeps what the optimizer made), so a create that fills the cache ends up
    /// holding what a warm create holds, and gives the same images by construction. Cached
    /// graphs have no pinned dimensions.
    fn load_cached(&self, part: &str, path: &Path, dir: &Path) -> Result<OnnxModel> {
        use crate::model::cache::{self, Entry, GraphCache, DATA, GRAPH};
        use ort::session::builder::GraphOptimizationLevel;
        let key = cache::key(path, &self.cpu_cache_settings(part)?)?;
        let gc = GraphCache::new(dir);
        // A miss, then the hit it published; a third pass rebuilds an unusable entry.
        for _ in 0..3 {
            match gc.lookup(part, &key)? {
                Entry::Hit(graph) => {
                    let b = self
                        .builder(part, path, &[], Provider::Cpu)?
                        .with_optimization_level(GraphOptimizationLevel::Disable)?;
                    match load_session(b, &graph) {
                        Ok(s) => return OnnxModel::new(part, s),
                        // Unusable after all: drop the entry and build it again.
                        Err(e) => {
                            self.log.log(
                                LogLevel::Warn,
                                &format!(
                                    "graph cache: {} is unusable ({e}); rebuilding",
                                    graph.display()
                                ),
                            );
                            if let Some(entry) = graph.parent() {
                                let _ = std::fs::remove_dir_all(entry);
                            }
                        }
                    }
                }
                Entry::Miss { tmp, dir: entry } => {
                    let b = self
                        .builder(part, path, &[], Provider::Cpu)?
                        .with_optimized_model_path(tmp.join(GRAPH))?
                        .with_config_entry(
                            "session.optimized_model_external_initializers_file_name",
                            DATA,
                        )?
                        .with_config_entry(
                            "session.optimized_model_external_initializers_min_size_in_bytes",
                            "1024",
                        )?;
                    let session = self.commit(part, b, path);
                    let session = match session {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = std::fs::remove_dir_all(&tmp);
                            return Err(e);
                        }
                    };
                    match gc.publish(&tmp, &entry, path) {
                        Ok(()) => {
                            drop(session);
                            crate::memory::trim_heap();
                        }
                        Err(e) => {
                            self.log.log(LogLevel::Warn, &format!("graph cache: {e}"));
                            return OnnxModel::new(part, session);
                        }
                    }
                }
            }
        }
        Err(Error::new(
            ErrorKind::Io,
            format!(
                "graph cache: no usable entry for {part} in {}",
                dir.display()
            ),
        ))
    }
}

/// The free dimensions optimum's exporter names, pinned for static-shape providers.
/// (The names are those of `optimum-cli export onnx`; the UNet batch assumes classifier-free
/// guidance, which the request checks require under static shapes.)
fn static_dims(
    part: &str,
    (width, height, count): StaticShape,
    tokens: usize,
    f: usize,
) -> Vec<(&'static str, usize)> {
    match part {
        "text_encoder" => vec![("batch_size", 1), ("sequence_length", tokens)],
        "unet" => vec![
            ("batch_size", 2 * count),
            ("height", height / f),
            ("width", width / f),
            ("sequence_length", tokens),
        ],
        "vae_decoder" => vec![
            ("batch_size", count),
            ("latent_height", height / f),
            ("latent_width", width / f),
        ],
        // One image at a time (the init image, then the masked image).
        "vae_encoder" => vec![
            ("batch_size", 1),
            ("sample_height", height),
            ("sample_width", width),
        ],
        // The previews decode the whole batch, like the VAE decoder.
        "vae_preview" => vec![
            ("batch_size", count),
            ("latent_height", height / f),
            ("latent_width", width / f),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{cache_settings, Provider, SessionSettings};
    use crate::runtime::{CoreMlComputeUnits, DeviceKind, PluginEp};

    /// Every setting that changes what ONNX Runtime or CoreML builds changes the key of both
    /// caches (the pipeline options that do not, such as the low-memory mode and logging, are
    /// not session settings: see `PipelineOptions::session_settings`).
    #[test]
    fn graph_changing_options_change_the_cache_key() {
        let with = |p: Provider, o: &SessionSettings| SessionSettings {
            provider: p,
            ..o.clone()
        };
        let base = SessionSettings::default();
        let key = |p: Provider, o: &SessionSettings, pinned: &[(&'static str, usize)]| {
            cache_settings("1.31.1", &with(p, o), "unet", pinned)
        };
        for p in [Provider::Cpu, Provider::CoreMl] {
            let k = key(p, &base, &[]);
            assert_ne!(k, cache_settings("1.31.2", &with(p, &base), "unet", &[]));
            assert_ne!(
                k,
                cache_settings("1.31.1", &with(p, &base), "vae_decoder", &[])
            );
            assert_ne!(k, key(p, &base, &[("height", 64)]));
            let threads = SessionSettings {
                intra_op_threads: 1,
                ..base.clone()
            };
            assert_ne!(k, key(p, &threads, &[]));
        }
        assert_ne!(
            key(Provider::Cpu, &base, &[]),
            key(Provider::CoreMl, &base, &[])
        );
        let coreml = key(Provider::CoreMl, &base, &[]);
        let mut o = base.clone();
        o.coreml.compute_units = CoreMlComputeUnits::CpuAndNeuralEngine;
        assert_ne!(coreml, key(Provider::CoreMl, &o, &[]));
        let mut o = base.clone();
        o.coreml.ml_program = !o.coreml.ml_program;
        assert_ne!(coreml, key(Provider::CoreMl, &o, &[]));
        let mut o = base.clone();
        o.coreml.static_shapes = !o.coreml.static_shapes;
        assert_ne!(coreml, key(Provider::CoreMl, &o, &[]));
        // A plugin provider's name, device and options (OpenVINO's precision among them).
        let plugin = |ep: PluginEp| SessionSettings {
            plugin: Some(ep),
            ..base.clone()
        };
        let ov = PluginEp {
            ep_name: "OpenVINOExecutionProvider".into(),
            device: Some(DeviceKind::Cpu),
            options: vec![("load_config".into(), "f32".into())],
        };
        let k = key(Provider::OpenVino, &plugin(ov.clone()), &[]);
        assert_ne!(k, key(Provider::Cpu, &base, &[]));
        for changed in [
            PluginEp {
                device: Some(DeviceKind::Gpu),
                ..ov.clone()
            },
            PluginEp {
                options: vec![("load_config".into(), "bf16".into())],
                ..ov.clone()
            },
            PluginEp {
                ep_name: "OpenVINOExecutionProvider.AUTO".into(),
                ..ov.clone()
            },
        ] {
            assert_ne!(k, key(Provider::OpenVino, &plugin(changed), &[]));
        }
    }
}
