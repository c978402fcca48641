//! The report tables of `mire2e-eval`: metrics per sequence and run, and curve points.

use std::fmt::Write as _;

use super::{Confusion, Report, SeqReport};

/// A metric, or `NA` where it is undefined (0/0).
pub fn number(v: Option<f64>) -> String {
    v.map_or_else(|| "NA".into(), |v| v.to_string())
}

/// Columns of the metrics table.
pub const METRIC_COLUMNS: [&str; 20] = [
    "run",
    "seq_id",
    "precursors",
    "positives",
    "negatives",
    "excluded",
    "threshold",
    "tp",
    "fp",
    "s+",
    "p",
    "F1",
    "best_threshold",
    "best_s+",
    "best_p",
    "best_F1",
    "AUROC",
    "AP",
    "AUCPR_trapezoid",
    "thresholds",
];

/// The metrics table (`metrics.tsv`): metadata lines, header, one row per sequence and one `all`
/// row per run.
pub fn metrics_table(meta: &[String], reports: &[(String, Report)], threshold: f32) -> String {
    let mut out = String::new();
    for m in meta {
        out.push_str(m);
        out.push('\n');
    }
    out.push_str(&METRIC_COLUMNS.join("\t"));
    out.push('\n');
    for (label, report) in reports {
        for seq in report.sequences.iter().chain([&report.all]) {
            metrics_row(&mut out, label, threshold, seq);
        }
    }
    out
}

fn metrics_row(out: &mut String, label: &str, threshold: f32, s: &SeqReport) {
    let at: &Confusion = &s.at_threshold;
    let best = s.curve.max_f1;
    let best_c = best.map(|p| p.confusion);
    let fields = [
        label.to_owned(),
        s.seq_id.clone(),
        s.precursors.to_string(),
        at.positives.to_string(),
        at.negatives.to_string(),
        s.excluded.to_string(),
        threshold.to_string(),
        at.tp.to_string(),
        at.fp.to_string(),
        number(at.recall()),
        number(at.precision()),
        number(at.f1()),
        best.map_or_else(|| "NA".into(), |p| p.threshold.to_string()),
        number(best_c.and_then(|c| c.recall())),
        number(best_c.and_then(|c| c.precision())),
        number(best_c.and_then(|c| c.f1())),
        number(s.curve.auroc),
        number(s.curve.average_precision),
        number(s.curve.aucpr_trapezoid),
        s.curve.thresholds.to_string(),
    ];
    out.push_str(&fields.join("\t"));
    out.push('\n');
}

/// The PR and ROC curve points of each run's `all` row (`pr.tsv`, `roc.tsv`).
pub fn curve_tables(meta: &[String], reports: &[(String, Report)]) -> (String, String) {
    let mut pr = String::new();
    let mut roc = String::new();
    for m in meta {
        let _ = writeln!(pr, "{m}");
        let _ = writeln!(roc, "{m}");
    }
    pr.push_str("run\tthreshold\ttp\tfp\tprecision\trecall\tF1\n");
    roc.push_str("run\tthreshold\ttp\tfp\tfpr\ttpr\n");
    for (label, report) in reports {
        for p in &report.all.curve.points {
            let c = &p.confusion;
            let _ = writeln!(
                pr,
                "{label}\t{}\t{}\t{}\t{}\t{}\t{}",
                p.threshold,
                c.tp,
                c.fp,
                number(c.precision()),
                number(c.recall()),
                number(c.f1())
            );
            let _ = writeln!(
                roc,
                "{label}\t{}\t{}\t{}\t{}\t{}",
                p.threshold,
                c.tp,
                c.fp,
                number(c.fpr()),
                number(c.recall())
            );
        }
    }
    (pr, roc)
}
