//! Execution providers: the [`Provider`] a pipeline asks for, the CoreML settings, which
//! providers the loaded ONNX Runtime has, the fallback rule ([`resolve_provider`]), and the
//! provider-specific registration on a session builder.

use std::path::PathBuf;

use ort::session::builder::SessionBuilder;

use super::log::{LogLevel, PipelineLog};
use super::plugin_ep::PluginEp;
use super::Runtime;
use crate::error::{Error, ErrorKind, Result};

/// Execution providers compiled into the loaded ONNX Runtime, CPU first.
pub(super) fn available_providers() -> Vec<String> {
    use ort::ep::ExecutionProvider;
    let mut out = vec!["CPUExecutionProvider".to_string()];
    if ort::ep::CoreML::is_available().unwrap_or(false) {
        out.push(ort::ep::CoreML::NAME.to_string());
    }
    if ort::ep::CUDA::is_available().unwrap_or(false) {
        out.push(ort::ep::CUDA::NAME.to_string());
    }
    out
}

/// Execution provider requested for a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    /// CoreML where available, else CUDA where available, else CPU.
    #[default]
    Auto,
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// Apple's CoreML provider.
    CoreMl,
    /// NVIDIA CUDA provider.
    Cuda,
    /// Intel's OpenVINO, a plugin execution provider (`onnxruntime-ep-openvino`) registered
    /// into the loaded ONNX Runtime (see [`super::EpOptions`]).
    OpenVino,
    /// Any plugin execution provider: the library, provider name, device and options of
    /// [`super::EpOptions`].
    PluginEp,
}

impl Provider {
    /// The name used by the command line and logs.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Auto => "auto",
            Provider::Cpu => "cpu",
            Provider::CoreMl => "coreml",
            Provider::Cuda => "cuda",
            Provider::OpenVino => "openvino",
            Provider::PluginEp => "plugin",
        }
    }

    /// Parses `auto | cpu | coreml | cuda | openvino | plugin`.
    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "auto" => Some(Provider::Auto),
            "cpu" => Some(Provider::Cpu),
            "coreml" => Some(Provider::CoreMl),
            "cuda" => Some(Provider::Cuda),
            "openvino" => Some(Provider::OpenVino),
            "plugin" => Some(Provider::PluginEp),
            _ => None,
        }
    }

    /// Whether this is a plugin execution provider (registered from a library at load).
    pub fn is_plugin(self) -> bool {
        matches!(self, Provider::OpenVino | Provider::PluginEp)
    }

    fn ort_name(self) -> &'static str {
        use ort::ep::ExecutionProvider;
        match self {
            Provider::CoreMl => ort::ep::CoreML::NAME,
            Provider::Cuda => ort::ep::CUDA::NAME,
            _ => "CPUExecutionProvider",
        }
    }
}

/// CoreML compute units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoreMlComputeUnits {
    /// CPU, GPU and Neural Engine.
    #[default]
    All,
    /// CPU and GPU.
    CpuAndGpu,
    /// CPU and Neural Engine.
    CpuAndNeuralEngine,
    /// CPU only.
    CpuOnly,
}

/// CoreML provider settings.
#[derive(Debug, Clone, Default)]
pub struct CoreMlOptions {
    /// Which compute units CoreML may use.
    pub compute_units: CoreMlComputeUnits,
    /// Use the MLProgram format (else NeuralNetwork).
    pub ml_program: bool,
    /// Where CoreML caches compiled models; `None` for no cache.
    pub cache_dir: Option<PathBuf>,
    /// Require static input shapes; the pipeline pins free dimensions to the configured
    /// width, height and batch.
    pub static_shapes: bool,
}

/// Resolves which provider a pipeline will use, applying the fallback rule.
/// The fallback warning goes to `log`, the pipeline's.
pub fn resolve_provider(
    rt: &Runtime,
    requested: Provider,
    strict: bool,
    log: &PipelineLog,
) -> Result<Provider> {
    let chosen = match requested {
        Provider::Auto => {
            if rt.has_provider(Provider::CoreMl.ort_name()) {
                Provider::CoreMl
            } else if rt.has_provider(Provider::Cuda.ort_name()) {
                Provider::Cuda
            } else {
                Provider::Cpu
            }
        }
        Provider::Cpu => Provider::Cpu,
        // Registered from their library and checked by `resolve_plugin`.
        p if p.is_plugin() => p,
        p => {
            if rt.has_provider(p.ort_name()) {
                p
            } else if strict {
                return Err(Error::new(
                    ErrorKind::ProviderUnavailable,
                    format!(
                        "execution provider '{}' ({}) is not in the loaded ONNX Runtime {} ({}); available: {}",
                        p.name(),
                        p.ort_name(),
                        rt.version,
                        rt.library.display(),
                        rt.providers.join(", ")
                    ),
                ));
            } else {
                log.log(
                    LogLevel::Warn,
                    &format!(
                        "execution provider '{}' is not in the loaded ONNX Runtime; falling back to cpu",
                        p.name()
                    ),
                );
                Provider::Cpu
            }
        }
    };
    Ok(chosen)
}

/// Registers `provider` with its settings on a session builder of `part` (the CPU provider
/// needs no registration). A provider ONNX Runtime refuses is
/// [`ErrorKind::ProviderUnavailable`].
pub(super) fn register_providers(
    rt: &Runtime,
    builder: SessionBuilder,
    part: &str,
    provider: Provider,
    plugin: Option<&PluginEp>,
    coreml: &CoreMlOptions,
    cuda_device: i32,
) -> Result<SessionBuilder> {
    if provider.is_plugin() {
        return match plugin {
            Some(ep) => rt.append_plugin_ep(builder, part, ep),
            None => Err(Error::internal(format!(
                "{part}: provider {} without its plugin settings",
                provider.name()
            ))),
        };
    }
    let eps = execution_providers(provider, coreml, cuda_device);
    if eps.is_empty() {
        return Ok(builder);
    }
    builder.with_execution_providers(&eps).map_err(|e| {
        Error::new(
            ErrorKind::ProviderUnavailable,
            format!("{part}: could not register {}: {e}", provider.name()),
        )
    })
}

/// Builds the provider list for a session builder.
fn execution_providers(
    provider: Provider,
    coreml: &CoreMlOptions,
    cuda_device: i32,
) -> Vec<ort::ep::ExecutionProviderDispatch> {
    match provider {
        Provider::CoreMl => {
            use ort::ep::coreml::{ComputeUnits, ModelFormat};
            let units = match coreml.compute_units {
                CoreMlComputeUnits::All => ComputeUnits::All,
                CoreMlComputeUnits::CpuAndGpu => ComputeUnits::CPUAndGPU,
                CoreMlComputeUnits::CpuAndNeuralEngine => ComputeUnits::CPUAndNeuralEngine,
                CoreMlComputeUnits::CpuOnly => ComputeUnits::CPUOnly,
            };
            let mut ep = ort::ep::CoreML::default()
                .with_compute_units(units)
                .with_model_format(if coreml.ml_program {
                    ModelFormat::MLProgram
                } else {
                    ModelFormat::NeuralNetwork
                })
                .with_static_input_shapes(coreml.static_shapes);
            if let Some(dir) = &coreml.cache_dir {
                ep = ep.with_model_cache_dir(dir.display());
            }
            vec![ep.build().error_on_failure()]
        }
        Provider::Cuda => vec![ort::ep::CUDA::default()
            .with_device_id(cuda_device)
            .build()
            .error_on_failure()],
        _ => Vec::new(),
    }
}
