//! The entry points behind [`crate::train`]: each model trained with candle (the layers in train
//! mode, autograd over `Var`s) or with the CPU engine ([`super::engine`]).

use std::path::Path;

use super::fit::{fit, Setup};
use super::optim::Schedule;
use super::tasks::{
    channels_first, pe_tables, predict_mfe, predict_structure, ClassifierTask, FoldSet, MfeTask,
    Samples, StructureTask,
};
use super::tasks::{EvalMfe, EvalStructure};
use crate::model::{load, Kind};
use crate::train::{ClassifierOptions, FoldRecord, Observer, OptimizerKind, Outcome, TrainConfig};
use crate::{Error, Result};

fn model_err(e: candle_core::Error) -> Error {
    Error::Model(e.to_string())
}

/// The settings a resumed run must share with the one that wrote its checkpoint.
fn key(
    kind: Kind,
    cfg: &TrainConfig,
    extra: serde_json::Value,
    train: usize,
    val: usize,
) -> serde_json::Value {
    serde_json::json!({
        "kind": kind.to_string(),
        "engine": cfg.engine.resolve(&cfg.device).map(|e| e.to_string()).unwrap_or_default(),
        "optimizer": match cfg.optimizer { OptimizerKind::Sgd => "sgd", OptimizerKind::AdamW => "adamw" },
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "micro_batch": cfg.micro_batch,
        "epoch_size": cfg.epoch_size,
        "seed": cfg.seed,
        "clip_grad_norm": cfg.clip_grad_norm,
        "val_limit": cfg.val_limit,
        "init": cfg.init.as_ref().map(|p| p.display().to_string()),
        "train_samples": train,
        "val_samples": val,
        "options": extra,
    })
}

/// Batches per epoch, for CyclicLR's half cycle of two epochs.
fn batches_per_epoch(train: usize, cfg: &TrainConfig) -> usize {
    let total = cfg.epoch_size.unwrap_or(train).max(1);
    (total / cfg.batch_size.min(total).max(1)).max(1)
}

/// The original's schedules for MFE and Classifier: SGD with Nesterov momentum and CyclicLR
/// (base = max / 50, as 1e-4 to 5e-3), half cycle 2 epochs; AdamW at a constant rate.
fn cyclic_setup(cfg: &TrainConfig, train: usize, key: serde_json::Value) -> Setup {
    let schedule = match cfg.optimizer {
        OptimizerKind::Sgd => {
            let max = cfg.lr.unwrap_or(5e-3);
            Schedule::Cyclic {
                base: max / 50.0,
                max,
                step_up: 2 * batches_per_epoch(train, cfg),
            }
        }
        OptimizerKind::AdamW => Schedule::Constant {
            lr: cfg.lr.unwrap_or(1e-3),
        },
    };
    Setup {
        schedule,
        nesterov: true,
        clip: cfg.clip_grad_norm,
        key,
    }
}

fn limit<T>(v: &[T], n: Option<usize>) -> &[T] {
    &v[..n.unwrap_or(v.len()).min(v.len())]
}

/// Trains model A (Structure) on `train`, early-stopping on the validation MSE of `val`.
///
/// The loss is the MSE between the prediction and the pairing target over each sequence's own
/// positions: shorter sequences are zero-padded to 100 nt (PE from the true length) and the padded
/// positions are left out of the loss (the original counted them, with target 0).
pub fn train_structure(
    train: &[FoldRecord],
    val: &[FoldRecord],
    cfg: &TrainConfig,
    obs: &mut dyn Observer,
) -> Result<Outcome> {
    let val = limit(val, cfg.val_limit);
    check_nonempty(train.len(), val.len())?;
    let task = StructureTask {
        train: FoldSet::new(train),
        val: FoldSet::new(val),
        pe: pe_tables(),
    };
    let default_lr = match cfg.optimizer {
        OptimizerKind::Sgd => 1.0,
        OptimizerKind::AdamW => 1e-3,
    };
    let setup = Setup {
        schedule: Schedule::Step {
            lr: cfg.lr.unwrap_or(default_lr),
            gamma: 0.95,
        },
        nesterov: false,
        clip: Some(cfg.clip_grad_norm.unwrap_or(0.5)),
        key: key(
            Kind::Structure,
            cfg,
            serde_json::Value::Null,
            train.len(),
            val.len(),
        ),
    };
    fit(&task, cfg, &setup, obs)
}

fn check_nonempty(train: usize, val: usize) -> Result<()> {
    if train == 0 || val == 0 {
        return Err(Error::Invalid(
            "training needs training and validation samples".into(),
        ));
    }
    Ok(())
}

/// A Structure model in eval mode from a weights file (with the CPU path on the CPU).
fn structure_net(path: &Path, device: &candle_core::Device) -> Result<EvalStructure> {
    let bytes = load::read(path)?;
    load::build(
        Kind::Structure,
        &bytes,
        Some(path),
        device,
        EvalStructure::load,
    )
}

/// Inputs with the structure channel: the Structure model's predictions (eval mode, computed once).
fn with_structure(
    net: &EvalStructure,
    records: &[FoldRecord],
    dev: &candle_core::Device,
) -> Result<Vec<f32>> {
    let set = FoldSet::new(records);
    let s = predict_structure(net, &set, dev).map_err(model_err)?;
    let seqs: Vec<&[u8]> = records.iter().map(|r| r.seq.as_slice()).collect();
    Ok(channels_first(&seqs, Some(&s)))
}

/// Trains model B (MFE) on `train` against |MFE| / length, early-stopping on the validation MSE.
/// The structure input is the prediction of the Structure model in `structure` (eval mode, computed
/// once before training, as the original).
pub fn train_mfe(
    train: &[FoldRecord],
    val: &[FoldRecord],
    structure: &Path,
    cfg: &TrainConfig,
    obs: &mut dyn Observer,
) -> Result<Outcome> {
    let val = limit(val, cfg.val_limit);
    check_nonempty(train.len(), val.len())?;
    let dev = cfg.device.to_candle()?;
    obs.note("computing the Structure predictions");
    let snet = structure_net(structure, &dev)?;
    let task = MfeTask {
        train: Samples {
            x: with_structure(&snet, train, &dev)?,
            y: train.iter().map(|r| r.mfe_per_nt).collect(),
        },
        val: Samples {
            x: with_structure(&snet, val, &dev)?,
            y: val.iter().map(|r| r.mfe_per_nt).collect(),
        },
    };
    drop(snet);
    let setup = cyclic_setup(
        cfg,
        train.len(),
        key(
            Kind::Mfe,
            cfg,
            serde_json::json!({"structure": structure}),
            train.len(),
            val.len(),
        ),
    );
    fit(&task, cfg, &setup, obs)
}

/// Classifier training data: sequences (at most 100 nt, `A C G U N`) of each class.
#[derive(Debug, Clone, Default)]
pub struct ClassifierData {
    /// Training positives (pre-miRNAs).
    pub pos: Vec<Vec<u8>>,
    /// Training negatives.
    pub neg: Vec<Vec<u8>>,
    /// Validation positives.
    pub val_pos: Vec<Vec<u8>>,
    /// Validation negatives.
    pub val_neg: Vec<Vec<u8>>,
}

/// Trains model C (Classifier) with per-window attention, early-stopping on the validation max F1.
///
/// Structure and MFE inputs come from the given models (eval mode, computed once). The loss is the
/// focal loss on the two-class softmax, `(1 − p_t)^γ · (−log p_t)` from `log_softmax` of the logits
/// (the original applied BCE-with-logits to the softmax probabilities, squashing twice).
pub fn train_classifier(
    data: &ClassifierData,
    structure: &Path,
    mfe: &Path,
    opts: &ClassifierOptions,
    cfg: &TrainConfig,
    obs: &mut dyn Observer,
) -> Result<Outcome> {
    let dev = cfg.device.to_candle()?;
    // validation: the first positives and negatives within --val-limit, in proportion
    let (all_p, all_n) = (data.val_pos.len(), data.val_neg.len());
    let (vp, vn) = match cfg.val_limit {
        Some(n) if n < all_p + all_n => {
            let p = (n * all_p / (all_p + all_n)).max(1).min(all_p);
            (p, n.saturating_sub(p).min(all_n))
        }
        _ => (all_p, all_n),
    };
    let samples = |pos: &[Vec<u8>], neg: &[Vec<u8>]| -> Vec<FoldRecord> {
        pos.iter()
            .chain(neg)
            .map(|s| FoldRecord {
                id: String::new(),
                seq: s.clone(),
                pairing: Vec::new(),
                mfe_per_nt: 0.0,
            })
            .collect()
    };
    let labels = |p: usize, n: usize| -> Vec<f32> {
        std::iter::repeat_n(1.0, p)
            .chain(std::iter::repeat_n(0.0, n))
            .collect()
    };
    let train = samples(&data.pos, &data.neg);
    let val = samples(&data.val_pos[..vp], &data.val_neg[..vn]);
    if data.pos.is_empty() || data.neg.is_empty() || vp == 0 || vn == 0 {
        return Err(Error::Invalid(
            "classifier training needs positives and negatives for training and validation".into(),
        ));
    }
    obs.note("computing the Structure and MFE predictions");
    let snet = structure_net(structure, &dev)?;
    let (train_x, val_x) = (
        with_structure(&snet, &train, &dev)?,
        with_structure(&snet, &val, &dev)?,
    );
    drop(snet);
    let bytes = load::read(mfe)?;
    let mnet = load::build(Kind::Mfe, &bytes, Some(mfe), &dev, EvalMfe::load)?;
    let train_mfe = predict_mfe(&mnet, &train_x, &dev).map_err(model_err)?;
    let val_mfe = predict_mfe(&mnet, &val_x, &dev).map_err(model_err)?;
    drop(mnet);
    let val_len = val.len();
    let task = ClassifierTask {
        train: Samples {
            x: train_x,
            y: labels(data.pos.len(), data.neg.len()),
        },
        train_mfe,
        val: Samples {
            x: val_x,
            y: labels(vp, val_len - vp),
        },
        val_mfe,
        opts: opts.clone(),
    };
    let extra = serde_json::json!({
        "structure": structure, "mfe": mfe, "focal_gamma": opts.focal_gamma,
        "pos_weight": opts.pos_weight, "balance": opts.balance,
    });
    let setup = cyclic_setup(
        cfg,
        train.len(),
        key(Kind::Classifier, cfg, extra, train.len(), val_len),
    );
    fit(&task, cfg, &setup, obs)
}

/// Eval-mode outputs of a model built from `params`, for tests.
#[cfg(test)]
fn eval_structure(
    params: &super::params::Params,
    x: &candle_core::Tensor,
) -> candle_core::Result<Vec<f32>> {
    let source = params.eval_source();
    let vb = crate::model::nn::weights::Vb::root(&source);
    let net = crate::model::nn::structure::StructureNet::load(&vb, &Default::default())?;
    net.forward(x)?.flatten_all()?.to_vec1::<f32>()
}

#[cfg(test)]
mod tests;
