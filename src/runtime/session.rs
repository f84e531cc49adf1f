//! The one session builder: every ONNX Runtime session sdrt creates starts from
//! [`session_builder`], with the settings of a [`SessionSpec`] (the generic session options
//! here, the provider-specific registration in `providers.rs`).

use ort::session::builder::{AutoDevicePolicy, SessionBuilder};
use ort::session::Session;

use super::log::PipelineLog;
use super::plugin_ep::PluginEp;
use super::providers::{register_providers, CoreMlOptions, Provider};
use super::route;
use super::Runtime;
use crate::error::Result;

/// How one graph's session is built.
#[derive(Debug, Clone)]
pub(crate) struct SessionSpec<'a> {
    /// The graph's part (`unet`, `text_encoder`, ...): the session's ONNX Runtime log id, and
    /// the name in errors.
    pub part: &'a str,
    /// The provider the pipeline resolved (see [`super::resolve_provider`]).
    pub provider: Provider,
    /// A plugin provider's library-resolved settings (with `OpenVino` and `PluginEp`).
    pub plugin: Option<&'a PluginEp>,
    /// Threads of ONNX Runtime's intra-op pool; 0 = ONNX Runtime's choice.
    pub intra_op_threads: usize,
    /// Whether ONNX Runtime plans one block for all of a run's intermediate tensors (its
    /// memory pattern) instead of allocating them from the arena as they come.
    pub memory_pattern: bool,
    /// Free dimensions pinned to a size (static shapes), by their names in the graph.
    pub pinned: &'a [(&'a str, usize)],
    /// CoreML's settings, `cache_dir` already this graph's own folder (or `None`).
    pub coreml: CoreMlOptions,
    /// CUDA device ordinal.
    pub cuda_device_id: i32,
    /// Where the session's ONNX Runtime messages go.
    pub log: &'a PipelineLog,
}

/// A session builder in `rt`'s environment with every setting of `spec`: logger, threads,
/// pinned dimensions, providers. A provider ONNX Runtime refuses to register is
/// [`crate::ErrorKind::ProviderUnavailable`].
pub(crate) fn session_builder(rt: &Runtime, spec: &SessionSpec<'_>) -> Result<SessionBuilder> {
    // ort defaults to automatic EP selection (MaxEfficiency), which on macOS registers
    // CoreML behind the caller's back and here changes CPU threading; sdrt registers the
    // providers it was asked for, and nothing else. Idle intra-op threads do not spin:
    // the graphs run one after another, and a pool spinning after its graph finished
    // takes cores from the next one (and from the host application).
    let mut b = Session::builder(&rt.env)?
        .with_auto_device(AutoDevicePolicy::PreferCPU)?
        .with_intra_op_spinning(false)?
        .with_memory_pattern(spec.memory_pattern)?;
    b = spec.log.configure_session(b, spec.part)?;
    b = b.with_thread_manager(route::Workers::new(spec.log))?;
    if spec.intra_op_threads > 0 {
        b = b.with_intra_threads(spec.intra_op_threads)?;
    }
    for &(dim, size) in spec.pinned {
        b = b.with_dimension_override(dim, size as i64)?;
    }
    register_providers(
        rt,
        b,
        spec.part,
        spec.provider,
        spec.plugin,
        &spec.coreml,
        spec.cuda_device_id,
    )
}
