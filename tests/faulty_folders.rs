//! Faulty model folders, a table: each row builds a broken copy of tests/fixtures/tiny-sd2 (of
//! symlinks, with the damaged files replaced) and states what `sdrt_pipeline_create` returns:
//! the status, and words the message must contain (the file, and the mismatch). A failing
//! create is fast, writes nothing to `*out`, and keeps nothing: the whole table run again does
//! not grow the process. Rows whose damage only matters to some calls (an optional file, the
//! VAE encoder, an unknown scheduler class) say what those calls return.
//!
//! Synthetic graphs (a UNet with an extra input, wrong ranks, types and sizes) are written by a
//! small ONNX writer below: every output is a `Constant`, so ONNX Runtime loads them.

mod common;

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sdrt::ffi::pipeline::{sdrt_pipeline, sdrt_pipeline_create, sdrt_pipeline_free};
use sdrt::ffi::status::{sdrt_last_error_message, sdrt_status};

// ---------------------------------------------------------------------------------------------
// A minimal ONNX (protobuf) writer.

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn field_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

const FLOAT: u64 = 1;
const INT64: u64 = 7;

/// `name`, element type, dimensions ("4" fixed, anything else symbolic).
type Port = (&'static str, u64, &'static [&'static str]);

fn value_info(port: &Port) -> Vec<u8> {
    let (name, elem, dims) = port;
    let mut shape = Vec::new();
    for d in dims.iter() {
        let mut dim = Vec::new();
        match d.parse::<u64>() {
            Ok(v) => field_varint(&mut dim, 1, v),
            Err(_) => field_bytes(&mut dim, 2, d.as_bytes()),
        }
        field_bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    field_varint(&mut tensor, 1, *elem);
    field_bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    field_bytes(&mut ty, 1, &tensor);
    let mut vi = Vec::new();
    field_bytes(&mut vi, 1, name.as_bytes());
    field_bytes(&mut vi, 2, &ty);
    vi
}

/// A graph with these inputs (unused) and outputs, each output a `Constant` of zeros of its
/// shape (symbolic dimensions become 1 in the constant and stay symbolic in the declaration).
fn onnx_graph(inputs: &[Port], outputs: &[Port]) -> Vec<u8> {
    let mut graph = Vec::new();
    for (name, elem, dims) in outputs {
        let shape: Vec<u64> = dims.iter().map(|d| d.parse().unwrap_or(1)).collect();
        let n: u64 = shape.iter().product();
        let mut t = Vec::new();
        for &d in &shape {
            field_varint(&mut t, 1, d);
        }
        field_varint(&mut t, 2, *elem);
        let size = if *elem == FLOAT { 4 } else { 8 };
        field_bytes(&mut t, 9, &vec![0u8; (n * size) as usize]);
        let mut attr = Vec::new();
        field_bytes(&mut attr, 1, b"value");
        field_bytes(&mut attr, 5, &t);
        field_varint(&mut attr, 20, 4); // AttributeProto.TENSOR
        let mut node = Vec::new();
        field_bytes(&mut node, 2, name.as_bytes());
        field_bytes(&mut node, 4, b"Constant");
        field_bytes(&mut node, 5, &attr);
        field_bytes(&mut graph, 1, &node);
    }
    field_bytes(&mut graph, 2, b"synthetic");
    for p in inputs {
        field_bytes(&mut graph, 11, &value_info(p));
    }
    // Declared outputs keep their symbolic dimensions (the constants fix them to 1).
    for p in outputs {
        field_bytes(&mut graph, 12, &value_info(p));
    }
    let mut opset = Vec::new();
    field_bytes(&mut opset, 1, b"");
    field_varint(&mut opset, 2, 18);
    let mut model = Vec::new();
    field_varint(&mut model, 1, 8);
    field_bytes(&mut model, 8, &opset);
    field_bytes(&mut model, 7, &graph);
    model
}

const SAMPLE: Port = ("sample", FLOAT, &["batch", "4", "height", "width"]);
const TIMESTEP: Port = ("timestep", FLOAT, &[]);
const STATES: Port = ("encoder_hidden_states", FLOAT, &["batch", "sequence", "32"]);
const OUT: Port = ("out_sample", FLOAT, &["batch", "4", "height", "width"]);

fn unet(inputs: &[Port], outputs: &[Port]) -> Vec<u8> {
    onnx_graph(inputs, outputs)
}

// ---------------------------------------------------------------------------------------------
// Broken folders.

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sdrt-faulty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of tiny-sd2 made of symlinks to its files (so files can be replaced one by one).
fn linked_copy(name: &str) -> PathBuf {
    let src = common::fixture();
    let dst = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let from = e.path().canonicalize().unwrap();
        let to = dst.join(e.file_name());
        if from.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(&from).unwrap() {
                let f = f.unwrap();
                std::os::unix::fs::symlink(f.path(), to.join(f.file_name())).unwrap();
            }
        } else {
            std::os::unix::fs::symlink(&from, &to).unwrap();
        }
    }
    dst
}

/// What to do to the copy.
enum Damage {
    Remove(&'static str),
    Write(&'static str, Vec<u8>),
    /// Replace the first file with (a link to) tiny-sd2's second file.
    Link(&'static str, &'static str),
    /// Apply several.
    All(Vec<Damage>),
    /// Edit a JSON file of the fixture.
    Json(&'static str, fn(&mut serde_json::Value)),
    /// Truncate a fixture file to this fraction of its bytes.
    Truncate(&'static str, f64),
}

fn apply(dir: &Path, d: &Damage) {
    let fixture = common::fixture();
    let replace = |rel: &str, bytes: &[u8]| {
        let p = dir.join(rel);
        let _ = std::fs::remove_file(&p);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
    };
    match d {
        Damage::Remove(rel) => {
            let p = dir.join(rel);
            if p.is_dir() && !p.is_symlink() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
        Damage::Write(rel, bytes) => replace(rel, bytes),
        Damage::Link(rel, from) => {
            let p = dir.join(rel);
            let _ = std::fs::remove_file(&p);
            std::os::unix::fs::symlink(fixture.join(from).canonicalize().unwrap(), &p).unwrap();
        }
        Damage::All(list) => list.iter().for_each(|d| apply(dir, d)),
        Damage::Json(rel, edit) => {
            let mut v = common::read_json(&fixture.join(rel));
            edit(&mut v);
            replace(rel, serde_json::to_string_pretty(&v).unwrap().as_bytes());
        }
        Damage::Truncate(rel, frac) => {
            let bytes = std::fs::read(fixture.join(rel)).unwrap();
            let n = (bytes.len() as f64 * frac) as usize;
            replace(rel, &bytes[..n]);
        }
    }
}

fn random_bytes(n: usize, mut state: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// What create must do.
enum Want {
    /// Fail with this status; the message contains every word.
    Fail(sdrt_status, &'static [&'static str]),
    /// Succeed (the damage does not matter to create), then this follow-up holds.
    Loads(fn(&sdrt::Pipeline)),
}

use sdrt_status::{SDRT_ERROR_MODEL_INVALID as INVALID, SDRT_ERROR_MODEL_NOT_FOUND as NOT_FOUND};

/// The intact fixture, loaded once: what a folder missing only an optional file must match.
fn intact() -> &'static sdrt::Pipeline {
    static P: std::sync::OnceLock<sdrt::Pipeline> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        sdrt::Pipeline::load(&common::fixture(), &sdrt::PipelineOptions::default())
            .expect("the fixture loads")
    })
}

fn small_call(width: usize, height: usize) -> sdrt::GenerateParams {
    sdrt::GenerateParams {
        prompt: "a lighthouse".into(),
        width,
        height,
        steps: 2,
        seed: 5,
        ..sdrt::GenerateParams::default()
    }
}

/// What was loaded and a small call's image, against the intact fixture's.
fn assert_generates_like_the_fixture(p: &sdrt::Pipeline, width: usize, height: usize) {
    let (got, want) = (p.info(), intact().info());
    assert_eq!(got.prediction_type, want.prediction_type);
    assert_eq!(got.default_scheduler, want.default_scheduler);
    assert_eq!(got.unet_in_channels, want.unet_in_channels);
    let call = small_call(width, height);
    let same =
        p.generate(&call, None).unwrap().images == intact().generate(&call, None).unwrap().images;
    assert!(same, "{width}x{height}: not the fixture's image");
}

/// A file sdrt never needs (model_index.json), or a config whose values fall back to ones the
/// fixture has anyway (the VAE's scaling_factor 0.18215 and 4 blocks; the text encoder's
/// width and vocabulary, read from its graph): the pipeline is the fixture's, image for
/// image, at its native size and another.
fn same_as_the_fixture(p: &sdrt::Pipeline) {
    let (got, want) = (p.info(), intact().info());
    assert_eq!(
        (got.native_width, got.native_height),
        (want.native_width, want.native_height)
    );
    assert_generates_like_the_fixture(p, 0, 0);
    assert_generates_like_the_fixture(p, 96, 64);
}

/// Without unet/config.json the UNet is taken as diffusers' default layout (4 blocks, sample
/// size 64; src/model/mod.rs): the native size is 64 x 8 = 512, and sizes must be multiples
/// of 8 x 2^3 = 64 (the header's rule for SD's 4 blocks), so 96 is refused naming the nearest
/// sizes; a 64 x 64 call is the fixture's image.
fn unet_defaults(p: &sdrt::Pipeline) {
    let info = p.info();
    assert_eq!((info.native_width, info.native_height), (512, 512));
    let err = p
        .generate(&small_call(96, 64), None)
        .expect_err("96 is not a multiple of 64");
    assert_eq!(err.kind(), sdrt::ErrorKind::InvalidArgument, "{err}");
    for word in ["width 96", "64", "128"] {
        assert!(err.message().contains(word), "{word:?} not in: {err}");
    }
    assert_generates_like_the_fixture(p, 64, 64);
}

fn needs_the_vae_encoder(p: &sdrt::Pipeline) {
    let img = sdrt::RgbImage {
        width: 64,
        height: 64,
        data: vec![128; 64 * 64 * 3],
    };
    let err = p
        .generate(
            &sdrt::GenerateParams {
                prompt: "x".into(),
                steps: 2,
                init_image: Some(img),
                ..sdrt::GenerateParams::default()
            },
            None,
        )
        .expect_err("image-to-image without a VAE encoder");
    assert_eq!(err.kind(), sdrt::ErrorKind::ModelNotFound, "{err}");
    assert!(err.message().contains("vae_encoder/model.onnx"), "{err}");
    // Text-to-image is unaffected.
    p.generate(
        &sdrt::GenerateParams {
            prompt: "x".into(),
            steps: 1,
            ..sdrt::GenerateParams::default()
        },
        None,
    )
    .unwrap();
}

fn unknown_scheduler_needs_a_choice(p: &sdrt::Pipeline) {
    let info = p.info();
    assert_eq!(info.default_scheduler, None);
    assert_eq!(info.default_scheduler_class, "FancyNewScheduler");
    let base = sdrt::GenerateParams {
        prompt: "x".into(),
        steps: 2,
        ..sdrt::GenerateParams::default()
    };
    let err = p.generate(&base, None).expect_err("no scheduler");
    assert_eq!(err.kind(), sdrt::ErrorKind::Unsupported, "{err}");
    assert!(err.message().contains("FancyNewScheduler"), "{err}");
    let chosen = sdrt::GenerateParams {
        scheduler: Some(sdrt::SchedulerKind::Euler),
        ..base
    };
    p.generate(&chosen, None).unwrap();
}

const TE: &str = "text_encoder/model.onnx";
const UN: &str = "unet/model.onnx";
const VD: &str = "vae_decoder/model.onnx";
const VE: &str = "vae_encoder/model.onnx";
const DATA: &str = "text_encoder/model.onnx_data";

fn cases() -> Vec<(&'static str, Damage, Want)> {
    use Damage::*;
    use Want::*;
    let mut rows: Vec<(&'static str, Damage, Want)> = vec![
        // Missing files.
        (
            "no text encoder",
            Remove(TE),
            Fail(NOT_FOUND, &[TE, "missing"]),
        ),
        ("no unet", Remove(UN), Fail(NOT_FOUND, &[UN, "missing"])),
        (
            "no vae decoder",
            Remove(VD),
            Fail(NOT_FOUND, &[VD, "missing"]),
        ),
        (
            "no external data",
            Remove(DATA),
            Fail(NOT_FOUND, &[DATA, "missing", TE]),
        ),
        (
            "no vocab",
            Remove("tokenizer/vocab.json"),
            Fail(NOT_FOUND, &["tokenizer/vocab.json"]),
        ),
        (
            "no merges",
            Remove("tokenizer/merges.txt"),
            Fail(NOT_FOUND, &["tokenizer/merges.txt"]),
        ),
        (
            "no scheduler config",
            Remove("scheduler/scheduler_config.json"),
            Fail(NOT_FOUND, &["scheduler/scheduler_config.json", "missing"]),
        ),
        (
            "no tokenizer folder",
            Remove("tokenizer"),
            Fail(NOT_FOUND, &["tokenizer/vocab.json"]),
        ),
        (
            "unet is a folder",
            All(vec![Remove(UN), Write("unet/model.onnx/x", vec![])]),
            Fail(NOT_FOUND, &[UN]),
        ),
        // Missing optional files: create works; what they change is documented.
        (
            "no vae encoder",
            Remove("vae_encoder"),
            Loads(needs_the_vae_encoder),
        ),
        (
            "no unet config",
            Remove("unet/config.json"),
            Loads(unet_defaults),
        ),
        (
            "no vae config",
            Remove("vae_decoder/config.json"),
            Loads(same_as_the_fixture),
        ),
        (
            "no text encoder config",
            Remove("text_encoder/config.json"),
            Loads(same_as_the_fixture),
        ),
        (
            "no model_index.json",
            Remove("model_index.json"),
            Loads(same_as_the_fixture),
        ),
        // Damaged graphs.
        (
            "empty unet",
            Write(UN, Vec::new()),
            Fail(INVALID, &[UN, "no graph"]),
        ),
        (
            "external data cut short",
            Truncate(DATA, 0.5),
            Fail(INVALID, &[DATA, "truncated"]),
        ),
        (
            "unknown scheduler class",
            Json("scheduler/scheduler_config.json", |v| {
                v["_class_name"] = "FancyNewScheduler".into()
            }),
            Loads(unknown_scheduler_needs_a_choice),
        ),
    ];
    for (part, path) in [
        ("text encoder", TE),
        ("unet", UN),
        ("vae decoder", VD),
        ("vae encoder", VE),
    ] {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        rows.push((
            leak(format!("truncated {part}")),
            Truncate(path, 0.6),
            Fail(INVALID, leak_words(&[path, "not a valid ONNX file"])),
        ));
        rows.push((
            leak(format!("random-bytes {part}")),
            Write(path, random_bytes(100_000, path.len() as u64 * 7919)),
            Fail(INVALID, leak_words(&[path, "not a valid ONNX file"])),
        ));
    }
    // Malformed JSON in every config sdrt reads.
    for (file, want) in [
        ("scheduler/scheduler_config.json", "invalid JSON"),
        ("unet/config.json", "invalid JSON"),
        ("vae_decoder/config.json", "invalid JSON"),
        ("text_encoder/config.json", "invalid JSON"),
        ("tokenizer/tokenizer_config.json", "invalid JSON"),
        ("tokenizer/special_tokens_map.json", "invalid JSON"),
        ("tokenizer/vocab.json", "vocab.json"),
    ] {
        rows.push((
            Box::leak(format!("malformed {file}").into_boxed_str()),
            Write(file, b"{\"oops\": [1, 2,".to_vec()),
            Fail(INVALID, leak_words(&[file, want])),
        ));
    }
    rows.extend([
        // Tokenizer against text encoder.
        (
            "vocab larger than the embedding",
            Json("tokenizer/vocab.json", |v| {
                v["zzzzzz</w>"] = 49408.into();
            }),
            Fail(
                INVALID,
                &[
                    "vocab.json",
                    "49408",
                    TE,
                    "token embedding of 49408 rows",
                    "different models",
                ],
            ),
        ),
        (
            "added token past the embedding",
            Json("tokenizer/tokenizer_config.json", |v| {
                v["added_tokens_decoder"]["60000"] = serde_json::json!({
                    "content": "<|extra|>", "lstrip": false, "normalized": false,
                    "rstrip": false, "single_word": false, "special": true
                });
            }),
            Fail(INVALID, &["<|extra|>", "token embedding of 49408 rows"]),
        ),
        // Configs that describe other graphs.
        (
            "text config vocab_size",
            Json("text_encoder/config.json", |v| {
                v["vocab_size"] = 1000.into()
            }),
            Fail(INVALID, &[TE, "49408", "vocab_size", "1000"]),
        ),
        (
            "text config hidden_size",
            Json("text_encoder/config.json", |v| v["hidden_size"] = 64.into()),
            Fail(INVALID, &[TE, "hidden_size", "64"]),
        ),
        (
            "unet config cross_attention_dim",
            Json("unet/config.json", |v| {
                v["cross_attention_dim"] = 1024.into()
            }),
            Fail(INVALID, &[UN, "unet/config.json", "1024", "another UNet"]),
        ),
        (
            "unet config in_channels",
            Json("unet/config.json", |v| v["in_channels"] = 9.into()),
            Fail(INVALID, &[UN, "'sample' channels", "9"]),
        ),
        (
            "unet config block types",
            Json("unet/config.json", |v| {
                v["down_block_types"] = serde_json::json!(["x"])
            }),
            Fail(INVALID, &["unet/config.json", "down_block_types"]),
        ),
        (
            "vae config latent_channels",
            Json("vae_decoder/config.json", |v| {
                v["latent_channels"] = 16.into()
            }),
            Fail(INVALID, &[VD, "latent_channels", "16"]),
        ),
        // Graphs swapped between parts.
        (
            "unet as text encoder",
            Link(TE, UN),
            Fail(INVALID, &[TE, "'sample'", "input_ids", "looks like a UNet"]),
        ),
        (
            "text encoder as unet",
            All(vec![Link(UN, TE), Link("unet/model.onnx_data", DATA)]),
            Fail(INVALID, &[UN, "input_ids", "looks like a text encoder"]),
        ),
        (
            "vae encoder as decoder",
            Link(VD, VE),
            Fail(
                INVALID,
                &[VD, "8 channels", "expected 3", "looks like a VAE encoder"],
            ),
        ),
        (
            "vae decoder as encoder",
            Link(VE, VD),
            Fail(
                INVALID,
                &[VE, "4 channels", "expected 3", "looks like a VAE decoder"],
            ),
        ),
        (
            "text encoder and unet swapped",
            All(vec![
                Link(TE, UN),
                Link(UN, TE),
                Link("unet/model.onnx_data", DATA),
            ]),
            Fail(INVALID, &[TE, "looks like a UNet"]),
        ),
        (
            "vae decoder and encoder swapped",
            All(vec![Link(VD, VE), Link(VE, VD)]),
            Fail(INVALID, &[VD, "looks like a VAE encoder"]),
        ),
        (
            "vae decoder as unet",
            Link(UN, VD),
            Fail(
                INVALID,
                &[UN, "no input 'timestep'", "looks like a VAE decoder"],
            ),
        ),
        // UNets with unexpected inputs, ranks, types and sizes.
        (
            "unet with an extra input",
            Write(
                UN,
                unet(
                    &[
                        SAMPLE,
                        TIMESTEP,
                        STATES,
                        ("text_embeds", FLOAT, &["batch", "1280"]),
                    ],
                    &[OUT],
                ),
            ),
            Fail(INVALID, &[UN, "unexpected input", "'text_embeds'"]),
        ),
        (
            "unet without encoder_hidden_states",
            Write(UN, unet(&[SAMPLE, TIMESTEP], &[OUT])),
            Fail(INVALID, &[UN, "no input 'encoder_hidden_states'"]),
        ),
        (
            "unet for another text encoder",
            Write(
                UN,
                unet(
                    &[
                        SAMPLE,
                        TIMESTEP,
                        (
                            "encoder_hidden_states",
                            FLOAT,
                            &["batch", "sequence", "1024"],
                        ),
                    ],
                    &[OUT],
                ),
            ),
            Fail(INVALID, &[UN, "1024", TE, "32", "different models"]),
        ),
        (
            "unet for another vae",
            Write(
                UN,
                unet(
                    &[
                        ("sample", FLOAT, &["batch", "8", "h", "w"]),
                        TIMESTEP,
                        STATES,
                    ],
                    &[("out_sample", FLOAT, &["batch", "8", "h", "w"])],
                ),
            ),
            Fail(INVALID, &[UN, "latent channels", "8", VD, "4"]),
        ),
        (
            "unet with 5 input channels",
            Write(
                UN,
                unet(
                    &[
                        ("sample", FLOAT, &["batch", "5", "h", "w"]),
                        TIMESTEP,
                        STATES,
                    ],
                    &[OUT],
                ),
            ),
            Fail(INVALID, &[UN, "5 channels", "expected 4", "or 9"]),
        ),
        (
            "unet with a rank-2 timestep",
            Write(
                UN,
                unet(&[SAMPLE, ("timestep", FLOAT, &["1", "1"]), STATES], &[OUT]),
            ),
            Fail(INVALID, &[UN, "'timestep'", "[] or [1]"]),
        ),
        (
            "unet with integer samples",
            Write(
                UN,
                unet(
                    &[
                        ("sample", INT64, &["batch", "4", "h", "w"]),
                        TIMESTEP,
                        STATES,
                    ],
                    &[OUT],
                ),
            ),
            Fail(INVALID, &[UN, "'sample' Int64", "float"]),
        ),
        (
            "unet fixed to 64 tokens",
            Write(
                UN,
                unet(
                    &[
                        SAMPLE,
                        TIMESTEP,
                        ("encoder_hidden_states", FLOAT, &["batch", "64", "32"]),
                    ],
                    &[OUT],
                ),
            ),
            Fail(INVALID, &[UN, "64 tokens", "77"]),
        ),
        (
            "unet timestep_cond without a width",
            Write(
                UN,
                unet(
                    &[
                        SAMPLE,
                        TIMESTEP,
                        STATES,
                        ("timestep_cond", FLOAT, &["batch", "dim"]),
                    ],
                    &[OUT],
                ),
            ),
            Fail(INVALID, &[UN, "timestep_cond", "fixed width"]),
        ),
        (
            "unet with an integer output",
            Write(
                UN,
                unet(
                    &[SAMPLE, TIMESTEP, STATES],
                    &[("out_sample", INT64, &["batch", "4", "h", "w"])],
                ),
            ),
            Fail(INVALID, &[UN, "output 'out_sample' Int64"]),
        ),
        // Text encoders and VAE decoders that do not fit.
        (
            "text encoder with an attention mask",
            Write(
                TE,
                onnx_graph(
                    &[
                        ("input_ids", INT64, &["batch", "sequence"]),
                        ("attention_mask", INT64, &["batch", "sequence"]),
                    ],
                    &[("last_hidden_state", FLOAT, &["batch", "sequence", "32"])],
                ),
            ),
            Fail(INVALID, &[TE, "unexpected input", "'attention_mask'"]),
        ),
        (
            "text encoder with a rank-2 output",
            Write(
                TE,
                onnx_graph(
                    &[("input_ids", INT64, &["batch", "sequence"])],
                    &[("last_hidden_state", FLOAT, &["batch", "32"])],
                ),
            ),
            Fail(
                INVALID,
                &[TE, "last_hidden_state", "[batch, tokens, hidden]"],
            ),
        ),
        (
            "vae decoder with 4 output channels",
            Write(
                VD,
                onnx_graph(
                    &[("latent_sample", FLOAT, &["batch", "4", "h", "w"])],
                    &[("sample", FLOAT, &["batch", "4", "H", "W"])],
                ),
            ),
            Fail(INVALID, &[VD, "4 channels", "expected 3"]),
        ),
        (
            "vae decoder for another unet",
            Write(
                VD,
                onnx_graph(
                    &[("latent_sample", FLOAT, &["batch", "16", "h", "w"])],
                    &[("sample", FLOAT, &["batch", "3", "H", "W"])],
                ),
            ),
            Fail(INVALID, &[UN, "4", VD, "16", "different models"]),
        ),
    ]);
    rows
}

fn leak_words(words: &[&str]) -> &'static [&'static str] {
    let v: Vec<&'static str> = words
        .iter()
        .map(|w| &*Box::leak(w.to_string().into_boxed_str()))
        .collect();
    Box::leak(v.into_boxed_slice())
}

fn last_error() -> String {
    // SAFETY: always a valid NUL-terminated string.
    unsafe { CStr::from_ptr(sdrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// Creates a pipeline through the C API: the status, the message, and the out-pointer.
fn c_create(dir: &Path) -> (sdrt_status, String, *mut sdrt_pipeline) {
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    let sentinel = 0x5D47usize as *mut sdrt_pipeline;
    let mut out = sentinel;
    // SAFETY: valid string and out-pointer.
    let st = unsafe { sdrt_pipeline_create(path.as_ptr(), std::ptr::null(), &mut out) };
    let msg = if st == sdrt_status::SDRT_OK {
        String::new()
    } else {
        last_error()
    };
    if st != sdrt_status::SDRT_OK {
        assert_eq!(out, sentinel, "{}: *out written on failure", dir.display());
        out = std::ptr::null_mut();
    }
    (st, msg, out)
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Runs every failing row once; returns how many ran.
fn run_failing(rows: &[(&str, PathBuf, &Want)]) -> usize {
    let mut n = 0;
    for (name, dir, want) in rows {
        if let Want::Fail(status, _) = want {
            let (st, _, p) = c_create(dir);
            assert_eq!(st, *status, "{name}");
            assert!(p.is_null());
            n += 1;
        }
    }
    n
}

#[test]
fn every_faulty_folder_fails_fast_naming_the_file_and_the_mismatch() {
    common::init_runtime();
    let table = cases();
    let mut rows = Vec::new();
    for (k, (name, damage, want)) in table.iter().enumerate() {
        let dir = linked_copy(&format!("case-{k}"));
        apply(&dir, damage);
        rows.push((*name, dir, want));
    }
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, "");
    let (mut failing, mut loading) = (0, 0);
    for (name, dir, want) in &rows {
        let started = Instant::now();
        let (st, msg, p) = c_create(dir);
        let took = started.elapsed();
        match want {
            Want::Fail(status, words) => {
                failing += 1;
                if took > slowest.0 {
                    slowest = (took, name);
                }
                let missing: Vec<&&str> = words.iter().filter(|w| !msg.contains(**w)).collect();
                if st != *status || !missing.is_empty() {
                    failures.push(format!(
                        "{name}: got {st:?} \"{msg}\"; want {status:?} with {words:?} (missing \
                         {missing:?})"
                    ));
                }
                if !p.is_null() {
                    // SAFETY: created above, unused.
                    unsafe { sdrt_pipeline_free(p) };
                }
            }
            Want::Loads(check) => {
                loading += 1;
                if st != sdrt_status::SDRT_OK {
                    failures.push(format!("{name}: got {st:?} \"{msg}\"; want SDRT_OK"));
                    continue;
                }
                // SAFETY: created above; freed right after.
                unsafe { sdrt_pipeline_free(p) };
                let pipeline = sdrt::Pipeline::load(dir, &sdrt::PipelineOptions::default())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                check(&pipeline);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // A failing create returns in a fraction of a valid load (0.5 s here, in debug).
    assert!(
        slowest.0 < Duration::from_secs(5),
        "slowest failing create: {} took {:?}",
        slowest.1,
        slowest.0
    );

    // Nothing is kept: the failing rows once more do not grow the process beyond allocator
    // noise (a leaked session of the tiny UNet alone is about 2 MB).
    let before = rss();
    let ran = run_failing(&rows);
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "{ran} failing creates grew the process by {} KiB",
        grown >> 10
    );
    eprintln!(
        "{} faulty folders: {failing} fail at create, {loading} load (optional parts); \
         slowest failure {:?} ({}); {ran} more failing creates grew RSS by {} KiB",
        rows.len(),
        slowest.0,
        slowest.1,
        grown >> 10
    );
    let _ = std::fs::remove_dir_all(scratch());
}
