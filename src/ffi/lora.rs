//! `sdrt_lora`: LoRAs loaded into a pipeline, and the `{lora, scale}` pairs a call chooses.

use std::ffi::c_char;
use std::path::PathBuf;

use super::pipeline::{handle, sdrt_pipeline};
use super::status::sdrt_status;
use super::{guard, non_null, opt_str};
use crate::error::{Error, Result};
use crate::pipeline::{LoraId, LoraWeight};

/// A LoRA loaded into one pipeline (opaque). Load with `sdrt_lora_load`, free with
/// `sdrt_lora_free` or with its pipeline. Since 0.5.
pub struct sdrt_lora {
    _private: [u8; 0],
}

/// One LoRA a call applies (`sdrt_generate_params.loras`): a handle from `sdrt_lora_load` on
/// the same pipeline, and its scale (1.0: as trained; diffusers' `lora_scale`, or its adapter
/// weight; finite, any sign). The layout is fixed. Since 0.5.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_lora_weight {
    /// The LoRA. Not NULL.
    pub lora: *const sdrt_lora,
    /// Its scale.
    pub scale: f32,
}

/// At most this many LoRAs per call.
pub const SDRT_MAX_LORAS_PER_CALL: u32 = 64;

/// Loads the LoRA at `path` (NUL-terminated UTF-8) into `pipeline` for its calls to choose
/// (`sdrt_generate_params.loras`), and writes its handle to `*out`. Files: safetensors in the
/// diffusers/PEFT form (`save_lora_weights`: `unet.…lora_A.weight`, `text_encoder.…`,
/// `text_encoder_2.…`) or kohya's (`lora_unet_…lora_down.weight`, `lora_up`, `alpha`;
/// `lora_te_`, `lora_te1_`, `lora_te2_`), on the UNet's and text encoders' linear layers.
///
/// Cost: the first LoRA that targets a layer adds a low-rank branch to it, so the graphs it
/// touches are rebuilt once here (through the graph cache: seconds for a cached graph, a
/// create's time for a new one); a LoRA on layers that already have branches loads without
/// touching a graph. Choosing or switching LoRAs between calls rebuilds nothing. A loaded LoRA
/// holds its matrices as the file stores them (float16 or float32; bfloat16 as float32), about
/// the file's size.
///
/// Ownership: the pipeline owns the LoRA; `sdrt_lora_free` frees it early, and
/// `sdrt_pipeline_free` frees every LoRA still loaded (their handles are then invalid).
/// `*out` is written only on success. Threads: like `sdrt_pipeline_generate`, it waits for a
/// call in progress on the pipeline; from that call's callbacks it is
/// `SDRT_ERROR_INVALID_ARGUMENT` (it would wait for itself).
/// Errors: `SDRT_ERROR_INVALID_ARGUMENT` (NULL or non-UTF-8 argument, a file that is not
/// safetensors, a key of neither form, a layer without its down or up matrix, a rank
/// mismatch between them, a key that matches no linear layer of the model or a layer of other
/// dimensions (the message names the first such key: e.g. an SDXL LoRA on an SD 2 model),
/// non-finite values), `SDRT_ERROR_MODEL_NOT_FOUND` (no such file), `SDRT_ERROR_IO`,
/// `SDRT_ERROR_UNSUPPORTED` (DoRA, LoHa, LoKr keys), `SDRT_ERROR_MODEL_INVALID` (a graph
/// that cannot take the branch). On failure the pipeline is as it was and keeps working.
/// Since 0.5.
#[no_mangle]
pub unsafe extern "C" fn sdrt_lora_load(
    pipeline: *mut sdrt_pipeline,
    path: *const c_char,
    out: *mut *mut sdrt_lora,
) -> sdrt_status {
    guard(|| {
        non_null(out, "out")?;
        // SAFETY: documented contract.
        let h = unsafe { handle(pipeline)? };
        // SAFETY: documented contract (NUL-terminated or NULL).
        let path =
            unsafe { opt_str(path, "path")? }.ok_or_else(|| Error::invalid("path is NULL"))?;
        let id = h.pipeline.load_lora(&PathBuf::from(path))?;
        // SAFETY: out is non-null (checked). The handle is the id, never dereferenced.
        unsafe { *out = id.0 as usize as *mut sdrt_lora };
        Ok(())
    })
}

/// Frees a LoRA loaded into `pipeline`: its matrices are released (the branches it added to
/// the graphs stay, so a later LoRA on the same layers loads without a rebuild). Waits for a
/// call in progress. Errors: `SDRT_ERROR_INVALID_ARGUMENT` for NULL, a handle already freed
/// or another pipeline's (the pipeline is unchanged). Since 0.5.
#[no_mangle]
pub unsafe extern "C" fn sdrt_lora_free(
    pipeline: *mut sdrt_pipeline,
    lora: *mut sdrt_lora,
) -> sdrt_status {
    guard(|| {
        // SAFETY: documented contract.
        let h = unsafe { handle(pipeline)? };
        non_null(lora, "lora")?;
        h.pipeline.free_lora(LoraId(lora as usize as u64))
    })
}

/// Copies a call's `loras` array (`count` pairs, borrowed for the call).
pub(crate) unsafe fn read_loras(p: *const sdrt_lora_weight, count: u32) -> Result<Vec<LoraWeight>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    non_null(p, "params->loras")?;
    if count > SDRT_MAX_LORAS_PER_CALL {
        return Err(Error::invalid(format!(
            "params->lora_count is {count}; at most {SDRT_MAX_LORAS_PER_CALL} LoRAs per call"
        )));
    }
    // SAFETY: the caller's array holds `count` pairs (documented).
    let pairs = unsafe { std::slice::from_raw_parts(p, count as usize) };
    pairs
        .iter()
        .enumerate()
        .map(|(i, w)| {
            non_null(w.lora, &format!("params->loras[{i}].lora"))?;
            Ok(LoraWeight {
                id: LoraId(w.lora as usize as u64),
                scale: w.scale,
            })
        })
        .collect()
}
