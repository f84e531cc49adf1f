//! The C++ binding, bindings/cpp/sdrt.hpp, from C++ programs: the header builds in two
//! translation units linked together with g++ and clang++ under strict warnings (and without
//! exceptions); the builders start from the C defaults; the throwing layer reports a missing
//! model; an exception thrown in a callback cancels the run and is rethrown after
//! `sdrt_pipeline_generate` returns; previews, logging and strided image views work; SDXL's
//! fields and the base-to-refiner hand-off reproduce the SDXL goldens; LoRAs chosen per call
//! (`Pipeline::load_lora`, `Params::lora`) reproduce the LoRA goldens, with their refusals and
//! lifetimes; and the SDL2 texture tool (examples/cpp/sdl_texture_tool) runs headless and puts the generated
//! image on screen pixel for pixel.
//!
//! Needs g++ (clang++ is used when installed). The SDL test needs cmake and SDL2's
//! development files (`apt-get install cmake libsdl2-dev`; tools/test.sh installs them when
//! root); `SDRT_TEST_SDL=0` skips it instead.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::cbuild::{assert_success, build_dir, compile_with, program, run, text, Lang};
use common::read_ppm;

/// Warnings a game engine's build may turn on, on top of cbuild's -Wall -Wextra -Werror
/// -pedantic -Wundef.
const STRICT: &[&str] = &[
    "-Wshadow",
    "-Wconversion",
    "-Wsign-conversion",
    "-Wnon-virtual-dtor",
];

const BINDINGS: &[&str] = &[
    "tests/cpp/bindings_a.cpp",
    "tests/cpp/bindings_b.cpp",
    "tests/cpp/bindings_sdxl.cpp",
    "tests/cpp/bindings_lora.cpp",
];

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The test program built by `compiler`, once per test binary.
fn bindings(compiler: &'static str) -> &'static Path {
    static GXX: OnceLock<PathBuf> = OnceLock::new();
    static CLANGXX: OnceLock<PathBuf> = OnceLock::new();
    let cell = if compiler == "g++" { &GXX } else { &CLANGXX };
    cell.get_or_init(|| {
        assert!(
            have(compiler),
            "{compiler} not found: install it (Debian: apt-get install {}) to test the C++ binding",
            if compiler == "g++" { "g++" } else { "clang" }
        );
        let name = format!("cpp_bindings_{}", compiler.replace('+', "x"));
        compile_with(compiler, &name, Lang::Cxx, BINDINGS, STRICT)
    })
}

/// g++ always (a missing g++ fails the test), clang++ when installed.
fn compilers() -> Vec<&'static str> {
    let mut out = vec!["g++"];
    if have("clang++") {
        out.push("clang++");
    } else {
        eprintln!("clang++ not installed: the C++ binding is checked with g++ only");
    }
    out
}

fn run_bindings(compiler: &'static str, args: &[&str]) -> Output {
    let mut cmd = program(bindings(compiler));
    cmd.args(args);
    let out = run(cmd);
    assert_success(&format!("{compiler} bindings {}", args.join(" ")), &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().last() == Some("PASS") && !stdout.contains("FAIL"),
        "{compiler} bindings {}:\n{}",
        args.join(" "),
        text(&out)
    );
    out
}

/// `who name value` lines of the `defaults` subcommand, for one `who`.
fn fields(stdout: &str, who: &str) -> BTreeMap<String, f64> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            (parts.next() == Some(who)).then(|| {
                let name = parts.next().unwrap().to_string();
                (name, parts.next().unwrap().parse().unwrap())
            })
        })
        .collect()
}

#[test]
fn two_translation_units_build_and_the_builders_start_from_the_c_defaults() {
    let c = sdrt::ffi::params::sdrt_generate_params::default();
    let want: BTreeMap<String, f64> = [
        ("width", c.width as f64),
        ("height", c.height as f64),
        ("steps", c.steps as f64),
        ("guidance", c.guidance as f64),
        ("scheduler", c.scheduler as f64),
        ("seed", c.seed as f64),
        ("generator", c.generator as f64),
        ("count", c.count as f64),
        ("eta", c.eta as f64),
        ("prediction_type", c.prediction_type as f64),
        ("timestep_spacing", c.timestep_spacing as f64),
        ("strength", c.strength as f64),
        ("guidance_rescale", c.guidance_rescale as f64),
        ("preview_kind", c.preview_kind as f64),
        ("preview_every", c.preview_every as f64),
        ("memory_limit", c.memory_limit as f64),
        ("aesthetic_score", c.aesthetic_score as f64),
        (
            "negative_aesthetic_score",
            c.negative_aesthetic_score as f64,
        ),
        ("denoising_start", c.denoising_start as f64),
        ("denoising_end", c.denoising_end as f64),
        ("output_latents", c.output_latents as f64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The documented defaults, so that a zeroed struct could not pass.
    assert_eq!(
        (want["steps"], want["guidance"], want["count"]),
        (50.0, 7.5, 1.0)
    );
    assert_eq!(want["strength"] as f32, 0.8);
    let o = sdrt::ffi::pipeline::sdrt_pipeline_options::default();
    let want_options: BTreeMap<String, f64> = [
        ("provider", o.provider as f64),
        ("strict_provider", o.strict_provider as f64),
        ("cuda_device_id", o.cuda_device_id as f64),
        ("intra_op_threads", o.intra_op_threads as f64),
        ("log_level", o.log_level as f64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for compiler in compilers() {
        let out = run_bindings(compiler, &["defaults"]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        // f32 fields print through double: compare at f32 precision.
        let round = |m: BTreeMap<String, f64>| -> BTreeMap<String, f32> {
            m.into_iter().map(|(k, v)| (k, v as f32)).collect()
        };
        assert_eq!(
            round(fields(&stdout, "params")),
            round(want.clone()),
            "{compiler}: sdrt::Params defaults"
        );
        assert_eq!(
            round(fields(&stdout, "c")),
            round(
                want.clone()
                    .into_iter()
                    .chain(want_options.clone())
                    .collect()
            ),
            "{compiler}: sdrt_*_init through the header's macros"
        );
        assert_eq!(
            round(fields(&stdout, "options")),
            round(want_options.clone()),
            "{compiler}: sdrt::PipelineOptions defaults"
        );
    }
}

#[test]
fn the_throwing_layer_reports_a_missing_model() {
    let missing = "/nonexistent/sdrt-cpp-model";
    for compiler in compilers() {
        let out = run_bindings(compiler, &["bad-model", missing]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let want = format!("thrown SDRT_ERROR_MODEL_NOT_FOUND (4): model folder {missing}");
        assert!(
            stdout.contains(&want),
            "{compiler}: no '{want}' in\n{stdout}"
        );
        // what() is the status and the message (describe()), also as a std::exception.
        assert!(
            stdout.contains(&format!(
                "as std::exception: SDRT_ERROR_MODEL_NOT_FOUND: model folder {missing}"
            )),
            "{compiler}: sdrt::Error's what() as std::exception\n{stdout}"
        );
        // Without a message from the library, what() is the status's name, never "".
        for want in [
            "no message: what() 'SDRT_ERROR_CANCELLED'",
            "default: what() 'SDRT_ERROR_INTERNAL'",
        ] {
            assert!(
                stdout.contains(want),
                "{compiler}: no '{want}' in\n{stdout}"
            );
        }
        assert!(
            stdout.contains("result SDRT_ERROR_MODEL_NOT_FOUND"),
            "{stdout}"
        );
    }
}

#[test]
fn the_plugin_provider_options_reach_the_library() {
    let model = common::fixture();
    for compiler in compilers() {
        let out = run_bindings(compiler, &["plugin", model.to_str().unwrap()]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.contains("strict SDRT_ERROR_PROVIDER_UNAVAILABLE"),
            "{compiler}: {stdout}"
        );
    }
}

#[test]
fn callback_exceptions_cancel_the_run_and_are_rethrown() {
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "basic")
        .unwrap();
    // bindings_b.cpp generates the "basic" golden case with these parameters.
    assert_eq!(
        (case.steps, case.seed, case.width, case.height, case.count),
        (10, 42, 64, 64, 1)
    );
    assert_eq!(
        case.prompt,
        "a photo of an astronaut riding a horse on mars"
    );
    for compiler in compilers() {
        let dir = build_dir().join(format!("cpp-callbacks-{}", compiler.replace('+', "x")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fixture = common::fixture();
        let out = run_bindings(
            compiler,
            &[
                "callbacks",
                fixture.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        for want in [
            // Thrown at step 3 of 6: three progress and three step calls, then nothing; sdrt
            // returned SDRT_ERROR_CANCELLED (its message) and the exception came back.
            "step throw: rethrown 'boom at step 3' after 3 progress and 3 step calls; \
             sdrt said: generation was cancelled",
            "progress throw: rethrown Custom{42}, 1 step calls",
            "raw throw: rethrown 'raw'",
            "false: SDRT_ERROR_CANCELLED after 2 calls",
            "bad width: SDRT_ERROR_INVALID_ARGUMENT",
            // PNDM: steps + 1 evaluations, a latent preview (1/8 size) after each.
            "golden: 64x64, 11 previews of 8x8 in 11 evaluations",
            "inpaint: packed and padded views agree",
            "throwing log callback: contained",
        ] {
            assert!(
                stdout.contains(want),
                "{compiler}: no '{want}' in\n{stdout}"
            );
        }
        let logged: usize = stdout
            .lines()
            .find_map(|l| l.strip_prefix("log messages "))
            .and_then(|l| l.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(logged > 0, "{compiler}: the log callback saw nothing");
        // After all that the pipeline still makes the golden image.
        let (w, h, got) = read_ppm(&dir.join("basic.ppm"));
        let (gw, gh, want) = common::read_png(&case.files[0]);
        assert_eq!((w, h), (gw, gh));
        common::assert_close(&format!("{compiler} basic"), &got, &want);
    }
}

#[test]
fn params_controlnet_reproduces_the_multi_controlnet_golden() {
    let doc = common::read_json(&common::goldens().join("controlnet.json"));
    let case = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sd2_multi")
        .unwrap()
        .clone();
    // bindings_sdxl.cpp's controlnet() makes this case with these parameters.
    assert_eq!((&case["seed"], &case["steps"]), (&3.into(), &6.into()));
    assert_eq!(case["controlnets"][1]["scale"], 0.8);
    let model = common::root().join("tests/fixtures/tiny-sd2-controlnet");
    for compiler in compilers() {
        let dir = build_dir().join(format!("cpp-controlnet-{}", compiler.replace('+', "x")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut ppms = Vec::new();
        for k in 0..2 {
            let png = common::goldens().join(case["controlnets"][k]["image"].as_str().unwrap());
            let ppm = dir.join(format!("control-{k}.ppm"));
            common::write_pnm(&png, &ppm, false);
            ppms.push(ppm.display().to_string());
        }
        run_bindings(
            compiler,
            &[
                "controlnet",
                model.to_str().unwrap(),
                &ppms[0],
                &ppms[1],
                dir.to_str().unwrap(),
            ],
        );
        let (_, _, got) = read_ppm(&dir.join("controlnet.ppm"));
        let (_, _, want) =
            common::read_png(&common::goldens().join(case["files"][0].as_str().unwrap()));
        common::assert_close(&format!("{compiler} sd2_multi"), &got, &want);
    }
}

#[test]
fn sdxl_fields_and_the_refiner_hand_off_reproduce_the_sdxl_goldens() {
    let doc = common::read_json(&common::goldens().join("sdxl.json"));
    let row = |name: &str| {
        doc.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in sdxl.json"))
            .clone()
    };
    // bindings_sdxl.cpp makes these rows with these parameters.
    let base = row("handoff_base_6_end0.8");
    assert_eq!(
        (&base["seed"], &base["steps"], &base["denoising_end"]),
        (&80.into(), &6.into(), &0.8.into())
    );
    assert_eq!(row("handoff_refiner_6_start0.8")["denoising_start"], 0.8);
    let micro = row("base_microcond");
    assert_eq!(
        (&micro["original_size"], &micro["crops_coords_top_left"]),
        (&serde_json::json!([256, 192]), &serde_json::json!([16, 8]))
    );
    assert_eq!(
        row("base_prompt2_negative2")["prompt_2"],
        "a watercolor painting"
    );
    let fixtures = common::root().join("tests/fixtures");
    for compiler in compilers() {
        let dir = build_dir().join(format!("cpp-sdxl-{}", compiler.replace('+', "x")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = run_bindings(
            compiler,
            &[
                "sdxl",
                fixtures.join("tiny-sdxl").to_str().unwrap(),
                fixtures.join("tiny-sdxl-refiner").to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.contains("latents 1x4x8x8 sdxl, 256 floats"),
            "{compiler}\n{stdout}"
        );
        for (file, name) in [
            ("handoff.ppm", "handoff_refiner_6_start0.8"),
            ("microcond.ppm", "base_microcond"),
            ("prompt2.ppm", "base_prompt2_negative2"),
        ] {
            let golden = row(name)["files"][0].as_str().unwrap().to_string();
            let (w, h, got) = read_ppm(&dir.join(file));
            let (gw, gh, want) = common::read_png(&common::goldens().join(golden));
            assert_eq!((w, h), (gw, gh), "{compiler} {name}");
            common::assert_close(&format!("{compiler} {name}"), &got, &want);
        }
    }
}

#[test]
fn loras_chosen_per_call_reproduce_the_lora_goldens() {
    let doc = common::read_json(&common::goldens().join("lora.json"));
    let row = |name: &str| {
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in lora.json"))
            .clone()
    };
    // bindings_lora.cpp makes these rows with these parameters.
    let two = row("sd2_two");
    for name in ["sd2_two", "sd2_none", "sd2_unet_s1"] {
        let r = row(name);
        assert_eq!(
            (
                &r["model"],
                &r["prompt"],
                &r["negative_prompt"],
                &r["seed"],
                &r["steps"],
                &r["guidance"],
                &r["width"],
                &r["generator"],
                &r["scheduler"]
            ),
            (
                &"tiny-sd2".into(),
                &"a snowy mountain village".into(),
                &"blurry".into(),
                &200.into(),
                &5.into(),
                &7.5.into(),
                &64.into(),
                &"numpy".into(),
                &serde_json::Value::Null
            ),
            "{name}"
        );
    }
    assert_eq!(
        two["loras"],
        serde_json::json!([
            {"file": "loras/sd2_unet.safetensors", "scale": 0.7},
            {"file": "loras/sd2_te_unet.safetensors", "scale": 0.6}
        ])
    );
    assert_eq!(
        row("sd2_unet_s1")["loras"],
        serde_json::json!([{"file": "loras/sd2_unet.safetensors", "scale": 1.0}])
    );
    let fixtures = common::root().join("tests/fixtures");
    for compiler in compilers() {
        let dir = build_dir().join(format!("cpp-lora-{}", compiler.replace('+', "x")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = run_bindings(
            compiler,
            &[
                "lora",
                fixtures.join("tiny-sd2").to_str().unwrap(),
                fixtures.join("loras").to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        for want in [
            "bad_rank: thrown SDRT_ERROR_INVALID_ARGUMENT: ",
            "rank mismatch",
            "freed: SDRT_ERROR_INVALID_ARGUMENT",
        ] {
            assert!(
                stdout.contains(want),
                "{compiler}: no '{want}' in\n{stdout}"
            );
        }
        for (file, name) in [
            ("sd2_two.ppm", "sd2_two"),
            ("sd2_none.ppm", "sd2_none"),
            ("sd2_unet_s1.ppm", "sd2_unet_s1"),
            ("again.ppm", "sd2_two"),
        ] {
            let golden = row(name)["files"][0].as_str().unwrap().to_string();
            let (w, h, got) = read_ppm(&dir.join(file));
            let (gw, gh, want) = common::read_png(&common::goldens().join(golden));
            assert_eq!((w, h), (gw, gh), "{compiler} {file}");
            common::assert_close(&format!("{compiler} {file}"), &got, &want);
        }
        // Switched back, the same bytes.
        assert_eq!(
            read_ppm(&dir.join("again.ppm")),
            read_ppm(&dir.join("sd2_two.ppm")),
            "{compiler}: sd2_two after the other calls"
        );
    }
}

#[test]
fn the_header_builds_without_exceptions() {
    let exe = compile_with(
        "g++",
        "cpp_no_exceptions",
        Lang::Cxx,
        &["tests/cpp/no_exceptions.cpp"],
        &[STRICT, &["-fno-exceptions", "-fno-rtti"]].concat(),
    );
    let mut cmd = program(&exe);
    cmd.arg("/nonexistent/sdrt-cpp-model");
    let out = run(cmd);
    assert_success("cpp_no_exceptions", &out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SDRT_ERROR_MODEL_NOT_FOUND\n",
        "{}",
        text(&out)
    );
    // value() on an error, with nothing to throw, says why and aborts.
    let mut cmd = program(&exe);
    cmd.args(["/nonexistent/sdrt-cpp-model", "--value"]);
    let out = run(cmd);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("sdrt: Result::value() on an error: SDRT_ERROR_MODEL_NOT_FOUND"),
        "{}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// The SDL2 texture tool, headless

/// The tool built with its own CMakeLists.txt against the test's libsdrt, or `None` when
/// `SDRT_TEST_SDL=0`.
fn sdl_texture_tool() -> Option<PathBuf> {
    if std::env::var("SDRT_TEST_SDL").as_deref() == Ok("0") {
        eprintln!("SDRT_TEST_SDL=0: the SDL texture tool is not tested");
        return None;
    }
    let missing: Vec<&str> = [("cmake", "cmake"), ("sdl2-config", "libsdl2-dev")]
        .into_iter()
        .filter(|(tool, _)| !have(tool))
        .map(|(_, package)| package)
        .collect();
    assert!(
        missing.is_empty(),
        "the SDL texture tool test needs {}: apt-get install {} (tools/test.sh installs them \
         when run as root), or set SDRT_TEST_SDL=0 to skip it",
        missing.join(" and "),
        missing.join(" ")
    );
    let build = build_dir().join("sdl_texture_tool_build");
    let lib = common::cbuild::cdylib();
    let flags = [&["-Werror"], STRICT].concat().join(" ");
    let mut configure = Command::new("cmake");
    configure
        .current_dir(common::root())
        .args(["-S", "examples/cpp/sdl_texture_tool", "-B"])
        .arg(&build)
        .arg(format!("-DSDRT_LIBRARY={}", lib.display()))
        .arg(format!("-DCMAKE_CXX_FLAGS={flags}"))
        .arg("-DCMAKE_BUILD_TYPE=Debug");
    let out = run(configure);
    assert_success("cmake configure examples/cpp/sdl_texture_tool", &out);
    let mut compile = Command::new("cmake");
    compile.arg("--build").arg(&build);
    let out = run(compile);
    assert_success("cmake --build (sdl_texture_tool)", &out);
    Some(build.join("sdl_texture_tool"))
}

/// Runs the tool headless (SDL's dummy video driver, software renderer) into a fresh folder.
fn run_tool(exe: &Path, tag: &str, args: &[&str]) -> (PathBuf, Output, String) {
    let dir = build_dir().join(format!("sdl-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = program(exe);
    cmd.arg(common::fixture())
        .arg(&dir)
        .args(args)
        .env("SDL_VIDEODRIVER", "dummy");
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("video driver dummy"),
        "{tag}: not on the dummy driver\n{}",
        text(&out)
    );
    (dir, out, stdout)
}

/// The numbers after `key ` on the line that starts with it.
fn numbers(stdout: &str, key: &str) -> Vec<usize> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no '{key}' line in\n{stdout}"))
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect()
}

/// The `w` x `h` RGB8 block of `shot` (`shot_w` wide) at (`x`, `y`).
fn region(shot: &[u8], shot_w: usize, rect: &[usize]) -> Vec<u8> {
    let (x, y, w, h) = (rect[0], rect[1], rect[2], rect[3]);
    (y..y + h)
        .flat_map(|row| shot[(row * shot_w + x) * 3..(row * shot_w + x + w) * 3].to_vec())
        .collect()
}

const BAR_FILL: [u8; 3] = [80, 200, 120];
const BAR_EMPTY: [u8; 3] = [64, 64, 72];

#[test]
fn sdl_texture_tool_shows_the_generated_image_headless() {
    let Some(exe) = sdl_texture_tool() else {
        return;
    };
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "basic")
        .unwrap();

    // 1. A full run of the "basic" golden case (the tool's defaults), latent previews on.
    let (dir, out, stdout) = run_tool(&exe, "ok", &[]);
    assert_success("sdl_texture_tool", &out);
    assert!(stdout.contains("status ok"), "{}", text(&out));
    assert_eq!(numbers(&stdout, "progress"), [11, 11], "PNDM: 10 steps + 1");
    assert_eq!(numbers(&stdout, "previews received"), [11]);
    assert!(numbers(&stdout, "frames while generating")[0] >= 1);
    let window = numbers(&stdout, "window");
    let (sw, sh, shot) = read_ppm(&dir.join("screenshot.ppm"));
    assert_eq!([sw, sh], window[..], "screenshot size");
    // The generated image is the golden one, and the texture on screen is it, pixel for pixel.
    let (w, h, generated) = read_ppm(&dir.join("generated.ppm"));
    let (gw, gh, golden) = common::read_png(&case.files[0]);
    assert_eq!((w, h), (gw, gh));
    common::assert_close("sdl_texture_tool generated.ppm", &generated, &golden);
    let image_rect = numbers(&stdout, "image_rect");
    assert_eq!(image_rect[2..], [w, h]);
    assert!(
        region(&shot, sw, &image_rect) == generated,
        "the texture region of the screenshot differs from generated.ppm"
    );
    // The last preview, scaled up 8x (nearest) by the tool, is on screen exactly too.
    let (pw, ph, preview) = read_ppm(&dir.join("preview.ppm"));
    assert_eq!((pw, ph), (w / 8, h / 8), "latent previews are 1/8 size");
    let preview_rect = numbers(&stdout, "preview_rect");
    let upscaled: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (y * ph / h) * pw + x * pw / w))
        .flat_map(|i| preview[i * 3..i * 3 + 3].to_vec())
        .collect();
    assert!(
        region(&shot, sw, &preview_rect) == upscaled,
        "the preview region of the screenshot differs from preview.ppm scaled up"
    );
    // And the progress bar is full.
    let bar = region(&shot, sw, &numbers(&stdout, "bar_rect"));
    assert!(
        bar.chunks(3).all(|p| p == BAR_FILL),
        "the progress bar is not full"
    );

    // 2. Escape, pressed at step 3 of 200 (an SDL key event through the main loop), cancels.
    let (dir, out, stdout) = run_tool(
        &exe,
        "key",
        &["--steps", "200", "--press-escape-at-step", "3"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("status cancelled (key) at step "))
        .unwrap_or_else(|| panic!("not cancelled by the key\n{}", text(&out)));
    let at: Vec<usize> = line.split(" of ").map(|n| n.parse().unwrap()).collect();
    assert!(
        at[0] >= 3 && at[0] < at[1] && at[1] == 201,
        "cancelled at {at:?}"
    );
    assert!(
        !dir.join("generated.ppm").exists(),
        "a cancelled run wrote an image"
    );
    let (sw, _, shot) = read_ppm(&dir.join("screenshot.ppm"));
    let bar_rect = numbers(&stdout, "bar_rect");
    let bar = region(&shot, sw, &bar_rect);
    assert_eq!(bar[..3], BAR_FILL, "the bar shows progress");
    assert_eq!(
        bar[(bar_rect[2] - 1) * 3..bar_rect[2] * 3],
        BAR_EMPTY,
        "the bar is not full"
    );

    // 3. A timeout cancels a long run (during the load or the steps, whichever it hits).
    let (dir, out, stdout) = run_tool(&exe, "timeout", &["--steps", "900", "--timeout-ms", "300"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout.contains("status cancelled (timeout)"),
        "{}",
        text(&out)
    );
    let progress = numbers(&stdout, "progress");
    assert!(progress[0] < 901, "the run finished: {progress:?}");
    assert!(!dir.join("generated.ppm").exists());
}
