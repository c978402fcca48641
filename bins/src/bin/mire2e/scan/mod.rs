//! `mire2e scan`: FASTA → windows → structure → MFE → classifier → TSV (+ BED), in one process.
//!
//! With `-o FILE` the rows go to `FILE.partial`, checkpointed after every record (see
//! [`crate::partial`]), and `--resume` continues a killed run from its last finished record.

mod loci;
mod rows;

use std::path::PathBuf;

use mire2e::bundle::Bundle;
use mire2e::decoy;
use mire2e::pipeline::{self, Cascade, ScanColumns, ScanJob, ScanSummary};
use mire2e::prefilter::Level;
use mire2e::report::Histogram;
use mire2e::window::{Params, WINDOW_LENGTH};
use mire2e_cli::attention::AttentionArgs;
use mire2e_cli::common::{Common, Meta};
use mire2e_cli::loci_args::LociArgs;
use mire2e_cli::model_args::{ModelArgs, PrecisionArgs};
use mire2e_cli::window_args::{self, WindowArgs};

/// Options of `mire2e scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Genome FASTA, plain, gzip or bgzip ('-' = stdin).
    #[arg(value_name = "FASTA")]
    input: PathBuf,
    #[command(flatten)]
    windows: WindowArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    precision: PrecisionArgs,
    #[command(flatten)]
    attention: AttentionArgs,
    /// Also write `seq`, `structure` and `pairing` per window (about 1 kB per window).
    #[arg(long)]
    full: bool,
    /// Skip the models for windows without a hairpin-like stem (opt-in; at `default` about 38%
    /// of human windows skipped, at `safe` 5%; 1–1.5% of known hairpins have weaker stems, but
    /// none of those the default model calls on their strand was lost: bench/prefilter/README.md,
    /// bench/options_recall.py). LEVEL: `safe`, `default`, `fast`, or a minimum stem score.
    /// Every window keeps its row: skipped ones get mfe and score 0, and a `stem` column is added
    /// (the window's stem score; rows with stem below the minimum were skipped).
    #[arg(long, value_name = "LEVEL", num_args = 0..=1, require_equals = true,
          default_missing_value = "default")]
    prefilter: Option<Level>,
    #[command(flatten)]
    loci: LociArgs,
    /// Also scan a decoy: the input (or a seeded FRACTION of its 10-kb blocks) with its
    /// dinucleotides shuffled, gaps kept in place. Its calls per Mb give an estimated FDR per
    /// threshold and a q-value per locus (BED name, GFF3, report). Costs FRACTION × the scan.
    #[arg(long, value_name = "FRACTION", num_args = 0..=1, default_missing_value = "1")]
    decoy: Option<f64>,
    /// Seed of the decoy (the same input, fraction and seed give the same decoy).
    #[arg(long, default_value_t = 1, value_name = "N")]
    decoy_seed: u64,
    /// Write a self-contained HTML report to DIR/index.html: the run, its numbers, the decoy FDR
    /// table and curve, the score histogram and the top loci with their predicted hairpins.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Loci shown in the report, best first.
    #[arg(long, default_value_t = 50, value_name = "N")]
    report_top: usize,
    /// Continue a killed run with the same parameters and input: keep the records `-o FILE`'s
    /// `FILE.partial` had finished and scan the rest (starts afresh if there is none).
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    common: Common,
}

/// Runs `mire2e scan`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    check(args)?;
    let bundle = args.model.bundle()?;
    let mut loci_out = args.loci.open(Some(&bundle))?;
    let report_dir = args.report.as_deref().map(create_report_dir).transpose()?;
    let params = args.windows.params(WINDOW_LENGTH)?;
    let cascade = Cascade::from_bundle(&bundle, args.precision.placement(args.model.device))?;
    let batching = args.attention.batching(args.model.batch_size);
    let meta = vec![metadata(args, &params, &bundle, &cascade)];
    let columns = ScanColumns {
        full: args.full,
        prefilter: args.prefilter,
    };
    let wants_loci = loci_out.wants_hits() || report_dir.is_some() || args.decoy.is_some();
    let job = ScanJob {
        cascade: &cascade,
        params: &params,
        batching: &batching,
        columns,
        threshold: wants_loci.then_some(loci_out.threshold),
        folds: loci_out.wants_folds() || report_dir.is_some(),
        decoy: args.decoy.map(|fraction| decoy::Spec {
            fraction,
            seed: args.decoy_seed,
        }),
    };
    // every window's score: the tracks and the report's histogram
    let mut histogram = Histogram::default();
    let wants_scores = loci_out.wants_scores() || report_dir.is_some();
    let (mut summary, partial) = {
        let mut on_score = |id: &str, start: u64, end: u64, strand, score: f32| {
            histogram.add(score);
            loci_out.window(id, start, end, strand, score)
        };
        let header = pipeline::scan_header(meta.clone(), columns);
        let scores = wants_scores.then_some(&mut on_score as &mut rows::OnScore);
        rows::scan(args, job, &header, scores)?
    };
    loci::finish(args, &meta, &mut summary, &histogram, loci_out, report_dir)?;
    // Last, so that a run killed before this point can still be resumed.
    if let Some(partial) = partial {
        partial.finish()?;
    }
    log_summary(args, &summary)
}

/// Refuses option combinations that cannot work, before anything is loaded.
fn check(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.resume || !mire2e_cli::output::is_stream(&args.common.output),
        "--resume needs -o FILE (a run writing to stdout, a device or a pipe cannot be resumed)"
    );
    if let Some(f) = args.decoy {
        anyhow::ensure!(
            f > 0.0 && f <= 1.0,
            "--decoy takes a fraction in (0, 1], not {f}"
        );
    }
    args.precision.check(&args.model.device)
}

/// The run's metadata line: windows, model, attention, and the options that change scores.
fn metadata(args: &Args, params: &Params, bundle: &Bundle, cascade: &Cascade) -> String {
    let prefilter = args.prefilter.map(|level| {
        format!(
            "prefilter={level} min_stem={0} (rows with stem < {0} skipped the models: mfe and \
             score written as 0)",
            level.min_score()
        )
    });
    Meta::new("mire2e scan")
        .field(window_args::describe(params))
        .field(format_args!("model={}", bundle.id()))
        .field(args.attention.describe())
        .maybe(PrecisionArgs::describe(cascade.structure.precision()))
        .maybe(prefilter)
        .line()
}

fn log_summary(args: &Args, summary: &ScanSummary) -> anyhow::Result<()> {
    log::info!(
        "{} records, {} windows scored, {} skipped by --max-n/--skip-masked",
        summary.records,
        summary.windows,
        summary.skipped
    );
    if args.prefilter.is_some() {
        log::info!(
            "--prefilter: {} of the {} windows did not reach the models (written with score 0)",
            summary.prefiltered,
            summary.windows
        );
    }
    Ok(())
}

fn create_report_dir(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the report folder {}: {e}", dir.display()))?;
    Ok(dir.to_owned())
}
