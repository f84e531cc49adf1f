//! A cache of graphs ONNX Runtime has optimized for this machine: most of a pipeline's
//! create time is ONNX Runtime optimizing the graphs, and a session built from the saved
//! optimized graph with optimizations off starts in a fraction of it and computes the same.
//!
//! An entry is a folder named by a key that changes whenever the result could: the model
//! file's size, modification time and a fast hash of it and of its external data, the ONNX
//! Runtime version, the provider, every session option that changes the optimized graph, and
//! the CPU (the highest level writes hardware-specific layouts). Entries are written to a
//! temporary folder and renamed into place, so two processes creating at once never see a
//! half-written one; each holds a manifest with the sizes and a hash of its files, and an
//! entry that does not match its manifest is removed and rebuilt. Any error on the way falls
//! back to the uncached load with a warning.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// Where a pipeline keeps its caches (the optimized graphs, and CoreML's compiled models).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheDir {
    /// `$SDRT_CACHE_DIR` when set (`off` or empty: no cache), else [`platform_dir`].
    #[default]
    Default,
    /// No cache.
    Off,
    /// This folder.
    At(PathBuf),
}

impl CacheDir {
    /// The folder to use, or `None` for no cache.
    pub fn resolve(&self) -> Option<PathBuf> {
        match self {
            CacheDir::Off => None,
            CacheDir::At(p) => Some(p.clone()),
            CacheDir::Default => match std::env::var_os("SDRT_CACHE_DIR") {
                Some(v) if v.is_empty() || v == "off" => None,
                Some(v) => Some(PathBuf::from(v)),
                None => platform_dir(),
            },
        }
    }
}

/// The platform's per-user cache folder for sdrt: `~/Library/Caches/sdrt` on Apple systems,
/// `%LOCALAPPDATA%\sdrt\cache` on Windows, `$XDG_CACHE_HOME/sdrt` (else `~/.cache/sdrt`)
/// elsewhere; `None` when the environment names no home. Decided at run time, so every
/// branch compiles on every target.
pub fn platform_dir() -> Option<PathBuf> {
    platform_dir_for(std::env::consts::OS, |k| std::env::var_os(k))
}

/// [`platform_dir`] for the system `os` and the environment `var`.
fn platform_dir_for(os: &str, var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let dir = |k: &str| var(k).map(PathBuf::from).filter(|p| p.is_absolute());
    match os {
        "macos" | "ios" | "tvos" | "visionos" | "watchos" => {
            dir("HOME").map(|h| h.join("Library").join("Caches").join("sdrt"))
        }
        "windows" => dir("LOCALAPPDATA").map(|d| d.join("sdrt").join("cache")),
        _ => dir("XDG_CACHE_HOME")
            .map(|d| d.join("sdrt"))
            .or_else(|| dir("HOME").map(|h| h.join(".cache").join("sdrt"))),
    }
}

/// File name of the optimized graph inside an entry.
pub const GRAPH: &str = "model.onnx";
/// File name of its external initializers.
pub const DATA: &str = "model.onnx.data";
const MANIFEST: &str = "manifest.txt";

/// FNV-1a, 64 bits: stable across builds and platforms (a key must not change with them).
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// A fast content hash: whole files up to 8 MiB, else the size and three 1 MiB samples
/// (start, middle, end), which the modification time in the key complements.
fn file_hash(path: &Path) -> std::io::Result<u64> {
    let mut f = fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut h = fnv1a(FNV_OFFSET, &len.to_le_bytes());
    const WHOLE: u64 = 8 << 20;
    const SAMPLE: u64 = 1 << 20;
    if len <= WHOLE {
        let mut buf = Vec::with_capacity(len as usize);
        f.read_to_end(&mut buf)?;
        return Ok(fnv1a(h, &buf));
    }
    let mut buf = vec![0u8; SAMPLE as usize];
    for at in [0, len / 2 - SAMPLE / 2, len - SAMPLE] {
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut buf)?;
        h = fnv1a(h, &buf);
    }
    Ok(h)
}

fn identity(path: &Path) -> std::io::Result<String> {
    let meta = fs::metadata(path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(format!(
        "{} {} {mtime} {:016x}",
        path.file_name().map_or("".into(), |n| n.to_string_lossy()),
        meta.len(),
        file_hash(path)?
    ))
}

/// What the CPU offers, as far as it changes ONNX Runtime's optimized layouts.
fn cpu_signature() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut s = String::from("x86_64");
        for (name, on) in [
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx512bw", std::arch::is_x86_feature_detected!("avx512bw")),
            (
                "avx512vnni",
                std::arch::is_x86_feature_detected!("avx512vnni"),
            ),
            ("f16c", std::arch::is_x86_feature_detected!("f16c")),
        ] {
            if on {
                s.push('+');
                s.push_str(name);
            }
        }
        s
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_string()
    }
}

/// The cache key of `model` (a `model.onnx` with its external data next to it) under the
/// session `settings` (ONNX Runtime version, provider, options that change the graph).
pub fn key(model: &Path, settings: &str) -> Result<String> {
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", model.display()));
    let mut parts = vec![
        settings.to_string(),
        cpu_signature(),
        identity(model).map_err(io)?,
    ];
    // optimum writes external data as `model.onnx_data`; other exporters use other names
    // starting with the graph's.
    if let Some(dir) = model.parent() {
        let mut extra: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p != model
                    && p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("model.onnx"))
            })
            .collect();
        extra.sort();
        for p in extra {
            parts.push(identity(&p).map_err(io)?);
        }
    }
    Ok(format!(
        "{:016x}",
        fnv1a(FNV_OFFSET, parts.join("\n").as_bytes())
    ))
}

/// The cache folder of one pipeline: `<dir>/<part>-<key>/`.
#[derive(Debug, Clone)]
pub struct GraphCache {
    dir: PathBuf,
}

/// A lookup: a usable entry, or where to write a new one.
pub enum Entry {
    /// The optimized graph, verified against its manifest.
    Hit(PathBuf),
    /// Not cached (or stale): write into `tmp`, then [`GraphCache::publish`] it as `dir`.
    Miss {
        /// A fresh temporary folder next to the entry.
        tmp: PathBuf,
        /// The entry's final folder.
        dir: PathBuf,
    },
}

impl GraphCache {
    /// A cache rooted at `dir` (created when needed).
    pub fn new(dir: &Path) -> GraphCache {
        GraphCache {
            dir: dir.to_path_buf(),
        }
    }

    /// Finds the entry of `part` under `key`; a damaged entry is removed (a miss).
    pub fn lookup(&self, part: &str, key: &str) -> Result<Entry> {
        let dir = self.dir.join(format!("{part}-{key}"));
        if dir.is_dir() {
            if verify(&dir) {
                return Ok(Entry::Hit(dir.join(GRAPH)));
            }
            let _ = fs::remove_dir_all(&dir);
        }
        let io = |e: std::io::Error| {
            Error::new(
                ErrorKind::Io,
                format!("graph cache {}: {e}", self.dir.display()),
            )
        };
        fs::create_dir_all(&self.dir).map_err(io)?;
        let tmp = self.dir.join(format!(
            ".tmp-{part}-{key}-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        fs::create_dir_all(&tmp).map_err(io)?;
        Ok(Entry::Miss { tmp, dir })
    }

    /// Writes the manifest of a freshly written entry and renames it into place; entries
    /// built from the same `source` file under other keys (an older version of the model, or
    /// other options) are removed, so the cache holds one entry per graph file. When another
    /// process published the same entry first, its copy is kept and ours removed.
    pub fn publish(&self, tmp: &Path, dir: &Path, source: &Path) -> Result<()> {
        let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", tmp.display()));
        let source = fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        let files = manifest(tmp).map_err(io)?;
        let text = format!("source {}\n{files}", source.display());
        fs::write(tmp.join(MANIFEST), text).map_err(io)?;
        if fs::rename(tmp, dir).is_err() {
            let _ = fs::remove_dir_all(tmp);
            if !verify(dir) {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("could not publish {}", dir.display()),
                ));
            }
        }
        let part = dir.file_name().and_then(|n| entry_part(n.to_str()?));
        let (Some(part), Ok(list)) = (part, fs::read_dir(&self.dir)) else {
            return Ok(());
        };
        for e in list.flatten() {
            let other = e.path();
            let same_part = e.file_name().to_str().and_then(entry_part) == Some(part);
            if other != dir && same_part && source_of(&other).as_deref() == Some(source.as_path()) {
                let _ = fs::remove_dir_all(&other);
            }
        }
        Ok(())
    }
}

/// The part of an entry folder named `<part>-<key>` (a key is 16 hex digits), as
/// [`GraphCache::lookup`] and the CoreML folders name them.
fn entry_part(name: &str) -> Option<&str> {
    let (part, key) = name.rsplit_once('-')?;
    (key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit())).then_some(part)
}

/// The graph file an entry was built from, as its manifest records it.
fn source_of(dir: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(dir.join(MANIFEST)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("source "))
        .map(PathBuf::from)
}

/// `<file> <size> <hash>` lines for the entry's graph and data.
fn manifest(dir: &Path) -> std::io::Result<String> {
    let mut out = String::new();
    for name in [GRAPH, DATA] {
        let p = dir.join(name);
        if p.is_file() {
            out.push_str(&format!(
                "{name} {} {:016x}\n",
                fs::metadata(&p)?.len(),
                file_hash(&p)?
            ));
        }
    }
    Ok(out)
}

fn verify(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(MANIFEST)) else {
        return false;
    };
    let want: String = text
        .lines()
        .filter(|l| !l.starts_with("source "))
        .map(|l| format!("{l}\n"))
        .collect();
    want.lines().any(|l| l.starts_with(GRAPH)) && manifest(dir).is_ok_and(|got| got == want)
}

/// Removes every entry (and leftover temporary folder) under `dir`, and CoreML's compiled
/// models under `dir/coreml`; returns the bytes freed. Files that are not cache entries are
/// left alone.
pub fn clear(dir: &Path) -> Result<u64> {
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", dir.display()));
    if !dir.exists() {
        return Ok(0);
    }
    let mut freed = 0;
    for e in fs::read_dir(dir).map_err(io)?.flatten() {
        let p = e.path();
        let is_entry = p.is_dir()
            && (p.join(MANIFEST).is_file()
                || p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(".tmp-")));
        if is_entry {
            freed += tree_size(&p);
            fs::remove_dir_all(&p).map_err(io)?;
        }
    }
    let coreml = dir.join("coreml");
    if coreml.is_dir() {
        for e in fs::read_dir(&coreml).map_err(io)?.flatten() {
            let keyed = e.file_name().to_str().and_then(entry_part).is_some();
            if keyed && e.path().is_dir() {
                freed += tree_size(&e.path());
                fs::remove_dir_all(e.path()).map_err(io)?;
            }
        }
    }
    Ok(freed)
}

fn tree_size(p: &Path) -> u64 {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::read_dir(p)
            .map(|r| r.flatten().map(|e| tree_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::platform_dir_for;
    use std::path::PathBuf;

    fn env<'a>(
        pairs: &'a [(&'a str, &'a str)],
    ) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.into())
    }

    #[test]
    fn platform_cache_folders() {
        let home = [
            ("HOME", "/home/u"),
            ("LOCALAPPDATA", "C:\\Users\\u\\AppData\\Local"),
        ];
        assert_eq!(
            platform_dir_for("macos", env(&home)),
            Some(PathBuf::from("/home/u/Library/Caches/sdrt"))
        );
        assert_eq!(
            platform_dir_for("ios", env(&home)),
            Some(PathBuf::from("/home/u/Library/Caches/sdrt"))
        );
        assert_eq!(
            platform_dir_for("linux", env(&home)),
            Some(PathBuf::from("/home/u/.cache/sdrt"))
        );
        let xdg = [("HOME", "/home/u"), ("XDG_CACHE_HOME", "/var/cache/u")];
        assert_eq!(
            platform_dir_for("linux", env(&xdg)),
            Some(PathBuf::from("/var/cache/u/sdrt"))
        );
        // A relative XDG_CACHE_HOME is invalid by the spec: fall back to HOME.
        let rel = [("HOME", "/home/u"), ("XDG_CACHE_HOME", "cache")];
        assert_eq!(
            platform_dir_for("linux", env(&rel)),
            Some(PathBuf::from("/home/u/.cache/sdrt"))
        );
        assert_eq!(platform_dir_for("linux", env(&[])), None);
        assert_eq!(platform_dir_for("macos", env(&[])), None);
    }
}
