//! Weight tensors by their PyTorch `state_dict` names: what a model asks for, checked against a
//! safetensors file before anything is built.
//!
//! A model is built from a [`Vb`] (a name prefix over a tensor source). Building it once against a
//! recording source lists every tensor it reads, with its shape, so the list of expected tensors and
//! the loader can never disagree.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensors};

use crate::model::nn::train_mode::TrainCtx;

/// One tensor of a model's state dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorSpec {
    /// Full `state_dict` name.
    pub name: String,
    /// Shape (empty for scalars such as `num_batches_tracked`).
    pub shape: Vec<usize>,
    /// Whether the forward pass reads it (the others are carried by the original files only).
    pub used: bool,
}

/// Where [`Vb::get`] finds tensors.
pub(crate) enum Source {
    /// Lists what is asked for and answers with zeros (on the CPU).
    Record(RefCell<Vec<TensorSpec>>),
    /// Checked tensors, already on the model's device.
    Tensors(HashMap<String, Tensor>, Device),
    /// Training: the parameters (candle `Var`s, so autograd tracks them) and buffers, with the
    /// train-mode context that layers take their dropout masks from and report BatchNorm statistics to.
    Train(HashMap<String, Tensor>, Device, Arc<TrainCtx>),
}

impl Source {
    /// A recording source.
    pub fn record() -> Self {
        Self::Record(RefCell::new(Vec::new()))
    }

    /// The tensors a recording source was asked for, in the order asked.
    pub fn into_specs(self) -> Vec<TensorSpec> {
        match self {
            Self::Record(specs) => specs.into_inner(),
            Self::Tensors(..) | Self::Train(..) => Vec::new(),
        }
    }
}

/// A name prefix over a [`Source`], like candle's `VarBuilder`.
#[derive(Clone)]
pub struct Vb<'a> {
    source: &'a Source,
    prefix: String,
}

impl<'a> Vb<'a> {
    /// The root (empty prefix) of `source`.
    pub(crate) fn root(source: &'a Source) -> Self {
        Self {
            source,
            prefix: String::new(),
        }
    }

    /// The sub-module `name` (`vb.pp("conv_in").pp(3)` → `conv_in.3.`).
    pub(crate) fn pp(&self, name: impl Display) -> Self {
        Self {
            source: self.source,
            prefix: self.path(name),
        }
    }

    fn path(&self, name: impl Display) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The device tensors are built on.
    pub(crate) fn device(&self) -> Device {
        match self.source {
            Source::Record(_) => Device::Cpu,
            Source::Tensors(_, device) | Source::Train(_, device, _) => device.clone(),
        }
    }

    /// The train-mode context, when building a model for a training step.
    pub(crate) fn train(&self) -> Option<Arc<TrainCtx>> {
        match self.source {
            Source::Train(_, _, ctx) => Some(ctx.clone()),
            _ => None,
        }
    }

    /// The prefix (the module's `state_dict` name).
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The f32 tensor `name` of the given shape.
    pub(crate) fn get(&self, shape: &[usize], name: &str) -> candle_core::Result<Tensor> {
        let name = self.path(name);
        match self.source {
            Source::Record(specs) => {
                specs.borrow_mut().push(TensorSpec {
                    name,
                    shape: shape.to_vec(),
                    used: true,
                });
                // one zero seen through the shape: recording allocates no weights
                Tensor::zeros((), DType::F32, &Device::Cpu)?.broadcast_as(shape)
            }
            Source::Tensors(map, _) | Source::Train(map, _, _) => match map.get(&name) {
                Some(t) if t.dims() == shape => Ok(t.clone()),
                // load() checked every tensor first; reaching this is a bug in a model's build
                Some(t) => {
                    candle_core::bail!("tensor {name}: shape {:?}, expected {shape:?}", t.dims())
                }
                None => candle_core::bail!("tensor {name} was not loaded"),
            },
        }
    }

    /// `t` made contiguous for the forward pass; as it is while recording, where it is never run.
    pub(crate) fn contiguous(&self, t: Tensor) -> candle_core::Result<Tensor> {
        match self.source {
            Source::Record(_) => Ok(t),
            _ => t.contiguous(),
        }
    }

    /// Lists a tensor that the original state dict carries but the forward pass never reads.
    pub(crate) fn declare_unused(&self, shape: &[usize], name: &str) {
        if let Source::Record(specs) = self.source {
            let name = self.path(name);
            specs.borrow_mut().push(TensorSpec {
                name,
                shape: shape.to_vec(),
                used: false,
            });
        }
    }

    /// Runs `build` in record mode and lists what it asked for as unused (a whole unused module,
    /// e.g. the original's stray `encoder_layer`). Does nothing when loading.
    pub(crate) fn declare_unused_module<T>(
        &self,
        build: impl FnOnce(&Vb) -> candle_core::Result<T>,
    ) -> candle_core::Result<()> {
        if let Source::Record(specs) = self.source {
            let inner = Source::record();
            build(&Vb {
                source: &inner,
                prefix: self.prefix.clone(),
            })?;
            let unused = inner
                .into_specs()
                .into_iter()
                .map(|s| TensorSpec { used: false, ..s });
            specs.borrow_mut().extend(unused);
        }
        Ok(())
    }
}

/// What is wrong with one expected tensor of a file.
#[derive(Debug)]
pub(crate) enum Problem {
    Missing(String),
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    Dtype {
        name: String,
        found: Dtype,
    },
}

impl Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "missing tensor `{name}`"),
            Self::Shape {
                name,
                found,
                expected,
            } => {
                write!(
                    f,
                    "tensor `{name}` has shape {found:?}, expected {expected:?}"
                )
            }
            Self::Dtype { name, found } => {
                write!(f, "tensor `{name}` has dtype {found:?}, expected a float type (F32, F16, BF16, F64)")
            }
        }
    }
}

/// Every problem of `file` with the used tensors of `specs` (empty: all present, right shape, float).
pub(crate) fn check(file: &SafeTensors, specs: &[TensorSpec]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for spec in specs.iter().filter(|s| s.used) {
        let Ok(view) = file.tensor(&spec.name) else {
            problems.push(Problem::Missing(spec.name.clone()));
            continue;
        };
        if view.shape() != spec.shape.as_slice() {
            problems.push(Problem::Shape {
                name: spec.name.clone(),
                found: view.shape().to_vec(),
                expected: spec.shape.clone(),
            });
        } else if float_dtype(view.dtype()).is_none() {
            problems.push(Problem::Dtype {
                name: spec.name.clone(),
                found: view.dtype(),
            });
        }
    }
    problems
}

/// The used tensors of `specs` from a checked `file`, as f32 on `device`.
pub(crate) fn tensors(
    file: &SafeTensors,
    specs: &[TensorSpec],
    device: &Device,
) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut map = HashMap::new();
    for spec in specs.iter().filter(|s| s.used) {
        let view = file.tensor(&spec.name).map_err(candle_core::Error::wrap)?;
        let Some(dtype) = float_dtype(view.dtype()) else {
            candle_core::bail!("tensor {}: dtype {:?}", spec.name, view.dtype())
        };
        let t = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)?
            .to_dtype(DType::F32)?
            .to_device(device)?;
        map.insert(spec.name.clone(), t);
    }
    Ok(map)
}

/// The candle dtype of a float safetensors dtype (weights in other float widths are widened to f32).
fn float_dtype(dtype: Dtype) -> Option<DType> {
    match dtype {
        Dtype::F32 => Some(DType::F32),
        Dtype::F16 => Some(DType::F16),
        Dtype::BF16 => Some(DType::BF16),
        Dtype::F64 => Some(DType::F64),
        _ => None,
    }
}
