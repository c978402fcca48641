//! Options of the `train` subcommands of mire2e-fold, mire2e-mfe and mire2e-classify.

use std::path::PathBuf;

use mire2e::model::Device;
use mire2e::train::{Engine, OptimizerKind, TrainConfig};

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerArg {
    /// The original's SGD (Structure: plain, StepLR 0.95/epoch; MFE, Classifier: Nesterov momentum
    /// with CyclicLR).
    Sgd,
    /// AdamW (weight decay 0.01); Structure keeps StepLR 0.95/epoch, the others a constant rate.
    Adamw,
}

/// What computes the gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// The CPU engine on the CPU, candle's autograd on a GPU.
    Auto,
    /// The hand-written forward and backward passes (CPU only; the fast one).
    Cpu,
    /// candle's autograd (any device; the reference the CPU engine is tested against).
    Candle,
}

/// Options shared by the three `train` subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The best weights (safetensors); the training record goes beside it as FILE.json.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Checkpoint folder, written after every epoch [default: FILE.ckpt beside -o].
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue the run whose checkpoint is in the checkpoint folder.
    #[arg(long)]
    pub resume: bool,
    /// Start from these weights instead of a random initialisation (fine-tuning).
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// Optimiser.
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: OptimizerArg,
    /// Learning rate (CyclicLR: its maximum) [default: fold SGD 1.0, mfe/classify SGD 5e-3, AdamW 1e-3].
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// Samples per optimiser step.
    #[arg(long, default_value_t = 512, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub batch_size: u32,
    /// Samples per forward pass; a batch's gradients are accumulated over them (bounds memory;
    /// BatchNorm normalises per micro-batch) [default: fold 32, others the whole batch].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub micro_batch: Option<u32>,
    /// Samples per epoch [default: the number of training samples].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub epoch_size: Option<u32>,
    /// Last epoch (counting the epochs of a resumed run).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub max_epochs: u32,
    /// Stop after this many epochs without a better validation metric.
    #[arg(long, default_value_t = 30, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub patience: u32,
    /// Validate on the first N validation samples only.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub val_limit: Option<u32>,
    /// Gradient-norm clipping, 0 = off [default: fold 0.5 (the original), others off].
    #[arg(long, value_name = "X")]
    pub clip_grad_norm: Option<f64>,
    /// Seed of initialisation, sampling and dropout.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Device: cpu, cuda or cuda:N (CUDA needs a build with the `cuda` feature).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: Device,
    /// What computes the gradients.
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: EngineArg,
    /// Worker threads (0 = all cores).
    #[arg(short = 't', long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

fn parse_device(s: &str) -> Result<Device, String> {
    s.parse().map_err(|e: mire2e::Error| e.to_string())
}

impl TrainArgs {
    /// The checkpoint folder.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.checkpoint_dir.clone().unwrap_or_else(|| {
            let mut name = self.output.as_os_str().to_owned();
            name.push(".ckpt");
            PathBuf::from(name)
        })
    }

    /// The library's settings.
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            device: self.device,
            engine: match self.engine {
                EngineArg::Auto => Engine::Auto,
                EngineArg::Cpu => Engine::Cpu,
                EngineArg::Candle => Engine::Candle,
            },
            optimizer: match self.optimizer {
                OptimizerArg::Sgd => OptimizerKind::Sgd,
                OptimizerArg::Adamw => OptimizerKind::AdamW,
            },
            lr: self.lr,
            batch_size: self.batch_size as usize,
            micro_batch: self.micro_batch.map(|n| n as usize),
            epoch_size: self.epoch_size.map(|n| n as usize),
            max_epochs: self.max_epochs as usize,
            patience: self.patience as usize,
            val_limit: self.val_limit.map(|n| n as usize),
            seed: self.seed,
            clip_grad_norm: self.clip_grad_norm,
            checkpoint_dir: self.checkpoint_dir(),
            resume: self.resume,
            init: self.init.clone(),
        }
    }
}

/// The models whose predictions are a `train` subcommand's inputs (computed once, eval mode).
#[derive(Debug, Clone, clap::Args)]
pub struct InputModels {
    /// Bundle of the input models: a name (`default`, or one under $MIRE2E_MODELS) or a folder.
    #[arg(long, default_value = "default", value_name = "NAME|DIR")]
    pub model: String,
    /// Structure weights (safetensors) instead of the bundle's.
    #[arg(long, value_name = "FILE")]
    pub structure: Option<PathBuf>,
}

impl InputModels {
    /// The weights of `kind`: `explicit`, else the bundle's file.
    pub fn weights(
        &self,
        kind: mire2e::model::Kind,
        explicit: Option<&std::path::Path>,
    ) -> anyhow::Result<PathBuf> {
        if let Some(path) = explicit {
            return Ok(path.to_owned());
        }
        let dir = crate::model_args::resolve(&self.model)?;
        let bundle = mire2e::bundle::Bundle::open(&dir)?;
        Ok(bundle.weights(kind)?)
    }
}
