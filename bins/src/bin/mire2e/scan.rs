//! `mire2e scan`: FASTA → windows → structure → MFE → classifier → TSV (+ BED), in one process.

use std::path::PathBuf;

use anyhow::Context;
use mire2e::candidates;
use mire2e::fasta;
use mire2e::pipeline::{self, Cascade, ScanColumns};
use mire2e::stream::Writer;
use mire2e::window::WINDOW_LENGTH;
use mire2e_cli::attention::AttentionArgs;
use mire2e_cli::common::Common;
use mire2e_cli::model_args::ModelArgs;
use mire2e_cli::output::{self, Output};
use mire2e_cli::progress;
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
    attention: AttentionArgs,
    /// Also write `seq`, `structure` and `pairing` per window (about 1 kB per window).
    #[arg(long)]
    full: bool,
    /// Write candidate loci (BED9) to this file.
    #[arg(long, value_name = "FILE")]
    bed: Option<PathBuf>,
    /// Score at or above which a window is a candidate.
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    threshold: f32,
    #[command(flatten)]
    common: Common,
}

/// Runs `mire2e scan`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.threshold),
        "--threshold must be in [0, 1]"
    );
    anyhow::ensure!(
        args.bed.as_ref().is_none_or(|p| p.as_os_str() != "-"),
        "--bed needs a file (stdout carries the scores)"
    );
    let params = args.windows.params(WINDOW_LENGTH)?;
    let bundle = args.model.bundle()?;
    let cascade = Cascade::from_bundle(&bundle, &args.model.device)?;
    let batching = args.attention.batching(args.model.batch_size);
    let mut reader = fasta::reader(
        output::input_name(&args.input),
        output::open_input(&args.input)?,
    )?;
    let meta = vec![format!(
        "#mire2e scan {} {} model={} {}",
        env!("CARGO_PKG_VERSION"),
        window_args::describe(&params),
        bundle.id(),
        args.attention.describe()
    )];
    let header = pipeline::scan_header(meta, ScanColumns { full: args.full });
    let bed = args.bed.as_deref().map(Output::create).transpose()?;
    let mut writer = Writer::new(Output::create(&args.common.output)?, &header)?;
    let bar = progress::counter("windows", args.common.quiet > 0);
    let summary = pipeline::scan(
        &mut reader,
        &cascade,
        &params,
        &batching,
        ScanColumns { full: args.full },
        args.bed.as_ref().map(|_| args.threshold),
        &mut writer,
        &|n| bar.inc(n),
    )?;
    bar.finish_and_clear();
    writer.into_inner().commit()?;
    if let Some(mut bed) = bed {
        let loci = candidates::merge(summary.hits);
        candidates::write_bed(&mut bed, &loci)?;
        bed.commit().context("cannot write the BED file")?;
        log::info!(
            "{} candidate loci at score >= {}",
            loci.len(),
            args.threshold
        );
    }
    log::info!(
        "{} records, {} windows scored, {} skipped by --max-n/--skip-masked",
        summary.records,
        summary.windows,
        summary.skipped
    );
    Ok(())
}
