//! A minimal reader of ONNX model files (protobuf), for the checks that ONNX Runtime's session
//! metadata cannot answer or that should run before a session is built: the graph's declared
//! inputs and outputs, its initializers' names and shapes, the external data files they live
//! in, and which initializers `Gather` nodes index (the text encoder's token embedding).
//!
//! Only the fields named here are decoded. Everything else (raw tensor data, attributes,
//! documentation) is skipped with seeks, never read, so a 1 GB graph costs a few milliseconds.
//! Every length is checked against its enclosing message and the file's size, so truncated or
//! random bytes are an error, never a panic or a large allocation.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use ort::value::TensorElementType;

use super::session::IoInfo;
use crate::error::{Error, ErrorKind, Result};

/// What sdrt reads from a `model.onnx` without building a session.
#[derive(Debug, Clone, Default)]
pub struct GraphSummary {
    /// Declared graph inputs that are not initializers.
    pub inputs: Vec<IoInfo>,
    /// Declared graph outputs.
    pub outputs: Vec<IoInfo>,
    /// Initializers: name and dimensions.
    pub initializers: Vec<(String, Vec<i64>)>,
    /// The names `Gather` nodes take as their data input (`input[0]`).
    pub gather_data: Vec<String>,
    /// External data files the initializers name, with the bytes each needs (offset + length).
    pub external: Vec<(String, u64)>,
}

impl GraphSummary {
    /// Rows of the largest rank-2 initializer a `Gather` node indexes whose second dimension is
    /// `width` (any width when `None`): the token embedding of a text encoder.
    pub fn embedding_rows(&self, width: Option<usize>) -> Option<usize> {
        self.initializers
            .iter()
            .filter(|(name, dims)| {
                dims.len() == 2
                    && dims[0] > 0
                    && width.is_none_or(|w| dims[1] == w as i64)
                    && self.gather_data.iter().any(|g| g == name)
            })
            .map(|(_, dims)| dims[0] as usize)
            .max()
    }
}

/// Reads the summary of the ONNX file at `path`; `ModelInvalid` naming the file when it is not
/// a well-formed ONNX protobuf, `ModelNotFound` / `Io` when it cannot be opened.
pub fn read_graph(path: &Path) -> Result<GraphSummary> {
    let file = File::open(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::ModelNotFound
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("{}: {e}", path.display()))
    })?;
    let size = file
        .metadata()
        .map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?
        .len();
    let mut r = Wire {
        r: BufReader::new(file),
        pos: 0,
    };
    let bad = |e: Error| Error::model(format!("{}: not a valid ONNX file: {e}", path.display()));
    let mut g = GraphSummary::default();
    let mut graphs = 0;
    let mut raw_inputs = Vec::new();
    while let Some((field, wire)) = r.key(size).map_err(bad)? {
        if field == 7 && wire == LEN {
            let end = r.len_end(size).map_err(bad)?;
            read_graph_proto(&mut r, end, &mut g, &mut raw_inputs).map_err(bad)?;
            graphs += 1;
        } else {
            r.skip_value(wire, size).map_err(bad)?;
        }
    }
    if graphs == 0 {
        return Err(bad(Error::model("it has no graph")));
    }
    // Before IR version 4, graph inputs also list the initializers.
    g.inputs = raw_inputs
        .into_iter()
        .filter(|i: &IoInfo| !g.initializers.iter().any(|(n, _)| *n == i.name))
        .collect();
    Ok(g)
}

/// Checks that every external data file the graph names exists next to it and is long enough.
pub fn check_external_data(path: &Path, g: &GraphSummary) -> Result<()> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut seen: Vec<(PathBuf, u64)> = Vec::new();
    for (location, need) in &g.external {
        let p = dir.join(location);
        match seen.iter_mut().find(|(q, _)| *q == p) {
            Some((_, n)) => *n = (*n).max(*need),
            None => seen.push((p, *need)),
        }
    }
    for (p, need) in seen {
        let len = match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => m.len(),
            _ => {
                return Err(Error::new(
                    ErrorKind::ModelNotFound,
                    format!(
                        "{} is missing: {} keeps its weights there (external data)",
                        p.display(),
                        path.display()
                    ),
                ))
            }
        };
        if len < need {
            return Err(Error::model(format!(
                "{} is truncated: {} needs {need} bytes of it, the file has {len}",
                p.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// The longest name kept; longer strings are skipped (and read as empty).
const MAX_NAME: u64 = 4096;
/// The most dimensions a tensor may declare.
const MAX_RANK: usize = 64;

struct Wire<R> {
    r: BufReader<R>,
    pos: u64,
}

fn err(msg: impl Into<String>) -> Error {
    Error::model(msg)
}

impl<R: Read + Seek> Wire<R> {
    fn byte(&mut self, end: u64) -> Result<u8> {
        if self.pos >= end {
            return Err(err(format!("truncated at byte {}", self.pos)));
        }
        let mut b = [0u8; 1];
        self.r
            .read_exact(&mut b)
            .map_err(|_| err(format!("truncated at byte {}", self.pos)))?;
        self.pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self, end: u64) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte(end)?;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(err(format!("malformed varint before byte {}", self.pos)))
    }

    /// The next field's number and wire type, or `None` at `end`.
    fn key(&mut self, end: u64) -> Result<Option<(u64, u8)>> {
        if self.pos >= end {
            return Ok(None);
        }
        let k = self.varint(end)?;
        let wire = (k & 7) as u8;
        let field = k >> 3;
        if field == 0 || !matches!(wire, VARINT | I64 | LEN | I32) {
            return Err(err(format!(
                "field {field} has wire type {wire} before byte {}",
                self.pos
            )));
        }
        Ok(Some((field, wire)))
    }

    fn skip(&mut self, n: u64, end: u64) -> Result<()> {
        if n > end.saturating_sub(self.pos) {
            return Err(err(format!(
                "a field of {n} bytes at byte {} runs past its end ({end})",
                self.pos
            )));
        }
        let off = i64::try_from(n).map_err(|_| err("field too long"))?;
        self.r
            .seek_relative(off)
            .map_err(|e| err(format!("seek: {e}")))?;
        self.pos += n;
        Ok(())
    }

    /// The end offset of a length-delimited field that starts here.
    fn len_end(&mut self, end: u64) -> Result<u64> {
        let n = self.varint(end)?;
        if n > end.saturating_sub(self.pos) {
            return Err(err(format!(
                "a field of {n} bytes at byte {} runs past its end ({end})",
                self.pos
            )));
        }
        Ok(self.pos + n)
    }

    fn skip_value(&mut self, wire: u8, end: u64) -> Result<()> {
        match wire {
            VARINT => self.varint(end).map(|_| ()),
            I64 => self.skip(8, end),
            I32 => self.skip(4, end),
            _ => {
                let e = self.len_end(end)?;
                let n = e - self.pos;
                self.skip(n, end)
            }
        }
    }

    /// A length-delimited string field (names); longer than `MAX_NAME` is skipped as "".
    fn string(&mut self, end: u64) -> Result<String> {
        let e = self.len_end(end)?;
        let n = e - self.pos;
        if n > MAX_NAME {
            self.skip(n, end)?;
            return Ok(String::new());
        }
        let mut buf = vec![0u8; n as usize];
        self.r
            .read_exact(&mut buf)
            .map_err(|_| err(format!("truncated at byte {}", self.pos)))?;
        self.pos = e;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn read_graph_proto<R: Read + Seek>(
    r: &mut Wire<R>,
    end: u64,
    g: &mut GraphSummary,
    raw_inputs: &mut Vec<IoInfo>,
) -> Result<()> {
    while let Some((field, wire)) = r.key(end)? {
        match (field, wire) {
            (1, LEN) => {
                let e = r.len_end(end)?;
                if let Some(data) = read_node(r, e)? {
                    g.gather_data.push(data);
                }
            }
            (5, LEN) => {
                let e = r.len_end(end)?;
                read_tensor(r, e, g)?;
            }
            (11, LEN) | (12, LEN) => {
                let e = r.len_end(end)?;
                let info = read_value_info(r, e)?;
                if field == 11 {
                    raw_inputs.push(info);
                } else {
                    g.outputs.push(info);
                }
            }
            _ => r.skip_value(wire, end)?,
        }
    }
    Ok(())
}

/// A node's first input when it is a `Gather`.
fn read_node<R: Read + Seek>(r: &mut Wire<R>, end: u64) -> Result<Option<String>> {
    let mut first_input = None;
    let mut op = String::new();
    while let Some((field, wire)) = r.key(end)? {
        match (field, wire) {
            (1, LEN) => {
                let s = r.string(end)?;
                if first_input.is_none() {
                    first_input = Some(s);
                }
            }
            (4, LEN) => op = r.string(end)?,
            _ => r.skip_value(wire, end)?,
        }
    }
    Ok(first_input.filter(|_| op == "Gather"))
}

fn read_tensor<R: Read + Seek>(r: &mut Wire<R>, end: u64, g: &mut GraphSummary) -> Result<()> {
    let mut dims = Vec::new();
    let mut name = String::new();
    let mut location = None;
    let mut need = 0u64;
    let push_dim = |dims: &mut Vec<i64>, v: u64| -> Result<()> {
        if dims.len() >= MAX_RANK {
            return Err(err(format!(
                "a tensor declares more than {MAX_RANK} dimensions"
            )));
        }
        dims.push(v as i64);
        Ok(())
    };
    while let Some((field, wire)) = r.key(end)? {
        match (field, wire) {
            (1, VARINT) => {
                let v = r.varint(end)?;
                push_dim(&mut dims, v)?;
            }
            (1, LEN) => {
                let e = r.len_end(end)?;
                while r.pos < e {
                    let v = r.varint(e)?;
                    push_dim(&mut dims, v)?;
                }
            }
            (8, LEN) => name = r.string(end)?,
            (13, LEN) => {
                let e = r.len_end(end)?;
                let (k, v) = read_string_entry(r, e)?;
                match k.as_str() {
                    "location" => location = Some(v),
                    "offset" | "length" => {
                        need = need.saturating_add(v.trim().parse::<u64>().unwrap_or(0));
                    }
                    _ => {}
                }
            }
            _ => r.skip_value(wire, end)?,
        }
    }
    if let Some(loc) = location {
        g.external.push((loc, need));
    }
    g.initializers.push((name, dims));
    Ok(())
}

fn read_string_entry<R: Read + Seek>(r: &mut Wire<R>, end: u64) -> Result<(String, String)> {
    let (mut k, mut v) = (String::new(), String::new());
    while let Some((field, wire)) = r.key(end)? {
        match (field, wire) {
            (1, LEN) => k = r.string(end)?,
            (2, LEN) => v = r.string(end)?,
            _ => r.skip_value(wire, end)?,
        }
    }
    Ok((k, v))
}

fn read_value_info<R: Read + Seek>(r: &mut Wire<R>, end: u64) -> Result<IoInfo> {
    let mut info = IoInfo {
        name: String::new(),
        elem: TensorElementType::Float32,
        shape: Vec::new(),
        symbols: Vec::new(),
    };
    let mut tensor = false;
    let mut elem_code = 0u64;
    while let Some((field, wire)) = r.key(end)? {
        match (field, wire) {
            (1, LEN) => info.name = r.string(end)?,
            (2, LEN) => {
                // TypeProto: tensor_type = 1.
                let e = r.len_end(end)?;
                while let Some((f, w)) = r.key(e)? {
                    if f == 1 && w == LEN {
                        tensor = true;
                        let te = r.len_end(e)?;
                        read_tensor_type(r, te, &mut elem_code, &mut info)?;
                    } else {
                        r.skip_value(w, e)?;
                    }
                }
            }
            _ => r.skip_value(wire, end)?,
        }
    }
    if !tensor {
        return Err(err(format!("'{}' is not a tensor", info.name)));
    }
    info.elem = element_type(elem_code)
        .ok_or_else(|| err(format!("'{}' has element type {elem_code}", info.name)))?;
    Ok(info)
}

fn read_tensor_type<R: Read + Seek>(
    r: &mut Wire<R>,
    end: u64,
    elem: &mut u64,
    info: &mut IoInfo,
) -> Result<()> {
    while let Some((field, wire)) = r.key(end)? {
        match (field, wire) {
            (1, VARINT) => *elem = r.varint(end)?,
            (2, LEN) => {
                // TensorShapeProto: dim = 1; Dimension: dim_value = 1, dim_param = 2.
                let se = r.len_end(end)?;
                while let Some((f, w)) = r.key(se)? {
                    if f != 1 || w != LEN {
                        r.skip_value(w, se)?;
                        continue;
                    }
                    if info.shape.len() >= MAX_RANK {
                        return Err(err(format!(
                            "'{}' declares more than {MAX_RANK} dimensions",
                            info.name
                        )));
                    }
                    let de = r.len_end(se)?;
                    let (mut value, mut param) = (-1i64, String::new());
                    while let Some((df, dw)) = r.key(de)? {
                        match (df, dw) {
                            (1, VARINT) => value = r.varint(de)? as i64,
                            (2, LEN) => param = r.string(de)?,
                            _ => r.skip_value(dw, de)?,
                        }
                    }
                    info.shape.push(if value >= 0 { value } else { -1 });
                    info.symbols.push(param);
                }
            }
            _ => r.skip_value(wire, end)?,
        }
    }
    Ok(())
}

/// ONNX `TensorProto.DataType` numbers (the same as ONNX Runtime's element types).
fn element_type(code: u64) -> Option<TensorElementType> {
    use TensorElementType as T;
    Some(match code {
        1 => T::Float32,
        2 => T::Uint8,
        3 => T::Int8,
        4 => T::Uint16,
        5 => T::Int16,
        6 => T::Int32,
        7 => T::Int64,
        8 => T::String,
        9 => T::Bool,
        10 => T::Float16,
        11 => T::Float64,
        12 => T::Uint32,
        13 => T::Uint64,
        16 => T::Bfloat16,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("sdrt-onnx-garbage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..300 {
            let len = (round * 7) % 600;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let p = dir.join("model.onnx");
            std::fs::write(&p, &bytes).unwrap();
            if let Ok(g) = read_graph(&p) {
                // Random bytes that happen to parse must still be bounded.
                assert!(g.inputs.len() + g.outputs.len() <= bytes.len());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
