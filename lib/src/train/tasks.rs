//! The three training tasks: their inputs in memory, losses and validation.

use std::collections::BTreeMap;

use candle_core::{Device, Result, Tensor, D};

use super::engine::{
    classifier_step, mfe_step, structure_step, ClassifierBatch, FoldBatch, Grads, MfeBatch, Weights,
};
use crate::encode::{channel, get_pe, PE_FEATURES};
use crate::eval::{score_key, summarize, Counts, Points};
use crate::model::config::{ClassifierConfig, MfeConfig, StructureConfig};
use crate::model::cpu::MfeCpu;
use crate::model::cpu::StructureCpu;
use crate::model::nn::classifier::ClassifierNet;
use crate::model::nn::mfe::MfeNet;
use crate::model::nn::structure::StructureNet;
use crate::model::nn::train_mode::TrainCtx;
use crate::model::nn::weights::Vb;
use crate::model::{Attention, Kind, Precision};
use crate::train::ClassifierOptions;
use crate::window::WINDOW_LENGTH;

/// How an epoch's batches are drawn.
pub(crate) enum Sampling {
    /// Uniformly with replacement (the original's `RandomSampler(replacement=True)`).
    Replacement,
    /// A fresh permutation each epoch, without replacement.
    Shuffle,
    /// Each sample from either class with probability 1/2, then uniformly within it.
    Balanced { pos: Vec<usize>, neg: Vec<usize> },
}

/// One validation pass.
pub(crate) struct Validation {
    pub loss: f64,
    pub metric: f64,
    pub extra: Vec<(String, f64)>,
}

/// A model and its data, as the training loop sees them.
pub(crate) trait Task {
    type Net;
    fn kind(&self) -> Kind;
    fn build(&self, vb: &Vb) -> Result<Self::Net>;
    fn train_len(&self) -> usize;
    fn sampling(&self) -> Sampling;
    /// Name of the early-stopping metric and whether higher is better.
    fn metric(&self) -> (&'static str, bool);
    /// Samples per forward pass when the user does not say (gradients are accumulated over them).
    fn default_micro_batch(&self) -> Option<usize> {
        None
    }
    /// The loss's normaliser for the training samples `batch` (positions, samples or sample weights).
    fn weight(&self, batch: &[usize]) -> f64;
    /// The un-normalised loss of the training samples `micro` (a scalar tensor): the batch loss is
    /// the sum over its micro-batches divided by [`Task::weight`] of the batch.
    fn loss_sum(&self, net: &Self::Net, micro: &[usize], device: &Device) -> Result<Tensor>;
    /// The CPU engine's step on the training samples `micro`: adds `scale ·` the gradient of
    /// [`Task::loss_sum`] to `grads` and returns that loss (un-normalised).
    fn engine_step(
        &self,
        weights: &Weights,
        micro: &[usize],
        scale: f32,
        ctx: &TrainCtx,
        grads: &mut Grads,
    ) -> Result<f64>;
    fn validate(&self, net: &Self::Net, device: &Device) -> Result<Validation>;
}

/// Windows per forward pass when not training (bounded memory on the CPU).
fn eval_chunk(device: &Device) -> usize {
    if device.is_cpu() {
        64
    } else {
        1024
    }
}

/// Channel-first model input [n, 4 (+1), 100]: zero-padded one-hot (+ the structure channel).
pub(crate) fn channels_first(seqs: &[&[u8]], structure: Option<&[f32]>) -> Vec<f32> {
    let c = 4 + usize::from(structure.is_some());
    let mut x = vec![0.0f32; seqs.len() * c * WINDOW_LENGTH];
    for (i, (seq, out)) in seqs
        .iter()
        .zip(x.chunks_exact_mut(c * WINDOW_LENGTH))
        .enumerate()
    {
        for (t, &b) in seq.iter().take(WINDOW_LENGTH).enumerate() {
            // the readers only give A C G U N
            if let Ok(Some(ch)) = channel(b) {
                out[ch * WINDOW_LENGTH + t] = 1.0;
            }
        }
        if let Some(s) = structure {
            out[4 * WINDOW_LENGTH..]
                .copy_from_slice(&s[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH]);
        }
    }
    x
}

fn gather(data: &[f32], width: usize, idx: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(idx.len() * width);
    for &i in idx {
        out.extend_from_slice(&data[i * width..(i + 1) * width]);
    }
    out
}

/// `get_pe(len, 100)` for every length 1..=100 (index len − 1).
pub(crate) fn pe_tables() -> Vec<Vec<f32>> {
    (1..=WINDOW_LENGTH)
        .map(|len| get_pe(len, WINDOW_LENGTH))
        .collect()
}

/// Structure inputs: one-hot, the true lengths (for the PE and the loss mask) and the targets.
pub(crate) struct FoldSet {
    pub x: Vec<f32>,
    pub lens: Vec<usize>,
    pub pairing: Vec<f32>,
}

impl FoldSet {
    pub fn new(records: &[crate::train::FoldRecord]) -> Self {
        let seqs: Vec<&[u8]> = records.iter().map(|r| r.seq.as_slice()).collect();
        let mut pairing = vec![0.0f32; records.len() * WINDOW_LENGTH];
        for (r, out) in records.iter().zip(pairing.chunks_exact_mut(WINDOW_LENGTH)) {
            out[..r.pairing.len()].copy_from_slice(&r.pairing);
        }
        Self {
            x: channels_first(&seqs, None),
            lens: records
                .iter()
                .map(|r| r.seq.len().clamp(1, WINDOW_LENGTH))
                .collect(),
            pairing,
        }
    }

    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// One-hot `[b, 4, 100]`, PE `[b, 100, 111]`, loss mask and target `[b, 100]` of the samples
    /// `idx`, as plain values.
    fn values(&self, idx: &[usize], pe: &[Vec<f32>]) -> [Vec<f32>; 4] {
        let b = idx.len();
        let mut p = Vec::with_capacity(b * WINDOW_LENGTH * PE_FEATURES);
        let mut mask = vec![0.0f32; b * WINDOW_LENGTH];
        for (k, &i) in idx.iter().enumerate() {
            p.extend_from_slice(&pe[self.lens[i] - 1]);
            mask[k * WINDOW_LENGTH..k * WINDOW_LENGTH + self.lens[i]].fill(1.0);
        }
        let x = gather(&self.x, 4 * WINDOW_LENGTH, idx);
        [x, p, mask, gather(&self.pairing, WINDOW_LENGTH, idx)]
    }

    /// (one-hot [b, 4, 100], PE [b, 100, 111], mask [b, 100], target [b, 100]) of the samples
    /// `idx`.
    fn inputs(&self, idx: &[usize], pe: &[Vec<f32>], dev: &Device) -> Result<[Tensor; 4]> {
        let b = idx.len();
        let [x, p, mask, target] = self.values(idx, pe);
        Ok([
            Tensor::from_vec(x, (b, 4, WINDOW_LENGTH), dev)?,
            Tensor::from_vec(p, (b, WINDOW_LENGTH, PE_FEATURES), dev)?,
            Tensor::from_vec(mask, (b, WINDOW_LENGTH), dev)?,
            Tensor::from_vec(target, (b, WINDOW_LENGTH), dev)?,
        ])
    }
}

/// `load()` where `vb` is an eval-mode source on the CPU, the home of the hand-written paths.
fn cpu_path<T>(vb: &Vb, load: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    if vb.train().is_none() && vb.device().is_cpu() {
        load().map(Some)
    } else {
        Ok(None)
    }
}

/// Model A as the tasks build it: the candle network, and in eval mode on the CPU also the
/// hand-written inference path.
pub(crate) struct EvalStructure {
    pub net: StructureNet,
    /// The hand-written CPU path: the same network, many times faster, for windows of the full
    /// length (its positional features are those of length 100).
    pub cpu: Option<StructureCpu>,
}

impl EvalStructure {
    /// The network from `vb`, with the CPU path when `vb` is an eval-mode source on the CPU.
    pub fn load(vb: &Vb) -> Result<Self> {
        let cfg = StructureConfig::default();
        Ok(Self {
            net: StructureNet::load(vb, &cfg)?,
            cpu: cpu_path(vb, || StructureCpu::load(vb, &cfg, Precision::F32))?,
        })
    }
}

/// Structure predictions (eval mode, PE from each true length) for every sample of `set`:
/// full-length samples through the CPU path where there is one, the others through candle.
pub(crate) fn predict_structure(
    model: &EvalStructure,
    set: &FoldSet,
    dev: &Device,
) -> Result<Vec<f32>> {
    let (full, short): (Vec<usize>, Vec<usize>) = match &model.cpu {
        Some(_) => (0..set.len()).partition(|&i| set.lens[i] == WINDOW_LENGTH),
        None => (Vec::new(), (0..set.len()).collect()),
    };
    let mut out = vec![0.0f32; set.len() * WINDOW_LENGTH];
    if let Some(cpu) = &model.cpu {
        for idx in full.chunks(4096) {
            let pred = cpu.forward(&gather(&set.x, 4 * WINDOW_LENGTH, idx));
            scatter(&mut out, &pred, idx);
        }
    }
    let pe = pe_tables();
    for idx in short.chunks(eval_chunk(dev)) {
        let [x, p, _, _] = set.inputs(idx, &pe, dev)?;
        let pred = model
            .net
            .forward_pe(&x, &p)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        scatter(&mut out, &pred, idx);
    }
    Ok(out)
}

/// Rows of `rows` (of 100 values) written to the samples `idx` of `out`.
fn scatter(out: &mut [f32], rows: &[f32], idx: &[usize]) {
    for (row, &i) in rows.chunks_exact(WINDOW_LENGTH).zip(idx) {
        out[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH].copy_from_slice(row);
    }
}

/// Model A: masked MSE between the prediction and the pairing target over each sequence's positions.
pub(crate) struct StructureTask {
    pub train: FoldSet,
    pub val: FoldSet,
    pub pe: Vec<Vec<f32>>,
}

impl StructureTask {
    /// (sum of squared errors, positions) of the samples `idx`.
    fn errors(
        &self,
        net: &StructureNet,
        set: &FoldSet,
        idx: &[usize],
        dev: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let [x, p, mask, target] = set.inputs(idx, &self.pe, dev)?;
        let pred = net.forward_pe(&x, &p)?;
        let sq = ((pred - target)? * &mask)?.sqr()?.sum_all()?;
        Ok((sq, mask.sum_all()?))
    }
}

impl Task for StructureTask {
    type Net = EvalStructure;
    fn kind(&self) -> Kind {
        Kind::Structure
    }
    fn build(&self, vb: &Vb) -> Result<EvalStructure> {
        EvalStructure::load(vb)
    }
    fn train_len(&self) -> usize {
        self.train.len()
    }
    fn sampling(&self) -> Sampling {
        Sampling::Replacement
    }
    fn metric(&self) -> (&'static str, bool) {
        ("val_mse", false)
    }
    fn default_micro_batch(&self) -> Option<usize> {
        // candle keeps about 45 MB of activations per sample for the backward pass (the CPU engine
        // about 14 MB): micro-batches bound the memory of a step
        Some(32)
    }
    fn weight(&self, batch: &[usize]) -> f64 {
        batch.iter().map(|&i| self.train.lens[i] as f64).sum()
    }
    fn loss_sum(&self, net: &EvalStructure, micro: &[usize], dev: &Device) -> Result<Tensor> {
        Ok(self.errors(&net.net, &self.train, micro, dev)?.0)
    }
    fn engine_step(
        &self,
        weights: &Weights,
        micro: &[usize],
        scale: f32,
        ctx: &TrainCtx,
        grads: &mut Grads,
    ) -> Result<f64> {
        let [x, pe, mask, target] = self.train.values(micro, &self.pe);
        let batch = FoldBatch {
            x: &x,
            pe: &pe,
            mask: &mask,
            target: &target,
        };
        structure_step(weights, &batch, scale, ctx, grads)
    }
    fn validate(&self, net: &EvalStructure, dev: &Device) -> Result<Validation> {
        let pred = predict_structure(net, &self.val, dev)?;
        let (mut sq, mut n) = (0f64, 0f64);
        for (i, &len) in self.val.lens.iter().enumerate() {
            let row = i * WINDOW_LENGTH..i * WINDOW_LENGTH + len;
            for (p, t) in pred[row.clone()].iter().zip(&self.val.pairing[row]) {
                sq += f64::from(p - t).powi(2);
            }
            n += len as f64;
        }
        let mse = sq / n.max(1.0);
        Ok(Validation {
            loss: mse,
            metric: mse,
            extra: Vec::new(),
        })
    }
}

/// Samples with a structure channel: [n, 5, 100] inputs and one target or label each.
pub(crate) struct Samples {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
}

impl Samples {
    fn len(&self) -> usize {
        self.y.len()
    }
    fn x(&self, idx: &[usize], dev: &Device) -> Result<Tensor> {
        Tensor::from_vec(
            gather(&self.x, 5 * WINDOW_LENGTH, idx),
            (idx.len(), 5, WINDOW_LENGTH),
            dev,
        )
    }
    fn y(&self, idx: &[usize], dev: &Device) -> Result<Tensor> {
        Tensor::from_vec(gather(&self.y, 1, idx), idx.len(), dev)
    }
}

/// Model B as the tasks build it: the candle network, and in eval mode on the CPU also the
/// hand-written inference path (exact for any length: the input is zero-padded either way).
pub(crate) struct EvalMfe {
    pub net: MfeNet,
    pub cpu: Option<MfeCpu>,
}

impl EvalMfe {
    /// The network from `vb`, with the CPU path when `vb` is an eval-mode source on the CPU.
    pub fn load(vb: &Vb) -> Result<Self> {
        let cfg = MfeConfig::default();
        Ok(Self {
            net: MfeNet::load(vb, &cfg)?,
            cpu: cpu_path(vb, || MfeCpu::load(vb, &cfg, crate::model::Precision::F32))?,
        })
    }
}

/// MFE predictions (eval mode) for every sample of `x` (`[n, 5, 100]`).
pub(crate) fn predict_mfe(model: &EvalMfe, x: &[f32], dev: &Device) -> Result<Vec<f32>> {
    if let Some(cpu) = &model.cpu {
        return Ok(cpu.forward(x));
    }
    let n = x.len() / (5 * WINDOW_LENGTH);
    let all: Vec<usize> = (0..n).collect();
    let mut out = Vec::with_capacity(n);
    for idx in all.chunks(eval_chunk(dev)) {
        let t = Tensor::from_vec(
            gather(x, 5 * WINDOW_LENGTH, idx),
            (idx.len(), 5, WINDOW_LENGTH),
            dev,
        )?;
        out.extend(model.net.forward(&t)?.to_vec1::<f32>()?);
    }
    Ok(out)
}

/// Model B: MSE against |MFE| / length.
pub(crate) struct MfeTask {
    pub train: Samples,
    pub val: Samples,
}

impl Task for MfeTask {
    type Net = EvalMfe;
    fn kind(&self) -> Kind {
        Kind::Mfe
    }
    fn build(&self, vb: &Vb) -> Result<EvalMfe> {
        EvalMfe::load(vb)
    }
    fn train_len(&self) -> usize {
        self.train.len()
    }
    fn sampling(&self) -> Sampling {
        Sampling::Replacement
    }
    fn metric(&self) -> (&'static str, bool) {
        ("val_mse", false)
    }
    fn weight(&self, batch: &[usize]) -> f64 {
        batch.len() as f64
    }
    fn engine_step(
        &self,
        weights: &Weights,
        micro: &[usize],
        scale: f32,
        ctx: &TrainCtx,
        grads: &mut Grads,
    ) -> Result<f64> {
        let batch = MfeBatch {
            x: &gather(&self.train.x, 5 * WINDOW_LENGTH, micro),
            target: &gather(&self.train.y, 1, micro),
        };
        mfe_step(weights, &batch, scale, ctx, grads)
    }
    fn loss_sum(&self, net: &EvalMfe, micro: &[usize], dev: &Device) -> Result<Tensor> {
        let pred = net.net.forward(&self.train.x(micro, dev)?)?;
        (pred - self.train.y(micro, dev)?)?.sqr()?.sum_all()
    }
    fn validate(&self, net: &EvalMfe, dev: &Device) -> Result<Validation> {
        let pred = predict_mfe(net, &self.val.x, dev)?;
        let sq: f64 = pred
            .iter()
            .zip(&self.val.y)
            .map(|(p, y)| f64::from(p - y).powi(2))
            .sum();
        let mse = sq / self.val.len().max(1) as f64;
        Ok(Validation {
            loss: mse,
            metric: mse,
            extra: Vec::new(),
        })
    }
}

/// Model C: focal loss on the two-class softmax; labels y = 1 for positives (column 0).
pub(crate) struct ClassifierTask {
    pub train: Samples,
    pub train_mfe: Vec<f32>,
    pub val: Samples,
    pub val_mfe: Vec<f32>,
    pub opts: ClassifierOptions,
}

impl ClassifierTask {
    /// Per-sample weighted focal loss terms and weights of the samples `idx`, from the logits.
    fn focal(&self, logits: &Tensor, labels: &[f32], dev: &Device) -> Result<(Tensor, Tensor)> {
        let b = labels.len();
        let onehot: Vec<f32> = labels.iter().flat_map(|&y| [y, 1.0 - y]).collect();
        let onehot = Tensor::from_vec(onehot, (b, 2), dev)?;
        let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
        let logpt = (logp * onehot)?.sum(1)?;
        let pt = logpt.exp()?;
        let focal = ((1.0 - pt)?.powf(self.opts.focal_gamma)? * logpt.neg()?)?;
        let w: Vec<f32> = labels
            .iter()
            .map(|&y| {
                if y > 0.5 {
                    self.opts.pos_weight as f32
                } else {
                    1.0
                }
            })
            .collect();
        let w = Tensor::from_vec(w, b, dev)?;
        Ok(((focal * &w)?.sum_all()?, w.sum_all()?))
    }

    fn logits(
        &self,
        net: &ClassifierNet,
        set: &Samples,
        mfe: &[f32],
        idx: &[usize],
        dev: &Device,
    ) -> Result<Tensor> {
        let m = Tensor::from_vec(gather(mfe, 1, idx), (idx.len(), 1), dev)?;
        net.logits(&set.x(idx, dev)?, &m, Attention::Window)
    }
}

impl Task for ClassifierTask {
    type Net = ClassifierNet;
    fn kind(&self) -> Kind {
        Kind::Classifier
    }
    fn build(&self, vb: &Vb) -> Result<ClassifierNet> {
        ClassifierNet::load(vb, &ClassifierConfig::default())
    }
    fn train_len(&self) -> usize {
        self.train.len()
    }
    fn sampling(&self) -> Sampling {
        if !self.opts.balance {
            return Sampling::Shuffle;
        }
        let (pos, neg) = (0..self.train.len()).partition(|&i| self.train.y[i] > 0.5);
        Sampling::Balanced { pos, neg }
    }
    fn metric(&self) -> (&'static str, bool) {
        ("val_max_f1", true)
    }
    fn weight(&self, batch: &[usize]) -> f64 {
        let w = |i: &usize| {
            if self.train.y[*i] > 0.5 {
                self.opts.pos_weight
            } else {
                1.0
            }
        };
        batch.iter().map(w).sum()
    }
    fn engine_step(
        &self,
        weights: &Weights,
        micro: &[usize],
        scale: f32,
        ctx: &TrainCtx,
        grads: &mut Grads,
    ) -> Result<f64> {
        let batch = ClassifierBatch {
            x: &gather(&self.train.x, 5 * WINDOW_LENGTH, micro),
            mfe: &gather(&self.train_mfe, 1, micro),
            labels: &gather(&self.train.y, 1, micro),
        };
        classifier_step(weights, &batch, &self.opts, scale, ctx, grads)
    }
    fn loss_sum(&self, net: &ClassifierNet, micro: &[usize], dev: &Device) -> Result<Tensor> {
        let logits = self.logits(net, &self.train, &self.train_mfe, micro, dev)?;
        Ok(self
            .focal(&logits, &gather(&self.train.y, 1, micro), dev)?
            .0)
    }
    fn validate(&self, net: &ClassifierNet, dev: &Device) -> Result<Validation> {
        let all: Vec<usize> = (0..self.val.len()).collect();
        let (mut loss, mut weight) = (0f64, 0f64);
        let mut bins: BTreeMap<u32, Counts> = BTreeMap::new();
        let (mut p, mut n) = (0u64, 0u64);
        for idx in all.chunks(eval_chunk(dev)) {
            let logits = self.logits(net, &self.val, &self.val_mfe, idx, dev)?;
            let labels = gather(&self.val.y, 1, idx);
            let (s, w) = self.focal(&logits, &labels, dev)?;
            loss += f64::from(s.to_scalar::<f32>()?);
            weight += f64::from(w.to_scalar::<f32>()?);
            // the score as `Classifier::predict` computes it
            let scores = candle_nn::ops::softmax_last_dim(&logits)?
                .narrow(1, 0, 1)?
                .flatten_all()?;
            for (s, y) in scores.to_vec1::<f32>()?.into_iter().zip(labels) {
                let c = bins.entry(score_key(s)).or_default();
                if y > 0.5 {
                    c.pos += 1;
                    p += 1;
                } else {
                    c.neg += 1;
                    n += 1;
                }
            }
        }
        let curve = summarize(bins.into_iter().rev(), p, n, 0, Points::None);
        let f1 = curve.max_f1.and_then(|pt| pt.confusion.f1()).unwrap_or(0.0);
        let ap = curve.average_precision.unwrap_or(0.0);
        Ok(Validation {
            loss: loss / weight.max(f64::MIN_POSITIVE),
            metric: f1,
            extra: vec![("val_ap".into(), ap)],
        })
    }
}
