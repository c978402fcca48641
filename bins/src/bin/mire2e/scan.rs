//! `mire2e scan`: FASTA → windows → structure → MFE → classifier → TSV (+ BED), in one process.
//!
//! With `-o FILE` the rows go to `FILE.partial`, checkpointed after every record (see
//! [`crate::partial`]), and `--resume` continues a killed run from its last finished record.

use std::path::PathBuf;

use mire2e::candidates::{self, fdr, Hit};
use mire2e::decoy;
use mire2e::fasta;
use mire2e::pipeline::{self, Cascade, Checkpoints, ScanColumns, ScanJob, ScanSummary, Sinks};
use mire2e::prefilter::Level;
use mire2e::report::{self, Histogram};
use mire2e::stream::{self, Writer};
use mire2e::window::{Strand, Window, WINDOW_LENGTH};
use mire2e_cli::attention::AttentionArgs;
use mire2e_cli::common::{Common, Meta};
use mire2e_cli::loci_args::{Loci, LociArgs};
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
    anyhow::ensure!(
        !args.resume || args.common.output.as_os_str() != "-",
        "--resume needs -o FILE (a run writing to stdout cannot be resumed)"
    );
    if let Some(f) = args.decoy {
        anyhow::ensure!(
            f > 0.0 && f <= 1.0,
            "--decoy takes a fraction in (0, 1], not {f}"
        );
    }
    args.precision.check(&args.model.device)?;
    let bundle = args.model.bundle()?;
    let mut loci_out = args.loci.open(Some(&bundle))?;
    let report_dir = args.report.as_deref().map(create_report_dir).transpose()?;
    let params = args.windows.params(WINDOW_LENGTH)?;
    let mut cascade = Cascade::from_bundle(&bundle, &args.model.device)?;
    cascade.structure.set_precision(args.precision.precision)?;
    let batching = args.attention.batching(args.model.batch_size);
    let mut reader = fasta::reader(
        output::input_name(&args.input),
        output::open_input(&args.input)?,
    )?;
    let prefilter = args.prefilter.map(|level| {
        format!(
            "prefilter={level} min_stem={0} (rows with stem < {0} skipped the models: mfe and \
             score written as 0)",
            level.min_score()
        )
    });
    let meta = vec![Meta::new("mire2e scan")
        .field(window_args::describe(&params))
        .field(format_args!("model={}", bundle.id()))
        .field(args.attention.describe())
        .maybe(PrecisionArgs::describe(cascade.structure.precision()))
        .maybe(prefilter)
        .line()];
    let columns = ScanColumns {
        full: args.full,
        prefilter: args.prefilter,
    };
    let header = pipeline::scan_header(meta.clone(), columns);
    let wants_loci = loci_out.wants_hits() || report_dir.is_some() || args.decoy.is_some();
    let threshold = loci_out.threshold;
    let job = ScanJob {
        cascade: &cascade,
        params: &params,
        batching: &batching,
        columns,
        threshold: wants_loci.then_some(threshold),
        folds: loci_out.wants_folds() || report_dir.is_some(),
        decoy: args.decoy.map(|fraction| decoy::Spec {
            fraction,
            seed: args.decoy_seed,
        }),
    };
    let bar = progress::counter("windows", args.common.quiet > 0);
    let progress = |n| bar.inc(n);
    // every window's score: the tracks and the report's histogram
    let mut histogram = Histogram::default();
    let wants_scores = loci_out.wants_scores() || report_dir.is_some();
    let mut on_score = |id: &str, start: u64, end: u64, strand, score: f32| {
        histogram.add(score);
        loci_out.window(id, start, end, strand, score)
    };
    let mut summary;
    let out = &args.common.output;
    if out.as_os_str() == "-" {
        let mut writer = Writer::new(Output::create(out)?, &header)?;
        let mut on_window = |id: &str, w: &Window, score| {
            on_score(id, w.start as u64, w.end as u64, w.strand, score)
        };
        let sinks = Sinks {
            progress: &progress,
            checkpoints: None,
            scores: wants_scores.then_some(&mut on_window as _),
        };
        summary = pipeline::scan(&mut reader, job, &mut writer, sinks)?;
        bar.finish_and_clear();
        writer.into_inner().commit()?;
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
                let hits = finished_rows(&r.partial, job.threshold, wants_scores, &mut on_score)?;
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
        let mut on_window = |id: &str, w: &Window, score| {
            on_score(id, w.start as u64, w.end as u64, w.strand, score)
        };
        let sinks = Sinks {
            progress: &progress,
            checkpoints: Some(Checkpoints {
                done: &done,
                record_done: &mut record_done,
                finished_hits: &mut hits,
            }),
            scores: wants_scores.then_some(&mut on_window as _),
        };
        summary = match pipeline::scan(&mut reader, job, &mut writer, sinks) {
            Ok(summary) => summary,
            Err(e) => {
                writer.into_inner().abandon();
                return Err(e.into());
            }
        };
        bar.finish_and_clear();
        hits.append(&mut summary.hits);
        summary.hits = hits;
        // Last, so that a run killed before this point can still be resumed.
        finish_loci(args, &meta, &mut summary, &histogram, loci_out, report_dir)?;
        writer.into_inner().finish()?;
        return log_summary(args, &summary);
    }
    finish_loci(args, &meta, &mut summary, &histogram, loci_out, report_dir)?;
    log_summary(args, &summary)
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

/// Merges the hits into loci, gives them q-values against the decoy, writes BED, GFF3, tracks
/// and the report.
fn finish_loci(
    args: &Args,
    meta: &[String],
    summary: &mut ScanSummary,
    histogram: &Histogram,
    loci_out: Loci,
    report_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let threshold = loci_out.threshold;
    let mut loci = candidates::merge(std::mem::take(&mut summary.hits));
    let table = match args.decoy {
        Some(_) => {
            let decoy_loci = candidates::merge(std::mem::take(&mut summary.decoy.hits));
            let bases = fdr::Bases {
                real: summary.bases,
                decoy: summary.decoy.bases,
            };
            if bases.decoy == 0 {
                log::warn!("--decoy: no block of the input was drawn (the input is small): no FDR");
            }
            fdr::assign_q_values(&mut loci, &decoy_loci, bases);
            let thresholds = fdr::thresholds(threshold, &loci);
            let table = fdr::table(&loci, &decoy_loci, bases, &thresholds);
            let row = &table[0];
            log::info!(
                "decoy ({:.3} Mb): {} loci at score >= {threshold} ({:.2} per Mb; real {:.2} per \
                 Mb): estimated FDR {}",
                bases.decoy as f64 / 1e6,
                row.decoy,
                row.decoy_per_mb,
                row.real_per_mb,
                row.fdr
                    .map_or("- (no real locus)".to_owned(), |f| format!("{f:.3}"))
            );
            Some(table)
        }
        None => None,
    };
    let comments: Vec<String> = meta
        .iter()
        .map(|m| m.trim_start_matches('#').to_owned())
        .chain(std::iter::once(format!(
            "threshold={threshold} ({})",
            loci_out.basis
        )))
        .collect();
    let basis = loci_out.basis.clone();
    loci_out.write(&loci, &comments)?;
    if let Some(dir) = report_dir {
        let decoy = table.as_ref().map(|table| report::DecoyPart {
            bases: summary.decoy.bases,
            histogram: &summary.decoy.scores,
            table,
        });
        let input = output::input_name(&args.input);
        let page = report::ScanReport {
            input: &input,
            meta,
            threshold: (threshold, &basis),
            records: summary.records,
            bases: summary.bases,
            windows: histogram.total(),
            skipped: summary.skipped,
            loci: &loci,
            histogram,
            decoy,
            top: args.report_top,
        };
        let path = dir.join("index.html");
        let mut out = Output::create(&path)?;
        report::write_html(&mut out, &page)?;
        out.commit()?;
        log::info!("report: {}", path.display());
    }
    Ok(())
}

fn create_report_dir(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the report folder {}: {e}", dir.display()))?;
    Ok(dir.to_owned())
}

/// Told a window's record, start, end, strand and score.
type OnScore<'a> = dyn FnMut(&str, u64, u64, Strand, f32) -> mire2e::Result<()> + 'a;

/// Reads back the rows an interrupted run finished: its hits at `threshold` (scores are written
/// exactly, so they are the hits the run had found), and every row's score for `on_score`.
fn finished_rows(
    partial: &Partial,
    threshold: Option<f32>,
    wants_scores: bool,
    on_score: &mut OnScore<'_>,
) -> anyhow::Result<Vec<Hit>> {
    let mut hits = Vec::new();
    if threshold.is_none() && !wants_scores {
        return Ok(hits);
    }
    let (name, rows) = partial.finished_rows()?;
    let mut reader = stream::Reader::new(name, rows)?;
    let columns = ["seq_id", "start", "end", "strand", "score"]
        .map(|c| reader.require(c))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let mut row = stream::Row::default();
    while reader.read_row(&mut row)? {
        let field = |i: usize| &row.fields[columns[i]];
        let bad = |i: usize| reader.field_error(&row, columns[i], "cannot be read back");
        let score: f32 = field(4).parse().map_err(|_| bad(4))?;
        let (start, end) = (
            field(1).parse().map_err(|_| bad(1))?,
            field(2).parse().map_err(|_| bad(2))?,
        );
        let strand = field(3).parse().map_err(|_| bad(3))?;
        if wants_scores {
            on_score(field(0), start, end, strand, score)?;
        }
        if threshold.is_some_and(|t| score >= t) {
            hits.push(Hit {
                seq_id: field(0).to_owned(),
                start,
                end,
                strand,
                score,
                fold: None,
            });
        }
    }
    Ok(hits)
}
