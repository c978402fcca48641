//! Evaluation: labels from annotation overlap, PR/ROC curves, AUROC, AUCPR, max-F1, per-sequence
//! tables and plots (the paper's section 3.2, Tables 1–2, Figures 2–3).
//!
//! - [`truth`]: known precursors from GFF3, BED, or hairpin sequences located in a genome.
//! - [`labels`]: which windows are positive ([`Rule`]), negative or left out, counted per sequence.
//! - [`curve`]: exact score histograms ([`Histogram`]) and the curves and areas from them.
//! - [`plot`]: PR and ROC plots (SVG, PNG) with several runs overlaid.
//!
//! # Definitions
//!
//! A window is called positive at threshold `t` when `score >= t`. Every distinct score is one
//! threshold, so windows with tied scores enter the curves together (scikit-learn's semantics).
//! With thresholds `t_1 > t_2 > ...` and `TP_i`, `FP_i` the windows at or above `t_i`, `P` and
//! `N` the positive and negative windows:
//!
//! - AUROC = `sum_i (FP_i - FP_(i-1)) (TP_i + TP_(i-1)) / (2 P N)` (trapezoids; exact integer sum).
//! - AP ("AUCPR", step-wise) = `sum_i (TP_i - TP_(i-1)) / P * TP_i / (TP_i + FP_i)`, scikit-learn's
//!   `average_precision_score`.
//! - AUCPR (trapezoid) = trapezoids from (recall 0, precision 1) through every threshold's
//!   (recall, precision), scikit-learn's `auc(recall, precision)` on `precision_recall_curve`.
//!   It is optimistic under imbalance (the first segment is drawn from precision 1), so AP is the
//!   headline number.
//!
//! # Example
//!
//! ```
//! use mire2e::eval::{Labeler, Options, Precursor, Truth};
//! use mire2e::window::Strand;
//! let truth = Truth::new(vec![Precursor {
//!     chrom: "chr".into(), start: 40, end: 100, strand: Some(Strand::Forward), name: "mir".into(),
//! }]);
//! let mut labeler = Labeler::new(&truth, Options::default());
//! labeler.add("chr", 20, 120, Strand::Forward, 0.9); // holds the precursor: positive
//! labeler.add("chr", 200, 300, Strand::Forward, 0.4); // touches nothing: negative
//! labeler.add("chr", 400, 500, Strand::Reverse, 0.95); // negative with a high score
//! let report = labeler.finish();
//! assert_eq!(report.all.curve.auroc, Some(0.5));
//! assert_eq!(report.all.curve.average_precision, Some(0.5));
//! ```

pub mod curve;
pub mod labels;
pub mod plot;
pub mod report;
pub mod truth;

use std::io::BufRead;

pub use curve::{
    key_score, merge_descending, score_key, summarize, Confusion, Counts, Curve, Histogram, Point,
    Points,
};
pub use labels::{Labeler, Mapping, Options, Partial, Report, Rule, SeqReport};
pub use plot::{PlotKind, Series};
pub use truth::{locate_hairpins, read_bed, read_gff3, Located, Precursor, Truth};

use crate::error::Result;
use crate::stream::{Location, LocationColumns, Reader, Row};

/// Columns of a score stream: `seq_id start end strand score` (others are passed over).
#[derive(Debug, Clone, Copy)]
pub struct ScoreColumns {
    location: LocationColumns,
    score: usize,
}

/// The fields of one scored window.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredWindow<'a> {
    /// Where the window is.
    pub location: Location<'a>,
    /// Finite score.
    pub score: f32,
}

impl ScoreColumns {
    /// Finds the columns, or names the one that is missing.
    pub fn find<R: BufRead>(reader: &Reader<R>) -> Result<Self> {
        Ok(Self {
            location: LocationColumns::find(reader)?,
            score: reader.require("score")?,
        })
    }

    /// Parses one row; errors name the line, the column and the value.
    ///
    /// ```
    /// use mire2e::eval::ScoreColumns;
    /// use mire2e::stream::{Reader, Row};
    /// let data = "seq_id\tstart\tend\tstrand\tseq\tscore\nr\t0\t100\t-\tACGU\t0.25\nr\t0\t100\t+\tACGU\tnan\n";
    /// let mut reader = Reader::new("s.tsv", data.as_bytes())?;
    /// let columns = ScoreColumns::find(&reader)?;
    /// let mut row = Row::default();
    /// reader.read_row(&mut row)?;
    /// assert_eq!(columns.parse(&reader, &row)?.score, 0.25);
    /// reader.read_row(&mut row)?;
    /// assert_eq!(columns.parse(&reader, &row).unwrap_err().to_string(),
    ///            "s.tsv: line 3, column `score`: 'nan' is not a finite number");
    /// # Ok::<(), mire2e::Error>(())
    /// ```
    pub fn parse<'r, R: BufRead>(
        &self,
        reader: &Reader<R>,
        row: &'r Row,
    ) -> Result<ScoredWindow<'r>> {
        let location = self.location.parse(reader, row)?;
        let score = match row.fields[self.score].parse::<f32>() {
            Ok(v) if v.is_finite() => v,
            _ => return Err(reader.field_error(row, self.score, "is not a finite number")),
        };
        Ok(ScoredWindow { location, score })
    }
}
