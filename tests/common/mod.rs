//! Shared helpers for the integration tests: ONNX Runtime setup, fixture paths, goldens.
#![allow(dead_code)]

pub mod cbuild;
pub mod header;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture() -> PathBuf {
    root().join("tests/fixtures/tiny-sd2")
}

pub fn goldens() -> PathBuf {
    root().join("tests/goldens")
}

/// The ONNX Runtime library for tests: `$SDRT_ORT_LIBRARY`, else `.ort/` (fetched by
/// `tools/fetch_ort.sh` on first use).
pub fn ort_library() -> PathBuf {
    static FETCH: Once = Once::new();
    if let Some(p) = std::env::var_os("SDRT_ORT_LIBRARY").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let lib = root().join(".ort").join(sdrt::runtime::ort_library_name());
    FETCH.call_once(|| {
        if !lib.exists() {
            let status = Command::new("bash")
                .arg(root().join("tools/fetch_ort.sh"))
                .status()
                .expect("run tools/fetch_ort.sh");
            assert!(status.success(), "tools/fetch_ort.sh failed");
        }
    });
    lib
}

/// The OpenVINO plugin EP library for tests: `$SDRT_OPENVINO_EP`, else `.ort/openvino/`
/// (fetched by `tools/fetch_ep.sh openvino` on first use, like ONNX Runtime).
pub fn openvino_plugin() -> PathBuf {
    static FETCH: Once = Once::new();
    if let Some(p) = std::env::var_os("SDRT_OPENVINO_EP").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let lib = root()
        .join(".ort/openvino")
        .join(sdrt::runtime::OPENVINO_PLUGIN);
    FETCH.call_once(|| {
        let status = Command::new("bash")
            .arg(root().join("tools/fetch_ep.sh"))
            .arg("openvino")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run tools/fetch_ep.sh");
        assert!(
            status.success(),
            "tools/fetch_ep.sh openvino failed (set SDRT_TEST_OPENVINO=0 to skip the OpenVINO group)"
        );
    });
    lib
}

/// Whether a test group is switched off (its variable is `0`, as tools/test.sh documents);
/// says so on stderr when it is.
pub fn skipped(variable: &str) -> bool {
    let off = std::env::var(variable).is_ok_and(|v| v == "0");
    if off {
        eprintln!("skipped: {variable}=0");
    }
    off
}

/// Fails the test when `tool` is not on PATH: a group that cannot run fails, unless its
/// variable switches it off (tools/test.sh installs `package` when it can).
pub fn require_tool(tool: &str, package: &str, variable: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{tool} is needed here and not installed: apt-get install {package} (tools/test.sh \
         does when it can), or set {variable}=0 to skip this group"
    );
}

/// Initializes the runtime once per test binary.
pub fn init_runtime() -> &'static sdrt::runtime::Runtime {
    sdrt::runtime::init(&sdrt::RuntimeOptions {
        ort_library: Some(ort_library()),
    })
    .expect("ONNX Runtime loads")
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Decodes a PNG golden to (width, height, RGB8).
pub fn read_png(path: &Path) -> (usize, usize, Vec<u8>) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    (img.width() as usize, img.height() as usize, img.into_raw())
}

/// Max and mean absolute difference in 0..255 units.
pub fn diff_stats(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len(), "image sizes differ");
    let mut max = 0u8;
    let mut sum = 0u64;
    for (&x, &y) in a.iter().zip(b) {
        let d = x.abs_diff(y);
        max = max.max(d);
        sum += d as u64;
    }
    (max, sum as f64 / a.len() as f64)
}

/// The images tolerance of the project: max |diff| <= 2 and mean |diff| <= 0.15.
pub fn assert_close(name: &str, got: &[u8], want: &[u8]) {
    let (max, mean) = diff_stats(got, want);
    assert!(
        max <= 2 && mean <= 0.15,
        "{name}: max |diff| {max} (limit 2), mean |diff| {mean:.4} (limit 0.15)"
    );
}

/// One case of `tests/goldens/images.json`.
#[derive(Debug, Clone)]
pub struct ImageCase {
    pub name: String,
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub width: usize,
    pub height: usize,
    pub steps: usize,
    pub guidance: f32,
    pub seed: u64,
    pub count: usize,
    /// Model folder under tests/fixtures.
    pub model: PathBuf,
    /// sdrt scheduler name; `None` = the model's default.
    pub scheduler: Option<String>,
    /// `numpy` or `torch`.
    pub generator: String,
    pub eta: f32,
    pub files: Vec<PathBuf>,
}

pub fn image_cases() -> Vec<ImageCase> {
    image_cases_from(&read_json(&goldens().join("images.json")))
}

/// The `ImageCase`s of a goldens file in the `images.json` schema.
pub fn image_cases_from(v: &serde_json::Value) -> Vec<ImageCase> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| ImageCase {
            name: c["name"].as_str().unwrap().to_string(),
            prompt: c["prompt"].as_str().unwrap().to_string(),
            negative_prompt: c["negative_prompt"].as_str().map(str::to_string),
            width: c["width"].as_u64().unwrap() as usize,
            height: c["height"].as_u64().unwrap() as usize,
            steps: c["steps"].as_u64().unwrap() as usize,
            guidance: c["guidance"].as_f64().unwrap() as f32,
            seed: c["seed"].as_u64().unwrap(),
            count: c["count"].as_u64().unwrap() as usize,
            model: root()
                .join("tests/fixtures")
                .join(c["model"].as_str().unwrap_or("tiny-sd2")),
            scheduler: c["scheduler"].as_str().map(str::to_string),
            generator: c["generator"].as_str().unwrap_or("numpy").to_string(),
            eta: c["eta"].as_f64().unwrap_or(0.0) as f32,
            files: c["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| goldens().join(f.as_str().unwrap()))
                .collect(),
        })
        .collect()
}

/// The folder cargo puts example binaries and the cdylib in (target/<profile>).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// One case of `tests/goldens/edit.json`: an `ImageCase` plus the editing fields.
#[derive(Debug, Clone)]
pub struct EditCase {
    pub base: ImageCase,
    /// `txt2img`, `img2img`, `inpaint` or `lcm`.
    pub mode: String,
    pub init_image: Option<PathBuf>,
    pub mask: Option<PathBuf>,
    pub strength: f32,
    pub guidance_rescale: f32,
    pub timestep_spacing: Option<String>,
}

pub fn edit_cases() -> Vec<EditCase> {
    let v = read_json(&goldens().join("edit.json"));
    let path = |c: &serde_json::Value, k: &str| c[k].as_str().map(|f| goldens().join(f));
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| EditCase {
            base: ImageCase {
                name: c["name"].as_str().unwrap().to_string(),
                prompt: c["prompt"].as_str().unwrap().to_string(),
                negative_prompt: c["negative_prompt"].as_str().map(str::to_string),
                width: c["width"].as_u64().unwrap() as usize,
                height: c["height"].as_u64().unwrap() as usize,
                steps: c["steps"].as_u64().unwrap() as usize,
                guidance: c["guidance"].as_f64().unwrap() as f32,
                seed: c["seed"].as_u64().unwrap(),
                count: c["count"].as_u64().unwrap() as usize,
                model: root()
                    .join("tests/fixtures")
                    .join(c["model"].as_str().unwrap()),
                scheduler: c["scheduler"].as_str().map(str::to_string),
                generator: c["generator"].as_str().unwrap().to_string(),
                eta: c["eta"].as_f64().unwrap_or(0.0) as f32,
                files: c["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| goldens().join(f.as_str().unwrap()))
                    .collect(),
            },
            mode: c["mode"].as_str().unwrap().to_string(),
            init_image: path(c, "init_image"),
            mask: path(c, "mask"),
            strength: c["strength"].as_f64().unwrap() as f32,
            guidance_rescale: c["guidance_rescale"].as_f64().unwrap() as f32,
            timestep_spacing: c["timestep_spacing"].as_str().map(str::to_string),
        })
        .collect()
}

/// Decodes an 8-bit grayscale PNG (masks) to (width, height, bytes).
pub fn read_gray_png(path: &Path) -> (usize, usize, Vec<u8>) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8();
    (img.width() as usize, img.height() as usize, img.into_raw())
}

/// The engine params of an image case (the `images.json` schema).
pub fn image_params(c: &ImageCase) -> sdrt::GenerateParams {
    sdrt::GenerateParams {
        scheduler: c
            .scheduler
            .as_deref()
            .map(|s| sdrt::SchedulerKind::parse(s).unwrap()),
        generator: sdrt::Generator::parse(&c.generator).unwrap(),
        eta: c.eta,
        prompt: c.prompt.clone(),
        negative_prompt: c.negative_prompt.clone(),
        width: c.width,
        height: c.height,
        steps: c.steps,
        guidance: c.guidance,
        seed: c.seed,
        count: c.count,
        ..sdrt::GenerateParams::default()
    }
}

/// The engine params of an edit case (init image and mask read from their PNGs).
pub fn edit_params(case: &EditCase) -> sdrt::GenerateParams {
    sdrt::GenerateParams {
        init_image: case.init_image.as_ref().map(|p| {
            let (width, height, data) = read_png(p);
            sdrt::RgbImage {
                width,
                height,
                data,
            }
        }),
        mask: case.mask.as_ref().map(|p| {
            let (width, height, data) = read_gray_png(p);
            sdrt::GrayImage {
                width,
                height,
                data,
            }
        }),
        strength: case.strength,
        guidance_rescale: case.guidance_rescale,
        timestep_spacing: case
            .timestep_spacing
            .as_deref()
            .map(|s| sdrt::scheduler::TimestepSpacing::parse(s).unwrap()),
        ..image_params(&case.base)
    }
}

/// Writes a PNG input as binary PPM (RGB) or PGM (gray) for the C example.
pub fn write_pnm(png: &Path, out: &Path, gray: bool) {
    let img = image::open(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    let (magic, w, h, data) = if gray {
        let g = img.to_luma8();
        ("P5", g.width(), g.height(), g.into_raw())
    } else {
        let c = img.to_rgb8();
        ("P6", c.width(), c.height(), c.into_raw())
    };
    let mut bytes = format!("{magic}\n{w} {h}\n255\n").into_bytes();
    bytes.extend_from_slice(&data);
    std::fs::write(out, bytes).unwrap();
}

/// `examples/c/txt2img.c`'s arguments for a case's `images.json`-schema fields (model,
/// output prefix, prompt, size, steps, guidance, seed, count, generator, scheduler, negative).
pub fn c_example_args(case: &ImageCase, prefix: &Path) -> Vec<String> {
    let mut args = vec![
        case.model.display().to_string(),
        prefix.display().to_string(),
        "--prompt".into(),
        case.prompt.clone(),
        "--width".into(),
        case.width.to_string(),
        "--height".into(),
        case.height.to_string(),
        "--steps".into(),
        case.steps.to_string(),
        "--guidance".into(),
        case.guidance.to_string(),
        "--seed".into(),
        case.seed.to_string(),
        "--count".into(),
        case.count.to_string(),
        "--generator".into(),
        case.generator.clone(),
        "--scheduler".into(),
        case.scheduler.clone().unwrap_or_else(|| "default".into()),
    ];
    if let Some(n) = &case.negative_prompt {
        args.extend(["--negative-prompt".into(), n.clone()]);
    }
    args
}

/// Reads a binary PPM (P6, maxval 255).
pub fn read_ppm(path: &Path) -> (usize, usize, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P6", "{}", path.display());
    assert_eq!(fields[3], "255", "{}", path.display());
    let w: usize = fields[1].parse().unwrap();
    let h: usize = fields[2].parse().unwrap();
    let data = bytes[i + 1..].to_vec();
    assert_eq!(data.len(), w * h * 3, "{}", path.display());
    (w, h, data)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The example binary `cargo test` built; fails clearly when it is missing or stale (a single
/// `cargo test --test cli` does not rebuild examples).
/// `generate`'s arguments for a case's image params (model, prompts, size, steps, guidance,
/// seed, count, generator, eta, scheduler, the CPU provider), writing `out`.
pub fn generate_args(case: &ImageCase, out: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--model".into(),
        case.model.display().to_string(),
        "--prompt".into(),
        case.prompt.clone(),
        "--width".into(),
        case.width.to_string(),
        "--height".into(),
        case.height.to_string(),
        "--steps".into(),
        case.steps.to_string(),
        "--guidance".into(),
        case.guidance.to_string(),
        "--seed".into(),
        case.seed.to_string(),
        "--count".into(),
        case.count.to_string(),
        "--rng".into(),
        case.generator.clone(),
        "--provider".into(),
        "cpu".into(),
        "--output".into(),
        out.display().to_string(),
    ];
    if case.eta != 0.0 {
        a.extend(["--eta".into(), case.eta.to_string()]);
    }
    if let Some(s) = &case.scheduler {
        a.extend(["--scheduler".into(), s.clone()]);
    }
    if let Some(neg) = &case.negative_prompt {
        a.extend(["--negative-prompt".into(), neg.clone()]);
    }
    a
}

/// The `generate` command for a case (`generate_args`); the caller adds its feature's flags.
pub fn generate_command(case: &ImageCase, out: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(generate_bin());
    cmd.env("SDRT_ORT_LIBRARY", ort_library())
        .args(generate_args(case, out));
    cmd
}

/// Runs a `generate` command that writes one image to `out` and compares it with the golden
/// PNG `want` at the project's tolerance.
pub fn check_generated(name: &str, cmd: &mut std::process::Command, out: &Path, want: &Path) {
    let run = cmd.output().unwrap();
    assert!(
        run.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (_, _, got) = read_png(out);
    let (_, _, want) = read_png(want);
    assert_close(&format!("generate {name}"), &got, &want);
}

pub fn generate_bin() -> PathBuf {
    let p = target_dir()
        .join("examples")
        .join(format!("generate{}", std::env::consts::EXE_SUFFIX));
    let hint =
        "run the whole `cargo test` (it builds examples) or `cargo build --example generate`";
    let built = std::fs::metadata(&p)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is not built: {hint}", p.display()));
    let newest = ["src", "examples"]
        .iter()
        .flat_map(|d| walk(&root().join(d)))
        .filter_map(|f| std::fs::metadata(f).ok()?.modified().ok())
        .max()
        .unwrap();
    assert!(
        built >= newest,
        "{} is older than the sources: {hint}",
        p.display()
    );
    p
}
