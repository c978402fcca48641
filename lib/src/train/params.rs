//! A model's state dict during training: trained `Var`s, buffers (BatchNorm running statistics, the
//! Classifier's positional table), the carried-only tensors of the original and the
//! `num_batches_tracked` counter; PyTorch-style initialisation; safetensors in and out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};

use super::engine::Weights;
use crate::model::nn::train_mode::{BatchStats, TrainCtx};
use crate::model::nn::weights::{Source, TensorSpec};
use crate::model::{specs, Kind};

/// PyTorch's BatchNorm momentum.
const BN_MOMENTUM: f64 = 0.1;

/// One safetensors entry: name, dtype, shape, little-endian bytes.
pub(crate) type Entry = (String, Dtype, Vec<usize>, Vec<u8>);

/// A state dict on the CPU: f32 values by name, and the BatchNorm step counter.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Snapshot {
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    pub batches_tracked: i64,
}

/// Every float tensor with this prefix (stripped from the names), and the largest counter.
pub(crate) fn read_snapshot(file: &SafeTensors, prefix: &str) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    for (name, view) in file.tensors() {
        let Some(name) = name.strip_prefix(prefix) else {
            continue;
        };
        if name.ends_with("num_batches_tracked") {
            if view.dtype() == Dtype::I64 && view.data().len() == 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(view.data());
                snap.batches_tracked = snap.batches_tracked.max(i64::from_le_bytes(b));
            }
            continue;
        }
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            _ => continue,
        };
        let t = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)?
            .to_dtype(DType::F32)?;
        let values = t.flatten_all()?.to_vec1::<f32>()?;
        snap.tensors
            .insert(name.to_owned(), (view.shape().to_vec(), values));
    }
    Ok(snap)
}

/// Safetensors entries of a snapshot: every tensor of `kind`'s state dict in its order, named with
/// `prefix`; `num_batches_tracked` as int64 scalars as PyTorch writes them.
pub(crate) fn snapshot_entries(kind: Kind, snap: &Snapshot, prefix: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for spec in specs(kind) {
        let name = format!("{prefix}{}", spec.name);
        if spec.name.ends_with("num_batches_tracked") {
            out.push((
                name,
                Dtype::I64,
                vec![],
                snap.batches_tracked.to_le_bytes().to_vec(),
            ));
            continue;
        }
        let Some((shape, values)) = snap.tensors.get(&spec.name) else {
            candle_core::bail!("tensor {} missing from the snapshot", spec.name)
        };
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.push((name, Dtype::F32, shape.clone(), bytes));
    }
    Ok(out)
}

/// Serialises entries (with string metadata) to safetensors bytes.
pub(crate) fn serialize(
    entries: &[Entry],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let views = entries
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(candle_core::Error::wrap)?;
    safetensors::serialize(views, metadata).map_err(candle_core::Error::wrap)
}

/// What a state-dict entry is during training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Trained,
    Buffer,
    Carried,
    Counter,
}

fn role(spec: &TensorSpec) -> Role {
    let n = spec.name.as_str();
    if n.ends_with("num_batches_tracked") {
        Role::Counter
    } else if !spec.used {
        Role::Carried
    } else if n.ends_with("running_mean") || n.ends_with("running_var") || n == "PE.pe" {
        Role::Buffer
    } else {
        Role::Trained
    }
}

/// The state dict being trained.
pub(crate) struct Params {
    /// Trained tensors, in state-dict order.
    pub vars: Vec<(String, Var)>,
    /// Read by the model, not trained.
    pub buffers: BTreeMap<String, Tensor>,
    /// Never read (stray modules of the original), kept for the file.
    pub carried: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    pub batches_tracked: i64,
    pub device: Device,
}

impl Params {
    /// From `snap` where it has a tensor; otherwise initialised from `rng` when `fill`, else an
    /// error (a model read from a file must have every tensor it reads).
    pub fn new(
        kind: Kind,
        snap: &Snapshot,
        fill: bool,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Self> {
        let specs = specs(kind);
        let shapes: HashMap<&str, &[usize]> = specs
            .iter()
            .map(|s| (s.name.as_str(), s.shape.as_slice()))
            .collect();
        let mut params = Self {
            vars: Vec::new(),
            buffers: BTreeMap::new(),
            carried: BTreeMap::new(),
            batches_tracked: snap.batches_tracked,
            device: device.clone(),
        };
        for spec in &specs {
            let r = role(spec);
            if r == Role::Counter {
                continue;
            }
            let values = match snap.tensors.get(&spec.name) {
                Some((shape, v)) if *shape == spec.shape => v.clone(),
                Some((shape, _)) if r != Role::Carried => candle_core::bail!(
                    "tensor `{}` has shape {shape:?}, expected {:?}",
                    spec.name,
                    spec.shape
                ),
                _ if fill || r == Role::Carried => init(spec, &shapes, rng),
                _ => candle_core::bail!("missing tensor `{}`", spec.name),
            };
            match r {
                Role::Carried => {
                    params
                        .carried
                        .insert(spec.name.clone(), (spec.shape.clone(), values));
                }
                Role::Buffer => {
                    let t = Tensor::from_vec(values, spec.shape.as_slice(), device)?;
                    params.buffers.insert(spec.name.clone(), t);
                }
                Role::Trained => {
                    let t = Tensor::from_vec(values, spec.shape.as_slice(), device)?;
                    params.vars.push((spec.name.clone(), Var::from_tensor(&t)?));
                }
                Role::Counter => {}
            }
        }
        Ok(params)
    }

    /// A source that builds the model in train mode (gradients reach the `Var`s).
    pub fn train_source(&self, ctx: Arc<TrainCtx>) -> Source {
        let mut map: HashMap<String, Tensor> = self
            .vars
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        map.extend(self.buffers.iter().map(|(n, t)| (n.clone(), t.clone())));
        Source::Train(map, self.device.clone(), ctx)
    }

    /// Every trained tensor and buffer as plain values, for the CPU engine.
    pub fn weights(&self) -> Result<Weights> {
        let all = self
            .vars
            .iter()
            .map(|(n, v)| (n, v.as_tensor()))
            .chain(self.buffers.iter());
        let mut values = HashMap::new();
        for (name, t) in all {
            values.insert(name.clone(), t.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(Weights::new(values))
    }

    /// A source that builds the model in eval mode (the inference code path, no graph).
    pub fn eval_source(&self) -> Source {
        let mut map: HashMap<String, Tensor> = self
            .vars
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
            .collect();
        map.extend(self.buffers.iter().map(|(n, t)| (n.clone(), t.clone())));
        Source::Tensors(map, self.device.clone())
    }

    /// Running statistics updated once per optimiser step (PyTorch's formula, momentum 0.1, unbiased
    /// variance) from the statistics of its micro-batches, pooled into those of the whole batch.
    pub fn update_running(&mut self, stats: Vec<BatchStats>) -> Result<()> {
        let mut layers: BTreeMap<String, Vec<BatchStats>> = BTreeMap::new();
        for s in stats {
            layers.entry(s.name.clone()).or_default().push(s);
        }
        for (name, parts) in layers {
            let total: usize = parts.iter().map(|p| p.n).sum();
            let mut mean = parts[0].mean.zeros_like()?;
            for p in &parts {
                mean = (mean + (&p.mean * (p.n as f64 / total as f64))?)?;
            }
            // pooled biased variance: within-part variances plus the spread of the part means
            let mut var = parts[0].var.zeros_like()?;
            for p in &parts {
                let within = (&p.var + (&p.mean - &mean)?.sqr()?)?;
                var = (var + (within * (p.n as f64 / total as f64))?)?;
            }
            let var = (var * (total as f64 / (total.max(2) - 1) as f64))?;
            for (suffix, batch) in [("running_mean", &mean), ("running_var", &var)] {
                let key = format!("{name}.{suffix}");
                let Some(old) = self.buffers.get(&key) else {
                    candle_core::bail!("no buffer {key}")
                };
                let new = ((old * (1.0 - BN_MOMENTUM))? + (batch * BN_MOMENTUM)?)?;
                self.buffers.insert(key, new);
            }
        }
        self.batches_tracked += 1;
        Ok(())
    }

    /// The whole state dict on the CPU.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let mut snap = Snapshot {
            tensors: self.carried.clone(),
            batches_tracked: self.batches_tracked,
        };
        let all = self
            .vars
            .iter()
            .map(|(n, v)| (n, v.as_tensor()))
            .chain(self.buffers.iter());
        for (name, t) in all {
            let values = t.flatten_all()?.to_vec1::<f32>()?;
            snap.tensors
                .insert(name.clone(), (t.dims().to_vec(), values));
        }
        Ok(snap)
    }
}

/// PyTorch's default initialisation of the tensor `spec`: Linear and Conv weights
/// kaiming-uniform(a = √5), i.e. U(±1/√fan_in), their biases U(±1/√fan_in); BatchNorm and LayerNorm
/// weight 1, bias 0, running mean 0, variance 1; MultiheadAttention's `in_proj_weight`
/// xavier-uniform, its biases 0; the Classifier's positional table by its formula.
fn init(spec: &TensorSpec, shapes: &HashMap<&str, &[usize]>, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n: usize = spec.shape.iter().product();
    let name = spec.name.as_str();
    let mut uniform = |bound: f64| -> Vec<f32> {
        (0..n)
            .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
            .collect()
    };
    let fan_in = |shape: &[usize]| shape.iter().skip(1).product::<usize>().max(1) as f64;
    if name == "PE.pe" {
        return positional_table(spec.shape[1], spec.shape[2]);
    }
    if name.ends_with("running_var") {
        return vec![1.0; n];
    }
    if name.ends_with("running_mean")
        || name.ends_with("in_proj_bias")
        || name.ends_with("out_proj.bias")
    {
        return vec![0.0; n];
    }
    if name.ends_with("in_proj_weight") {
        let (fan_out, fan_in) = (spec.shape[0] as f64, spec.shape[1] as f64);
        return uniform((6.0 / (fan_in + fan_out)).sqrt());
    }
    if let Some(module) = name.strip_suffix(".bias") {
        let weight = shapes.get(format!("{module}.weight").as_str());
        return match weight {
            Some(w) if w.len() >= 2 => uniform(1.0 / fan_in(w).sqrt()),
            _ => vec![0.0; n], // BatchNorm / LayerNorm
        };
    }
    if spec.shape.len() >= 2 {
        return uniform(1.0 / fan_in(&spec.shape).sqrt());
    }
    vec![1.0; n] // BatchNorm / LayerNorm weight
}

/// The original `PositionalEncoder` table [seq, d] (its exponents as written: `2i/d` for the sine
/// of even column i, `2(i+1)/d` for the cosine of column i+1), computed in f64.
fn positional_table(seq: usize, d: usize) -> Vec<f32> {
    let mut pe = vec![0.0f32; seq * d];
    for pos in 0..seq {
        for i in (0..d).step_by(2) {
            let p = pos as f64;
            pe[pos * d + i] = (p / 10000f64.powf(2.0 * i as f64 / d as f64)).sin() as f32;
            if i + 1 < d {
                pe[pos * d + i + 1] =
                    (p / 10000f64.powf(2.0 * (i + 1) as f64 / d as f64)).cos() as f32;
            }
        }
    }
    pe
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn initialises_every_tensor_with_pytorch_defaults() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = Params::new(
            Kind::Mfe,
            &Snapshot::default(),
            true,
            &mut rng,
            &Device::Cpu,
        )
        .unwrap();
        let snap = p.snapshot().unwrap();
        assert_eq!(snap.tensors.len() + 9, specs(Kind::Mfe).len()); // + 9 counters
        let get = |n: &str| &snap.tensors[n].1;
        assert!(get("bn1.weight").iter().all(|&v| v == 1.0));
        assert!(get("bn1.running_var").iter().all(|&v| v == 1.0));
        let bound = 1.0 / (768f32).sqrt();
        let w = get("hidden2first.weight");
        assert!(w.iter().all(|v| v.abs() <= bound) && w.iter().any(|v| v.abs() > bound / 2.0));
        let b = get("conv1.conv_layers.2.bias"); // fan_in 5·3
        assert!(b.iter().all(|v| v.abs() <= 1.0 / 15f32.sqrt()));
    }
}
