//! A graph ONNX Runtime complains about at its default log level, for the logging and
//! lifecycle tests: the fixtures' TAESD preview decoder with one more initializer that no node
//! uses, so ONNX Runtime warns "Removing initializer '<name>'" while loading it. The name
//! makes each copy's warning recognizable.

use std::path::{Path, PathBuf};

/// Appends one length-delimited protobuf field (`number`, `payload`) to `out`.
fn proto_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    varint(out, (number << 3) | 2);
    varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Writes `<dir>/<name>.onnx`: the decoder plus an unused float initializer `name`. Made by
/// appending a second `graph` field (ModelProto field 7) that holds only the initializer
/// (GraphProto field 5, a TensorProto: dims [1], FLOAT, `name`, four raw bytes); protobuf
/// merges the two `graph` messages.
pub fn noisy_decoder(dir: &Path, name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("tests/fixtures/tiny-sd2-preview/vae_preview/model.onnx");
    let mut bytes = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut tensor = vec![0x08, 0x01, 0x10, 0x01]; // dims: [1], data_type: FLOAT (1)
    proto_field(&mut tensor, 8, name.as_bytes());
    proto_field(&mut tensor, 9, &[0; 4]);
    let mut graph = Vec::new();
    proto_field(&mut graph, 5, &tensor);
    proto_field(&mut bytes, 7, &graph);
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(format!("{name}.onnx"));
    std::fs::write(&out, bytes).unwrap();
    out
}
