//! Plugin execution providers through ONNX Runtime's EP ABI (1.23+): a shared library
//! registered into the runtime's environment by path ([`Runtime::register_ep_library`]), the
//! devices its providers offer ([`Runtime::ep_devices`]), and appending a provider with the
//! devices of one kind and its key/value options to a session builder ([`PluginEp`]).
//!
//! Registration is the runtime's own state: each library is registered once per runtime (the
//! same file under another path is the same library), and unregistered when the runtime goes.
//! ONNX Runtime keeps a registered library loaded until then; sessions built with its providers
//! hold the library's factories.

use std::path::{Path, PathBuf};

use ort::session::builder::SessionBuilder;
use parking_lot::Mutex;

use super::Runtime;
use crate::error::{Error, ErrorKind, Result};

/// The kind of hardware an EP device runs on (ONNX Runtime's `OrtHardwareDeviceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// The CPU.
    Cpu,
    /// A GPU.
    Gpu,
    /// A neural processing unit.
    Npu,
}

impl DeviceKind {
    /// `cpu`, `gpu` or `npu`.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Gpu => "gpu",
            DeviceKind::Npu => "npu",
        }
    }

    /// Parses `cpu`, `gpu` or `npu` (any case).
    pub fn parse(s: &str) -> Option<DeviceKind> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Some(DeviceKind::Cpu),
            "gpu" => Some(DeviceKind::Gpu),
            "npu" => Some(DeviceKind::Npu),
            _ => None,
        }
    }

    fn from_ort(ty: ort::memory::DeviceType) -> DeviceKind {
        match ty {
            ort::memory::DeviceType::GPU => DeviceKind::Gpu,
            ort::memory::DeviceType::NPU => DeviceKind::Npu,
            _ => DeviceKind::Cpu,
        }
    }
}

/// One device an execution provider offers (ONNX Runtime's `OrtEpDevice`): the built-in
/// providers' and those of every registered plugin library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpDevice {
    /// The provider's name, e.g. `OpenVINOExecutionProvider`.
    pub ep_name: String,
    /// Who makes the provider, e.g. `Intel`.
    pub ep_vendor: String,
    /// The kind of hardware.
    pub kind: DeviceKind,
    /// Who makes the hardware, e.g. `Intel` or `AMD`.
    pub vendor: String,
    /// The hardware's vendor id (PCI id; 0 when unknown).
    pub vendor_id: u32,
    /// The hardware's device id (PCI id; 0 when unknown).
    pub device_id: u32,
    /// The provider's metadata about this device (e.g. OpenVINO's `ov_device`), sorted by key.
    pub ep_metadata: Vec<(String, String)>,
    /// The hardware's metadata (e.g. `Description`), sorted by key.
    pub device_metadata: Vec<(String, String)>,
}

/// A plugin provider to append to a session: the devices of `ep_name` of one kind, with the
/// provider's options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PluginEp {
    /// The provider's name as its library reports it, e.g. `OpenVINOExecutionProvider`.
    pub ep_name: String,
    /// Which of its devices: those of this kind; `None` = every device it offers.
    pub device: Option<DeviceKind>,
    /// The provider's options (keys without the provider's name).
    pub options: Vec<(String, String)>,
}

/// The plugin libraries a runtime registered: (canonical path, registration name).
#[derive(Debug, Default)]
pub(super) struct EpLibraries {
    registered: Mutex<Vec<(PathBuf, String)>>,
}

impl Runtime {
    /// Registers the plugin EP library at `path` into this runtime's environment (once: a
    /// library already registered, by this or another path to the same file, is not loaded
    /// again). Returns the names of the providers it added. A file that is missing or that
    /// ONNX Runtime cannot load as a plugin is [`ErrorKind::ProviderUnavailable`], naming it.
    pub fn register_ep_library(&self, path: &Path) -> Result<Vec<String>> {
        self.register(path, false)
    }

    /// Test hook, only in builds with the `test-hooks` feature: registers the library as
    /// [`Runtime::register_ep_library`] does, allowing it to create virtual devices (ONNX
    /// Runtime's `.virtual` registration name; OpenVINO's plugin then offers NPUs to compile
    /// for, which cannot build graphs without the NPU compiler), so tests reach a provider
    /// that refuses every graph on any machine.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn debug_register_ep_library_with_virtual_devices(
        &self,
        path: &Path,
    ) -> Result<Vec<String>> {
        self.register(path, true)
    }

    fn register(&self, path: &Path, virtual_devices: bool) -> Result<Vec<String>> {
        let canonical = path.canonicalize().map_err(|e| {
            Error::new(
                ErrorKind::ProviderUnavailable,
                format!("plugin EP library {}: {e}", path.display()),
            )
        })?;
        let mut registered = self.ep_libraries.registered.lock();
        if registered.iter().any(|(p, _)| *p == canonical) {
            return Ok(Vec::new());
        }
        let before = self.ep_names();
        let suffix = if virtual_devices { ".virtual" } else { "" };
        let name = format!("sdrt-ep-{}{suffix}", registered.len());
        self.env
            .register_ep_library(name.clone(), &canonical)
            .map_err(|e| {
                Error::new(
                    ErrorKind::ProviderUnavailable,
                    format!(
                        "ONNX Runtime {} could not register the plugin EP library {}: {e}",
                        self.version,
                        path.display()
                    ),
                )
            })?;
        registered.push((canonical, name));
        drop(registered);
        let mut added: Vec<String> = self
            .ep_names()
            .into_iter()
            .filter(|n| !before.contains(n))
            .collect();
        added.dedup();
        Ok(added)
    }

    /// Whether the plugin EP library at `path` is registered in this runtime.
    pub fn is_ep_library_registered(&self, path: &Path) -> bool {
        let Ok(canonical) = path.canonicalize() else {
            return false;
        };
        self.ep_libraries
            .registered
            .lock()
            .iter()
            .any(|(p, _)| *p == canonical)
    }

    /// Every device of every execution provider ONNX Runtime knows in this runtime: the
    /// built-in providers' and those of the registered plugin libraries.
    pub fn ep_devices(&self) -> Vec<EpDevice> {
        self.env.devices().map(|d| describe(&d)).collect()
    }

    fn ep_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .env
            .devices()
            .filter_map(|d| d.ep().ok().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Appends `ep` to a session builder of `part`: its first device of the kind asked for (or
    /// every device it offers when no kind is), with its options. A provider no registered library offers, or one without a device of that
    /// kind, is [`ErrorKind::ProviderUnavailable`], listing the devices there are.
    pub(super) fn append_plugin_ep(
        &self,
        builder: SessionBuilder,
        part: &str,
        ep: &PluginEp,
    ) -> Result<SessionBuilder> {
        let mut devices: Vec<_> = self
            .env
            .devices()
            .filter(|d| d.ep().is_ok_and(|n| n == ep.ep_name))
            .filter(|d| {
                ep.device
                    .is_none_or(|k| DeviceKind::from_ort(d.hardware_device().ty()) == k)
            })
            .collect();
        // One device of the kind asked for: the first, as ONNX Runtime lists them (a provider
        // for one device, like OpenVINO's, takes the first anyway and warns); every device when
        // no kind is asked for (OpenVINO's AUTO spans them all).
        if ep.device.is_some() {
            devices.truncate(1);
        }
        if devices.is_empty() {
            return Err(Error::new(
                ErrorKind::ProviderUnavailable,
                format!(
                    "{part}: no {} device of execution provider {}; devices: {}",
                    ep.device.map_or("", DeviceKind::name),
                    ep.ep_name,
                    list(&self.ep_devices())
                ),
            ));
        }
        // ort groups the devices by provider name in a 128-byte buffer (a longer name would
        // panic inside it).
        if ep.ep_name.len() >= 127 {
            return Err(Error::new(
                ErrorKind::ProviderUnavailable,
                format!("{part}: execution provider name {} is too long", ep.ep_name),
            ));
        }
        // ort hands each provider the options whose keys start with its name and a dot.
        let options: Vec<(String, String)> = ep
            .options
            .iter()
            .map(|(k, v)| (format!("{}.{k}", ep.ep_name), v.clone()))
            .collect();
        builder.with_devices(devices, Some(&options)).map_err(|e| {
            Error::new(
                ErrorKind::ProviderUnavailable,
                format!("{part}: could not append {}: {e}", ep.ep_name),
            )
        })
    }
}

/// `ep (kind, vendor)` for each device, for messages.
pub(super) fn list(devices: &[EpDevice]) -> String {
    let all: Vec<String> = devices
        .iter()
        .map(|d| format!("{} ({}, {})", d.ep_name, d.kind.name(), d.vendor))
        .collect();
    if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    }
}

fn describe(d: &ort::device::Device<'_>) -> EpDevice {
    use ort::AsPointer;
    let hw = d.hardware_device();
    let api = ort::api();
    // SAFETY: both pointers come from ONNX Runtime's device list of a live environment; the
    // metadata pairs they return are owned by the devices.
    let (ep_metadata, device_metadata, vendor_id, device_id) = unsafe {
        (
            pairs((api.EpDevice_EpMetadata)(d.ptr())),
            pairs((api.HardwareDevice_Metadata)(hw.ptr())),
            (api.HardwareDevice_VendorId)(hw.ptr()),
            (api.HardwareDevice_DeviceId)(hw.ptr()),
        )
    };
    EpDevice {
        ep_name: d.ep().unwrap_or_default().to_string(),
        ep_vendor: d.ep_vendor().unwrap_or_default().to_string(),
        kind: DeviceKind::from_ort(hw.ty()),
        vendor: hw.vendor().unwrap_or_default().to_string(),
        vendor_id,
        device_id,
        ep_metadata,
        device_metadata,
    }
}

/// The pairs of an `OrtKeyValuePairs` ONNX Runtime owns, sorted by key.
///
/// # Safety
/// `kvps` is null or a valid `OrtKeyValuePairs` that outlives this call.
unsafe fn pairs(kvps: *const ort::sys::OrtKeyValuePairs) -> Vec<(String, String)> {
    use std::ffi::CStr;
    if kvps.is_null() {
        return Vec::new();
    }
    let mut keys = std::ptr::null();
    let mut values = std::ptr::null();
    let mut n = 0usize;
    // SAFETY: per this function's contract; the arrays hold `n` NUL-terminated strings.
    unsafe {
        (ort::api().GetKeyValuePairs)(kvps, &mut keys, &mut values, &mut n);
        if keys.is_null() || values.is_null() {
            return Vec::new();
        }
        let mut out: Vec<(String, String)> = (0..n)
            .filter_map(|i| {
                let (k, v) = (*keys.add(i), *values.add(i));
                (!k.is_null() && !v.is_null()).then(|| {
                    (
                        CStr::from_ptr(k).to_string_lossy().into_owned(),
                        CStr::from_ptr(v).to_string_lossy().into_owned(),
                    )
                })
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Runtime {
    /// Unregisters the plugin libraries before the environment goes (the process-wide runtime
    /// lives until exit; a runtime of its own, in the tests, unregisters here).
    fn drop(&mut self) {
        let registered = std::mem::take(&mut *self.ep_libraries.registered.lock());
        for (_, name) in registered.into_iter().rev() {
            let Ok(name) = std::ffi::CString::new(name) else {
                continue;
            };
            use ort::AsPointer;
            // SAFETY: the environment is alive (it is dropped after this), and the name is one
            // this runtime registered. A failure leaves the library loaded, which is harmless.
            unsafe {
                let status = (ort::api().UnregisterExecutionProviderLibrary)(
                    self.env.ptr().cast_mut(),
                    name.as_ptr(),
                );
                let _ = ort::Error::result_from_status(status);
            }
        }
    }
}
