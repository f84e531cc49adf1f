//! The safety checker of SD 1.x exports: CLIP image preprocessing bit for bit against
//! transformers' CLIPImageProcessor (PIL bicubic resize, center crop, rescale, normalize),
//! and whole generations against optimum's pipeline with diffusers' checker.

mod common;

use sdrt::{GenerateParams, Pipeline, PipelineOptions};

fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn fixture() -> std::path::PathBuf {
    common::root().join("tests/fixtures/tiny-sd1-safety")
}

#[test]
fn clip_preprocessing_is_bit_exact() {
    let g = common::read_json(&common::goldens().join("clip_preprocess.json"));
    let pre = sdrt::pipeline::ClipPreprocess::from_json(&common::read_json(
        &fixture().join("feature_extractor/preprocessor_config.json"),
    ))
    .unwrap();
    // The rescale + normalize table of every byte value, per channel.
    for (c, lut) in g["lut_bits"].as_array().unwrap().iter().enumerate() {
        for (v, bits) in lut.as_array().unwrap().iter().enumerate() {
            let x = (v as f64 * pre.rescale) as f32;
            let got = (x - pre.mean[c]) / pre.std[c];
            assert_eq!(
                got.to_bits() as u64,
                bits.as_u64().unwrap(),
                "channel {c} value {v}"
            );
        }
    }
    let entries = g["entries"].as_array().unwrap();
    assert!(entries.len() >= 12);
    for e in entries {
        let input = common::goldens().join(e["input"].as_str().unwrap());
        let (w, h, rgb) = common::read_png(&input);
        assert_eq!(
            (w as u64, h as u64),
            (e["width"].as_u64().unwrap(), e["height"].as_u64().unwrap())
        );
        let (rw, rh) = pre.resized_size(w, h);
        let name = input.display().to_string();
        assert_eq!(rw as u64, e["resized_width"].as_u64().unwrap(), "{name}");
        assert_eq!(rh as u64, e["resized_height"].as_u64().unwrap(), "{name}");
        let resized = sdrt::pipeline::pil_resize_bicubic(&rgb, (w, h), (rw, rh));
        let (left, top) = (
            e["crop_left"].as_u64().unwrap() as usize,
            e["crop_top"].as_u64().unwrap() as usize,
        );
        assert_eq!((left, top), ((rw - 224) / 2, (rh - 224) / 2));
        let mut crop = Vec::with_capacity(224 * 224 * 3);
        for y in 0..224 {
            crop.extend_from_slice(&resized[((top + y) * rw + left) * 3..][..224 * 3]);
        }
        if let Some(f) = e["crop_file"].as_str() {
            let (_, _, want) = common::read_png(&common::goldens().join(f));
            assert_eq!(crop, want, "{name}: PIL bicubic resize + crop");
        }
        assert_eq!(
            fnv1a64(&crop),
            e["crop_fnv1a64"].as_str().unwrap(),
            "{name}: crop"
        );
        let pv = pre.pixel_values(&rgb, w, h);
        let bytes: Vec<u8> = pv.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(
            fnv1a64(&bytes),
            e["pixel_values_fnv1a64"].as_str().unwrap(),
            "{name}: pixel_values"
        );
    }
}

fn cases() -> Vec<(common::ImageCase, Vec<bool>, Vec<std::path::PathBuf>)> {
    let v = common::read_json(&common::goldens().join("safety.json"));
    let base: Vec<common::ImageCase> = common::image_cases_from(&v);
    v.as_array()
        .unwrap()
        .iter()
        .zip(base)
        .map(|(c, case)| {
            let nsfw = c["nsfw"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_bool().unwrap())
                .collect();
            let unchecked = c["files_unchecked"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| common::goldens().join(f.as_str().unwrap()))
                .collect();
            (case, nsfw, unchecked)
        })
        .collect()
}

fn params(c: &common::ImageCase) -> GenerateParams {
    common::image_params(c)
}

#[test]
fn flags_and_blacks_out_as_diffusers() {
    common::init_runtime();
    let p = Pipeline::load(&fixture(), &PipelineOptions::default()).unwrap();
    assert!(p.info().safety_checker);
    let off = Pipeline::load(
        &fixture(),
        &PipelineOptions {
            disable_safety_checker: true,
            ..PipelineOptions::default()
        },
    )
    .unwrap();
    assert!(!off.info().safety_checker);
    let (mut flagged, mut kept) = (0, 0);
    for (case, nsfw, unchecked) in cases() {
        let got = p.generate(&params(&case), None).unwrap();
        assert_eq!(got.flagged, nsfw, "{}", case.name);
        for (i, file) in case.files.iter().enumerate() {
            let (_, _, want) = common::read_png(file);
            common::assert_close(&format!("{} #{i}", case.name), &got.images[i], &want);
            if nsfw[i] {
                assert!(
                    got.images[i].iter().all(|&v| v == 0),
                    "{}: blacked out",
                    case.name
                );
                flagged += 1;
            } else {
                kept += 1;
            }
        }
        let raw = off.generate(&params(&case), None).unwrap();
        assert!(raw.flagged.is_empty());
        for (i, file) in unchecked.iter().enumerate() {
            let (_, _, want) = common::read_png(file);
            common::assert_close(
                &format!("{} unchecked #{i}", case.name),
                &raw.images[i],
                &want,
            );
        }
    }
    assert!(flagged >= 3 && kept >= 3, "{flagged} flagged, {kept} kept");
}

#[test]
fn models_without_a_checker_report_none() {
    common::init_runtime();
    let p = Pipeline::load(&common::fixture(), &PipelineOptions::default()).unwrap();
    assert!(!p.info().safety_checker);
    let got = p
        .generate(
            &GenerateParams {
                steps: 2,
                ..GenerateParams::default()
            },
            None,
        )
        .unwrap();
    assert!(got.flagged.is_empty());
}
