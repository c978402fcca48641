//! The training loop every model shares: epochs of sampled batches, validation, early stopping,
//! and a checkpoint after each epoch from which a run resumes bit for bit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use super::engine::Grads;
use super::optim::{clip_grad_norm, Optimizer, Schedule};
use super::params::{read_snapshot, serialize, snapshot_entries, Params, Snapshot};
use super::tasks::{Sampling, Task};
use crate::model::nn::train_mode::TrainCtx;
use crate::model::nn::weights::Vb;
use crate::train::{Engine, EpochRecord, Observer, Outcome, TrainConfig};
use crate::{Error, Result};

/// The checkpoint's file name in the checkpoint folder.
pub(crate) const CHECKPOINT: &str = "checkpoint.safetensors";
/// Metadata key of the checkpoint's state.
const STATE_KEY: &str = "mire2e.train.state";

/// How a stage optimises: schedule, momentum, clipping.
pub(crate) struct Setup {
    pub schedule: Schedule,
    pub nesterov: bool,
    pub clip: Option<f64>,
    /// Settings a resumed run must share with the run that wrote the checkpoint.
    pub key: serde_json::Value,
}

/// Everything besides tensors that a resumed run needs.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    kind: String,
    key: serde_json::Value,
    /// Epochs completed.
    epoch: usize,
    /// Batches completed (the CyclicLR position).
    iteration: u64,
    rng_seed: Vec<u8>,
    rng_stream: u64,
    /// As text: JSON numbers cannot hold a u128.
    rng_word_pos: String,
    best_epoch: usize,
    best_metric: Option<f64>,
    bad_epochs: usize,
    stopped: bool,
    optimizer_step: u64,
}

fn model_err(e: candle_core::Error) -> Error {
    Error::Model(e.to_string())
}

fn ckpt_err(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Weights {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// The batches of one epoch.
fn draw(
    sampling: &Sampling,
    len: usize,
    cfg: &TrainConfig,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<usize>> {
    let total = cfg.epoch_size.unwrap_or(len).max(1);
    let order: Vec<usize> = match sampling {
        Sampling::Replacement => (0..total).map(|_| rng.random_range(0..len)).collect(),
        Sampling::Shuffle => {
            let mut p: Vec<usize> = (0..len).collect();
            for i in (1..len).rev() {
                p.swap(i, rng.random_range(0..=i));
            }
            p.truncate(total);
            p
        }
        Sampling::Balanced { pos, neg } => (0..total)
            .map(|_| {
                let class = if rng.random_bool(0.5) { pos } else { neg };
                class[rng.random_range(0..class.len())]
            })
            .collect(),
    };
    // full batches only (drop_last, as the original): BatchNorm needs more than one sample
    let batch = cfg.batch_size.min(order.len()).max(1);
    order.chunks_exact(batch).map(<[usize]>::to_vec).collect()
}

/// Trains `task` and returns the best epoch's weights.
pub(crate) fn fit<T: Task>(
    task: &T,
    cfg: &TrainConfig,
    setup: &Setup,
    obs: &mut dyn Observer,
) -> Result<Outcome> {
    let device = cfg.device.to_candle()?;
    let engine = cfg.engine.resolve(&cfg.device)?;
    let kind = task.kind();
    let (metric_name, higher) = task.metric();
    let path = cfg.checkpoint_dir.join(CHECKPOINT);
    if task.train_len() < 2 {
        return Err(Error::Invalid(
            "training needs at least 2 training samples".into(),
        ));
    }
    let mut run = if cfg.resume {
        Run::resume(kind, &path, cfg, setup, &device)?
    } else {
        if path.exists() {
            return Err(ckpt_err(
                &path,
                "a checkpoint of an earlier run is here: pass --resume to continue it, or remove it",
            ));
        }
        Run::start(kind, cfg, setup, &device)?
    };
    std::fs::create_dir_all(&cfg.checkpoint_dir).map_err(|source| Error::Io {
        path: cfg.checkpoint_dir.clone(),
        source,
    })?;
    let sampling = task.sampling();
    let micro = cfg
        .micro_batch
        .or(task.default_micro_batch())
        .unwrap_or(cfg.batch_size);
    let batches_per_epoch = draw_count(task.train_len(), cfg);
    obs.started(run.epoch + 1, batches_per_epoch);
    let mut history = Vec::new();
    while !run.stopped && run.epoch < cfg.max_epochs {
        let epoch = run.epoch + 1;
        let start = Instant::now();
        let batches = draw(&sampling, task.train_len(), cfg, &mut run.ctx.rng());
        let (lr0, _) = setup.schedule.at(epoch, run.iteration);
        let mut loss_sum = 0f64;
        let mut samples = 0usize;
        for (b, batch) in batches.iter().enumerate() {
            let (lr, momentum) = setup.schedule.at(epoch, run.iteration);
            let loss = run
                .step(
                    task, batch, micro, lr, momentum, setup.clip, engine, &device,
                )
                .map_err(model_err)?;
            loss_sum += loss;
            samples += batch.len();
            run.iteration += 1;
            obs.batch(epoch, b + 1, loss);
        }
        let train_secs = start.elapsed().as_secs_f64();
        let val = {
            let source = run.params.eval_source();
            let net = task.build(&Vb::root(&source)).map_err(model_err)?;
            task.validate(&net, &device).map_err(model_err)?
        };
        let better = !val.metric.is_nan()
            && run.best_metric.is_none_or(|b| {
                if higher {
                    val.metric > b
                } else {
                    val.metric < b
                }
            });
        if better {
            run.best_metric = Some(val.metric);
            run.best_epoch = epoch;
            run.best = Some(run.params.snapshot().map_err(model_err)?);
            run.bad_epochs = 0;
        } else {
            run.bad_epochs += 1;
        }
        run.epoch = epoch;
        run.stopped = run.bad_epochs >= cfg.patience.max(1);
        run.save(kind, &path, setup)?;
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / batches.len().max(1) as f64,
            val_loss: val.loss,
            metric_name: metric_name.into(),
            metric: val.metric,
            extra: val.extra,
            lr: lr0,
            seconds: start.elapsed().as_secs_f64(),
            samples_per_second: samples as f64 / train_secs.max(1e-9),
            best: better,
        };
        obs.epoch(&record)?;
        history.push(record);
    }
    let Some(best) = &run.best else {
        return Err(if run.epoch == 0 {
            Error::Invalid("no epoch was run (--max-epochs 0)".into())
        } else {
            Error::Model(
                "no epoch gave a usable validation metric (NaN): lower the learning rate".into(),
            )
        });
    };
    let weights = serialize(&snapshot_entries(kind, best, "").map_err(model_err)?, None)
        .map_err(model_err)?;
    Ok(Outcome {
        weights,
        epochs: run.epoch,
        best_epoch: run.best_epoch,
        best_metric: run.best_metric.unwrap_or(f64::NAN),
        metric_name: metric_name.into(),
        stopped_early: run.stopped,
        history,
    })
}

/// `batch` cut into parts of at most `micro` samples, as even as possible (no part of one sample
/// beside larger ones: BatchNorm needs two).
fn split(batch: &[usize], micro: usize) -> Vec<&[usize]> {
    let parts = batch.len().div_ceil(micro.max(1)).max(1);
    let (base, extra) = (batch.len() / parts, batch.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..parts {
        let len = base + usize::from(i < extra);
        out.push(&batch[start..start + len]);
        start += len;
    }
    out
}

/// Batches per epoch (for progress).
fn draw_count(len: usize, cfg: &TrainConfig) -> usize {
    let total = cfg.epoch_size.unwrap_or(len).max(1);
    total / cfg.batch_size.min(total).max(1)
}

/// A run in progress.
struct Run {
    params: Params,
    opt: Optimizer,
    ctx: Arc<TrainCtx>,
    epoch: usize,
    iteration: u64,
    best: Option<Snapshot>,
    best_epoch: usize,
    best_metric: Option<f64>,
    bad_epochs: usize,
    stopped: bool,
}

impl Run {
    fn start(
        kind: crate::model::Kind,
        cfg: &TrainConfig,
        setup: &Setup,
        device: &Device,
    ) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let (snap, fill) = match &cfg.init {
            None => (Snapshot::default(), true),
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                let file = SafeTensors::deserialize(&bytes).map_err(|e| ckpt_err(path, e))?;
                (
                    read_snapshot(&file, "").map_err(|e| ckpt_err(path, e))?,
                    false,
                )
            }
        };
        let params =
            Params::new(kind, &snap, fill, &mut rng, device).map_err(|e| match &cfg.init {
                Some(p) => ckpt_err(p, format!("{e} for the {kind} model")),
                None => model_err(e),
            })?;
        let opt = Optimizer::new(cfg.optimizer, setup.nesterov, params.vars.len());
        Ok(Self {
            params,
            opt,
            ctx: Arc::new(TrainCtx::new(rng)),
            epoch: 0,
            iteration: 0,
            best: None,
            best_epoch: 0,
            best_metric: None,
            bad_epochs: 0,
            stopped: false,
        })
    }

    fn resume(
        kind: crate::model::Kind,
        path: &Path,
        cfg: &TrainConfig,
        setup: &Setup,
        device: &Device,
    ) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let fail = |m: String| ckpt_err(path, m);
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| fail(format!("not a checkpoint ({e})")))?;
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| fail(e.to_string()))?;
        let state: State = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(STATE_KEY))
            .ok_or_else(|| fail("not a mire2e training checkpoint".into()))
            .and_then(|s| serde_json::from_str(s).map_err(|e| fail(format!("bad state ({e})"))))?;
        if state.kind != kind.to_string() {
            return Err(fail(format!(
                "checkpoint of the {} model, not {kind}",
                state.kind
            )));
        }
        if state.key != setup.key {
            return Err(fail(format!(
                "written with other settings ({}); now: {}",
                state.key, setup.key
            )));
        }
        let mut dummy = ChaCha8Rng::seed_from_u64(0);
        let snap = read_snapshot(&file, "model/").map_err(|e| fail(e.to_string()))?;
        let params =
            Params::new(kind, &snap, false, &mut dummy, device).map_err(|e| fail(e.to_string()))?;
        let best = read_snapshot(&file, "best/").map_err(|e| fail(e.to_string()))?;
        let best = (!best.tensors.is_empty()).then_some(best);
        let mut opt = Optimizer::new(cfg.optimizer, setup.nesterov, params.vars.len());
        opt.step = state.optimizer_step;
        for (i, (name, _)) in params.vars.iter().enumerate() {
            for (prefix, slot) in [
                ("opt.first/", &mut opt.first[i]),
                ("opt.second/", &mut opt.second[i]),
            ] {
                if let Ok(view) = file.tensor(&format!("{prefix}{name}")) {
                    let t = Tensor::from_raw_buffer(
                        view.data(),
                        candle_core::DType::F32,
                        view.shape(),
                        &Device::Cpu,
                    )
                    .and_then(|t| t.to_device(device))
                    .map_err(|e| fail(e.to_string()))?;
                    *slot = Some(t);
                }
            }
        }
        let seed: [u8; 32] = state
            .rng_seed
            .as_slice()
            .try_into()
            .map_err(|_| fail("bad random state".into()))?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(state.rng_stream);
        rng.set_word_pos(
            state
                .rng_word_pos
                .parse()
                .map_err(|_| fail("bad random state".into()))?,
        );
        Ok(Self {
            params,
            opt,
            ctx: Arc::new(TrainCtx::new(rng)),
            epoch: state.epoch,
            iteration: state.iteration,
            best,
            best_epoch: state.best_epoch,
            best_metric: state.best_metric,
            bad_epochs: state.bad_epochs,
            stopped: state.stopped,
        })
    }

    /// One optimiser step on `batch`, forward and backward in micro-batches of `micro` samples
    /// whose gradients add up to the batch's; returns the batch loss.
    #[allow(clippy::too_many_arguments)]
    fn step<T: Task>(
        &mut self,
        task: &T,
        batch: &[usize],
        micro: usize,
        lr: f64,
        momentum: f64,
        clip: Option<f64>,
        engine: Engine,
        device: &Device,
    ) -> candle_core::Result<f64> {
        let weight = task.weight(batch).max(f64::MIN_POSITIVE);
        let (mut grads, value) = match engine {
            Engine::Cpu => self.engine_grads(task, batch, micro, weight)?,
            Engine::Candle | Engine::Auto => {
                self.candle_grads(task, batch, micro, weight, device)?
            }
        };
        if let Some(max) = clip.filter(|&c| c > 0.0) {
            clip_grad_norm(&mut grads, max)?;
        }
        self.opt.step(&self.params.vars, &grads, lr, momentum)?;
        self.params.update_running(self.ctx.take_stats())?;
        Ok(value)
    }

    /// The batch's gradients (one per trained tensor) and loss through candle's autograd.
    fn candle_grads<T: Task>(
        &self,
        task: &T,
        batch: &[usize],
        micro: usize,
        weight: f64,
        device: &Device,
    ) -> candle_core::Result<(Vec<Tensor>, f64)> {
        let mut grads: Vec<Option<Tensor>> = vec![None; self.params.vars.len()];
        let mut value = 0f64;
        let source = self.params.train_source(self.ctx.clone());
        let net = task.build(&Vb::root(&source))?;
        for part in split(batch, micro) {
            let loss = (task.loss_sum(&net, part, device)? / weight)?;
            value += f64::from(loss.to_scalar::<f32>()?);
            let store = loss.backward()?;
            for ((_, v), sum) in self.params.vars.iter().zip(grads.iter_mut()) {
                if let Some(g) = store.get(v.as_tensor()) {
                    let g = g.detach();
                    *sum = Some(match sum.take() {
                        None => g,
                        Some(s) => (s + g)?,
                    });
                }
            }
        }
        let grads = self
            .params
            .vars
            .iter()
            .zip(grads)
            .map(|((_, v), g)| g.map_or_else(|| v.as_tensor().zeros_like(), Ok))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok((grads, value))
    }

    /// The same through the CPU engine.
    fn engine_grads<T: Task>(
        &self,
        task: &T,
        batch: &[usize],
        micro: usize,
        weight: f64,
    ) -> candle_core::Result<(Vec<Tensor>, f64)> {
        let weights = self.params.weights()?;
        let scale = (1.0 / weight) as f32;
        let mut sums = Grads::default();
        let mut value = 0f64;
        for part in split(batch, micro) {
            value += task.engine_step(&weights, part, scale, &self.ctx, &mut sums)? / weight;
        }
        let grads = self
            .params
            .vars
            .iter()
            .map(|(name, v)| match sums.take(name) {
                Some(g) => Tensor::from_vec(g, v.shape(), v.device()),
                None => v.as_tensor().zeros_like(),
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok((grads, value))
    }

    /// Writes the checkpoint (temporary file, then rename: never half written).
    fn save(&self, kind: crate::model::Kind, path: &Path, setup: &Setup) -> Result<()> {
        let rng = self.ctx.rng().clone();
        let state = State {
            kind: kind.to_string(),
            key: setup.key.clone(),
            epoch: self.epoch,
            iteration: self.iteration,
            rng_seed: rng.get_seed().to_vec(),
            rng_stream: rng.get_stream(),
            rng_word_pos: rng.get_word_pos().to_string(),
            best_epoch: self.best_epoch,
            best_metric: self.best_metric,
            bad_epochs: self.bad_epochs,
            stopped: self.stopped,
            optimizer_step: self.opt.step,
        };
        let build = || -> candle_core::Result<Vec<u8>> {
            let mut entries = snapshot_entries(kind, &self.params.snapshot()?, "model/")?;
            if let Some(best) = &self.best {
                entries.extend(snapshot_entries(kind, best, "best/")?);
            }
            for (i, (name, _)) in self.params.vars.iter().enumerate() {
                for (prefix, slot) in [
                    ("opt.first/", &self.opt.first[i]),
                    ("opt.second/", &self.opt.second[i]),
                ] {
                    if let Some(t) = slot {
                        let v = t.flatten_all()?.to_vec1::<f32>()?;
                        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                        entries.push((
                            format!("{prefix}{name}"),
                            Dtype::F32,
                            t.dims().to_vec(),
                            bytes,
                        ));
                    }
                }
            }
            let json = serde_json::to_string(&state).map_err(candle_core::Error::wrap)?;
            serialize(
                &entries,
                Some(HashMap::from([(STATE_KEY.to_owned(), json)])),
            )
        };
        let bytes = build().map_err(model_err)?;
        write_atomic(path, &bytes)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    if crate::outfile::writes_in_place(path) {
        let mut out = std::fs::File::options()
            .write(true)
            .open(path)
            .map_err(io)?;
        return out.write_all(bytes).map_err(io);
    }
    let mut tmp = tempfile::NamedTempFile::new_in(crate::outfile::folder(path)).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
