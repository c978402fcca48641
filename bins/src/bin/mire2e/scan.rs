//! `mire2e scan`: FASTA → windows → structure → MFE → classifier → TSV (+ BED), in one process.
//!
//! With `-o FILE` the rows go to `FILE.partial`, checkpointed after every record (see
//! [`crate::partial`]), and `--resume` continues a killed run from its last finished record.

use std::path::PathBuf;

use mire2e::candidates::Hit;
use mire2e::fasta;
use mire2e::pipeline::{self, Cascade, Checkpoints, ScanColumns, ScanJob};
use mire2e::prefilter::Level;
use mire2e::stream::{self, Writer};
use mire2e::window::WINDOW_LENGTH;
use mire2e_cli::attention::AttentionArgs;
use mire2e_cli::bed_args::{BedArgs, Candidates};
use mire2e_cli::common::Common;
use mire2e_cli::model_args::{ModelArgs, PrecisionArgs};
use mire2e_cli::output::{self, Output};
use mire2e_cli::progress;
use mire2e_cli::window_args::{self, WindowArgs};

use crate::partial::{self, Partial};

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
    candidates: BedArgs,
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
    anyhow::ensure!(
        !args.resume || args.common.output.as_os_str() != "-",
        "--resume needs -o FILE (a run writing to stdout cannot be resumed)"
    );
    args.precision.check(&args.model.device)?;
    let bundle = args.model.bundle()?;
    let bed = args.candidates.open(Some(&bundle))?;
    let params = args.windows.params(WINDOW_LENGTH)?;
    let mut cascade = Cascade::from_bundle(&bundle, &args.model.device)?;
    cascade.structure.set_precision(args.precision.precision)?;
    let batching = args.attention.batching(args.model.batch_size);
    let mut reader = fasta::reader(
        output::input_name(&args.input),
        output::open_input(&args.input)?,
    )?;
    let mut meta = vec![format!(
        "#mire2e scan {} {} model={} {}",
        env!("CARGO_PKG_VERSION"),
        window_args::describe(&params),
        bundle.id(),
        args.attention.describe()
    )];
    if let Some(precision) = args.precision.describe() {
        meta[0].push_str(&format!(" {precision}"));
    }
    if let Some(level) = args.prefilter {
        meta[0].push_str(&format!(
            " prefilter={level} min_stem={0} (rows with stem < {0} skipped the models: mfe and \
             score written as 0)",
            level.min_score()
        ));
    }
    let columns = ScanColumns {
        full: args.full,
        prefilter: args.prefilter,
    };
    let header = pipeline::scan_header(meta, columns);
    let threshold = bed.as_ref().map(|c| c.threshold);
    let job = ScanJob {
        cascade: &cascade,
        params: &params,
        batching: &batching,
        columns,
        threshold,
    };
    let bar = progress::counter("windows", args.common.quiet > 0);
    let progress = |n| bar.inc(n);
    let mut summary;
    let out = &args.common.output;
    if out.as_os_str() == "-" {
        let mut writer = Writer::new(Output::create(out)?, &header)?;
        summary = pipeline::scan(&mut reader, job, &mut writer, &progress, None)?;
        bar.finish_and_clear();
        writer.into_inner().commit()?;
        write_bed(bed, &mut summary)?;
    } else {
        let header_text = Writer::new(Vec::new(), &header)?.into_inner();
        let input_len = (args.input.as_os_str() != "-")
            .then(|| std::fs::metadata(&args.input).map(|m| m.len()).ok())
            .flatten();
        let input = partial::input_identity(&output::input_name(&args.input), input_len);
        let resumed = if args.resume {
            Partial::resume(out, &header_text, &input)?
        } else {
            None
        };
        let (partial, done, mut hits) = match resumed {
            Some(r) => {
                log::info!(
                    "resuming {}: {} records already done",
                    out.display(),
                    r.done.len()
                );
                let hits = match threshold {
                    Some(t) => finished_hits(&r.partial, t)?,
                    None => Vec::new(),
                };
                (r.partial, r.done, hits)
            }
            None => {
                if args.resume {
                    log::info!("nothing to resume for {}: starting afresh", out.display());
                }
                (
                    Partial::create(out, &header_text, &input)?,
                    Vec::new(),
                    Vec::new(),
                )
            }
        };
        let mut writer = Writer::append(partial);
        let mut record_done = |w: &mut Writer<Partial>, id: &str| {
            w.get_mut().checkpoint(id).map_err(mire2e::Error::Write)
        };
        let scanned = pipeline::scan(
            &mut reader,
            job,
            &mut writer,
            &progress,
            Some(Checkpoints {
                done: &done,
                record_done: &mut record_done,
            }),
        );
        summary = match scanned {
            Ok(summary) => summary,
            Err(e) => {
                writer.into_inner().abandon();
                return Err(e.into());
            }
        };
        bar.finish_and_clear();
        hits.append(&mut summary.hits);
        summary.hits = hits;
        write_bed(bed, &mut summary)?;
        // Last, so that a run killed before this point can still be resumed.
        writer.into_inner().finish()?;
    }
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

fn write_bed(bed: Option<Candidates>, summary: &mut pipeline::ScanSummary) -> anyhow::Result<()> {
    match bed {
        Some(bed) => bed.write(std::mem::take(&mut summary.hits)),
        None => Ok(()),
    }
}

/// The hits in the rows an interrupted run finished (scores are written exactly, so they are the
/// hits the run had found).
fn finished_hits(partial: &Partial, threshold: f32) -> anyhow::Result<Vec<Hit>> {
    let (name, rows) = partial.finished_rows()?;
    let mut reader = stream::Reader::new(name, rows)?;
    let columns = ["seq_id", "start", "end", "strand", "score"]
        .map(|c| reader.require(c))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let mut row = stream::Row::default();
    let mut hits = Vec::new();
    while reader.read_row(&mut row)? {
        let field = |i: usize| &row.fields[columns[i]];
        let bad = |i: usize| reader.field_error(&row, columns[i], "cannot be read back");
        let score: f32 = field(4).parse().map_err(|_| bad(4))?;
        if score >= threshold {
            hits.push(Hit {
                seq_id: field(0).to_owned(),
                start: field(1).parse().map_err(|_| bad(1))?,
                end: field(2).parse().map_err(|_| bad(2))?,
                strand: field(3).parse().map_err(|_| bad(3))?,
                score,
            });
        }
    }
    Ok(hits)
}
