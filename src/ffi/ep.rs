//! Plugin execution providers in the C API: the device and precision enumerations and the
//! `ep_*` fields of `sdrt_pipeline_options` (OpenVINO, or any plugin EP by library and name).

use std::path::PathBuf;

use super::enums::{EP_DEVICE, EP_PRECISION};
use super::opt_str;
use super::pipeline::sdrt_pipeline_options;
use crate::error::{Error, Result};
use crate::runtime::EpOptions;

/// The device a plugin execution provider runs on (`sdrt_pipeline_options.ep_device`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_ep_device {
    /// OpenVINO: the CPU. Another plugin: every device its provider offers.
    SDRT_EP_DEVICE_DEFAULT = 0,
    /// The CPU.
    SDRT_EP_DEVICE_CPU = 1,
    /// A GPU.
    SDRT_EP_DEVICE_GPU = 2,
    /// A neural processing unit.
    SDRT_EP_DEVICE_NPU = 3,
    /// OpenVINO's `AUTO` meta-device over every device it offers (provider
    /// `OpenVINOExecutionProvider.AUTO`); another plugin: as `SDRT_EP_DEVICE_DEFAULT`.
    SDRT_EP_DEVICE_AUTO = 4,
}

/// The precision OpenVINO computes in (`sdrt_pipeline_options.ep_precision`), passed as its
/// `INFERENCE_PRECISION_HINT` through the provider's `load_config` option. Float32 is the
/// parity contract (the tiny goldens at the usual tolerance); bfloat16 and float16 are opt-in
/// speed modes whose images differ from float32's.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_ep_precision {
    /// The device's default (bfloat16 on CPUs with bfloat16 instructions).
    SDRT_EP_PRECISION_AUTO = 0,
    /// Float32.
    SDRT_EP_PRECISION_F32 = 1,
    /// Bfloat16.
    SDRT_EP_PRECISION_BF16 = 2,
    /// Float16.
    SDRT_EP_PRECISION_F16 = 3,
}

/// The most options a caller may pass to a plugin provider.
const MAX_EP_OPTIONS: u32 = 256;

/// The plugin execution provider settings of `o`.
pub(super) unsafe fn read_ep_options(o: &sdrt_pipeline_options) -> Result<EpOptions> {
    let device = EP_DEVICE.read(o.ep_device, "options->ep_device", "value")?;
    let precision = EP_PRECISION.read(o.ep_precision, "options->ep_precision", "value")?;
    // SAFETY: borrowed C strings, documented.
    let library = unsafe { opt_str(o.ep_library_path, "options->ep_library_path")? };
    // SAFETY: as above.
    let ep_name = unsafe { opt_str(o.ep_name, "options->ep_name")? };
    if o.ep_option_count > MAX_EP_OPTIONS {
        return Err(Error::invalid(format!(
            "options->ep_option_count {} exceeds {MAX_EP_OPTIONS}",
            o.ep_option_count
        )));
    }
    let n = o.ep_option_count as usize;
    let mut options = Vec::with_capacity(n);
    if n > 0 {
        if o.ep_option_keys.is_null() || o.ep_option_values.is_null() {
            return Err(Error::invalid(format!(
                "options->ep_option_keys and ep_option_values must hold {n} strings each, not NULL"
            )));
        }
        for i in 0..n {
            // SAFETY: the caller's arrays hold `ep_option_count` entries each (contract).
            let (k, v) = unsafe { (*o.ep_option_keys.add(i), *o.ep_option_values.add(i)) };
            let key_name = format!("options->ep_option_keys[{i}]");
            let value_name = format!("options->ep_option_values[{i}]");
            // SAFETY: borrowed C strings (contract); NULL is refused below.
            let key = unsafe { opt_str(k, &key_name)? };
            let value = unsafe { opt_str(v, &value_name)? };
            match (key, value) {
                (Some(k), Some(v)) if !k.is_empty() => options.push((k, v)),
                (Some(_), Some(_)) => return Err(Error::invalid(format!("{key_name} is empty"))),
                (None, _) => return Err(Error::invalid(format!("{key_name} is NULL"))),
                (_, None) => return Err(Error::invalid(format!("{value_name} is NULL"))),
            }
        }
    }
    Ok(EpOptions {
        library: library.filter(|p| !p.is_empty()).map(PathBuf::from),
        ep_name: ep_name.filter(|n| !n.is_empty()),
        device,
        precision,
        options,
    })
}

/// Lists every device of every execution provider the runtime's ONNX Runtime knows (its
/// built-in providers' and those of the plugin libraries registered so far), after
/// registering the plugin library `ep_library_path` (UTF-8 path) when it is not NULL; a
/// library is registered once per process and stays loaded. Initializes the runtime with
/// defaults if `sdrt_runtime_init` was not called.
///
/// Writes a JSON array to `buf`, NUL-terminated, when `size` bytes hold it, and the bytes it
/// takes (with the NUL) to `*needed`; call with `buf` NULL and `size` 0 to learn the size.
/// One object per device: `ep_name` (e.g. "OpenVINOExecutionProvider", the name for
/// `sdrt_pipeline_options.ep_name`), `ep_vendor`, `device` ("cpu", "gpu" or "npu"),
/// `vendor`, `vendor_id`, `device_id` (numbers; 0 when unknown), and `ep_metadata` and
/// `device_metadata` (objects of strings, e.g. OpenVINO's "ov_device"). The OpenVINO plugin
/// lists Intel hardware only. Any thread.
///
/// Errors: `SDRT_ERROR_INVALID_ARGUMENT` (NULL `needed`, a non-UTF-8 path, `buf` NULL with a
/// non-zero `size`, or `size` too small: `*needed` is still written and `buf` untouched),
/// `SDRT_ERROR_PROVIDER_UNAVAILABLE` (a library ONNX Runtime cannot register, named),
/// `SDRT_ERROR_RUNTIME_UNAVAILABLE`. Since 0.4.
#[no_mangle]
pub unsafe extern "C" fn sdrt_ep_devices(
    ep_library_path: *const std::ffi::c_char,
    buf: *mut std::ffi::c_char,
    size: usize,
    needed: *mut usize,
) -> super::status::sdrt_status {
    super::guard(|| {
        super::non_null(needed, "needed")?;
        if buf.is_null() && size != 0 {
            return Err(Error::invalid(format!("buf is NULL but size is {size}")));
        }
        // SAFETY: borrowed C string, documented.
        let library = unsafe { opt_str(ep_library_path, "ep_library_path")? };
        let rt = crate::runtime::get_or_init()?;
        if let Some(lib) = library {
            rt.register_ep_library(std::path::Path::new(&lib))?;
        }
        let json = devices_json(&rt.ep_devices());
        let n = json.len() + 1;
        // SAFETY: a caller-owned size_t (contract).
        unsafe { *needed = n };
        if size < n {
            if buf.is_null() {
                return Ok(());
            }
            return Err(Error::invalid(format!(
                "size {size} is too small for the device list: it needs {n} bytes (*needed)"
            )));
        }
        // SAFETY: the caller's buffer holds `size` >= n bytes (contract).
        unsafe {
            std::ptr::copy_nonoverlapping(json.as_ptr(), buf as *mut u8, json.len());
            *buf.add(json.len()) = 0;
        }
        Ok(())
    })
}

/// The device list as `sdrt_ep_devices` writes it.
fn devices_json(devices: &[crate::runtime::EpDevice]) -> String {
    let map = |pairs: &[(String, String)]| {
        serde_json::Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        )
    };
    let all: Vec<serde_json::Value> = devices
        .iter()
        .map(|d| {
            serde_json::json!({
                "ep_name": d.ep_name,
                "ep_vendor": d.ep_vendor,
                "device": d.kind.name(),
                "vendor": d.vendor,
                "vendor_id": d.vendor_id,
                "device_id": d.device_id,
                "ep_metadata": map(&d.ep_metadata),
                "device_metadata": map(&d.device_metadata),
            })
        })
        .collect();
    serde_json::Value::Array(all).to_string()
}
