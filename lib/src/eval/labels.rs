//! Which windows are positive, negative or left out, and the per-sequence counts that follow.
//!
//! A [`Labeler`] takes scored windows one at a time. A window that touches no precursor (on either
//! strand) is a negative and goes straight into its sequence's [`Histogram`]. A window that touches
//! one is labelled by the [`Rule`]; under [`Rule::Best`] it is held (with its score) until the end,
//! because the best window of a precursor is known only once all windows were seen. Those windows
//! are few (about `2 (len + 100) / step` per precursor), so memory stays bounded by the histograms.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use super::curve::{merge_descending, score_key, summarize, Confusion, Curve, Histogram, Points};
use super::truth::{Precursor, Truth};
use crate::error::Error;
use crate::window::Strand;

/// The rule that makes a window positive.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Rule {
    /// For each precursor (and strand, see [`Options::ignore_strand`]) the window with the largest
    /// overlap is the positive (ties: the window whose centre is nearest the precursor's centre,
    /// then the lowest start, then `+`). One positive per known precursor, as the paper counts.
    #[default]
    Best,
    /// A window is positive when it holds the whole precursor.
    Contain,
    /// A window is positive when it covers at least this fraction of the precursor's length.
    Overlap(f64),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Best => f.write_str("best"),
            Self::Contain => f.write_str("contain"),
            Self::Overlap(x) => write!(f, "overlap:{x}"),
        }
    }
}

impl FromStr for Rule {
    type Err = Error;

    /// `best`, `contain` or `overlap:F` with `F` in (0, 1].
    ///
    /// ```
    /// use mire2e::eval::Rule;
    /// assert_eq!("overlap:0.5".parse::<Rule>()?, Rule::Overlap(0.5));
    /// assert!("overlap:0".parse::<Rule>().is_err());
    /// # Ok::<(), mire2e::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Invalid(format!(
                "rule must be best, contain or overlap:F with F in (0, 1], not '{s}'"
            ))
        };
        match s {
            "best" => Ok(Self::Best),
            "contain" => Ok(Self::Contain),
            _ => {
                let f: f64 = s
                    .strip_prefix("overlap:")
                    .and_then(|f| f.parse().ok())
                    .ok_or_else(bad)?;
                if f > 0.0 && f <= 1.0 {
                    Ok(Self::Overlap(f))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

/// What becomes of a window that touches a precursor but is not positive under the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partial {
    /// Left out: neither positive nor negative (the paper's counts).
    #[default]
    Exclude,
    /// Counted as a negative.
    Negative,
}

impl fmt::Display for Partial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exclude => "exclude",
            Self::Negative => "negative",
        })
    }
}

impl FromStr for Partial {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "exclude" => Ok(Self::Exclude),
            "negative" => Ok(Self::Negative),
            _ => Err(Error::Invalid(format!(
                "partial must be exclude or negative, not '{s}'"
            ))),
        }
    }
}

/// Maps window coordinates (on the stream's records) to annotation coordinates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Annotation chromosome for every window (`None`: the window's `seq_id`).
    pub chrom: Option<String>,
    /// 0-based annotation position of the record's first base.
    pub offset: i64,
    /// The record runs opposite to the annotation: record base `p` is annotation base
    /// `offset - p`, and strands swap.
    pub reverse: bool,
}

impl Mapping {
    /// Annotation interval and strand of a window `[start, end)` on `strand`.
    ///
    /// ```
    /// use mire2e::eval::Mapping;
    /// use mire2e::window::Strand;
    /// let m = Mapping { chrom: Some("chr6".into()), offset: 1000, reverse: true };
    /// assert_eq!(m.apply(0, 100, Strand::Forward), (901, 1001, Strand::Reverse));
    /// let m = Mapping { offset: 1000, ..Mapping::default() };
    /// assert_eq!(m.apply(0, 100, Strand::Reverse), (1000, 1100, Strand::Reverse));
    /// ```
    pub fn apply(&self, start: u64, end: u64, strand: Strand) -> (i64, i64, Strand) {
        let (s, e) = (start as i64, end as i64);
        if self.reverse {
            let flipped = match strand {
                Strand::Forward => Strand::Reverse,
                Strand::Reverse => Strand::Forward,
            };
            (self.offset - e + 1, self.offset - s + 1, flipped)
        } else {
            (self.offset + s, self.offset + e, strand)
        }
    }
}

/// How windows are labelled and counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// What makes a window positive.
    pub rule: Rule,
    /// What becomes of windows touching a precursor that are not positive.
    pub partial: Partial,
    /// Match windows of either strand to a precursor (one positive per precursor under
    /// [`Rule::Best`]). Otherwise a stranded precursor's positives lie on its strand, and an
    /// unstranded one gets one per strand.
    pub ignore_strand: bool,
    /// Window → annotation coordinates.
    pub mapping: Mapping,
    /// The threshold of the table's counts (`score >= threshold` is called positive).
    pub threshold: f32,
    /// Cap on the histogram bins of a run (all sequences together); above it the score keys are
    /// coarsened and the result is no longer exact.
    pub max_bins: usize,
    /// Which curve points to keep for the whole run.
    pub points: Points,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rule: Rule::Best,
            partial: Partial::Exclude,
            ignore_strand: false,
            mapping: Mapping::default(),
            threshold: 0.5,
            max_bins: 1 << 24,
            points: Points::Resolution(2000),
        }
    }
}

/// Counts of one sequence (or of all) at the end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqReport {
    /// The stream's `seq_id` (`all` for the whole run).
    pub seq_id: String,
    /// Precursors touched by at least one window of this sequence.
    pub precursors: usize,
    /// Windows left out (touching a precursor, not positive, [`Partial::Exclude`]).
    pub excluded: u64,
    /// Counts at [`Options::threshold`].
    pub at_threshold: Confusion,
    /// Areas, max-F1 and (for `all`) curve points.
    pub curve: Curve,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Windows read.
    pub windows: u64,
    /// Per sequence, in order of first appearance.
    pub sequences: Vec<SeqReport>,
    /// All sequences together.
    pub all: SeqReport,
    /// Whether every distinct score was its own threshold (no coarsening).
    pub exact: bool,
}

struct SeqState {
    name: String,
    hist: Histogram,
    positives: u64,
    negatives: u64,
    excluded: u64,
    tp: u64,
    fp: u64,
    touched: HashSet<usize>,
}

/// How good a window is for a precursor; smaller is better: larger overlap, nearer centre, lower
/// start, `+`.
type Rank = (i64, i64, i64, Strand);

struct Candidate {
    seq: usize,
    start: i64,
    end: i64,
    strand: Strand,
    score: f32,
}

/// Labels scored windows against the truth and counts them per sequence.
///
/// ```
/// use mire2e::eval::{Labeler, Options, Precursor, Truth};
/// use mire2e::window::Strand::{Forward, Reverse};
/// let truth = Truth::new(vec![Precursor {
///     chrom: "c".into(), start: 135, end: 195, strand: Some(Forward), name: "mir".into(),
/// }]);
/// let mut labeler = Labeler::new(&truth, Options::default());
/// for (start, strand, score) in [(0, Forward, 0.1), (100, Forward, 0.7), (120, Forward, 0.9),
///                                (120, Reverse, 0.8), (300, Forward, 0.6)] {
///     labeler.add("c", start, start + 100, strand, score);
/// }
/// let report = labeler.finish();
/// // [120, 220) holds the whole precursor nearest its centre; [100, 200) also holds it
/// // and is left out, as is the `-` window touching it.
/// assert_eq!((report.all.curve.positives, report.all.curve.negatives, report.all.excluded), (1, 2, 2));
/// assert_eq!(report.all.curve.auroc, Some(1.0));
/// ```
pub struct Labeler<'t> {
    truth: &'t Truth,
    options: Options,
    seqs: Vec<SeqState>,
    index: HashMap<String, usize>,
    last: Option<usize>,
    candidates: Vec<Candidate>,
    shift: u32,
    bins: usize,
    windows: u64,
    ids: Vec<usize>,
}

impl<'t> Labeler<'t> {
    /// A labeler for one run.
    pub fn new(truth: &'t Truth, options: Options) -> Self {
        Self {
            truth,
            options,
            seqs: Vec::new(),
            index: HashMap::new(),
            last: None,
            candidates: Vec::new(),
            shift: 0,
            bins: 0,
            windows: 0,
            ids: Vec::new(),
        }
    }

    /// Windows added so far.
    pub fn windows(&self) -> u64 {
        self.windows
    }

    fn seq_index(&mut self, seq_id: &str) -> usize {
        if let Some(i) = self.last.filter(|&i| self.seqs[i].name == seq_id) {
            return i;
        }
        let i = match self.index.get(seq_id) {
            Some(&i) => i,
            None => {
                let i = self.seqs.len();
                self.index.insert(seq_id.to_owned(), i);
                self.seqs.push(SeqState {
                    name: seq_id.to_owned(),
                    hist: Histogram::default(),
                    positives: 0,
                    negatives: 0,
                    excluded: 0,
                    tp: 0,
                    fp: 0,
                    touched: HashSet::new(),
                });
                i
            }
        };
        self.last = Some(i);
        i
    }

    fn chrom(&self, seq: usize) -> &str {
        self.options
            .mapping
            .chrom
            .as_deref()
            .unwrap_or(&self.seqs[seq].name)
    }

    fn eligible(&self, p: &Precursor, strand: Strand) -> bool {
        self.options.ignore_strand || p.strand.is_none_or(|s| s == strand)
    }

    /// Adds one window `[start, end)` (record coordinates) with a finite `score`.
    pub fn add(&mut self, seq_id: &str, start: u64, end: u64, strand: Strand, score: f32) {
        debug_assert!(score.is_finite());
        self.windows += 1;
        let seq = self.seq_index(seq_id);
        let (s, e, strand) = self.options.mapping.apply(start, end, strand);
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.truth.overlapping(self.chrom(seq), s, e));
        if ids.is_empty() {
            self.count(seq, score, Some(false));
        } else {
            self.seqs[seq].touched.extend(ids.iter().copied());
            match self.options.rule {
                Rule::Best => self.candidates.push(Candidate {
                    seq,
                    start: s,
                    end: e,
                    strand,
                    score,
                }),
                rule => {
                    let positive = ids.iter().any(|&id| {
                        let p = &self.truth.precursors()[id];
                        self.eligible(p, strand)
                            && match rule {
                                Rule::Contain => s <= p.start && p.end <= e,
                                Rule::Overlap(f) => {
                                    (e.min(p.end) - s.max(p.start)) as f64 >= f * p.len() as f64
                                }
                                Rule::Best => unreachable!(),
                            }
                    });
                    self.count(seq, score, self.label(positive));
                }
            }
        }
        self.ids = ids;
    }

    /// `Some(true)` positive, `Some(false)` negative, `None` excluded.
    fn label(&self, positive: bool) -> Option<bool> {
        match (positive, self.options.partial) {
            (true, _) => Some(true),
            (false, Partial::Negative) => Some(false),
            (false, Partial::Exclude) => None,
        }
    }

    fn count(&mut self, seq: usize, score: f32, label: Option<bool>) {
        let state = &mut self.seqs[seq];
        let Some(positive) = label else {
            state.excluded += 1;
            return;
        };
        let called = score >= self.options.threshold;
        if positive {
            state.positives += 1;
            state.tp += u64::from(called);
        } else {
            state.negatives += 1;
            state.fp += u64::from(called);
        }
        if state.hist.add(score_key(score) >> self.shift, positive) {
            self.bins += 1;
            if self.bins > self.options.max_bins {
                self.coarsen();
            }
        }
    }

    fn coarsen(&mut self) {
        while self.bins > self.options.max_bins / 2 && self.shift < 31 {
            self.shift += 1;
            self.bins = self.seqs.iter_mut().map(|s| s.hist.coarsen()).sum();
        }
        log::warn!(
            "over {} distinct scores: scores now binned by their top {} key bits (results are no longer exact; raise --max-bins)",
            self.options.max_bins,
            32 - self.shift
        );
    }

    /// Labels the held windows and computes every sequence's counts and curve.
    pub fn finish(mut self) -> Report {
        let candidates = std::mem::take(&mut self.candidates);
        let mut best: HashMap<(usize, Option<Strand>), (usize, Rank)> = HashMap::new();
        for (ci, c) in candidates.iter().enumerate() {
            for id in self.truth.overlapping(self.chrom(c.seq), c.start, c.end) {
                let p = &self.truth.precursors()[id];
                if !self.eligible(p, c.strand) {
                    continue;
                }
                let group = if self.options.ignore_strand {
                    None
                } else {
                    Some(c.strand)
                };
                let overlap = c.end.min(p.end) - c.start.max(p.start);
                let off_centre = ((c.start + c.end) - (p.start + p.end)).abs();
                // smaller is better: larger overlap, nearer centre, lower start, '+'
                let rank = (-overlap, off_centre, c.start, c.strand);
                best.entry((id, group))
                    .and_modify(|b| {
                        if rank < b.1 {
                            *b = (ci, rank);
                        }
                    })
                    .or_insert((ci, rank));
            }
        }
        let mut chosen = vec![false; candidates.len()];
        for (ci, _) in best.values() {
            chosen[*ci] = true;
        }
        for (c, positive) in candidates.iter().zip(chosen) {
            let label = self.label(positive);
            self.count(c.seq, c.score, label);
        }
        let shift = self.shift;
        let sequences: Vec<SeqReport> = self
            .seqs
            .iter()
            .map(|s| SeqReport {
                seq_id: s.name.clone(),
                precursors: s.touched.len(),
                excluded: s.excluded,
                at_threshold: Confusion {
                    tp: s.tp,
                    fp: s.fp,
                    positives: s.positives,
                    negatives: s.negatives,
                },
                curve: summarize(
                    s.hist.descending(),
                    s.positives,
                    s.negatives,
                    shift,
                    Points::None,
                ),
            })
            .collect();
        let sum = |f: fn(&SeqState) -> u64| self.seqs.iter().map(f).sum::<u64>();
        let at_threshold = Confusion {
            tp: sum(|s| s.tp),
            fp: sum(|s| s.fp),
            positives: sum(|s| s.positives),
            negatives: sum(|s| s.negatives),
        };
        let touched: HashSet<usize> = self
            .seqs
            .iter()
            .flat_map(|s| s.touched.iter().copied())
            .collect();
        let all = SeqReport {
            seq_id: "all".into(),
            precursors: touched.len(),
            excluded: sum(|s| s.excluded),
            at_threshold,
            curve: summarize(
                merge_descending(self.seqs.iter().map(|s| &s.hist)),
                at_threshold.positives,
                at_threshold.negatives,
                shift,
                self.options.points,
            ),
        };
        Report {
            windows: self.windows,
            sequences,
            all,
            exact: shift == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Strand::{Forward, Reverse};

    fn truth(list: &[(i64, i64, Option<Strand>)]) -> Truth {
        Truth::new(
            list.iter()
                .map(|&(start, end, strand)| Precursor {
                    chrom: "c".into(),
                    start,
                    end,
                    strand,
                    name: String::new(),
                })
                .collect(),
        )
    }

    /// 100-nt windows every 20 nt over [0, len) on both strands, score = start / 1000.
    fn run(truth: &Truth, options: Options, len: u64) -> Report {
        let mut labeler = Labeler::new(truth, options);
        for strand in [Forward, Reverse] {
            for start in (0..=len - 100).step_by(20) {
                labeler.add("c", start, start + 100, strand, start as f32 / 1000.0);
            }
        }
        labeler.finish()
    }

    fn counts(r: &Report) -> (u64, u64, u64) {
        (r.all.curve.positives, r.all.curve.negatives, r.all.excluded)
    }

    #[test]
    fn best_rule_gives_one_positive_per_precursor_and_strand() {
        // 26 windows per strand over [0, 600)
        let t = truth(&[(130, 190, Some(Forward)), (400, 520, None)]);
        let r = run(&t, Options::default(), 600);
        // precursor 1 (+): touched by + windows starting 40..180 (8) and 8 - windows.
        // precursor 2 (.): touched by windows starting 320..500 (10 per strand); one positive each.
        assert_eq!(counts(&r), (3, 16, 33));
        let r = run(
            &t,
            Options {
                ignore_strand: true,
                ..Options::default()
            },
            600,
        );
        assert_eq!(r.all.curve.positives, 2);
        assert_eq!(r.all.precursors, 2);
    }

    #[test]
    fn contain_and_overlap_rules() {
        let t = truth(&[(130, 190, Some(Forward))]);
        let contain = Options {
            rule: Rule::Contain,
            ..Options::default()
        };
        // + windows holding [130, 190): starts 100, 120 (and 90 is not a start)
        let r = run(&t, contain.clone(), 600);
        assert_eq!(counts(&r), (2, 52 - 16, 14));
        let r = run(
            &t,
            Options {
                partial: Partial::Negative,
                ..contain
            },
            600,
        );
        assert_eq!(counts(&r), (2, 50, 0));
        // half the precursor: overlaps of >= 30 nt: + starts 60..160 (6 windows)
        let r = run(
            &t,
            Options {
                rule: Rule::Overlap(0.5),
                ..Options::default()
            },
            600,
        );
        assert_eq!(counts(&r).0, 6);
    }

    #[test]
    fn mapping_moves_windows_onto_the_annotation() {
        // the annotation's precursor at [1130, 1190) +; the record starts at 1000
        let t = truth(&[(1130, 1190, Some(Forward))]);
        let options = Options {
            mapping: Mapping {
                chrom: Some("c".into()),
                offset: 1000,
                reverse: false,
            },
            ..Options::default()
        };
        let mut labeler = Labeler::new(&t, options);
        labeler.add("clone", 120, 220, Forward, 0.9);
        labeler.add("clone", 400, 500, Forward, 0.1);
        let r = labeler.finish();
        assert_eq!(counts(&r), (1, 1, 0));
        assert_eq!(r.sequences[0].seq_id, "clone");
    }

    #[test]
    fn coarsening_keeps_counts_and_says_so() {
        let t = truth(&[]);
        let options = Options {
            max_bins: 8,
            ..Options::default()
        };
        let mut labeler = Labeler::new(&t, options);
        for i in 0..100 {
            labeler.add("c", i, i + 100, Forward, i as f32 / 100.0);
        }
        let r = labeler.finish();
        assert!(!r.exact);
        assert!(r.all.curve.thresholds <= 8);
        assert_eq!(r.all.curve.negatives, 100);
        assert_eq!(r.all.at_threshold.fp, 50);
    }
}
