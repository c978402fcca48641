//! What a biologist opens after a scan: one self-contained HTML page (no scripts, no fetches) with
//! the run, its numbers, the decoy FDR table and curve, the score histogram, and the top loci each
//! with its predicted hairpin drawn as miRBase draws precursors.

mod charts;
pub mod hairpin;

use std::fmt::Write as _;
use std::io::Write;

use crate::candidates::{fdr, Locus};
use crate::error::{Error, Result};

/// Window scores counted in equal bins over [0, 1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    /// Windows per bin; bin `b` holds scores in `[b/n, (b+1)/n)`, the last also 1.
    pub counts: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; 50],
        }
    }
}

impl Histogram {
    /// Counts one score (clamped to [0, 1]).
    pub fn add(&mut self, score: f32) {
        let n = self.counts.len();
        let b = ((score.clamp(0.0, 1.0) * n as f32) as usize).min(n - 1);
        self.counts[b] += 1;
    }

    /// Windows counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The decoy scan, for the report.
pub struct DecoyPart<'a> {
    /// Decoy bases scanned (one strand).
    pub bases: u64,
    /// Their window scores.
    pub histogram: &'a Histogram,
    /// Calls and FDR per threshold.
    pub table: &'a [fdr::Row],
}

/// Everything the report shows.
pub struct ScanReport<'a> {
    /// The input's name.
    pub input: &'a str,
    /// The run's metadata lines (parameters, model, version).
    pub meta: &'a [String],
    /// The score threshold of the calls, and where it came from.
    pub threshold: (f32, &'a str),
    /// Records and bases read, windows scored and skipped.
    pub records: u64,
    /// Bases of the records scored (one strand).
    pub bases: u64,
    /// Windows scored.
    pub windows: u64,
    /// Windows skipped by the N / soft-mask filters.
    pub skipped: u64,
    /// The loci called.
    pub loci: &'a [Locus],
    /// The real windows' scores.
    pub histogram: &'a Histogram,
    /// The decoy, when one was scanned.
    pub decoy: Option<DecoyPart<'a>>,
    /// How many loci to show, best first.
    pub top: usize,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #e4e4e4;\
text-align:right;vertical-align:top}th{background:#f4f4f4}td.l,th.l{text-align:left}\
pre{margin:0;font-size:.95em;line-height:1.15}.meta{font-family:monospace;font-size:.85em;color:#555;\
white-space:pre-wrap}.note{color:#555;font-size:.9em;max-width:60em}";

/// Writes the report as one HTML page.
pub fn write_html<W: Write>(mut out: W, r: &ScanReport<'_>) -> Result<()> {
    let mut h = String::new();
    let mb = r.bases as f64 / 1e6;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>mire2e scan: {input}</title><style>{STYLE}</style></head><body>\n\
         <h1>mire2e scan: {input}</h1>\n<div class=\"meta\">{meta}</div>\n",
        input = escape(r.input),
        meta = r
            .meta
            .iter()
            .map(|m| escape(m))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let per_mb = if mb > 0.0 {
        format!("{:.2}", r.loci.len() as f64 / mb)
    } else {
        "n/a".into()
    };
    let _ = writeln!(
        h,
        "<h2>Run</h2><table>\
         <tr><th class=\"l\">records</th><td>{}</td></tr>\
         <tr><th class=\"l\">bases (one strand)</th><td>{}</td></tr>\
         <tr><th class=\"l\">windows scored (both strands)</th><td>{}</td></tr>\
         <tr><th class=\"l\">windows skipped (N / soft-mask filters)</th><td>{}</td></tr>\
         <tr><th class=\"l\">score threshold</th><td>{} <span class=\"note\">({})</span></td></tr>\
         <tr><th class=\"l\">loci called (both strands)</th><td>{}</td></tr>\
         <tr><th class=\"l\">loci per Mb</th><td>{per_mb}</td></tr></table>",
        r.records,
        r.bases,
        r.windows,
        r.skipped,
        r.threshold.0,
        escape(r.threshold.1),
        r.loci.len(),
    );
    if let Some(d) = &r.decoy {
        decoy_section(&mut h, d, r.bases)?;
    } else {
        h.push_str(
            "<h2>False discoveries</h2><p class=\"note\">No decoy was scanned: run with \
             <code>--decoy</code> for an estimated FDR and per-locus q-values.</p>\n",
        );
    }
    let _ = writeln!(
        h,
        "<h2>Window scores</h2>{}",
        charts::histogram(r.histogram, r.decoy.as_ref().map(|d| d.histogram))?
    );
    loci_section(&mut h, r);
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes()).map_err(Error::Write)
}

fn decoy_section(h: &mut String, d: &DecoyPart<'_>, real_bases: u64) -> Result<()> {
    let _ = write!(
        h,
        "<h2>False discoveries (decoy)</h2><p class=\"note\">The decoy is {:.3} Mb of the input \
         with its dinucleotides shuffled (gaps kept in place), scanned with the same models and \
         threshold. Its loci per Mb, scaled to the {:.3} Mb scanned, estimate the false calls: \
         FDR = (decoy loci + 1) × real Mb / decoy Mb / real loci (the + 1 keeps a small decoy \
         from claiming no false calls). A locus's q-value is the lowest FDR of a threshold that \
         still calls it. Shuffling keeps composition but not all of a \
         genome's structure (repeats, their inverted copies), so read these as estimates.</p>\
         <table><tr><th>threshold</th><th>real loci</th><th>per Mb</th><th>decoy loci</th>\
         <th>per Mb</th><th>estimated FDR</th></tr>",
        d.bases as f64 / 1e6,
        real_bases as f64 / 1e6
    );
    for row in d.table {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
            row.threshold,
            row.real,
            row.real_per_mb,
            row.decoy,
            row.decoy_per_mb,
            row.fdr.map_or("–".to_owned(), |f| format!("{f:.3}"))
        );
    }
    let _ = writeln!(h, "</table>{}", charts::fdr_curve(d.table)?);
    Ok(())
}

fn loci_section(h: &mut String, r: &ScanReport<'_>) {
    let mut order: Vec<&Locus> = r.loci.iter().collect();
    order.sort_by(|a, b| b.best.score.total_cmp(&a.best.score));
    let shown = order.len().min(r.top);
    let _ = write!(
        h,
        "<h2>Top loci</h2><p class=\"note\">{shown} of {} loci, best score first. Coordinates \
         are 1-based and closed, as in the GFF3; the hairpin is the best window's predicted \
         structure (5' arm on top, pairs joined by |, unpaired bases in lower case).</p>\
         <table><tr><th>#</th><th class=\"l\">locus</th><th>strand</th><th>score</th>\
         <th>q-value</th><th>windows</th><th class=\"l\">best window and predicted hairpin</th></tr>",
        order.len()
    );
    for (k, l) in order.iter().take(shown).enumerate() {
        let b = &l.best;
        let q = l.q_value.map_or("–".to_owned(), |q| format!("{q:.3}"));
        let drawing = match &b.fold {
            Some(f) => escape(&hairpin::draw(&f.seq, &f.structure).join("\n")),
            None => "(structure not kept)".to_owned(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}:{}-{}</td><td>{}</td><td>{:.4}</td><td>{q}</td>\
             <td>{}</td><td class=\"l\">{}:{}-{}<pre>{drawing}</pre></td></tr>",
            k + 1,
            escape(&l.seq_id),
            l.start + 1,
            l.end,
            l.strand,
            b.score,
            l.windows,
            escape(&b.seq_id),
            b.start + 1,
            b.end,
        );
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::{Fold, Hit};
    use crate::window::Strand;

    #[test]
    fn histogram_bins() {
        let mut hist = Histogram::default();
        for s in [0.0, 0.019, 0.02, 0.5, 1.0, 1.5, -1.0] {
            hist.add(s);
        }
        assert_eq!(hist.total(), 7);
        assert_eq!(
            (
                hist.counts[0],
                hist.counts[1],
                hist.counts[25],
                hist.counts[49]
            ),
            (3, 1, 1, 2)
        );
    }

    #[test]
    fn page_holds_the_loci_and_escapes_names() {
        let best = Hit {
            seq_id: "chr<1>".into(),
            start: 99,
            end: 199,
            strand: Strand::Reverse,
            score: 0.97,
            fold: Some(Fold {
                seq: "GGGGAAAACCCC".into(),
                structure: "((((....))))".into(),
            }),
        };
        let locus = Locus {
            seq_id: best.seq_id.clone(),
            start: 99,
            end: 219,
            strand: Strand::Reverse,
            best,
            windows: 2,
            q_value: Some(0.04),
        };
        let mut hist = Histogram::default();
        hist.add(0.97);
        hist.add(0.01);
        let table = fdr::table(
            std::slice::from_ref(&locus),
            &[],
            fdr::Bases {
                real: 1000,
                decoy: 500,
            },
            &[0.5, 0.9],
        );
        let report = ScanReport {
            input: "genome.fa",
            meta: &["#mire2e scan 0.1.0 model=default".into()],
            threshold: (0.9, "bundle"),
            records: 1,
            bases: 1000,
            windows: 2,
            skipped: 0,
            loci: std::slice::from_ref(&locus),
            histogram: &hist,
            decoy: Some(DecoyPart {
                bases: 500,
                histogram: &hist,
                table: &table,
            }),
            top: 50,
        };
        let mut page = Vec::new();
        write_html(&mut page, &report).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains("chr&lt;1&gt;:100-219") && !page.contains("chr<1>"));
        assert!(page.contains("GGGG a") && page.contains("0.040"));
        assert!(page.matches("<svg").count() == 2, "two charts");
        // self-contained: nothing to fetch, nothing to run
        assert!(!page.contains("src=") && !page.contains("<link") && !page.contains("<script"));
    }
}
