//! What a pipeline asks of a plugin execution provider ([`EpOptions`]): OpenVINO by name
//! (where its plugin library is, its device, its precision) or any plugin EP by library and
//! provider name; and [`resolve_plugin`], which registers the library and finds the devices,
//! or falls back to the CPU provider with a warning (an error in strict mode).

use std::path::{Path, PathBuf};

use super::log::{LogLevel, PipelineLog};
use super::plugin_ep::{list, DeviceKind, PluginEp};
use super::providers::Provider;
use super::Runtime;
use crate::error::{Error, ErrorKind, Result};

/// The OpenVINO plugin's file name in the `onnxruntime-ep-openvino` wheel.
pub const OPENVINO_PLUGIN: &str = if cfg!(windows) {
    "onnxruntime_providers_openvino_plugin.dll"
} else {
    "libonnxruntime_providers_openvino_plugin.so"
};

/// The OpenVINO plugin's provider for one device (`CPU`, `GPU`, `NPU`); its meta-device
/// provider `AUTO` is this name with `.AUTO` appended.
pub const OPENVINO_EP: &str = "OpenVINOExecutionProvider";

/// Which device a plugin provider runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EpDeviceChoice {
    /// OpenVINO: the CPU. Another plugin: every device its provider offers.
    #[default]
    Default,
    /// The CPU.
    Cpu,
    /// A GPU.
    Gpu,
    /// A neural processing unit.
    Npu,
    /// OpenVINO's `AUTO` meta-device over every device it offers (another plugin: every
    /// device, as `Default`).
    Auto,
}

impl EpDeviceChoice {
    /// `default | cpu | gpu | npu | auto`.
    pub fn name(self) -> &'static str {
        match self {
            EpDeviceChoice::Default => "default",
            EpDeviceChoice::Cpu => "cpu",
            EpDeviceChoice::Gpu => "gpu",
            EpDeviceChoice::Npu => "npu",
            EpDeviceChoice::Auto => "auto",
        }
    }

    /// Parses `default | cpu | gpu | npu | auto` (any case).
    pub fn parse(s: &str) -> Option<EpDeviceChoice> {
        Some(match s.to_ascii_lowercase().as_str() {
            "default" => EpDeviceChoice::Default,
            "cpu" => EpDeviceChoice::Cpu,
            "gpu" => EpDeviceChoice::Gpu,
            "npu" => EpDeviceChoice::Npu,
            "auto" => EpDeviceChoice::Auto,
            _ => return None,
        })
    }

    fn kind(self) -> Option<DeviceKind> {
        match self {
            EpDeviceChoice::Cpu => Some(DeviceKind::Cpu),
            EpDeviceChoice::Gpu => Some(DeviceKind::Gpu),
            EpDeviceChoice::Npu => Some(DeviceKind::Npu),
            EpDeviceChoice::Default | EpDeviceChoice::Auto => None,
        }
    }
}

/// The precision OpenVINO computes in (its `INFERENCE_PRECISION_HINT`). Float32 is the parity
/// contract; bfloat16 and float16 are opt-in speed modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EpPrecision {
    /// The device's default (on CPUs with bfloat16 instructions OpenVINO picks bfloat16).
    #[default]
    Auto,
    /// Float32.
    F32,
    /// Bfloat16.
    Bf16,
    /// Float16.
    F16,
}

impl EpPrecision {
    /// `auto | f32 | bf16 | f16`.
    pub fn name(self) -> &'static str {
        match self {
            EpPrecision::Auto => "auto",
            EpPrecision::F32 => "f32",
            EpPrecision::Bf16 => "bf16",
            EpPrecision::F16 => "f16",
        }
    }

    /// Parses `auto | f32 | bf16 | f16`.
    pub fn parse(s: &str) -> Option<EpPrecision> {
        Some(match s {
            "auto" => EpPrecision::Auto,
            "f32" => EpPrecision::F32,
            "bf16" => EpPrecision::Bf16,
            "f16" => EpPrecision::F16,
            _ => return None,
        })
    }
}

/// A pipeline's plugin execution provider settings (used with [`Provider::OpenVino`] and
/// [`Provider::PluginEp`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpOptions {
    /// The plugin library. OpenVINO: `None` = `$SDRT_OPENVINO_EP`, else
    /// `openvino/libonnxruntime_providers_openvino_plugin.so` in the loaded ONNX Runtime's
    /// folder (where `tools/fetch_ep.sh openvino` puts it beside `tools/fetch_ort.sh`'s
    /// library). Another plugin: required.
    pub library: Option<PathBuf>,
    /// The provider's name as the library reports it. OpenVINO: `None` =
    /// `OpenVINOExecutionProvider` (`.AUTO` for the `auto` device). Another plugin: required.
    pub ep_name: Option<String>,
    /// The device.
    pub device: EpDeviceChoice,
    /// OpenVINO's precision, passed as its `load_config` (`{"CPU":{"INFERENCE_PRECISION_HINT":
    /// "f32"}}`; the plain `precision` option is ignored by the plugin). Needs a device
    /// `cpu`, `gpu` or `npu` when not `Auto`. Another plugin: must be `Auto`.
    pub precision: EpPrecision,
    /// The provider's own options (keys without the provider's name), after sdrt's.
    pub options: Vec<(String, String)>,
}

impl EpOptions {
    /// The plugin library `provider` registers, and where it came from (the options,
    /// `$SDRT_OPENVINO_EP`, or beside ONNX Runtime); [`ErrorKind::InvalidArgument`] for a
    /// plugin other than OpenVINO without one.
    pub fn library(&self, rt: &Runtime, provider: Provider) -> Result<(PathBuf, &'static str)> {
        if let Some(p) = &self.library {
            return Ok((p.clone(), "the options"));
        }
        if provider == Provider::OpenVino {
            if let Some(v) = std::env::var_os("SDRT_OPENVINO_EP").filter(|v| !v.is_empty()) {
                return Ok((PathBuf::from(v), "$SDRT_OPENVINO_EP"));
            }
            let dir = rt.library_path().parent().unwrap_or(Path::new("."));
            return Ok((
                dir.join("openvino").join(OPENVINO_PLUGIN),
                "beside ONNX Runtime (tools/fetch_ep.sh openvino)",
            ));
        }
        Err(Error::invalid(
            "the plugin execution provider needs its library's path (the EP options' library)",
        ))
    }

    /// What to append to each session: the provider name, devices and options.
    fn plugin(&self, provider: Provider) -> Result<PluginEp> {
        if provider != Provider::OpenVino {
            let Some(name) = self.ep_name.clone().filter(|n| !n.is_empty()) else {
                return Err(Error::invalid(
                    "the plugin execution provider needs its provider name (the EP options' ep_name)",
                ));
            };
            if self.precision != EpPrecision::Auto {
                return Err(Error::invalid(format!(
                    "precision {} is OpenVINO's; for another plugin pass its own option",
                    self.precision.name()
                )));
            }
            return Ok(PluginEp {
                ep_name: name,
                device: self.device.kind(),
                options: self.options.clone(),
            });
        }
        let auto = self.device == EpDeviceChoice::Auto;
        let ep_name = self.ep_name.clone().unwrap_or_else(|| {
            if auto {
                format!("{OPENVINO_EP}.AUTO")
            } else {
                OPENVINO_EP.to_string()
            }
        });
        let device = match self.device {
            EpDeviceChoice::Default => Some(DeviceKind::Cpu),
            d => d.kind(),
        };
        let mut options = Vec::new();
        if self.precision != EpPrecision::Auto {
            let Some(kind) = device else {
                return Err(Error::invalid(format!(
                    "precision {} needs the device cpu, gpu or npu, not {}",
                    self.precision.name(),
                    self.device.name()
                )));
            };
            options.push((
                "load_config".to_string(),
                load_config(kind, self.precision.name()),
            ));
        }
        options.extend(self.options.iter().cloned());
        Ok(PluginEp {
            ep_name,
            device,
            options,
        })
    }
}

/// OpenVINO's `load_config` setting `INFERENCE_PRECISION_HINT` on one device.
fn load_config(kind: DeviceKind, precision: &str) -> String {
    let device = kind.name().to_ascii_uppercase();
    format!(r#"{{"{device}":{{"INFERENCE_PRECISION_HINT":"{precision}"}}}}"#)
}

/// Resolves a plugin provider for a pipeline: registers its library in `rt` (once per
/// runtime) and checks that its provider offers the device asked for. `Ok(Some)`: what each
/// session appends. `Ok(None)`: fall back to the CPU provider (the warning went to `log`):
/// the library is missing or not loadable, or its provider has no such device. Strict mode
/// makes those [`ErrorKind::ProviderUnavailable`]. Settings that make no sense (a plugin
/// without a library or provider name, a precision OpenVINO cannot place) are
/// [`ErrorKind::InvalidArgument`] in either mode.
pub fn resolve_plugin(
    rt: &Runtime,
    provider: Provider,
    ep: &EpOptions,
    strict: bool,
    log: &PipelineLog,
) -> Result<Option<PluginEp>> {
    let plugin = ep.plugin(provider)?;
    let (library, origin) = ep.library(rt, provider)?;
    let found = rt.register_ep_library(&library).and_then(|_| {
        let devices = rt.ep_devices();
        let offered = devices
            .iter()
            .any(|d| d.ep_name == plugin.ep_name && plugin.device.is_none_or(|k| d.kind == k));
        if offered {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ProviderUnavailable,
                format!(
                    "execution provider {} offers no {}device here (devices: {})",
                    plugin.ep_name,
                    plugin
                        .device
                        .map_or(String::new(), |k| format!("{} ", k.name())),
                    list(&devices)
                ),
            ))
        }
    });
    match found {
        Ok(()) => Ok(Some(plugin)),
        Err(e) => {
            let e = e.context(format!(
                "{} (library {}, from {origin})",
                provider.name(),
                library.display()
            ));
            if strict {
                return Err(e);
            }
            log.log(
                LogLevel::Warn,
                &format!("{}; falling back to cpu", e.message()),
            );
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openvino_precision_is_its_load_config() {
        let ep = EpOptions {
            precision: EpPrecision::Bf16,
            ..EpOptions::default()
        };
        let p = ep.plugin(Provider::OpenVino).unwrap();
        assert_eq!(p.ep_name, OPENVINO_EP);
        assert_eq!(p.device, Some(DeviceKind::Cpu));
        assert_eq!(
            p.options,
            vec![(
                "load_config".to_string(),
                r#"{"CPU":{"INFERENCE_PRECISION_HINT":"bf16"}}"#.to_string()
            )]
        );
        let auto = EpOptions {
            device: EpDeviceChoice::Auto,
            ..EpOptions::default()
        };
        let p = auto.plugin(Provider::OpenVino).unwrap();
        assert_eq!(p.ep_name, "OpenVINOExecutionProvider.AUTO");
        assert_eq!((p.device, p.options.len()), (None, 0));
        let bad = EpOptions {
            precision: EpPrecision::F32,
            ..auto
        };
        assert_eq!(
            bad.plugin(Provider::OpenVino).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn another_plugin_needs_its_name() {
        let ep = EpOptions::default();
        assert_eq!(
            ep.plugin(Provider::PluginEp).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let ep = EpOptions {
            ep_name: Some("ExampleEP".into()),
            device: EpDeviceChoice::Gpu,
            options: vec![("k".into(), "v".into())],
            ..EpOptions::default()
        };
        let p = ep.plugin(Provider::PluginEp).unwrap();
        assert_eq!(
            (p.ep_name.as_str(), p.device, p.options),
            (
                "ExampleEP",
                Some(DeviceKind::Gpu),
                vec![("k".into(), "v".into())]
            )
        );
    }
}
