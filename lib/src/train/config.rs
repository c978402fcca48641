//! What a training run is given, what it reports per epoch and what it returns.

use std::path::PathBuf;

use crate::model::Device;
use crate::Result;

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptimizerKind {
    /// PyTorch's SGD as the original uses it: plain with StepLR(0.95 per epoch) for Structure;
    /// Nesterov momentum with CyclicLR (triangular, momentum cycling 0.8–0.9) for MFE and Classifier.
    #[default]
    Sgd,
    /// PyTorch's AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0.01); Structure keeps StepLR(0.95),
    /// MFE and Classifier a constant rate.
    AdamW,
}

/// What computes the gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The CPU engine on the CPU, candle's autograd on a GPU.
    #[default]
    Auto,
    /// The hand-written forward and backward passes (CPU only).
    Cpu,
    /// candle's autograd (any device): the reference the CPU engine is tested against.
    Candle,
}

impl Engine {
    /// The engine a run on `device` uses: `Auto` is the CPU engine on the CPU and candle on a GPU;
    /// the CPU engine on a GPU is refused.
    pub fn resolve(self, device: &Device) -> Result<Self> {
        let cpu = matches!(device, Device::Cpu);
        match self {
            Self::Auto if cpu => Ok(Self::Cpu),
            Self::Auto => Ok(Self::Candle),
            Self::Cpu if !cpu => Err(crate::Error::Invalid(
                "the CPU training engine runs on the CPU only: use --engine candle on a GPU".into(),
            )),
            e => Ok(e),
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Candle => "candle",
        })
    }
}

/// Settings shared by the three training procedures.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Where to train.
    pub device: Device,
    /// What computes the gradients.
    pub engine: Engine,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Learning rate (the maximum of the cycle with CyclicLR); `None`: the stage's default (Structure
    /// SGD 1.0, MFE/Classifier SGD 5e-3, AdamW 1e-3).
    pub lr: Option<f64>,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Samples per forward pass: a batch's gradients are accumulated over its micro-batches (bounded
    /// memory; BatchNorm then normalises over each micro-batch, while the running statistics pool the
    /// whole batch). `None`: Structure 32, the others the whole batch.
    pub micro_batch: Option<usize>,
    /// Samples per epoch; `None`: as many as training samples.
    pub epoch_size: Option<usize>,
    /// Last epoch (counted from 1, including epochs of a resumed run).
    pub max_epochs: usize,
    /// Early stopping: stop after this many epochs without a better validation metric.
    pub patience: usize,
    /// Validate on the first N validation samples only.
    pub val_limit: Option<usize>,
    /// Seed of the run's random stream.
    pub seed: u64,
    /// Gradient-norm clipping; `None`: the stage's default (Structure 0.5 as the original, else off);
    /// `Some(0.0)` turns it off.
    pub clip_grad_norm: Option<f64>,
    /// Folder of the checkpoint (written after every epoch).
    pub checkpoint_dir: PathBuf,
    /// Continue from the checkpoint in `checkpoint_dir`.
    pub resume: bool,
    /// Start from these weights (safetensors) instead of a random initialisation.
    pub init: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            engine: Engine::Auto,
            optimizer: OptimizerKind::Sgd,
            lr: None,
            batch_size: 512,
            micro_batch: None,
            epoch_size: None,
            max_epochs: 200,
            patience: 30,
            val_limit: None,
            seed: 1,
            clip_grad_norm: None,
            checkpoint_dir: PathBuf::from("train.ckpt"),
            resume: false,
            init: None,
        }
    }
}

/// Classifier-only settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierOptions {
    /// γ of the focal loss (1 − p_t)^γ · (−log p_t).
    pub focal_gamma: f64,
    /// Weight of a positive sample's loss (negatives weigh 1); the loss is the weighted mean.
    pub pos_weight: f64,
    /// Draw each sample of a batch from either class with probability 1/2 (with replacement)
    /// instead of shuffling the training set.
    pub balance: bool,
}

impl Default for ClassifierOptions {
    fn default() -> Self {
        Self {
            focal_gamma: 4.0,
            pos_weight: 1.0,
            balance: false,
        }
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over its batches.
    pub train_loss: f64,
    /// Validation loss (the training loss function on the validation set).
    pub val_loss: f64,
    /// Name of the early-stopping metric (`val_mse`, `val_max_f1`).
    pub metric_name: String,
    /// Its value.
    pub metric: f64,
    /// Other validation figures (`val_ap` for the Classifier).
    pub extra: Vec<(String, f64)>,
    /// Learning rate at the epoch's first batch.
    pub lr: f64,
    /// Wall seconds of the epoch (training and validation).
    pub seconds: f64,
    /// Training samples per second (training steps only).
    pub samples_per_second: f64,
    /// Whether it is the best epoch so far.
    pub best: bool,
}

/// What a run reports while it goes.
pub trait Observer {
    /// A long preparation step starts (e.g. computing the cached Structure predictions).
    fn note(&mut self, _message: &str) {}
    /// Training starts at `first_epoch` with `batches` batches per epoch.
    fn started(&mut self, _first_epoch: usize, _batches: usize) {}
    /// A batch of `epoch` is done with this loss.
    fn batch(&mut self, _epoch: usize, _batch: usize, _loss: f64) {}
    /// An epoch is done and its checkpoint written.
    fn epoch(&mut self, _record: &EpochRecord) -> Result<()> {
        Ok(())
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The best epoch's weights as a safetensors file (every tensor of `expected_tensors`).
    pub weights: Vec<u8>,
    /// Epochs completed (with those of resumed runs).
    pub epochs: usize,
    /// The best epoch (0 when none ran).
    pub best_epoch: usize,
    /// Its metric.
    pub best_metric: f64,
    /// The metric's name.
    pub metric_name: String,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// The records of the epochs this call ran (a resumed run's earlier epochs are in the
    /// checkpoint folder's `train_log.tsv`).
    pub history: Vec<EpochRecord>,
}
