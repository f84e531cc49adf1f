//! SDXL through the C API alone: `examples/c/txt2img.c` reproduces every SDXL golden image
//! (`tests/goldens/sdxl.json`) at the project's image tolerance, setting the SDXL fields of
//! `sdrt_generate_params` (prompt_2, negative_prompt_2, the micro-conditioning sizes and
//! crops, the aesthetic scores, init image and mask), and the base-to-refiner hand-off as
//! `--refiner`: the base with `denoising_end` and `output_latents`, `sdrt_images_latents`,
//! then the refiner with those latents and `denoising_start`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::cbuild::{assert_success, build_dir, compile, program, text, Lang};
use common::read_ppm;
use serde_json::Value;

/// The SDXL arguments of a case: diffusers' `(height, width)` sizes as `WxH`, its
/// `(top, left)` crops as `X,Y`.
fn sdxl_args(c: &Value, inputs: &Path) -> Vec<String> {
    let mut a = Vec::new();
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            a.extend([flag.to_string(), v]);
        }
    };
    let hw = |k: &str| {
        c[k].as_array()
            .map(|v| (v[0].as_u64().unwrap(), v[1].as_u64().unwrap()))
    };
    let size = |k: &str| hw(k).map(|(h, w)| format!("{w}x{h}"));
    let crop = |k: &str| hw(k).map(|(top, left)| format!("{left},{top}"));
    let s = |k: &str| c[k].as_str().map(str::to_string);
    let f = |k: &str| c[k].as_f64().map(|x| x.to_string());
    opt("--prompt-2", s("prompt_2"));
    opt("--negative-prompt-2", s("negative_prompt_2"));
    opt("--original-size", size("original_size"));
    opt("--crop", crop("crops_coords_top_left"));
    opt("--target-size", size("target_size"));
    opt("--negative-original-size", size("negative_original_size"));
    opt("--negative-crop", crop("negative_crops_coords_top_left"));
    opt("--negative-target-size", size("negative_target_size"));
    opt("--aesthetic-score", f("aesthetic_score"));
    opt("--negative-aesthetic-score", f("negative_aesthetic_score"));
    opt("--strength", f("strength"));
    opt("--eta", f("eta").filter(|e| e != "0"));
    opt(
        "--timestep-spacing",
        c["scheduler_overrides"]["timestep_spacing"]
            .as_str()
            .map(str::to_string),
    );
    for (key, flag, gray, ext) in [
        ("init_image", "--init-image", false, "ppm"),
        ("mask", "--mask", true, "pgm"),
    ] {
        if let Some(png) = c[key].as_str() {
            let png = common::goldens().join(png);
            let pnm = inputs.join(png.file_name().unwrap()).with_extension(ext);
            common::write_pnm(&png, &pnm, gray);
            opt(flag, Some(pnm.display().to_string()));
        }
    }
    a
}

#[test]
fn c_example_reproduces_every_sdxl_golden_with_the_refiner_hand_off() {
    let exe = compile("txt2img", Lang::C, &["examples/c/txt2img.c"], &[]);
    let doc = common::read_json(&common::goldens().join("sdxl.json"));
    let all = doc.as_array().unwrap();
    let out_dir = build_dir().join("out-sdxl");
    let inputs = out_dir.join("inputs");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&inputs).unwrap();

    // (name, arguments, golden files) per image-producing row.
    let mut runs: Vec<(String, Vec<String>, Vec<PathBuf>)> = Vec::new();
    let mut handoffs = 0;
    for c in all {
        if c["output_type"].as_str() == Some("latent") {
            continue; // The hand-off's first half: its refiner row runs both.
        }
        let name = c["name"].as_str().unwrap().to_string();
        let prefix = out_dir.join(&name);
        let this = common::image_cases_from(&Value::Array(vec![c.clone()])).remove(0);
        let mut args;
        if let Some(from) = c["image_latents_from"].as_str() {
            // The base row's request on the base model, then this row's refiner from its
            // latents. Euler draws nothing in the refiner's steps: its seed does not matter.
            let base = all.iter().find(|b| b["name"] == from).unwrap();
            let mut b = base.clone();
            b["files"] = c["files"].clone();
            let base_case = common::image_cases_from(&Value::Array(vec![b])).remove(0);
            args = common::c_example_args(&base_case, &prefix);
            args.extend(sdxl_args(base, &inputs));
            args.extend([
                "--refiner".into(),
                this.model.display().to_string(),
                "--denoising-end".into(),
                base["denoising_end"].as_f64().unwrap().to_string(),
            ]);
            handoffs += 1;
        } else {
            args = common::c_example_args(&this, &prefix);
            args.extend(sdxl_args(c, &inputs));
        }
        runs.push((name, args, this.files));
    }
    assert!(handoffs >= 1, "no hand-off row in sdxl.json");

    // Three processes at a time: loading the models is most of each run.
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut queue = runs.iter();
    let mut running = std::collections::VecDeque::new();
    loop {
        while running.len() < 3 {
            let Some((name, args, files)) = queue.next() else {
                break;
            };
            let mut cmd = program(&exe);
            cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
            let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            running.push_back((name, files, child));
        }
        let Some((name, files, child)) = running.pop_front() else {
            break;
        };
        let out = child.wait_with_output().unwrap();
        assert_success(&format!("txt2img {name}"), &out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if name.starts_with("handoff_refiner") {
            // The base's latents went through sdrt_images_latents to the refiner.
            assert!(
                stderr.contains("base: latents 1x4x8x8 (sdxl), refining from 0.80"),
                "{name}: no hand-off line\n{}",
                text(&out)
            );
        }
        for (i, golden) in files.iter().enumerate() {
            let prefix = out_dir.join(name);
            let (w, h, got) = read_ppm(&PathBuf::from(format!("{}-{i}.ppm", prefix.display())));
            let (gw, gh, want) = common::read_png(golden);
            assert_eq!((w, h), (gw, gh), "{name} #{i}");
            let (max, mean) = common::diff_stats(&got, &want);
            eprintln!("{name} #{i}: max |diff| {max}, mean |diff| {mean:.4}");
            if !(max <= 2 && mean <= 0.15) {
                failures.push(format!("{name} #{i}: max {max}, mean {mean:.4}"));
            }
            checked += 1;
        }
    }
    let expected: usize = runs.iter().map(|r| r.2.len()).sum();
    assert_eq!(checked, expected);
    assert!(checked >= 25, "only {checked} SDXL images checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
