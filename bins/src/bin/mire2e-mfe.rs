//! `mire2e-mfe`: model B (MFE) — appends `mfe` to a stream that has `pairing`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mire2e::model::{Kind, Mfe};
use mire2e::pipeline::{Batch, Batches, Stage, StageSpec};
use mire2e::stream;
use mire2e_cli::common::{Common, Meta};
use mire2e_cli::model_args::{PrecisionArgs, StageModelArgs};
use mire2e_cli::stage;
use mire2e_cli::train_args::{InputModels, TrainArgs};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Estimate the minimum free energy of each window (model B), from its bases and `pairing`.
///
/// Appends `mfe`: the estimated |MFE| per nucleotide. Example: ... | mire2e-fold | mire2e-mfe | ...
///
/// `mire2e-mfe train ...` trains the model instead (see `mire2e-mfe train --help`); an input file
/// named `train` is given as `./train`.
#[derive(Debug, Parser)]
#[command(name = "mire2e-mfe", version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Stream with `pairing` (from mire2e-fold; '-' = stdin).
    #[arg(default_value = "-", value_name = "TSV")]
    input: PathBuf,
    #[command(flatten)]
    model: StageModelArgs,
    #[command(flatten)]
    precision: PrecisionArgs,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train model B (MFE) on RNAfold records (FASTA, `SEQ` then `STRUCT ( -12.30)`).
    ///
    /// The structure input is the prediction of a Structure model (--structure FILE, or the bundle's),
    /// computed once. Example: mire2e-mfe train --train structure_mfe.fa --val structure_mfe.val.fa
    /// --structure structure.safetensors -o mfe.safetensors
    Train(MfeTrain),
}

#[derive(Debug, clap::Args)]
struct MfeTrain {
    /// Training records.
    #[arg(long, value_name = "FASTA")]
    train: PathBuf,
    /// Validation records (early stopping).
    #[arg(long, value_name = "FASTA")]
    val: PathBuf,
    #[command(flatten)]
    models: InputModels,
    #[command(flatten)]
    opts: TrainArgs,
}

struct MfeStage {
    model: Mfe,
    batch_size: usize,
}

impl Stage for MfeStage {
    fn spec(&self) -> StageSpec {
        StageSpec {
            reads_pairing: true,
            reads_mfe: false,
            appends: &["mfe"],
            width: 1,
            batches: Batches::Rows(self.batch_size),
        }
    }
    fn predict(&mut self, batch: &Batch) -> mire2e::Result<Vec<f32>> {
        self.model.predict(&batch.seqs, &batch.structure)
    }
    fn format(&mut self, values: &[f32], out: &mut [String]) {
        stream::push_f32(&mut out[0], values[0]);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    mire2e_cli::common::finish("mire2e-mfe", run(&args))
}

fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(Command::Train(t)) = &args.command {
        return train(t, &args.common);
    }
    args.common.init()?;
    args.precision.check(&args.model.model.device)?;
    let (path, bytes, origin) = args.model.weights(Kind::Mfe)?;
    let model = Mfe::load_bytes(
        &bytes,
        &path,
        args.precision.placement(args.model.model.device),
    )?;
    let meta = Meta::new("mire2e-mfe")
        .field(origin)
        .maybe(PrecisionArgs::describe(model.precision()))
        .line();
    let mut stage = MfeStage {
        model,
        batch_size: args.model.model.batch_size as usize,
    };
    stage::run(&mut stage, &args.input, &args.common, meta)
}

fn train(t: &MfeTrain, common: &Common) -> anyhow::Result<()> {
    mire2e_cli::common::init_logging(common.verbose, common.quiet);
    let structure = t
        .models
        .weights(Kind::Structure, t.models.structure.as_deref())?;
    let train = mire2e::train::read_fold_records(&t.train)?;
    let val = mire2e::train::read_fold_records(&t.val)?;
    let data = [
        ("train", t.train.as_path()),
        ("val", t.val.as_path()),
        ("structure", structure.as_path()),
    ];
    mire2e_cli::train_run::run(
        "mire2e-mfe train",
        &t.opts,
        common.quiet,
        &data,
        |cfg, obs| {
            Ok(mire2e::train::train_mfe(
                &train, &val, &structure, cfg, obs,
            )?)
        },
    )
}
