//! `mire2e-fold`: model A (Structure) — appends `structure` and `pairing` to the windows stream.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mire2e::model::{Kind, Structure};
use mire2e::npy::NpyWriter;
use mire2e::pipeline::{Batch, Batches, Stage, StageSpec};
use mire2e::stream;
use mire2e::window::WINDOW_LENGTH;
use mire2e_cli::common::{Common, Meta};
use mire2e_cli::model_args::{PrecisionArgs, StageModelArgs};
use mire2e_cli::stage;
use mire2e_cli::train_args::TrainArgs;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Predict per-nucleotide pairing of each window (model A, Structure).
///
/// Appends `structure` ('(' above +0.5, ')' below -0.5, else '.') and `pairing` (the 100 values,
/// exact). Example: mire2e-window genome.fa | mire2e-fold | mire2e-mfe | mire2e-classify
///
/// `mire2e-fold train ...` trains the model instead (see `mire2e-fold train --help`); an input file
/// named `train` is given as `./train`.
#[derive(Debug, Parser)]
#[command(name = "mire2e-fold", version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Windows stream ('-' = stdin).
    #[arg(default_value = "-", value_name = "TSV")]
    input: PathBuf,
    #[command(flatten)]
    model: StageModelArgs,
    #[command(flatten)]
    precision: PrecisionArgs,
    /// Also write the structure values as an [N, 100] float32 NPY array to this file.
    #[arg(long, value_name = "FILE")]
    npy: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train model A (Structure) on RNAfold records (FASTA, `SEQ` then `STRUCT ( -12.30)`).
    ///
    /// Example: mire2e-fold train --train structure_mfe.fa --val structure_mfe.val.fa -o structure.safetensors
    Train(FoldTrain),
}

#[derive(Debug, clap::Args)]
struct FoldTrain {
    /// Training records.
    #[arg(long, value_name = "FASTA")]
    train: PathBuf,
    /// Validation records (early stopping).
    #[arg(long, value_name = "FASTA")]
    val: PathBuf,
    #[command(flatten)]
    opts: TrainArgs,
}

struct Fold {
    model: Structure,
    batch_size: usize,
    npy: Option<NpyWriter>,
}

impl Stage for Fold {
    fn spec(&self) -> StageSpec {
        StageSpec {
            reads_pairing: false,
            reads_mfe: false,
            appends: &["structure", "pairing"],
            width: WINDOW_LENGTH,
            batches: Batches::Rows(self.batch_size),
        }
    }
    fn predict(&mut self, batch: &Batch) -> mire2e::Result<Vec<f32>> {
        self.model.predict(&batch.seqs)
    }
    fn format(&mut self, values: &[f32], out: &mut [String]) {
        stream::push_dot_bracket(&mut out[0], values, stream::PAIRING_THRESHOLD);
        stream::push_f32_list(&mut out[1], values);
    }
    fn observe(&mut self, _batch: &Batch, _i: usize, values: &[f32]) -> mire2e::Result<()> {
        match &mut self.npy {
            Some(npy) => npy.push(values),
            None => Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    mire2e_cli::common::finish("mire2e-fold", run(&args))
}

fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(Command::Train(t)) = &args.command {
        return train(t, &args.common);
    }
    args.common.init()?;
    args.precision.check(&args.model.model.device)?;
    let (path, bytes, origin) = args.model.weights(Kind::Structure)?;
    let model = Structure::load_bytes(
        &bytes,
        &path,
        args.precision.placement(args.model.model.device),
    )?;
    let meta = Meta::new("mire2e-fold")
        .field(origin)
        .maybe(PrecisionArgs::describe(model.precision()))
        .line();
    let npy = args
        .npy
        .as_deref()
        .map(|p| NpyWriter::create(p, WINDOW_LENGTH))
        .transpose()?;
    let mut fold = Fold {
        model,
        batch_size: args.model.model.batch_size as usize,
        npy,
    };
    stage::run(&mut fold, &args.input, &args.common, meta)?;
    fold.npy.map(NpyWriter::finish).transpose()?;
    Ok(())
}

fn train(t: &FoldTrain, common: &Common) -> anyhow::Result<()> {
    mire2e_cli::common::init_logging(common.verbose, common.quiet);
    let train = mire2e::train::read_fold_records(&t.train)?;
    let val = mire2e::train::read_fold_records(&t.val)?;
    let data = [("train", t.train.as_path()), ("val", t.val.as_path())];
    mire2e_cli::train_run::run(
        "mire2e-fold train",
        &t.opts,
        common.quiet,
        &data,
        |cfg, obs| Ok(mire2e::train::train_structure(&train, &val, cfg, obs)?),
    )
}
