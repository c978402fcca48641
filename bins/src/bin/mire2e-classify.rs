//! `mire2e-classify`: model C (Classifier) — appends `score`; optionally writes candidate loci.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mire2e::candidates::{self, Fold, Hit};
use mire2e::model::{Attention, Classifier, Kind};
use mire2e::npy::NpyWriter;
use mire2e::pipeline::{classify_compat, Batch, Batches, Batching, Stage, StageSpec};
use mire2e::stream;
use mire2e::window::WINDOW_LENGTH;
use mire2e_cli::attention::AttentionArgs;
use mire2e_cli::common::{Common, Meta};
use mire2e_cli::loci_args::{Loci, LociArgs};
use mire2e_cli::model_args::{PrecisionArgs, StageModelArgs};
use mire2e_cli::stage;
use mire2e_cli::train_args::{InputModels, TrainArgs};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Score each window as pre-miRNA (model C) from its bases, `pairing` and `mfe`.
///
/// Appends `score` in [0, 1]. With --bed, windows scoring at least --threshold are merged into
/// candidate loci (overlapping windows of a record and strand; the best window is reported).
/// Example: ... | mire2e-mfe | mire2e-classify --bed candidates.bed > scores.tsv
///
/// `mire2e-classify train ...` trains the model instead (see `mire2e-classify train --help`); an
/// input file named `train` is given as `./train`.
#[derive(Debug, Parser)]
#[command(
    name = "mire2e-classify",
    version,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Stream with `pairing` and `mfe` (from mire2e-mfe; '-' = stdin).
    #[arg(default_value = "-", value_name = "TSV")]
    input: PathBuf,
    #[command(flatten)]
    model: StageModelArgs,
    #[command(flatten)]
    precision: PrecisionArgs,
    #[command(flatten)]
    attention: AttentionArgs,
    #[command(flatten)]
    loci: LociArgs,
    /// Also write the scores as an [N] float32 NPY array to this file.
    #[arg(long, value_name = "FILE")]
    npy: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train model C (Classifier) on positive and negative sequences (plain FASTA, first 100 nt).
    ///
    /// Structure and MFE inputs are the predictions of the given models (or the bundle's), computed
    /// once; attention is per window. Example: mire2e-classify train --pos positives.fa --neg
    /// negatives.fa --val-pos positives.val.fa --val-neg negatives.val.fa --structure
    /// structure.safetensors --mfe mfe.safetensors -o classifier.safetensors
    Train(ClassifyTrain),
}

#[derive(Debug, clap::Args)]
struct ClassifyTrain {
    /// Training positives (pre-miRNAs).
    #[arg(long, value_name = "FASTA")]
    pos: PathBuf,
    /// Training negatives.
    #[arg(long, value_name = "FASTA")]
    neg: PathBuf,
    /// Validation positives (early stopping on max F1).
    #[arg(long, value_name = "FASTA")]
    val_pos: PathBuf,
    /// Validation negatives.
    #[arg(long, value_name = "FASTA")]
    val_neg: PathBuf,
    #[command(flatten)]
    models: InputModels,
    /// MFE weights (safetensors) instead of the bundle's.
    #[arg(long, value_name = "FILE")]
    mfe: Option<PathBuf>,
    /// γ of the focal loss (1 - p_t)^γ · (-log p_t).
    #[arg(long, default_value_t = 4.0, value_name = "G")]
    focal_gamma: f64,
    /// Weight of a positive sample in the loss (negatives weigh 1).
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    class_weight: f64,
    /// Draw each sample from either class with probability 1/2 (with replacement) instead of
    /// shuffling the training set.
    #[arg(long)]
    balance: bool,
    #[command(flatten)]
    opts: TrainArgs,
}

struct Classify {
    model: Classifier,
    batching: Batching,
    loci: Loci,
    hits: Vec<Hit>,
    npy: Option<NpyWriter>,
}

impl Stage for Classify {
    fn spec(&self) -> StageSpec {
        StageSpec {
            reads_pairing: true,
            reads_mfe: true,
            appends: &["score"],
            width: 1,
            batches: Batches::classifier(&self.batching),
        }
    }
    fn predict(&mut self, batch: &Batch) -> mire2e::Result<Vec<f32>> {
        let (seqs, s, m) = (&batch.seqs, &batch.structure, &batch.mfe);
        match self.batching.attention {
            Attention::Window => self.model.predict(seqs, s, m, Attention::Window),
            Attention::BatchCompat => classify_compat(&self.model, seqs, s, m, &batch.tails),
        }
    }
    fn format(&mut self, values: &[f32], out: &mut [String]) {
        stream::push_f32(&mut out[0], values[0]);
    }
    fn observe(&mut self, batch: &Batch, i: usize, values: &[f32]) -> mire2e::Result<()> {
        let w = &batch.windows[i];
        let at = &w.location;
        let score = values[0];
        if self.loci.wants_hits() && score >= self.loci.threshold {
            let fold = self.loci.wants_folds().then(|| {
                let mut structure = String::with_capacity(WINDOW_LENGTH);
                let values = &batch.structure[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH];
                stream::push_dot_bracket(&mut structure, values, stream::PAIRING_THRESHOLD);
                Fold {
                    seq: String::from_utf8_lossy(w.seq).into_owned(),
                    structure,
                }
            });
            self.hits.push(Hit {
                seq_id: at.seq_id.to_owned(),
                start: at.start,
                end: at.end,
                strand: at.strand,
                score,
                fold,
            });
        }
        self.loci
            .window(at.seq_id, at.start, at.end, at.strand, score)?;
        if let Some(npy) = &mut self.npy {
            npy.push(values)?;
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    mire2e_cli::common::finish("mire2e-classify", run(&args))
}

fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(Command::Train(t)) = &args.command {
        return train(t, &args.common);
    }
    args.common.init()?;
    args.precision.check(&args.model.model.device)?;
    // The loci outputs are created first so a bad path fails before the models run.
    let loci = args.loci.open(args.model.bundle_in_use()?.as_ref())?;
    let (path, bytes, origin) = args.model.weights(Kind::Classifier)?;
    let model = Classifier::load_bytes(
        &bytes,
        &path,
        args.precision.placement(args.model.model.device),
    )?;
    let meta = Meta::new("mire2e-classify")
        .field(origin)
        .field(args.attention.describe())
        .maybe(PrecisionArgs::describe(model.precision()))
        .line();
    let mut classify = Classify {
        model,
        batching: args.attention.batching(args.model.model.batch_size),
        loci,
        hits: Vec::new(),
        npy: args
            .npy
            .as_deref()
            .map(|p| NpyWriter::create(p, 1))
            .transpose()?,
    };
    let meta_line = meta.trim_start_matches('#').to_owned();
    stage::run(&mut classify, &args.input, &args.common, meta)?;
    classify.npy.take().map(NpyWriter::finish).transpose()?;
    let loci = candidates::merge(std::mem::take(&mut classify.hits));
    classify.loci.write(&loci, &[meta_line])?;
    Ok(())
}

fn train(t: &ClassifyTrain, common: &Common) -> anyhow::Result<()> {
    mire2e_cli::common::init_logging(common.verbose, common.quiet);
    let structure = t
        .models
        .weights(Kind::Structure, t.models.structure.as_deref())?;
    let mfe = t.models.weights(Kind::Mfe, t.mfe.as_deref())?;
    let read = |p: &PathBuf| -> anyhow::Result<Vec<Vec<u8>>> {
        Ok(mire2e::train::read_sequences(p)?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    };
    let data = mire2e::train::ClassifierData {
        pos: read(&t.pos)?,
        neg: read(&t.neg)?,
        val_pos: read(&t.val_pos)?,
        val_neg: read(&t.val_neg)?,
    };
    let opts = mire2e::train::ClassifierOptions {
        focal_gamma: t.focal_gamma,
        pos_weight: t.class_weight,
        balance: t.balance,
    };
    let files = [
        ("pos", t.pos.as_path()),
        ("neg", t.neg.as_path()),
        ("val_pos", t.val_pos.as_path()),
        ("val_neg", t.val_neg.as_path()),
        ("structure", structure.as_path()),
        ("mfe", mfe.as_path()),
    ];
    mire2e_cli::train_run::run(
        "mire2e-classify train",
        &t.opts,
        common.quiet,
        &files,
        |cfg, obs| {
            Ok(mire2e::train::train_classifier(
                &data, &structure, &mfe, &opts, cfg, obs,
            )?)
        },
    )
}
