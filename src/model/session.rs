//! One ONNX graph: its ONNX Runtime session and the input/output metadata read from it.
//! Tensors cross this boundary as `f32` (or `i64` ids); conversion to what the graph
//! declares (float16, int32, rank-0 timesteps) happens here.

use std::path::Path;

use half::f16;
use ort::session::{RunOptions, Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};

use crate::error::{Error, ErrorKind, Result};

/// An input or output as the graph declares it.
#[derive(Debug, Clone)]
pub struct IoInfo {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub elem: TensorElementType,
    /// Declared shape; `-1` for free dimensions.
    pub shape: Vec<i64>,
    /// Names of the symbolic dimensions (empty where fixed).
    pub symbols: Vec<String>,
}

/// A loaded graph.
pub struct OnnxModel {
    name: String,
    session: Session,
    last_run: std::time::Duration,
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
    /// Inputs every run feeds besides the stage's own (a call's LoRA branches).
    extra: Vec<(String, DynValue)>,
}

fn io_info(name: &str, dtype: &ValueType) -> Option<IoInfo> {
    match dtype {
        ValueType::Tensor {
            ty,
            shape,
            dimension_symbols,
        } => Some(IoInfo {
            name: name.to_string(),
            elem: *ty,
            shape: shape.iter().copied().collect(),
            symbols: dimension_symbols.iter().map(|s| s.to_string()).collect(),
        }),
        _ => None,
    }
}

impl OnnxModel {
    /// Wraps a committed session; `name` is used in error messages.
    pub fn new(name: &str, session: Session) -> Result<OnnxModel> {
        let collect = |list: &[ort::value::Outlet]| -> Result<Vec<IoInfo>> {
            list.iter()
                .map(|o| {
                    io_info(o.name(), o.dtype()).ok_or_else(|| {
                        Error::model(format!("{name}: '{}' is not a tensor", o.name()))
                    })
                })
                .collect()
        };
        let inputs = collect(session.inputs())?;
        let outputs = collect(session.outputs())?;
        Ok(OnnxModel {
            name: name.to_string(),
            session,
            last_run: std::time::Duration::ZERO,
            inputs,
            outputs,
            extra: Vec::new(),
        })
    }

    /// Sets the inputs every following run feeds besides its own (replacing the last set).
    pub fn set_extra_inputs(&mut self, extra: Vec<(String, DynValue)>) {
        self.extra = extra;
    }

    /// How long the last `run` spent inside ONNX Runtime.
    pub fn last_run(&self) -> std::time::Duration {
        self.last_run
    }

    /// The graph's name (`unet`, `text_encoder`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Declared inputs.
    pub fn inputs(&self) -> &[IoInfo] {
        &self.inputs
    }

    /// Declared outputs.
    pub fn outputs(&self) -> &[IoInfo] {
        &self.outputs
    }

    /// The input called `name`, else the one at `fallback_index`.
    pub fn input(&self, name: &str, fallback_index: usize) -> Result<&IoInfo> {
        find(&self.inputs, name, fallback_index)
            .ok_or_else(|| Error::model(format!("{}: no input '{name}'", self.name)))
    }

    /// The output called `name`, else the one at `fallback_index`.
    pub fn output(&self, name: &str, fallback_index: usize) -> Result<&IoInfo> {
        find(&self.outputs, name, fallback_index)
            .ok_or_else(|| Error::model(format!("{}: no output '{name}'", self.name)))
    }

    /// Runs the graph, recording how long ONNX Runtime took.
    fn run_timed<'a>(
        &'a mut self,
        inputs: Vec<(String, DynValue)>,
        options: &'a RunOptions,
    ) -> Result<ort::session::SessionOutputs<'a>> {
        let started = std::time::Instant::now();
        let mut all: Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(inputs.len() + self.extra.len());
        all.extend(inputs.into_iter().map(|(k, v)| (k.into(), v.into())));
        all.extend(
            self.extra
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.into())),
        );
        let result = self
            .session
            .run_with_options(all, options)
            .map_err(|e| Error::new(ErrorKind::Inference, format!("{}: {e}", self.name)))?;
        self.last_run = started.elapsed();
        Ok(result)
    }

    /// Runs the graph and returns the named float outputs, converted to `f32`.
    pub fn run(
        &mut self,
        inputs: Vec<(String, DynValue)>,
        outputs: &[&str],
        options: &RunOptions,
    ) -> Result<Vec<FloatTensor>> {
        let name = self.name.clone();
        let result = self.run_timed(inputs, options)?;
        outputs
            .iter()
            .map(|o| {
                let v = result
                    .get(*o)
                    .ok_or_else(|| Error::model(format!("{name}: output '{o}' missing")))?;
                read_float(v).map_err(|e| e.context(&name))
            })
            .collect()
    }
}

impl OnnxModel {
    /// Runs the graph and returns one boolean output (bool, or numbers read as `!= 0`).
    pub fn run_bool(
        &mut self,
        inputs: Vec<(String, DynValue)>,
        output: &str,
        options: &RunOptions,
    ) -> Result<Vec<bool>> {
        let name = self.name.clone();
        let result = self.run_timed(inputs, options)?;
        let v = result
            .get(output)
            .ok_or_else(|| Error::model(format!("{name}: output '{output}' missing")))?;
        match v.dtype().tensor_type() {
            Some(TensorElementType::Bool) => Ok(v.try_extract_tensor::<bool>()?.1.to_vec()),
            Some(TensorElementType::Int64) => Ok(v
                .try_extract_tensor::<i64>()?
                .1
                .iter()
                .map(|&x| x != 0)
                .collect()),
            Some(TensorElementType::Int32) => Ok(v
                .try_extract_tensor::<i32>()?
                .1
                .iter()
                .map(|&x| x != 0)
                .collect()),
            _ => Ok(read_float(v)
                .map_err(|e| e.context(&name))?
                .data
                .iter()
                .map(|&x| x != 0.0)
                .collect()),
        }
    }
}

fn find<'a>(list: &'a [IoInfo], name: &str, fallback: usize) -> Option<&'a IoInfo> {
    list.iter()
        .find(|i| i.name == name)
        .or_else(|| list.get(fallback))
}

/// A float tensor in row-major order.
#[derive(Debug, Clone)]
pub struct FloatTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

fn dims_i64(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

/// A float input in the element type `info` declares (float32, float16 or float64).
pub fn float_value(info: &IoInfo, shape: &[usize], data: &[f32]) -> Result<DynValue> {
    let dims = dims_i64(shape);
    let v = match info.elem {
        TensorElementType::Float32 => Tensor::from_array((dims, data.to_vec()))?.into_dyn(),
        TensorElementType::Float16 => {
            let d: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
            Tensor::from_array((dims, d))?.into_dyn()
        }
        TensorElementType::Float64 => {
            let d: Vec<f64> = data.iter().map(|&x| x as f64).collect();
            Tensor::from_array((dims, d))?.into_dyn()
        }
        other => {
            return Err(Error::model(format!(
                "input '{}' has element type {other:?}; expected a float type",
                info.name
            )))
        }
    };
    Ok(v)
}

/// An integer input (token ids, integer timesteps) in the type `info` declares.
pub fn int_value(info: &IoInfo, shape: &[usize], data: &[i64]) -> Result<DynValue> {
    let dims = dims_i64(shape);
    let v = match info.elem {
        TensorElementType::Int64 => Tensor::from_array((dims, data.to_vec()))?.into_dyn(),
        TensorElementType::Int32 => {
            let d: Vec<i32> = data.iter().map(|&x| x as i32).collect();
            Tensor::from_array((dims, d))?.into_dyn()
        }
        TensorElementType::Float32 | TensorElementType::Float16 | TensorElementType::Float64 => {
            let f: Vec<f32> = data.iter().map(|&x| x as f32).collect();
            return float_value(info, shape, &f);
        }
        other => {
            return Err(Error::model(format!(
                "input '{}' has element type {other:?}; expected an integer type",
                info.name
            )))
        }
    };
    Ok(v)
}

/// Reads a float output of any float element type as `f32`.
pub fn read_float(v: &DynValue) -> Result<FloatTensor> {
    let ty = v.dtype().tensor_type();
    let (shape, data): (Vec<usize>, Vec<f32>) = match ty {
        Some(TensorElementType::Float32) => {
            let (s, d) = v.try_extract_tensor::<f32>()?;
            (s.iter().map(|&x| x as usize).collect(), d.to_vec())
        }
        Some(TensorElementType::Float16) => {
            let (s, d) = v.try_extract_tensor::<f16>()?;
            (
                s.iter().map(|&x| x as usize).collect(),
                d.iter().map(|x| x.to_f32()).collect(),
            )
        }
        Some(TensorElementType::Float64) => {
            let (s, d) = v.try_extract_tensor::<f64>()?;
            (
                s.iter().map(|&x| x as usize).collect(),
                d.iter().map(|&x| x as f32).collect(),
            )
        }
        other => {
            return Err(Error::model(format!(
                "output has element type {other:?}; expected a float type"
            )))
        }
    };
    Ok(FloatTensor { shape, data })
}

/// The checks of a `model.onnx` file before ONNX Runtime reads it: an ONNX graph whose
/// external data files are there and long enough; errors name the file.
pub fn preflight(path: &Path) -> Result<()> {
    let graph = super::onnx_file::read_graph(path)?;
    super::onnx_file::check_external_data(path, &graph)
}

/// Commits a session from a `model.onnx` file (external data next to it is found by ORT).
/// The file is read first (see [`super::onnx_file`]): one that is not an ONNX graph, or whose
/// external data files are missing or short, fails here, naming the file, before ONNX Runtime
/// spends time on it.
pub fn load_session(
    builder: ort::session::builder::SessionBuilder,
    path: &Path,
) -> Result<Session> {
    preflight(path)?;
    let mut builder = builder;
    builder
        .commit_from_file(path)
        .map_err(|e| Error::model(format!("{}: {e}", path.display())))
}
