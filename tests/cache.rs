//! The cache of optimized graphs: a warm create gives bit-identical images, and anything that
//! could change the optimized graph (the model file, an option) misses; damaged entries are
//! rebuilt.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use sdrt::{CacheDir, GenerateParams, Pipeline, PipelineOptions};

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter(|e| e.path().join("manifest.txt").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn images(model: &Path, cache: Option<&Path>, threads: usize) -> (Vec<Vec<u8>>, f64) {
    let options = PipelineOptions {
        graph_cache: cache.map_or(CacheDir::Off, |d| CacheDir::At(d.to_path_buf())),
        intra_op_threads: threads,
        ..PipelineOptions::default()
    };
    let t = Instant::now();
    let p = Pipeline::load(model, &options).unwrap();
    let created = t.elapsed().as_secs_f64();
    let params = GenerateParams {
        prompt: "a lighthouse on a cliff".into(),
        steps: 4,
        seed: 7,
        count: 2,
        ..GenerateParams::default()
    };
    (p.generate(&params, None).unwrap().images, created)
}

/// A copy of the fixture with real files (so the test may touch one), external data included.
fn copy_fixture(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::metadata(&p).unwrap();
            if meta.is_dir() {
                copy(&p, &to.join(e.file_name()));
            } else {
                std::fs::copy(&p, to.join(e.file_name())).unwrap();
            }
        }
    }
    copy(&common::fixture(), to);
}

#[test]
fn warm_creates_give_the_same_images_and_stale_entries_miss() {
    common::init_runtime();
    let root = std::env::temp_dir().join(format!("sdrt-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let model: PathBuf = root.join("model");
    copy_fixture(&model);
    let cache = root.join("cache");

    let (plain, t_plain) = images(&model, None, 0);
    let (cold, t_cold) = images(&model, Some(&cache), 0);
    let filled = entries(&cache);
    assert_eq!(filled.len(), 3, "{filled:?}");
    for part in ["text_encoder", "unet", "vae_decoder"] {
        assert!(
            filled.iter().any(|e| e.starts_with(part)),
            "{part}: {filled:?}"
        );
    }
    let (warm, t_warm) = images(&model, Some(&cache), 0);
    eprintln!("create: uncached {t_plain:.2}s, cold cache {t_cold:.2}s, warm {t_warm:.2}s");
    assert_eq!(cold, plain, "a cold cache changes nothing");
    assert_eq!(warm, plain, "images from cached graphs are bit-identical");
    assert_eq!(entries(&cache), filled, "a warm create adds no entry");

    // An option in the key misses (a new entry per graph, replacing the entry built from
    // the same file); the images stay the same.
    let (threads, _) = images(&model, Some(&cache), 1);
    assert_eq!(threads, plain);
    let rekeyed = entries(&cache);
    assert_eq!(rekeyed.len(), 3, "{rekeyed:?}");
    assert!(
        rekeyed.iter().all(|e| !filled.contains(e)),
        "{rekeyed:?} vs {filled:?}"
    );

    // A changed model file misses: rewrite the UNet (same bytes, new modification time).
    // Only the UNet's entry is rebuilt, and its stale entry is gone.
    let unet = model.join("unet/model.onnx");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bytes = std::fs::read(&unet).unwrap();
    std::fs::write(&unet, &bytes).unwrap();
    let (_, _) = images(&model, Some(&cache), 1);
    let touched = entries(&cache);
    assert_eq!(touched.len(), 3, "{touched:?}");
    let changed: Vec<_> = touched.iter().filter(|e| !rekeyed.contains(e)).collect();
    assert_eq!(changed.len(), 1, "{touched:?} vs {rekeyed:?}");
    assert!(changed[0].starts_with("unet-"), "{changed:?}");
    let (_, _) = images(&model, Some(&cache), 0);

    // A damaged entry is detected and rebuilt, with the same images.
    for e in entries(&cache) {
        let g = cache.join(&e).join("model.onnx");
        let len = std::fs::metadata(&g).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&g).unwrap();
        f.set_len(len / 2).unwrap();
    }
    let (repaired, _) = images(&model, Some(&cache), 0);
    assert_eq!(repaired, plain);

    // Clearing frees the entries through the C API.
    let dir = std::ffi::CString::new(cache.to_str().unwrap()).unwrap();
    let mut freed = 0u64;
    // SAFETY: a C string and a u64 out-parameter.
    let st = unsafe { sdrt::ffi::cache::sdrt_graph_cache_clear(dir.as_ptr(), &mut freed) };
    assert_eq!(st, sdrt::ffi::status::sdrt_status::SDRT_OK);
    assert!(freed > 0);
    assert!(entries(&cache).is_empty());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_unwritable_cache_falls_back_to_the_uncached_load() {
    common::init_runtime();
    // A file where the cache folder should be: every write fails.
    let root = std::env::temp_dir().join(format!("sdrt-cache-file-{}", std::process::id()));
    std::fs::write(&root, b"not a folder").unwrap();
    let (plain, _) = images(&common::fixture(), None, 0);
    let (got, _) = images(&common::fixture(), Some(&root.join("sub")), 0);
    assert_eq!(got, plain);
    std::fs::remove_file(&root).unwrap();
}

/// Filling the cache, ONNX Runtime warns for each graph it saves that the file "should only be
/// used in the same environment". The cache key covers the CPU and every setting, so sdrt
/// passes that warning on at debug level only: a first create prints no warning.
#[test]
fn filling_the_cache_warns_of_nothing() {
    use sdrt::runtime::{LogLevel, Logger};
    use std::sync::{Arc, Mutex};

    common::init_runtime();
    let root = std::env::temp_dir().join(format!("sdrt-cache-warn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let got: Arc<Mutex<Vec<(LogLevel, String)>>> = Arc::default();
    let sink = got.clone();
    let options = PipelineOptions {
        graph_cache: CacheDir::At(root.clone()),
        logger: Some(Logger::new(
            Arc::new(move |level, message: &str| {
                sink.lock().unwrap().push((level, message.to_string()))
            }),
            LogLevel::Debug,
        )),
        ..PipelineOptions::default()
    };
    drop(Pipeline::load(&common::fixture(), &options).unwrap());
    assert!(!entries(&root).is_empty(), "the create filled the cache");
    let got = got.lock().unwrap();
    let serializing: Vec<_> = got
        .iter()
        .filter(|(_, m)| m.contains("Serializing optimized model"))
        .collect();
    assert!(
        !serializing.is_empty(),
        "ONNX Runtime's warning reached the pipeline's log"
    );
    for (level, message) in &serializing {
        assert_eq!(*level, LogLevel::Debug, "{message}");
    }
    let warnings: Vec<_> = got.iter().filter(|(l, _)| *l <= LogLevel::Warn).collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    std::fs::remove_dir_all(&root).unwrap();
}
