//! LoRA chosen per call against `tests/goldens/lora.json` (`tools/make_lora_goldens.py`:
//! diffusers' `load_lora_weights` + `fuse_lora`, exported by optimum and run by its ORT
//! pipeline): the images through the Rust API, switched between calls on one pipeline, the
//! tolerance's sensitivity to a wrong alpha, a missed layer, a missed text encoder and ignored
//! adapter metadata, and the refusals.

mod common;

use std::path::{Path, PathBuf};

use sdrt::{ErrorKind, GenerateParams, LoraId, LoraWeight, Pipeline, PipelineOptions};

fn goldens() -> serde_json::Value {
    common::read_json(&common::goldens().join("lora.json"))
}

fn fixtures() -> PathBuf {
    common::root().join("tests/fixtures")
}

/// A case's image params and its LoRAs (file, scale).
struct Case {
    image: common::ImageCase,
    loras: Vec<(PathBuf, f32)>,
}

fn cases(list: &str) -> Vec<Case> {
    let g = goldens();
    let images = common::image_cases_from(&g[list]);
    let raw = g[list].as_array().unwrap();
    images
        .into_iter()
        .zip(raw)
        .map(|(image, c)| Case {
            image,
            loras: c["loras"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        fixtures().join(l["file"].as_str().unwrap()),
                        l["scale"].as_f64().unwrap() as f32,
                    )
                })
                .collect(),
        })
        .collect()
}

fn load(model: &Path) -> Pipeline {
    common::init_runtime();
    Pipeline::load(model, &PipelineOptions::default()).unwrap()
}

/// Runs `case` on `p`, loading its LoRAs (reusing those already loaded from the same file).
fn run(p: &Pipeline, loaded: &mut Vec<(PathBuf, LoraId)>, case: &Case) -> Vec<u8> {
    let mut params = common::image_params(&case.image);
    for (file, scale) in &case.loras {
        let id = match loaded.iter().find(|(f, _)| f == file) {
            Some((_, id)) => *id,
            None => {
                let id = p
                    .load_lora(file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                loaded.push((file.clone(), id));
                id
            }
        };
        params.loras.push(LoraWeight { id, scale: *scale });
    }
    let images = p.generate(&params, None).unwrap();
    images.images.into_iter().next().unwrap()
}

fn want(case: &Case) -> Vec<u8> {
    common::read_png(&case.image.files[0]).2
}

#[test]
fn goldens_on_one_pipeline_switched_between_calls() {
    let all = cases("images");
    assert!(all.len() >= 7);
    for model in ["tiny-sd2", "tiny-sdxl"] {
        let mine: Vec<&Case> = all
            .iter()
            .filter(|c| c.image.model.ends_with(model))
            .collect();
        assert!(!mine.is_empty(), "{model}: no cases");
        let p = load(&fixtures().join(model));
        let mut loaded = Vec::new();
        // Every case in order, then in reverse: each call's choice alone decides its image,
        // whatever ran before it.
        for case in mine.iter().chain(mine.iter().rev()) {
            let got = run(&p, &mut loaded, case);
            common::assert_close(&case.image.name, &got, &want(case));
        }
    }
}

#[test]
fn the_tolerance_catches_a_wrong_scale_a_missed_layer_or_encoder_and_ignored_metadata() {
    let right = cases("images");
    let wrong = cases("wrong");
    let raw = goldens()["wrong"].as_array().unwrap().clone();
    assert!(wrong.len() >= 4);
    let p = load(&fixtures().join("tiny-sd2"));
    let mut loaded = Vec::new();
    for (w, r) in wrong.iter().zip(&raw) {
        let of = r["wrong_of"].as_str().unwrap();
        let case = right.iter().find(|c| c.image.name == of).unwrap();
        let got = run(&p, &mut loaded, case);
        common::assert_close(of, &got, &want(case));
        let (max, mean) = common::diff_stats(&got, &want(w));
        assert!(
            max > 2 && mean > 0.15,
            "{}: the wrong image ({}) is within tolerance of sdrt's (max {max}, mean {mean})",
            w.image.name,
            r["how"]
        );
    }
}

fn refused(p: &Pipeline, file: &str) -> sdrt::Error {
    p.load_lora(&fixtures().join("loras").join(file))
        .expect_err(file)
}

#[test]
fn bad_files_are_refused_by_name_and_the_pipeline_keeps_working() {
    let sd2 = load(&fixtures().join("tiny-sd2"));
    let plain = cases("images")
        .into_iter()
        .find(|c| c.image.name == "sd2_none")
        .unwrap();
    let before = run(&sd2, &mut Vec::new(), &plain);
    let rows: [(&str, ErrorKind, &[&str]); 5] = [
        (
            "not_safetensors.safetensors",
            ErrorKind::InvalidArgument,
            &["not_safetensors.safetensors", "not a safetensors file"],
        ),
        // The first key in the file's order (sorted) that matches nothing is named.
        (
            "nothing_matches.safetensors",
            ErrorKind::InvalidArgument,
            &["layers.7.self_attn.q_proj", "matches no linear layer"],
        ),
        (
            "bad_rank.safetensors",
            ErrorKind::InvalidArgument,
            &["rank mismatch", "attn1.to_k"],
        ),
        // An SDXL LoRA on SD 2: its first layer has other dimensions than SD 2's.
        (
            "sdxl.safetensors",
            ErrorKind::InvalidArgument,
            &[
                "sdxl.safetensors",
                "self_attn.k_proj",
                "a LoRA for another model",
            ],
        ),
        (
            "no_such_file.safetensors",
            ErrorKind::ModelNotFound,
            &["no_such_file.safetensors"],
        ),
    ];
    for (file, kind, words) in rows {
        let e = refused(&sd2, file);
        assert_eq!(e.kind(), kind, "{file}: {e}");
        for w in words {
            assert!(e.to_string().contains(w), "{file}: '{e}' does not name {w}");
        }
    }
    assert_eq!(run(&sd2, &mut Vec::new(), &plain), before);
}

#[test]
fn handles_scales_and_freeing() {
    let a = load(&fixtures().join("tiny-sd2"));
    let b = load(&fixtures().join("tiny-sd2"));
    let file = fixtures().join("loras/sd2_unet.safetensors");
    let id_a = a.load_lora(&file).unwrap();
    let id_b = b.load_lora(&file).unwrap();
    assert_ne!(id_a, id_b, "handles are unique to their pipeline");
    let params = |id: LoraId, scale: f32| GenerateParams {
        prompt: "a fox".into(),
        width: 64,
        height: 64,
        steps: 2,
        loras: vec![LoraWeight { id, scale }],
        ..GenerateParams::default()
    };
    // Another pipeline's handle.
    let e = a.generate(&params(id_b, 1.0), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("loras[0]"), "{e}");
    // Non-finite scales.
    for s in [f32::NAN, f32::INFINITY] {
        let e = a.generate(&params(id_a, s), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("loras[0].scale"), "{e}");
    }
    // Scale 0 is the plain image, byte for byte (the branch adds exact zeros).
    let zero = a.generate(&params(id_a, 0.0), None).unwrap();
    let plain = a
        .generate(
            &GenerateParams {
                loras: vec![],
                ..params(id_a, 1.0)
            },
            None,
        )
        .unwrap();
    assert_eq!(zero.images, plain.images);
    // Freed: refused, twice over; the pipeline still generates.
    a.free_lora(id_a).unwrap();
    let e = a.generate(&params(id_a, 1.0), None).unwrap_err();
    assert!(e.to_string().contains("not loaded in this pipeline"), "{e}");
    assert_eq!(
        a.free_lora(id_a).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let again = a.load_lora(&file).unwrap();
    assert_ne!(again, id_a, "a handle is never reused");
    a.generate(&params(again, 1.0), None).unwrap();
}

#[test]
fn low_memory_pipelines_apply_loras_too() {
    common::init_runtime();
    let case = cases("images")
        .into_iter()
        .find(|c| c.image.name == "sd2_te_unet")
        .unwrap();
    let options = PipelineOptions {
        low_memory: true,
        ..PipelineOptions::default()
    };
    let p = Pipeline::load(&case.image.model, &options).unwrap();
    let got = run(&p, &mut Vec::new(), &case);
    common::assert_close(&case.image.name, &got, &want(&case));
}
