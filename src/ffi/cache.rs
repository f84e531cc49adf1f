//! The graph cache's C functions.

use std::ffi::c_char;

use super::status::sdrt_status;
use super::{guard, non_null, opt_str};

/// Removes every entry of the graph cache in `dir` (see
/// `sdrt_pipeline_options.graph_cache_dir`) and writes the bytes freed to `*freed` (may be
/// NULL). Other files in `dir` are left alone; a missing `dir` frees 0 bytes. Do not call it
/// while a pipeline using that cache is being created. Any thread. Errors:
/// `SDRT_ERROR_INVALID_ARGUMENT` (NULL or non-UTF-8 `dir`), `SDRT_ERROR_IO`. Since 0.2.
#[no_mangle]
pub unsafe extern "C" fn sdrt_graph_cache_clear(
    dir: *const c_char,
    freed: *mut u64,
) -> sdrt_status {
    guard(|| {
        non_null(dir, "dir")?;
        // SAFETY: borrowed C string, documented.
        let d = unsafe { opt_str(dir, "dir")? }.unwrap_or_default();
        let n = crate::model::cache::clear(std::path::Path::new(&d))?;
        if !freed.is_null() {
            // SAFETY: a caller-owned u64 (contract).
            unsafe { *freed = n };
        }
        Ok(())
    })
}
