//! `mire2e-eval`: score streams + known precursors -> Table-2-style metrics, PR/ROC curves, plots.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use mire2e::eval::{
    self, Labeler, Mapping, Options, Partial, PlotKind, Points, Precursor, Report, Rule,
    ScoreColumns, ScoredWindow, Series, Truth,
};
use mire2e::fasta;
use mire2e::stream::{Reader, Row};
use mire2e_cli::{
    common::{Common, Meta},
    output, progress,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Evaluate pre-miRNA scores against known precursors: precision-recall under class imbalance.
///
/// Writes a Table-2-style TSV (per sequence and `all`, per run): positives, negatives, s+, p and F1
/// at --threshold and at the max-F1 threshold, AUROC, AP (step-wise AUCPR) and trapezoid AUCPR.
/// With --report DIR also PR/ROC curve points (pr.tsv, roc.tsv) and plots (pr.svg/png,
/// roc.svg/png) with the runs overlaid.
/// Example: mire2e-eval -s scores.tsv --truth hsa.gff3 --report report/
#[derive(Debug, Parser)]
#[command(name = "mire2e-eval", version)]
struct Args {
    /// Score stream (TSV with seq_id, start, end, strand, score; may be gzipped; '-' = stdin).
    /// Repeat for several runs.
    #[arg(short = 's', long = "scores", required = true, value_name = "TSV")]
    scores: Vec<PathBuf>,
    /// Name of each run, in the order of --scores (default: the file name).
    #[arg(short = 'l', long = "label", value_name = "NAME")]
    labels: Vec<String>,
    /// Known precursors: miRBase GFF3, BED, or a FASTA of hairpins (needs --genome); may be gzipped.
    #[arg(long, value_name = "FILE")]
    truth: PathBuf,
    /// Format of --truth (auto: from the file name).
    #[arg(long, default_value = "auto", value_parser = ["auto", "gff3", "bed", "fasta"])]
    truth_format: String,
    /// GFF3 feature type of the precursors.
    #[arg(long, default_value = "miRNA_primary_transcript", value_name = "TYPE")]
    feature: String,
    /// Genome FASTA in which the hairpins of a FASTA --truth are located (exact matches, both strands).
    #[arg(long, value_name = "FASTA")]
    genome: Option<PathBuf>,
    /// What makes a window positive: best (per precursor and strand, the window with the largest
    /// overlap), contain (the window holds the whole precursor), overlap:F (covers >= F of it).
    #[arg(long, default_value = "best", value_parser = parse_rule, value_name = "RULE")]
    rule: Rule,
    /// Windows touching a precursor that the rule does not make positive: exclude or negative.
    #[arg(long, default_value = "exclude", value_parser = parse_partial, value_name = "exclude|negative")]
    partial: Partial,
    /// Match windows of either strand to a precursor (one positive per precursor with --rule best).
    #[arg(long)]
    ignore_strand: bool,
    /// Annotation chromosome of the windows (for a sub-region such as a clone; default: seq_id).
    #[arg(long, value_name = "NAME")]
    chrom: Option<String>,
    /// 0-based annotation position of the records' first base (added to window coordinates).
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    offset: i64,
    /// The records run opposite to the annotation: record base p is annotation base OFFSET - p.
    #[arg(long)]
    reverse: bool,
    /// Windows with score >= T are called positive in the table's threshold columns.
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    threshold: f32,
    /// Cap on distinct scores counted per run; above it scores are binned (no longer exact).
    #[arg(long, default_value_t = 1 << 24, value_name = "N")]
    max_bins: usize,
    /// Curve points written and drawn: a point is kept when a rate moves by 1/N (0 = every threshold).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    curve_points: u32,
    /// Directory for metrics.tsv, pr.tsv, roc.tsv and the plots (created if missing).
    #[arg(long, visible_alias = "out", value_name = "DIR")]
    report: Option<PathBuf>,
    /// Plot formats written with --report (comma-separated: svg, png; or none).
    #[arg(long, default_value = "svg,png", value_delimiter = ',', value_parser = ["svg", "png", "none"])]
    plots: Vec<String>,
    #[command(flatten)]
    common: Common,
}

fn parse_rule(s: &str) -> Result<Rule, String> {
    s.parse().map_err(|e: mire2e::Error| e.to_string())
}

fn parse_partial(s: &str) -> Result<Partial, String> {
    s.parse().map_err(|e: mire2e::Error| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = check(&args) {
        Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    mire2e_cli::common::finish("mire2e-eval", run(&args))
}

/// Usage errors (exit 2) that clap's declarations cannot express.
fn check(args: &Args) -> Result<(), String> {
    if !args.labels.is_empty() && args.labels.len() != args.scores.len() {
        return Err(format!(
            "{} --label for {} --scores: give one label per run, or none",
            args.labels.len(),
            args.scores.len()
        ));
    }
    if args.scores.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err("stdin ('-') can be read by one --scores only".into());
    }
    if !args.threshold.is_finite() {
        return Err("--threshold must be a finite number".into());
    }
    if args.max_bins < 2 {
        return Err("--max-bins must be at least 2".into());
    }
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    let labels = labels(args)?;
    let (truth, truth_desc) = read_truth(args)?;
    log::info!("truth: {truth_desc}");
    let options = Options {
        rule: args.rule,
        partial: args.partial,
        ignore_strand: args.ignore_strand,
        mapping: Mapping {
            chrom: args.chrom.clone(),
            offset: args.offset,
            reverse: args.reverse,
        },
        threshold: args.threshold,
        max_bins: args.max_bins,
        points: match args.curve_points {
            0 => Points::All,
            n => Points::Resolution(n),
        },
    };
    // Create the outputs first, so a bad path fails before the work.
    let table = output::Output::create(&args.common.output)?;
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    }
    let mut meta = vec![Meta::new("mire2e-eval")
        .field(format_args!(
            "truth={} ({truth_desc}) rule={} partial={} strand={} threshold={} mapping={}",
            args.truth.display(),
            args.rule,
            args.partial,
            if args.ignore_strand { "ignore" } else { "same" },
            args.threshold,
            describe_mapping(&options.mapping),
        ))
        .line()];
    let mut reports = Vec::new();
    for (path, label) in args.scores.iter().zip(&labels) {
        let (report, stream_meta) = evaluate(path, &truth, &options, args.common.quiet > 0)?;
        meta.push(format!(
            "#run={label} scores={} windows={} exact={} score_key_bits={}",
            path.display(),
            report.windows,
            report.exact,
            32 - report.all.curve.shift
        ));
        meta.extend(
            stream_meta
                .iter()
                .map(|m| format!("#[{label}] {}", &m[1..])),
        );
        log::info!(
            "{label}: {} windows: {} positives, {} negatives, {} left out; AUROC {} AP {}",
            report.windows,
            report.all.curve.positives,
            report.all.curve.negatives,
            report.all.excluded,
            eval::report::number(report.all.curve.auroc),
            eval::report::number(report.all.curve.average_precision)
        );
        if report.all.precursors == 0 && !truth.is_empty() {
            log::warn!(
                "{label}: no window touches a precursor: do the stream's seq_ids ({}) match the truth's chromosomes ({})? See --chrom/--offset",
                names(report.sequences.iter().map(|s| s.seq_id.as_str())),
                names(truth.precursors().iter().map(|p| p.chrom.as_str())),
            );
        }
        reports.push((label.clone(), report));
    }
    let text = eval::report::metrics_table(&meta, &reports, args.threshold);
    if let Some(dir) = &args.report {
        write_file(&dir.join("metrics.tsv"), text.as_bytes())?;
        let (pr, roc) = eval::report::curve_tables(&meta, &reports);
        write_file(&dir.join("pr.tsv"), pr.as_bytes())?;
        write_file(&dir.join("roc.tsv"), roc.as_bytes())?;
        let series: Vec<Series> = reports
            .iter()
            .map(|(label, r)| Series {
                label,
                curve: &r.all.curve,
                at_threshold: Some(r.all.at_threshold),
            })
            .collect();
        for (kind, stem, title) in [
            (PlotKind::PrecisionRecall, "pr", "Precision\u{2013}recall"),
            (PlotKind::Roc, "roc", "ROC"),
        ] {
            let title = format!("{title} ({})", describe_rule(args));
            if args.plots.iter().any(|f| f == "svg") {
                let svg = eval::plot::svg(kind, &series, &title)?;
                write_file(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
            }
            if args.plots.iter().any(|f| f == "png") {
                let png = eval::plot::png(kind, &series, &title)?;
                write_file(&dir.join(format!("{stem}.png")), &png)?;
            }
        }
    }
    let mut table = table;
    table
        .write_all(text.as_bytes())
        .context("cannot write the table")?;
    table.commit()
}

fn labels(args: &Args) -> anyhow::Result<Vec<String>> {
    let labels: Vec<String> = if args.labels.is_empty() {
        args.scores
            .iter()
            .map(|p| match p.file_name() {
                _ if p.as_os_str() == "-" => "stdin".to_owned(),
                Some(name) => name.to_string_lossy().into_owned(),
                None => p.display().to_string(),
            })
            .collect()
    } else {
        args.labels.clone()
    };
    let mut seen = HashSet::new();
    for label in &labels {
        anyhow::ensure!(
            !label.is_empty() && !label.contains(['\t', '\n', '\r']),
            "run label '{label}' is empty or holds a tab or line break"
        );
        anyhow::ensure!(
            seen.insert(label.as_str()),
            "two runs are named '{label}': name them apart with --label"
        );
    }
    Ok(labels)
}

fn truth_format(args: &Args) -> anyhow::Result<&'static str> {
    match args.truth_format.as_str() {
        "gff3" => return Ok("gff3"),
        "bed" => return Ok("bed"),
        "fasta" => return Ok("fasta"),
        _ => {}
    }
    let name = args
        .truth
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".bgz"))
        .unwrap_or(&name);
    let ext = name.rsplit('.').next().unwrap_or("");
    Ok(match ext {
        "gff3" | "gff" => "gff3",
        "bed" => "bed",
        "fa" | "fasta" | "fna" | "fas" => "fasta",
        _ => anyhow::bail!(
            "cannot tell the format of {} from its name: give --truth-format gff3, bed or fasta",
            args.truth.display()
        ),
    })
}

fn read_truth(args: &Args) -> anyhow::Result<(Truth, String)> {
    let format = truth_format(args)?;
    let name = output::input_name(&args.truth);
    let open = |path: &Path| -> anyhow::Result<_> {
        let input = output::open_input(path)?;
        fasta::decompress(input)
            .with_context(|| format!("cannot read {}", output::input_name(path)))
    };
    anyhow::ensure!(
        format == "fasta" || args.genome.is_none(),
        "--genome is used only with a FASTA --truth (hairpins to locate)"
    );
    let precursors: Vec<Precursor> = match format {
        "gff3" => eval::read_gff3(&name, open(&args.truth)?, &args.feature)?,
        "bed" => eval::read_bed(&name, open(&args.truth)?)?,
        _ => {
            let genome = args.genome.as_ref().with_context(|| {
                format!(
                    "{name} is a FASTA of hairpins: give --genome FASTA to locate them (or a GFF3/BED --truth)"
                )
            })?;
            let mut hairpins = fasta::reader(&name, output::open_input(&args.truth)?)?;
            let mut genome_reader =
                fasta::reader(output::input_name(genome), output::open_input(genome)?)?;
            let located = eval::locate_hairpins(&mut hairpins, &mut genome_reader)?;
            if !located.skipped.is_empty() {
                log::warn!(
                    "{} hairpins not searched (shorter than 16 nt or holding N): {}",
                    located.skipped.len(),
                    names(located.skipped.iter().map(String::as_str))
                );
            }
            log::info!(
                "located {} loci; {} hairpins not found in {}",
                located.precursors.len(),
                located.not_found.len(),
                genome.display()
            );
            located.precursors
        }
    };
    let truth = Truth::new(precursors);
    if truth.is_empty() {
        log::warn!("{name}: no precursors (every window is a negative)");
    }
    let chroms: HashSet<&str> = truth
        .precursors()
        .iter()
        .map(|p| p.chrom.as_str())
        .collect();
    let desc = format!(
        "{format}, {} precursors on {} sequences",
        truth.len(),
        chroms.len()
    );
    Ok((truth, desc))
}

fn evaluate(
    path: &Path,
    truth: &Truth,
    options: &Options,
    quiet: bool,
) -> anyhow::Result<(Report, Vec<String>)> {
    let name = output::input_name(path);
    let input = fasta::decompress(output::open_input(path)?)
        .with_context(|| format!("cannot read {name}"))?;
    let mut reader = Reader::new(&name, input)?;
    let columns = ScoreColumns::find(&reader)?;
    let meta = reader.header().meta.clone();
    let mut labeler = Labeler::new(truth, options.clone());
    let bar = progress::counter("windows", quiet);
    let mut row = Row::default();
    while reader.read_row(&mut row)? {
        let ScoredWindow {
            location: at,
            score,
        } = columns.parse(&reader, &row)?;
        labeler.add(at.seq_id, at.start, at.end, at.strand, score);
        if labeler.windows() % 65536 == 0 {
            bar.set_position(labeler.windows());
        }
    }
    bar.finish_and_clear();
    Ok((labeler.finish(), meta))
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut seen = Vec::new();
    for n in names {
        if !seen.contains(&n) {
            seen.push(n);
        }
        if seen.len() > 5 {
            seen.push("...");
            break;
        }
    }
    seen.join(", ")
}

fn describe_mapping(m: &Mapping) -> String {
    match (&m.chrom, m.offset, m.reverse) {
        (None, 0, false) => "none".into(),
        (chrom, offset, reverse) => format!(
            "chrom={} offset={offset}{}",
            chrom.as_deref().unwrap_or("seq_id"),
            if reverse { " reverse" } else { "" }
        ),
    }
}

fn describe_rule(args: &Args) -> String {
    let mut s = format!("rule {}", args.rule);
    if args.partial == Partial::Negative {
        s.push_str(", partial windows negative");
    }
    if args.ignore_strand {
        s.push_str(", either strand");
    }
    s
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = output::Output::create(path)?;
    out.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.commit()
}
