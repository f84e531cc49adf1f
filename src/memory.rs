//! Process memory readings for benchmarks and the low-memory mode: the resident set's peak
//! (`VmHWM`) and a way to reset it, and handing freed heap back to the system. Linux reads
//! `/proc/self`; elsewhere the readings are `None` and the calls do nothing (decided at run
//! time, so every target compiles the same code).

/// The process's peak resident set since start (or since [`reset_peak_rss`]), in bytes.
pub fn peak_rss() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// The process's resident set now, in bytes.
pub fn current_rss() -> Option<u64> {
    status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// Resets the peak that [`peak_rss`] reports to the current resident set (Linux 4.0+:
/// `echo 5 > /proc/self/clear_refs`). Returns whether it could.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Returns freed heap memory to the system. glibc keeps large freed blocks in its arenas,
/// so after a session is dropped the process would still hold its weights' pages; other
/// allocators return them by themselves.
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_follows_an_allocation_and_resets() {
        if std::env::consts::OS != "linux" {
            return;
        }
        let before = super::current_rss().unwrap_or(0);
        assert!(before > 0);
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        let peak = super::peak_rss().unwrap_or(0);
        assert!(peak >= before + (60 << 20), "rss {before}, peak {peak}");
        drop(big);
        super::trim_heap();
        assert!(super::reset_peak_rss());
        let after = super::peak_rss().unwrap_or(u64::MAX);
        assert!(
            after + (32 << 20) < peak,
            "peak {peak}, after the reset {after}"
        );
    }
}
