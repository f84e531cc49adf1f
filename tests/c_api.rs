//! The C API from C and C++: the committed header is fresh, compiles cleanly as C11 and
//! C++17 and agrees with the Rust layout; the cdylib exports only `sdrt_` functions; the C
//! example reproduces every golden image; the C error-path suite passes, also under
//! AddressSanitizer and valgrind.
//!
//! Needs `cc` and `c++` on PATH (gcc or clang); valgrind is used when installed.
//! `SDRT_BLESS=1 cargo test --test c_api header_is_fresh` rewrites include/sdrt.h.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::cbuild::{
    assert_success, build_dir, cdylib, compile, compile_with, program, run, text, Lang, ASAN_FLAGS,
};
use common::header::declared_names;
use common::read_ppm;
use sdrt::ffi::latents::sdrt_latents;
use sdrt::ffi::params::sdrt_generate_params;
use sdrt::ffi::pipeline::{sdrt_pipeline_info, sdrt_pipeline_options};
use sdrt::ffi::runtime::sdrt_runtime_options;

fn header() -> PathBuf {
    common::root().join("include/sdrt.h")
}

// ---------------------------------------------------------------------------------------------
// a) The committed header is what cbindgen generates

fn generate_header() -> Vec<u8> {
    let root = common::root();
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_crate(&root)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    out
}

#[test]
fn header_is_fresh() {
    let generated = generate_header();
    let path = header();
    let committed = std::fs::read(&path).unwrap_or_default();
    if generated == committed {
        return;
    }
    if std::env::var_os("SDRT_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let generated = String::from_utf8_lossy(&generated).into_owned();
    let committed = String::from_utf8_lossy(&committed).into_owned();
    let (line, want, got) = generated
        .lines()
        .zip(committed.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| (i + 1, a.to_string(), b.to_string()))
        .unwrap_or_else(|| {
            (
                generated.lines().count().min(committed.lines().count()) + 1,
                "(length differs)".into(),
                String::new(),
            )
        });
    panic!(
        "include/sdrt.h is stale (first difference at line {line}:\n  generated: {want}\n  \
         committed: {got}).\nRegenerate it with\n  cbindgen --quiet --config cbindgen.toml \
         --output include/sdrt.h .\nor\n  SDRT_BLESS=1 cargo test --test c_api header_is_fresh"
    );
}

#[test]
fn header_declares_only_prefixed_names() {
    let src = std::fs::read_to_string(header()).unwrap();
    let d = declared_names(&src);
    let mut bad = Vec::new();
    for m in &d.macros {
        // Object-like macros are SDRT_*; function-like ones may only stand for a declared
        // sdrt_ function of the same name (the *_init macros).
        let shadows = m.split_once('(').is_some_and(|(name, _)| {
            name.starts_with("sdrt_") && d.functions.iter().any(|f| f == name)
        });
        if !m.starts_with("SDRT_") && !shadows {
            bad.push(format!("macro {m}"));
        }
    }
    for t in &d.types {
        if !t.starts_with("sdrt_") {
            bad.push(format!("type {t}"));
        }
    }
    for c in &d.constants {
        if !c.starts_with("SDRT_") {
            bad.push(format!("constant {c}"));
        }
    }
    for f in &d.functions {
        if !f.starts_with("sdrt_") {
            bad.push(format!("function {f}"));
        }
    }
    assert!(
        bad.is_empty(),
        "include/sdrt.h declares unprefixed names (exclude them in cbindgen.toml's \
         [export] exclude): {bad:?}"
    );
    // The parse found what it should.
    for m in [
        "SDRT_H",
        "SDRT_VERSION_MAJOR",
        "SDRT_VERSION_MINOR",
        "SDRT_VERSION_PATCH",
        "SDRT_ABI_VERSION",
    ] {
        assert!(d.macros.iter().any(|x| x == m), "{m} missing");
    }
    for t in [
        "sdrt_status",
        "sdrt_log_level",
        "sdrt_provider",
        "sdrt_coreml_compute_units",
        "sdrt_scheduler",
        "sdrt_generator",
        "sdrt_prediction_type",
        "sdrt_pipeline",
        "sdrt_images",
        "sdrt_generate_params",
        "sdrt_pipeline_options",
        "sdrt_pipeline_info",
        "sdrt_runtime_options",
        "sdrt_progress_callback",
        "sdrt_log_callback",
    ] {
        assert!(
            d.types.iter().any(|x| x == t),
            "type {t} missing: {:?}",
            d.types
        );
    }
    assert!(d.constants.iter().any(|c| c == "SDRT_SCHEDULER_DDIM"));
    assert!(d.functions.len() >= 20, "{:?}", d.functions);
    // C++ hosts need the extern "C" guard.
    assert!(src.contains("#ifdef __cplusplus\nextern \"C\" {"));
}

// ---------------------------------------------------------------------------------------------
// b) The header compiles as C11 and C++17 and agrees with Cargo.toml and the Rust layout

/// The layout report the C and C++ header checks print, from the Rust definitions.
fn rust_layout() -> String {
    use std::mem::{offset_of, size_of};
    let mut out = String::new();
    macro_rules! size {
        ($t:ident) => {
            out += &format!("size {} {}\n", stringify!($t), size_of::<$t>());
        };
    }
    macro_rules! field {
        ($t:ident, $f:ident) => {
            out += &format!(
                "offset {}.{} {}\n",
                stringify!($t),
                stringify!($f),
                offset_of!($t, $f)
            );
        };
    }
    size!(sdrt_runtime_options);
    field!(sdrt_runtime_options, struct_size);
    field!(sdrt_runtime_options, log_level);
    field!(sdrt_runtime_options, ort_library_path);
    field!(sdrt_runtime_options, log_callback);
    field!(sdrt_runtime_options, log_user_data);
    size!(sdrt_pipeline_options);
    field!(sdrt_pipeline_options, struct_size);
    field!(sdrt_pipeline_options, provider);
    field!(sdrt_pipeline_options, strict_provider);
    field!(sdrt_pipeline_options, coreml_compute_units);
    field!(sdrt_pipeline_options, coreml_ml_program);
    field!(sdrt_pipeline_options, coreml_static_shapes);
    field!(sdrt_pipeline_options, static_width);
    field!(sdrt_pipeline_options, static_height);
    field!(sdrt_pipeline_options, static_count);
    field!(sdrt_pipeline_options, cuda_device_id);
    field!(sdrt_pipeline_options, intra_op_threads);
    field!(sdrt_pipeline_options, coreml_cache_dir);
    size!(sdrt_generate_params);
    field!(sdrt_generate_params, struct_size);
    field!(sdrt_generate_params, width);
    field!(sdrt_generate_params, height);
    field!(sdrt_generate_params, steps);
    field!(sdrt_generate_params, guidance);
    field!(sdrt_generate_params, scheduler);
    field!(sdrt_generate_params, seed);
    field!(sdrt_generate_params, generator);
    field!(sdrt_generate_params, count);
    field!(sdrt_generate_params, prompt);
    field!(sdrt_generate_params, negative_prompt);
    field!(sdrt_generate_params, progress);
    field!(sdrt_generate_params, progress_user_data);
    field!(sdrt_generate_params, eta);
    field!(sdrt_generate_params, prediction_type);
    field!(sdrt_generate_params, timestep_spacing);
    // 0.4: SDXL, appended.
    field!(sdrt_generate_params, prompt_2);
    field!(sdrt_generate_params, negative_prompt_2);
    field!(sdrt_generate_params, original_width);
    field!(sdrt_generate_params, original_height);
    field!(sdrt_generate_params, crop_x);
    field!(sdrt_generate_params, crop_y);
    field!(sdrt_generate_params, target_width);
    field!(sdrt_generate_params, target_height);
    field!(sdrt_generate_params, negative_original_width);
    field!(sdrt_generate_params, negative_original_height);
    field!(sdrt_generate_params, negative_crop_x);
    field!(sdrt_generate_params, negative_crop_y);
    field!(sdrt_generate_params, negative_target_width);
    field!(sdrt_generate_params, negative_target_height);
    field!(sdrt_generate_params, aesthetic_score);
    field!(sdrt_generate_params, negative_aesthetic_score);
    field!(sdrt_generate_params, denoising_start);
    field!(sdrt_generate_params, denoising_end);
    field!(sdrt_generate_params, output_latents);
    field!(sdrt_generate_params, latents);
    size!(sdrt_latents);
    field!(sdrt_latents, struct_size);
    field!(sdrt_latents, count);
    field!(sdrt_latents, channels);
    field!(sdrt_latents, height);
    field!(sdrt_latents, width);
    field!(sdrt_latents, data);
    field!(sdrt_latents, family);
    size!(sdrt_pipeline_info);
    field!(sdrt_pipeline_info, struct_size);
    field!(sdrt_pipeline_info, native_width);
    field!(sdrt_pipeline_info, native_height);
    field!(sdrt_pipeline_info, prediction_type);
    field!(sdrt_pipeline_info, default_scheduler);
    field!(sdrt_pipeline_info, provider);
    field!(sdrt_pipeline_info, default_scheduler_class);
    out
}

#[test]
fn header_compiles_as_c11_and_cpp17_and_matches_rust() {
    let c = compile("header_check", Lang::C, &["tests/c/header_check.c"], &[]);
    let cxx = compile(
        "header_check_cpp",
        Lang::Cxx,
        &["tests/c/header_check_a.cpp", "tests/c/header_check_b.cpp"],
        &[],
    );
    let c_out = run(program(&c));
    assert_success("header_check", &c_out);
    let cxx_out = run(program(&cxx));
    assert_success("header_check_cpp (two C++ translation units)", &cxx_out);
    let c_text = String::from_utf8(c_out.stdout).unwrap();
    let cxx_text = String::from_utf8(cxx_out.stdout).unwrap();
    assert_eq!(c_text, cxx_text, "C and C++ see different layouts");

    // The version macros are Cargo.toml's version, and so is the library's answer.
    let version = env!("CARGO_PKG_VERSION");
    let abi = sdrt::ffi::version::SDRT_ABI_VERSION;
    let mut lines = c_text.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("macros {version} abi {abi}"),
        "SDRT_VERSION_* / SDRT_ABI_VERSION in include/sdrt.h"
    );
    assert_eq!(
        lines.next().unwrap(),
        format!("library {version} abi {abi}"),
        "sdrt_version() / sdrt_abi_version()"
    );
    // Every struct's size and every field's offset agree with the Rust definitions.
    let layout: String = lines.map(|l| format!("{l}\n")).collect();
    assert_eq!(
        layout,
        rust_layout(),
        "C layout differs from the Rust #[repr(C)] structs"
    );
}

// ---------------------------------------------------------------------------------------------
// c) The cdylib exports the C API and nothing else

#[test]
#[cfg(target_os = "linux")]
fn cdylib_exports_only_sdrt_functions() {
    let lib = cdylib();
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
        .expect("run nm");
    assert_success("nm -D --defined-only", &out);
    let mut exported = BTreeSet::new();
    let mut other = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, name) = match fields.as_slice() {
            [_, kind, name] => (*kind, *name),
            [kind, name] => (*kind, *name),
            _ => continue,
        };
        if kind == "T" && name.starts_with("sdrt_") {
            exported.insert(name.to_string());
        } else {
            other.push(line.to_string());
        }
    }
    assert!(
        other.is_empty(),
        "{} exports symbols other than sdrt_* functions: {other:#?}",
        lib.display()
    );
    let declared: BTreeSet<String> = declared_names(&std::fs::read_to_string(header()).unwrap())
        .functions
        .into_iter()
        .collect();
    assert_eq!(
        exported, declared,
        "exported functions (left) and header declarations (right) differ"
    );

    // ONNX Runtime is loaded at run time, never linked.
    let out = Command::new("readelf")
        .args(["-d"])
        .arg(lib)
        .output()
        .expect("run readelf");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    assert!(
        !dynamic.contains("onnxruntime"),
        "libsdrt links ONNX Runtime:\n{dynamic}"
    );
}

// ---------------------------------------------------------------------------------------------
// d) The C example reproduces the golden images

/// Command-line arguments for one golden case, or `None` when the C API cannot express it.
fn case_args(case: &common::ImageCase, prefix: &Path) -> Option<Vec<String>> {
    let mut args = common::c_example_args(case, prefix);
    if case.eta != 0.0 {
        args.extend(["--eta".into(), case.eta.to_string()]);
    }
    Some(args)
}

/// Runs `exe` on every golden case it can express (a few processes at a time) and checks
/// the images; returns how many were checked.
fn check_goldens(
    exe: &Path,
    tag: &str,
    cases: &[common::ImageCase],
    env: &[(&str, &str)],
) -> usize {
    let cases: Vec<(common::ImageCase, Vec<String>)> =
        cases.iter().map(|c| (c.clone(), Vec::new())).collect();
    check_goldens_with(exe, tag, &cases, env)
}

/// `check_goldens` with extra arguments per case.
fn check_goldens_with(
    exe: &Path,
    tag: &str,
    cases: &[(common::ImageCase, Vec<String>)],
    env: &[(&str, &str)],
) -> usize {
    let out_dir = build_dir().join(format!("out-{tag}"));
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut checked = 0;
    // Three processes at a time: loading the model is most of each run.
    let mut queue = cases.iter();
    let mut running = std::collections::VecDeque::new();
    loop {
        while running.len() < 3 {
            let Some((case, extra)) = queue.next() else {
                break;
            };
            let prefix = out_dir.join(&case.name);
            let Some(mut args) = case_args(case, &prefix) else {
                continue;
            };
            args.extend(extra.iter().cloned());
            let mut cmd = program(exe);
            cmd.args(&args).envs(env.iter().copied());
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            running.push_back((case, prefix, child));
        }
        let Some((case, prefix, child)) = running.pop_front() else {
            break;
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_success(&format!("{tag} {}", case.name), &out);
        assert!(
            stderr.contains("step 1/"),
            "{}: no progress lines\n{}",
            case.name,
            text(&out)
        );
        for (i, golden) in case.files.iter().enumerate() {
            let (w, h, got) = read_ppm(&PathBuf::from(format!("{}-{i}.ppm", prefix.display())));
            let (gw, gh, want) = common::read_png(golden);
            assert_eq!((w, h), (gw, gh), "{} #{i}", case.name);
            common::assert_close(&format!("{tag} {} #{i}", case.name), &got, &want);
            checked += 1;
        }
    }
    eprintln!("{tag}: {checked} images match their goldens");
    checked
}

#[test]
fn c_txt2img_reproduces_every_golden_image() {
    let exe = compile("txt2img", Lang::C, &["examples/c/txt2img.c"], &[]);
    let cases = common::image_cases();
    let checked = check_goldens(&exe, "txt2img", &cases, &[]);
    let expected: usize = cases.iter().map(|c| c.files.len()).sum::<usize>();
    assert_eq!(checked, expected, "every golden image through the C API");
    assert!(checked >= 12, "only {checked} images checked");
}

#[test]
fn c_txt2img_reproduces_the_weighted_prompt_goldens() {
    // tests/goldens/weighted.json (tools/make_weighted_goldens.py): SD and SDXL.
    let exe = compile("txt2img", Lang::C, &["examples/c/txt2img.c"], &[]);
    let g = common::read_json(&common::goldens().join("weighted.json"));
    let mut cases = common::image_cases_from(&g["images"]);
    cases.extend(common::image_cases_from(&g["sdxl_images"]));
    let flag = vec!["--prompt-weighting".to_string(), "a1111".to_string()];
    let cases: Vec<_> = cases.into_iter().map(|c| (c, flag.clone())).collect();
    assert_eq!(
        check_goldens_with(&exe, "txt2img_weighted", &cases, &[]),
        cases.len()
    );
}

#[test]
fn c_txt2img_reproduces_the_lora_goldens() {
    // tests/goldens/lora.json (tools/make_lora_goldens.py): through sdrt_lora_load and
    // sdrt_generate_params.loras, SD 2 and SDXL.
    let exe = compile("txt2img", Lang::C, &["examples/c/txt2img.c"], &[]);
    let g = common::read_json(&common::goldens().join("lora.json"));
    let raw = g["images"].as_array().unwrap();
    let fixtures = common::root().join("tests/fixtures");
    let cases: Vec<_> = common::image_cases_from(&g["images"])
        .into_iter()
        .zip(raw)
        .map(|(c, r)| {
            let mut flags = Vec::new();
            for l in r["loras"].as_array().unwrap() {
                let file = fixtures.join(l["file"].as_str().unwrap());
                flags.push("--lora".to_string());
                flags.push(format!(
                    "{}:{}",
                    file.display(),
                    l["scale"].as_f64().unwrap()
                ));
            }
            (c, flags)
        })
        .collect();
    assert!(cases.len() >= 7);
    assert_eq!(
        check_goldens_with(&exe, "txt2img_lora", &cases, &[]),
        cases.len()
    );
}

#[test]
fn c_txt2img_reproduces_the_torch_cuda_goldens() {
    // SDRT_GENERATOR_TORCH_CUDA through the C API (tests/goldens/cuda_images.json).
    let exe = compile("txt2img", Lang::C, &["examples/c/txt2img.c"], &[]);
    let doc = common::read_json(&common::goldens().join("cuda_images.json"));
    let cases = common::image_cases_from(&doc);
    let expected: usize = cases.iter().map(|c| c.files.len()).sum();
    assert_eq!(check_goldens(&exe, "txt2img_cuda", &cases, &[]), expected);
}

#[test]
fn c_example_reproduces_the_edit_goldens() {
    // Image-to-image, inpainting (4 and 9 channels), SD-Turbo style, guidance rescale and LCM
    // through the C API: init images as packed RGB8 for half the cases and as RGBA8 rows with
    // a padded stride for the other half.
    let exe = compile("txt2img", Lang::C, &["examples/c/txt2img.c"], &[]);
    let inputs = build_dir().join("edit-inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let cases: Vec<(common::ImageCase, Vec<String>)> = common::edit_cases()
        .into_iter()
        .enumerate()
        .map(|(k, c)| {
            let mut extra = Vec::new();
            if let Some(p) = &c.init_image {
                let ppm = inputs.join(p.file_name().unwrap()).with_extension("ppm");
                common::write_pnm(p, &ppm, false);
                extra.extend(["--init-image".into(), ppm.display().to_string()]);
                extra.extend(["--strength".into(), c.strength.to_string()]);
                extra.extend(["--rgba".into(), (k % 2).to_string()]);
            }
            if let Some(p) = &c.mask {
                let pgm = inputs.join(p.file_name().unwrap()).with_extension("pgm");
                common::write_pnm(p, &pgm, true);
                extra.extend(["--mask".into(), pgm.display().to_string()]);
            }
            if c.guidance_rescale != 0.0 {
                extra.extend(["--guidance-rescale".into(), c.guidance_rescale.to_string()]);
            }
            if let Some(t) = &c.timestep_spacing {
                extra.extend(["--timestep-spacing".into(), t.clone()]);
            }
            (c.base, extra)
        })
        .collect();
    let expected: usize = cases.iter().map(|(c, _)| c.files.len()).sum();
    assert_eq!(check_goldens_with(&exe, "edit", &cases, &[]), expected);
}

#[test]
fn cpp_wrapper_example_matches_goldens() {
    let exe = compile("txt2img_cpp", Lang::Cxx, &["examples/cpp/txt2img.cpp"], &[]);
    let cases: Vec<_> = common::image_cases()
        .into_iter()
        .filter(|c| ["negative_count3", "wide"].contains(&c.name.as_str()))
        .collect();
    assert_eq!(cases.len(), 2);
    assert_eq!(check_goldens(&exe, "txt2img_cpp", &cases, &[]), 4);
}

/// The README's lines for building a C program against the cargo output ("The C API in ten
/// lines"), run as written but in the test's profile: `cargo build` (which cdylib() runs),
/// `cc ... -Ltarget/<profile> -lsdrt -Wl,-rpath,...`, then the program with no
/// `LD_LIBRARY_PATH`. The program records the soname and loads libsdrt by it, so this fails
/// when the build leaves no `libsdrt.so.0` beside `libsdrt.so`.
#[test]
fn the_readme_c_route_builds_and_runs_against_the_cargo_output() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("examples/c/txt2img.c") && b.contains("-Ltarget/release"))
        .expect("README: the sh block that builds examples/c/txt2img.c against target/release");
    // Shell lines, with backslash continuations joined.
    let lines: Vec<String> = block
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(lines[0], "cargo build --release", "{block}");
    assert_eq!(lines.len(), 3, "build, compile, run:\n{block}");
    let lib = cdylib();
    let lib_dir = lib.parent().unwrap().display().to_string();
    let dir = build_dir().join("readme");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("txt2img");
    let ort = common::ort_library().display().to_string();
    let prefix = dir.join("out");
    let in_profile = |line: &str| {
        line.replace("\"$PWD/target/release\"", &format!("'{lib_dir}'"))
            .replace("target/release", &lib_dir)
            .replace("-o txt2img", &format!("-o '{}'", exe.display()))
            .replace("./txt2img", &format!("'{}'", exe.display()))
            .replace(".ort/libonnxruntime.so", &format!("'{ort}'"))
            .replace(" out ", &format!(" '{}' ", prefix.display()))
    };
    for line in &lines[1..] {
        let line = in_profile(line);
        let mut cmd = Command::new("sh");
        cmd.current_dir(common::root())
            .arg("-c")
            .arg(&line)
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("DYLD_LIBRARY_PATH")
            .env_remove("SDRT_ORT_LIBRARY")
            .env_remove("ORT_DYLIB_PATH")
            .stdin(Stdio::null());
        assert_success(&line, &run(cmd));
    }
    if std::env::consts::OS == "linux" {
        let out = Command::new("readelf")
            .arg("-d")
            .arg(&exe)
            .output()
            .expect("run readelf");
        let soname = common::cbuild::soname().unwrap();
        let dynamic = String::from_utf8_lossy(&out.stdout);
        assert!(
            dynamic.contains(&format!("Shared library: [{soname}]")),
            "the program does not load libsdrt by its soname:\n{dynamic}"
        );
    }
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "basic")
        .unwrap();
    let (w, h, got) = read_ppm(&dir.join("out-0.ppm"));
    let (gw, gh, want) = common::read_png(&case.files[0]);
    assert_eq!((w, h), (gw, gh));
    common::assert_close("README's txt2img (the basic golden)", &got, &want);
}

// ---------------------------------------------------------------------------------------------
// e) Error paths from C

fn api_errors(extra: &[&str], tag: &str) -> PathBuf {
    compile(tag, Lang::C, &["tests/c/api_errors.c"], extra)
}

fn suite_args() -> Vec<String> {
    vec![
        common::fixture().display().to_string(),
        common::ort_library().display().to_string(),
    ]
}

fn assert_suite_passed(what: &str, out: &Output) {
    assert_success(what, out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(" checks, 0 failed"),
        "{what}:\n{}",
        text(out)
    );
}

#[test]
fn c_error_paths() {
    let exe = api_errors(&[], "api_errors");
    let mut cmd = program(&exe);
    cmd.args(suite_args());
    let out = run(cmd);
    assert_suite_passed("api_errors", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The log callback saw both fallback warnings.
    assert!(stdout.contains("2 fallback warnings"), "{}", text(&out));
}

/// Paths that must not exist, for the runtime-unavailable run.
const NOWHERE: &str = "/nonexistent/sdrt-test";

fn runtime_unavailable(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.current_dir(common::root())
        .arg("--runtime-unavailable")
        .arg(format!("{NOWHERE}/options/libonnxruntime.so"))
        .arg(common::fixture())
        .env(
            "SDRT_ORT_LIBRARY",
            format!("{NOWHERE}/env-sdrt/libonnxruntime.so"),
        )
        .env(
            "ORT_DYLIB_PATH",
            format!("{NOWHERE}/env-ort/libonnxruntime.so"),
        )
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("DYLD_LIBRARY_PATH")
        .stdin(Stdio::null());
    cmd
}

fn check_runtime_unavailable_output(out: &Output) {
    assert_suite_passed("api_errors --runtime-unavailable", out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let messages: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("MESSAGE "))
        .collect();
    let [explicit, search] = messages[..] else {
        panic!("the program prints two messages:\n{stdout}");
    };
    // The explicit path is binding: its failure names it, and nothing else was tried.
    let options = format!("{NOWHERE}/options/libonnxruntime.so");
    assert!(explicit.contains(&options), "lacks {options:?}: {explicit}");
    assert!(
        explicit.contains("nothing else is tried") && !explicit.contains("env-"),
        "an explicit path fell through to the search: {explicit}"
    );
    // Without one (sdrt_pipeline_create's default initialization), the search lists all.
    for tried in [
        format!("{NOWHERE}/env-sdrt/libonnxruntime.so ($SDRT_ORT_LIBRARY)"),
        format!("{NOWHERE}/env-ort/libonnxruntime.so ($ORT_DYLIB_PATH)"),
        "(system library search)".to_string(),
    ] {
        assert!(search.contains(&tried), "message lacks {tried:?}: {search}");
    }
}

#[test]
fn c_runtime_unavailable_in_a_fresh_process() {
    // Preconditions: nothing named libonnxruntime next to libsdrt, none on the system path.
    let lib_dir = cdylib().parent().unwrap();
    let next_to_lib: Vec<_> = std::fs::read_dir(lib_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("onnxruntime"))
        .collect();
    assert!(
        next_to_lib.is_empty(),
        "{} holds {next_to_lib:?}: the search would find it",
        lib_dir.display()
    );
    if let Ok(out) = Command::new("ldconfig").arg("-p").output() {
        if String::from_utf8_lossy(&out.stdout).contains("libonnxruntime") {
            eprintln!("skipped: ONNX Runtime is installed system-wide (ldconfig -p)");
            return;
        }
    }
    let exe = api_errors(&[], "api_errors_unavailable");
    let out = run(runtime_unavailable(&exe));
    check_runtime_unavailable_output(&out);
}

// ---------------------------------------------------------------------------------------------
// f) Under AddressSanitizer and valgrind

/// gcc's AddressSanitizer (leaks included) on the error suite, the runtime-unavailable process
/// and golden generations of the C example. `SDRT_TEST_SANITIZERS=0` skips, as it skips the
/// clang rows.
#[test]
#[cfg(target_os = "linux")]
fn c_programs_under_address_sanitizer() {
    if common::skipped("SDRT_TEST_SANITIZERS") {
        return;
    }
    let asan_options = "detect_leaks=1:halt_on_error=1:abort_on_error=0";
    let env = [("ASAN_OPTIONS", asan_options)];
    let errors = api_errors(ASAN_FLAGS, "api_errors_asan");
    let mut cmd = program(&errors);
    cmd.args(suite_args()).envs(env);
    let out = run(cmd);
    assert_suite_passed("api_errors under ASan", &out);

    let mut cmd = runtime_unavailable(&errors);
    cmd.envs(env);
    let out = run(cmd);
    check_runtime_unavailable_output(&out);

    let txt2img = compile(
        "txt2img_asan",
        Lang::C,
        &["examples/c/txt2img.c"],
        ASAN_FLAGS,
    );
    let cases: Vec<_> = common::image_cases()
        .into_iter()
        .filter(|c| ["negative_count3", "tall"].contains(&c.name.as_str()))
        .collect();
    assert_eq!(check_goldens(&txt2img, "txt2img_asan", &cases, &env), 4);
}

/// clang's AddressSanitizer and UndefinedBehaviorSanitizer together (UB is fatal), on the
/// error suite, the runtime-unavailable process and golden generations (text-to-image and
/// an RGBA inpainting case) of the C example. Needs clang (Debian's `clang` package;
/// tools/test.sh installs it when it can); `SDRT_TEST_SANITIZERS=0` skips.
#[test]
#[cfg(target_os = "linux")]
fn c_programs_under_clang_asan_and_ubsan() {
    if common::skipped("SDRT_TEST_SANITIZERS") {
        return;
    }
    let have_clang = Command::new("clang")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        have_clang,
        "clang is not installed (apt-get install clang), or set SDRT_TEST_SANITIZERS=0"
    );
    let flags = [
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=undefined",
        "-fno-omit-frame-pointer",
        "-g",
    ];
    let env = [
        (
            "ASAN_OPTIONS",
            "detect_leaks=1:halt_on_error=1:abort_on_error=0",
        ),
        ("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
    ];
    let errors = compile_with(
        "clang",
        "api_errors_clang_san",
        Lang::C,
        &["tests/c/api_errors.c"],
        &flags,
    );
    let mut cmd = program(&errors);
    cmd.args(suite_args()).envs(env);
    let out = run(cmd);
    assert_suite_passed("api_errors under clang ASan + UBSan", &out);
    let mut cmd = runtime_unavailable(&errors);
    cmd.envs(env);
    check_runtime_unavailable_output(&run(cmd));

    let txt2img = compile_with(
        "clang",
        "txt2img_clang_san",
        Lang::C,
        &["examples/c/txt2img.c"],
        &flags,
    );
    let cases: Vec<_> = common::image_cases()
        .into_iter()
        .filter(|c| ["negative_count3", "tall"].contains(&c.name.as_str()))
        .collect();
    assert_eq!(
        check_goldens(&txt2img, "txt2img_clang_san", &cases, &env),
        4
    );
    let inputs = build_dir().join("edit-inputs-san");
    std::fs::create_dir_all(&inputs).unwrap();
    let case = common::edit_cases()
        .into_iter()
        .find(|c| c.base.name == "inp9_default_wide_6_s0.75")
        .unwrap();
    let (init, mask) = (inputs.join("init.ppm"), inputs.join("mask.pgm"));
    common::write_pnm(case.init_image.as_ref().unwrap(), &init, false);
    common::write_pnm(case.mask.as_ref().unwrap(), &mask, true);
    let extra: Vec<String> = [
        "--init-image",
        init.to_str().unwrap(),
        "--mask",
        mask.to_str().unwrap(),
        "--strength",
        "0.75",
        "--rgba",
        "1",
        "--preview",
        "latent_rgb",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        check_goldens_with(&txt2img, "edit_clang_san", &[(case.base, extra)], &env),
        1
    );
}

/// Suppressions for reports from outside sdrt (ONNX Runtime's self-overlapping memcpy while
/// creating its environment, glibc's loader reading whole words in strncmp), committed in
/// tests/valgrind.supp.
fn valgrind_suppressions() -> PathBuf {
    common::root().join("tests/valgrind.supp")
}

/// valgrind memcheck runs the error suite with one model load and a few generations (about
/// 90 s on 2 cores; loading the model alone takes 30-40 s under valgrind): one whole
/// create / generate / free cycle. `SDRT_TEST_VALGRIND=no-model` stops before the first model
/// load (about 10 s); `SDRT_TEST_VALGRIND=0` skips valgrind. Without valgrind the test fails
/// (tools/test.sh installs it) instead of passing in silence.
#[test]
#[cfg(target_os = "linux")]
fn c_api_under_valgrind() {
    let mode = std::env::var("SDRT_TEST_VALGRIND").unwrap_or_default();
    if common::skipped("SDRT_TEST_VALGRIND") {
        return;
    }
    let suite = match mode.as_str() {
        "no-model" => "--no-model",
        _ => "--quick",
    };
    common::require_tool("valgrind", "valgrind", "SDRT_TEST_VALGRIND");
    let exe = api_errors(&["-g"], "api_errors_valgrind");
    let supp = valgrind_suppressions();
    let valgrind_args = [
        "-q".to_string(),
        "--error-exitcode=99".to_string(),
        "--leak-check=full".to_string(),
        "--errors-for-leak-kinds=definite".to_string(),
        "--show-possibly-lost=no".to_string(),
        format!("--suppressions={}", supp.display()),
    ];
    let mut cmd = program(Path::new("valgrind"));
    cmd.args(&valgrind_args)
        .arg(&exe)
        .arg(suite)
        .args(suite_args());
    let out = run(cmd);
    assert_suite_passed(&format!("api_errors {suite} under valgrind"), &out);

    let mut cmd = runtime_unavailable(&exe);
    let args: Vec<_> = cmd.get_args().map(|a| a.to_os_string()).collect();
    let envs: BTreeMap<_, _> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_os_string(), v.map(|v| v.to_os_string())))
        .collect();
    cmd = Command::new("valgrind");
    cmd.current_dir(common::root())
        .args(&valgrind_args)
        .arg(&exe)
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in envs {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = run(cmd);
    check_runtime_unavailable_output(&out);
}
