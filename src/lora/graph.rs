//! The ONNX side of LoRA: which linear layers a graph has (by the module path optimum keeps in
//! its node names), and the rewrite that gives chosen layers a low-rank branch fed per run.
//!
//! A layer `y = x·W` (a `MatMul`, or a `Gemm` whose `transB` says how `W` is stored) becomes
//! `y = x·W + (x·D)·U`, where `D` (`[in, rank]`) and `U` (`[rank, out]`) are new graph inputs
//! named [`down_input`] and [`up_input`]. The rank is a free dimension: a call feeds the
//! concatenation of its active LoRAs' matrices, or rank 0 (nothing) when none applies. The base
//! node keeps its weights and its fusions; only its output is renamed, and the `Add` that
//! follows it takes the old name, so every consumer is untouched.
//!
//! The file is edited as protobuf wire data, field by field: everything not named here is
//! copied byte for byte. Every length is checked against its message, so damaged bytes are an
//! error, never a panic.

use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};

/// A linear layer a LoRA can target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    /// The module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`).
    pub module: String,
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
    /// The weight's ONNX element type (1 float, 10 float16).
    pub elem: i32,
}

/// The graph input that feeds `module`'s down matrix (`[in, rank]`).
pub fn down_input(module: &str) -> String {
    format!("lora.{module}.down")
}

/// The graph input that feeds `module`'s up matrix (`[rank, out]`).
pub fn up_input(module: &str) -> String {
    format!("lora.{module}.up")
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;
const FLOAT: i32 = 1;
const FLOAT16: i32 = 10;

/// One protobuf field: its number, wire type, value (varint) or payload (length-delimited),
/// and its whole encoding (key included), for copying.
struct Field<'a> {
    num: u64,
    wire: u8,
    value: u64,
    payload: &'a [u8],
    raw: &'a [u8],
}

fn bad(msg: impl Into<String>) -> Error {
    Error::model(msg)
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| bad(format!("truncated at byte {pos}")))?;
        *pos += 1;
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad(format!("malformed varint before byte {pos}")))
}

/// The fields of one message.
fn fields(buf: &[u8]) -> Result<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let key = varint(buf, &mut pos)?;
        let (num, wire) = (key >> 3, (key & 7) as u8);
        let (value, payload) = match wire {
            VARINT => (varint(buf, &mut pos)?, &buf[0..0]),
            I64 | I32 => {
                let n = if wire == I64 { 8 } else { 4 };
                if buf.len() - pos < n {
                    return Err(bad(format!("truncated at byte {pos}")));
                }
                pos += n;
                (0, &buf[pos - n..pos])
            }
            LEN => {
                let n = varint(buf, &mut pos)?;
                if n > (buf.len() - pos) as u64 {
                    return Err(bad(format!(
                        "a field of {n} bytes at byte {pos} runs past its end"
                    )));
                }
                pos += n as usize;
                (n, &buf[pos - n as usize..pos])
            }
            _ => return Err(bad(format!("field {num} has wire type {wire}"))),
        };
        if num == 0 {
            return Err(bad(format!("field 0 at byte {start}")));
        }
        out.push(Field {
            num,
            wire,
            value,
            payload,
            raw: &buf[start..pos],
        });
    }
    Ok(out)
}

fn string(f: &Field) -> String {
    String::from_utf8_lossy(f.payload).into_owned()
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, num: u64, bytes: &[u8]) {
    put_varint(out, (num << 3) | LEN as u64);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_int(out: &mut Vec<u8>, num: u64, v: u64) {
    put_varint(out, num << 3);
    put_varint(out, v);
}

/// The graph message inside a model (`ModelProto.graph`, field 7).
fn graph_of(model: &[u8]) -> Result<&[u8]> {
    let mut graph = None;
    for f in fields(model)? {
        if f.num == 7 && f.wire == LEN {
            if graph.is_some() {
                return Err(bad("more than one graph"));
            }
            graph = Some(f.payload);
        }
    }
    graph.ok_or_else(|| bad("no graph"))
}

/// What a node says of itself, as far as the rewrite needs it.
struct Node {
    name: String,
    op: String,
    domain: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    trans_a: u64,
    trans_b: u64,
}

fn node(buf: &[u8]) -> Result<Node> {
    let mut n = Node {
        name: String::new(),
        op: String::new(),
        domain: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        trans_a: 0,
        trans_b: 0,
    };
    for f in fields(buf)? {
        match (f.num, f.wire) {
            (1, LEN) => n.inputs.push(string(&f)),
            (2, LEN) => n.outputs.push(string(&f)),
            (3, LEN) => n.name = string(&f),
            (4, LEN) => n.op = string(&f),
            (7, LEN) => n.domain = string(&f),
            (5, LEN) => {
                let (mut name, mut i) = (String::new(), 0);
                for a in fields(f.payload)? {
                    match (a.num, a.wire) {
                        (1, LEN) => name = string(&a),
                        (3, VARINT) => i = a.value,
                        _ => {}
                    }
                }
                match name.as_str() {
                    "transA" => n.trans_a = i,
                    "transB" => n.trans_b = i,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

/// An initializer's name, dimensions and element type (`TensorProto` fields 8, 1, 2).
fn tensor_head(buf: &[u8]) -> Result<(String, Vec<i64>, i32)> {
    let (mut name, mut dims, mut elem) = (String::new(), Vec::new(), 0);
    for f in fields(buf)? {
        match (f.num, f.wire) {
            (8, LEN) => name = string(&f),
            (1, VARINT) => dims.push(f.value as i64),
            (1, LEN) => {
                let mut pos = 0;
                while pos < f.payload.len() {
                    dims.push(varint(f.payload, &mut pos)? as i64);
                }
            }
            (2, VARINT) => elem = f.value as i32,
            _ => {}
        }
    }
    Ok((name, dims, elem))
}

/// The module path optimum's node names keep: `/a.0/b/c/MatMul` is `a.0.b.c`.
fn module_of(node_name: &str) -> Option<String> {
    let path = node_name.strip_prefix('/')?;
    let (module, _op) = path.rsplit_once('/')?;
    if module.is_empty() {
        return None;
    }
    Some(module.replace('/', "."))
}

/// The linear layer a node computes, if it is one: a `MatMul` or `Gemm` (no `transA`) of an
/// activation by a rank-2 float or float16 initializer.
fn linear_of(n: &Node, inits: &Initializers) -> Option<Linear> {
    if !n.domain.is_empty() || n.outputs.is_empty() || n.inputs.len() < 2 {
        return None;
    }
    let gemm = match n.op.as_str() {
        "MatMul" => false,
        "Gemm" if n.trans_a == 0 => true,
        _ => return None,
    };
    let (dims, elem) = inits.get(&n.inputs[1])?;
    if dims.len() != 2 || dims.iter().any(|&d| d <= 0) || !matches!(*elem, FLOAT | FLOAT16) {
        return None;
    }
    let (inputs, outputs) = if gemm && n.trans_b != 0 {
        (dims[1] as usize, dims[0] as usize)
    } else {
        (dims[0] as usize, dims[1] as usize)
    };
    Some(Linear {
        module: module_of(&n.name)?,
        inputs,
        outputs,
        elem: *elem,
    })
}

/// Initializers' dimensions and element types, by name.
type Initializers = HashMap<String, (Vec<i64>, i32)>;

/// A graph message read once: its fields (for copying), its nodes (in field order) and its
/// initializers' heads.
struct Graph<'a> {
    fields: Vec<Field<'a>>,
    nodes: Vec<Node>,
    inits: Initializers,
}

fn parse(graph: &[u8]) -> Result<Graph<'_>> {
    let fields = fields(graph)?;
    let mut nodes = Vec::new();
    let mut inits = HashMap::new();
    for f in &fields {
        match (f.num, f.wire) {
            (1, LEN) => nodes.push(node(f.payload)?),
            (5, LEN) => {
                let (name, dims, elem) = tensor_head(f.payload)?;
                inits.insert(name, (dims, elem));
            }
            _ => {}
        }
    }
    Ok(Graph {
        fields,
        nodes,
        inits,
    })
}

/// The graph's linear layers by module path; a module that names more than one linear node is
/// left out (it is not one layer).
fn single_linears(g: &Graph) -> Vec<Linear> {
    let mut found: Vec<Linear> = g
        .nodes
        .iter()
        .filter_map(|n| linear_of(n, &g.inits))
        .collect();
    let mut count: HashMap<String, usize> = HashMap::new();
    for l in &found {
        *count.entry(l.module.clone()).or_default() += 1;
    }
    found.retain(|l| count[&l.module] == 1);
    found.sort_by(|a, b| a.module.cmp(&b.module));
    found
}

/// The linear layers of the ONNX model in `model` a LoRA can target, by module path. A module
/// that names more than one linear node is left out (it is not one layer).
pub fn linears(model: &[u8]) -> Result<Vec<Linear>> {
    Ok(single_linears(&parse(graph_of(model)?)?))
}

/// A dimension of a declared input.
enum Dim {
    Fixed(usize),
    Free(String),
}

fn value_info(out: &mut Vec<u8>, name: &str, elem: i32, dims: [Dim; 2]) {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d {
            Dim::Fixed(v) => put_int(&mut dim, 1, v as u64),
            Dim::Free(param) => put_bytes(&mut dim, 2, param.as_bytes()),
        }
        put_bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    put_int(&mut tensor, 1, elem as u64);
    put_bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    put_bytes(&mut ty, 1, &tensor);
    let mut vi = Vec::new();
    put_bytes(&mut vi, 1, name.as_bytes());
    put_bytes(&mut vi, 2, &ty);
    put_bytes(out, 11, &vi);
}

fn new_node(out: &mut Vec<u8>, op: &str, name: &str, inputs: &[&str], output: &str) {
    let mut n = Vec::new();
    for i in inputs {
        put_bytes(&mut n, 1, i.as_bytes());
    }
    put_bytes(&mut n, 2, output.as_bytes());
    put_bytes(&mut n, 3, name.as_bytes());
    put_bytes(&mut n, 4, op.as_bytes());
    put_bytes(out, 1, &n);
}

/// `node` with its first output renamed.
fn renamed_output(buf: &[u8], to: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(buf.len() + 16);
    let mut done = false;
    for f in fields(buf)? {
        if f.num == 2 && f.wire == LEN && !done {
            put_bytes(&mut out, 2, to.as_bytes());
            done = true;
        } else {
            out.extend_from_slice(f.raw);
        }
    }
    Ok(out)
}

/// `model` with a low-rank branch on each layer of `modules` (module paths [`linears`] lists):
/// two inputs per layer ([`down_input`], [`up_input`]) whose rank is free. An unknown module
/// is an error naming it.
pub fn with_branches(model: &[u8], modules: &BTreeSet<String>) -> Result<Vec<u8>> {
    let graph = graph_of(model)?;
    let g = parse(graph)?;
    let layers: HashMap<String, Linear> = single_linears(&g)
        .into_iter()
        .map(|l| (l.module.clone(), l))
        .collect();
    if let Some(m) = modules.iter().find(|m| !layers.contains_key(*m)) {
        return Err(bad(format!("no single linear layer '{m}' in the graph")));
    }
    let mut new_graph = Vec::with_capacity(graph.len() + modules.len() * 256);
    let mut index = 0;
    for f in &g.fields {
        if f.num != 1 || f.wire != LEN {
            new_graph.extend_from_slice(f.raw);
            continue;
        }
        let n = &g.nodes[index];
        index += 1;
        let layer = linear_of(n, &g.inits).filter(|l| modules.contains(&l.module));
        let Some(layer) = layer else {
            new_graph.extend_from_slice(f.raw);
            continue;
        };
        let out = &n.outputs[0];
        let base = format!("{out}.lora_base");
        let mid = format!("{out}.lora_mid");
        let delta = format!("{out}.lora_delta");
        let (down, up) = (down_input(&layer.module), up_input(&layer.module));
        put_bytes(&mut new_graph, 1, &renamed_output(f.payload, &base)?);
        let prefix = format!("/lora/{}", layer.module);
        new_node(
            &mut new_graph,
            "MatMul",
            &format!("{prefix}/down"),
            &[&n.inputs[0], &down],
            &mid,
        );
        new_node(
            &mut new_graph,
            "MatMul",
            &format!("{prefix}/up"),
            &[&mid, &up],
            &delta,
        );
        new_node(
            &mut new_graph,
            "Add",
            &format!("{prefix}/add"),
            &[&base, &delta],
            out,
        );
    }
    for (i, m) in modules.iter().enumerate() {
        let l = &layers[m];
        let rank = format!("lora_rank_{i}");
        value_info(
            &mut new_graph,
            &down_input(m),
            l.elem,
            [Dim::Fixed(l.inputs), Dim::Free(rank.clone())],
        );
        value_info(
            &mut new_graph,
            &up_input(m),
            l.elem,
            [Dim::Free(rank), Dim::Fixed(l.outputs)],
        );
    }
    let mut out = Vec::with_capacity(model.len() + new_graph.len() - graph.len());
    for f in fields(model)? {
        if f.num == 7 && f.wire == LEN {
            put_bytes(&mut out, 7, &new_graph);
        } else {
            out.extend_from_slice(f.raw);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_from_node_names() {
        assert_eq!(
            module_of("/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul"),
            Some("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q".into())
        );
        assert_eq!(
            module_of("/ff/net.0/proj/MatMul"),
            Some("ff.net.0.proj".into())
        );
        assert_eq!(module_of("MatMul_12"), None);
        assert_eq!(module_of("/MatMul"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b"\xff\xff\xff"[..], b"\x3a\x05ab", b"\x0a", b""] {
            assert!(linears(bytes).is_err());
            assert!(with_branches(bytes, &BTreeSet::new()).is_err());
        }
    }
}
