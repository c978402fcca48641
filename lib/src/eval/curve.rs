//! Exact score histograms and the curves and areas computed from them.
//!
//! Windows are counted per distinct score: a [`Histogram`] maps the score's order-preserving key
//! ([`score_key`]) to the number of positive and negative windows with that score. Its size is the
//! number of distinct `f32` values seen (at most 2^30 in `[0, 1]`, in practice far fewer), not the
//! number of windows. Every distinct score is one threshold, so tied scores are one point of the
//! curves, as in scikit-learn. When a cap on the number of bins is reached the caller can
//! [`Histogram::coarsen`] the keys (drop their lowest bit); the result is then no longer exact and
//! says so ([`Curve::shift`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Order-preserving key of a finite score: `a < b` exactly when `score_key(a) < score_key(b)`;
/// `-0.0` and `+0.0` share a key.
///
/// ```
/// use mire2e::eval::{key_score, score_key};
/// assert!(score_key(-1.0) < score_key(0.0) && score_key(0.0) < score_key(1e-30));
/// assert_eq!(score_key(-0.0), score_key(0.0));
/// assert_eq!(key_score(score_key(0.25)), 0.25);
/// ```
pub fn score_key(score: f32) -> u32 {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

/// The score of a key (inverse of [`score_key`]).
pub fn key_score(key: u32) -> f32 {
    let bits = if key & 0x8000_0000 != 0 {
        key & 0x7fff_ffff
    } else {
        !key
    };
    f32::from_bits(bits)
}

/// Positive and negative windows at one score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Positive windows.
    pub pos: u64,
    /// Negative windows.
    pub neg: u64,
}

/// Windows counted per distinct score key (shifted right by the caller's `shift`).
///
/// Negatives and positives are kept in two maps from key to count (12 bytes a slot, about 20
/// bytes an entry with the map's nodes): positives are few, so the size is that of the negatives'
/// distinct scores.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    neg: BTreeMap<u32, u64>,
    pos: BTreeMap<u32, u64>,
}

impl Histogram {
    /// Counts one window with `key` (already shifted); returns whether it made a new entry.
    pub fn add(&mut self, key: u32, positive: bool) -> bool {
        let map = if positive {
            &mut self.pos
        } else {
            &mut self.neg
        };
        let mut new = false;
        *map.entry(key).or_insert_with(|| {
            new = true;
            0
        }) += 1;
        new
    }

    /// Number of entries (distinct keys among negatives plus distinct keys among positives).
    pub fn len(&self) -> usize {
        self.neg.len() + self.pos.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.neg.is_empty() && self.pos.is_empty()
    }

    /// Drops the lowest bit of every key, merging neighbouring bins; returns the new [`len`](Self::len).
    pub fn coarsen(&mut self) -> usize {
        for map in [&mut self.neg, &mut self.pos] {
            let old = std::mem::take(map);
            for (key, n) in old {
                *map.entry(key >> 1).or_default() += n;
            }
        }
        self.len()
    }

    /// Bins from the highest score down.
    pub fn descending(&self) -> impl Iterator<Item = (u32, Counts)> + '_ {
        let mut neg = self.neg.iter().rev().map(|(&k, &n)| (k, n)).peekable();
        let mut pos = self.pos.iter().rev().map(|(&k, &n)| (k, n)).peekable();
        std::iter::from_fn(move || {
            let key = match (neg.peek(), pos.peek()) {
                (None, None) => return None,
                (Some(&(k, _)), None) | (None, Some(&(k, _))) => k,
                (Some(&(a, _)), Some(&(b, _))) => a.max(b),
            };
            let neg = neg.next_if(|&(k, _)| k == key).map_or(0, |(_, n)| n);
            let pos = pos.next_if(|&(k, _)| k == key).map_or(0, |(_, n)| n);
            Some((key, Counts { pos, neg }))
        })
    }
}

/// Bins of several histograms merged, from the highest key down (a k-way merge: no copy).
pub fn merge_descending<'a>(
    histograms: impl IntoIterator<Item = &'a Histogram>,
) -> impl Iterator<Item = (u32, Counts)> + 'a {
    let mut iters: Vec<_> = histograms.into_iter().map(|h| h.descending()).collect();
    let mut heap = BinaryHeap::new();
    for (i, it) in iters.iter_mut().enumerate() {
        if let Some((k, c)) = it.next() {
            heap.push((k, Reverse(i), c.pos, c.neg));
        }
    }
    std::iter::from_fn(move || {
        let (key, Reverse(first), mut pos, mut neg) = heap.pop()?;
        let mut taken = vec![first];
        while let Some(&(k, Reverse(i), p, n)) = heap.peek() {
            if k != key {
                break;
            }
            heap.pop();
            pos += p;
            neg += n;
            taken.push(i);
        }
        for i in taken {
            if let Some((k, c)) = iters[i].next() {
                heap.push((k, Reverse(i), c.pos, c.neg));
            }
        }
        Some((key, Counts { pos, neg }))
    })
}

/// Confusion counts at one threshold (windows with `score >= threshold` are called positive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Positive windows called positive.
    pub tp: u64,
    /// Negative windows called positive.
    pub fp: u64,
    /// All positive windows.
    pub positives: u64,
    /// All negative windows.
    pub negatives: u64,
}

impl Confusion {
    /// Sensitivity (recall, s+) `tp / positives`; `None` without positives.
    pub fn recall(&self) -> Option<f64> {
        (self.positives > 0).then(|| self.tp as f64 / self.positives as f64)
    }

    /// Precision `tp / (tp + fp)`; `None` when nothing is called positive.
    pub fn precision(&self) -> Option<f64> {
        let called = self.tp + self.fp;
        (called > 0).then(|| self.tp as f64 / called as f64)
    }

    /// False positive rate `fp / negatives`; `None` without negatives.
    pub fn fpr(&self) -> Option<f64> {
        (self.negatives > 0).then(|| self.fp as f64 / self.negatives as f64)
    }

    /// F1 `2 tp / (tp + fp + positives)`; 0 when nothing is right, `None` when it is 0/0.
    pub fn f1(&self) -> Option<f64> {
        let d = self.tp + self.fp + self.positives;
        (d > 0).then(|| 2.0 * self.tp as f64 / d as f64)
    }
}

/// One point of the curves: the counts at a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The threshold (the lowest score of its bin).
    pub threshold: f32,
    /// Counts of windows with `score >= threshold`.
    pub confusion: Confusion,
}

/// Areas, the max-F1 point and (optionally) the curve points of one set of windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Positive windows.
    pub positives: u64,
    /// Negative windows.
    pub negatives: u64,
    /// Distinct thresholds (histogram bins).
    pub thresholds: u64,
    /// Bits dropped from the score keys (0 = every distinct `f32` its own threshold: exact).
    pub shift: u32,
    /// Area under the ROC curve (trapezoids between thresholds; ties are one point), as
    /// scikit-learn's `roc_auc_score`; `None` without positives or without negatives.
    pub auroc: Option<f64>,
    /// Step-wise area under the PR curve, `sum_i (R_i - R_(i-1)) P_i` over thresholds from the
    /// highest down, as scikit-learn's `average_precision_score`; `None` without positives.
    pub average_precision: Option<f64>,
    /// Trapezoid area under the PR curve from (recall 0, precision 1) through every threshold's
    /// point, as scikit-learn's `auc(recall, precision)` on `precision_recall_curve`; `None`
    /// without positives.
    pub aucpr_trapezoid: Option<f64>,
    /// The threshold with the highest F1 (the highest such threshold on ties); `None` without
    /// positives.
    pub max_f1: Option<Point>,
    /// Curve points from the highest threshold down, thinned as asked; empty unless asked for.
    pub points: Vec<Point>,
}

/// Which points a [`Curve`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Points {
    /// None (areas and max-F1 only).
    None,
    /// Every threshold.
    All,
    /// About `n` points: a point is kept when precision, recall or FPR moved by at least `1/n`
    /// since the last kept point; the first and last thresholds are always kept.
    Resolution(u32),
}

/// Computes the curve from bins given from the highest key down, in one pass.
///
/// `positives` and `negatives` must be the totals of the bins; `shift` is the number of low key
/// bits dropped (thresholds are reported as the lowest score of their bin).
///
/// ```
/// use mire2e::eval::{score_key, summarize, Counts, Points};
/// // scores 0.9 (+), 0.8 (-), 0.8 (+), 0.1 (-)
/// let bins = [(0.9, 1, 0), (0.8, 1, 1), (0.1, 0, 1)]
///     .map(|(s, pos, neg)| (score_key(s), Counts { pos, neg }));
/// let curve = summarize(bins, 2, 2, 0, Points::None);
/// assert_eq!(curve.auroc, Some(0.875));
/// assert_eq!(curve.average_precision, Some(0.5 * 1.0 + 0.5 * (2.0 / 3.0)));
/// ```
pub fn summarize(
    bins: impl IntoIterator<Item = (u32, Counts)>,
    positives: u64,
    negatives: u64,
    shift: u32,
    points: Points,
) -> Curve {
    let (p, n) = (positives, negatives);
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut roc2 = 0u128; // twice the ROC area times P*N, exact
    let mut ap = Sum::default(); // sum of dtp * precision
    let mut trapz = Sum::default(); // sum of dtp * (precision + previous precision)
    let mut prev_precision = 1.0f64;
    let mut thresholds = 0u64;
    let mut best: Option<(u64, u64, Point)> = None; // F1 as the fraction 2tp / (tp+fp+P)
    let mut kept = Vec::new();
    let mut last_kept: Option<(f64, f64, f64)> = None;
    let mut pending: Option<Point> = None;
    for (key, c) in bins {
        thresholds += 1;
        let (tp0, fp0) = (tp, fp);
        tp += c.pos;
        fp += c.neg;
        roc2 += u128::from(fp - fp0) * u128::from(tp + tp0);
        let precision = tp as f64 / (tp + fp) as f64;
        let dtp = (tp - tp0) as f64;
        ap.add(dtp * precision);
        trapz.add(dtp * (precision + prev_precision));
        prev_precision = precision;
        let point = Point {
            threshold: key_score(key << shift),
            confusion: Confusion {
                tp,
                fp,
                positives: p,
                negatives: n,
            },
        };
        if p > 0 {
            let (num, den) = (2 * tp, tp + fp + p);
            // num/den > best_num/best_den, compared exactly
            let better = match best {
                None => true,
                Some((bn, bd, _)) => {
                    u128::from(num) * u128::from(bd) > u128::from(bn) * u128::from(den)
                }
            };
            if better {
                best = Some((num, den, point));
            }
        }
        match points {
            Points::None => {}
            Points::All => kept.push(point),
            Points::Resolution(res) => {
                let here = (
                    point.confusion.precision().unwrap_or(0.0),
                    point.confusion.recall().unwrap_or(0.0),
                    point.confusion.fpr().unwrap_or(0.0),
                );
                let step = 1.0 / f64::from(res.max(1));
                let far = last_kept.is_none_or(|(a, b, c)| {
                    (here.0 - a).abs() >= step
                        || (here.1 - b).abs() >= step
                        || (here.2 - c).abs() >= step
                });
                if far {
                    kept.push(point);
                    last_kept = Some(here);
                    pending = None;
                } else {
                    pending = Some(point);
                }
            }
        }
    }
    if let Some(last) = pending {
        kept.push(last);
    }
    let both = p > 0 && n > 0;
    Curve {
        positives: p,
        negatives: n,
        thresholds,
        shift,
        auroc: both.then(|| roc2 as f64 / (2.0 * p as f64 * n as f64)),
        average_precision: (p > 0).then(|| ap.value() / p as f64),
        aucpr_trapezoid: (p > 0).then(|| trapz.value() / (2.0 * p as f64)),
        max_f1: best.map(|(_, _, point)| point),
        points: kept,
    }
}

/// Neumaier-compensated sum, so millions of small terms add up to the last bit.
#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    sum: f64,
    comp: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(windows: &[(f32, bool)]) -> Histogram {
        let mut h = Histogram::default();
        for &(s, pos) in windows {
            h.add(score_key(s), pos);
        }
        h
    }

    fn curve(windows: &[(f32, bool)]) -> Curve {
        let h = hist(windows);
        let p = windows.iter().filter(|w| w.1).count() as u64;
        let n = windows.len() as u64 - p;
        summarize(h.descending(), p, n, 0, Points::All)
    }

    #[test]
    fn keys_order_like_floats() {
        let mut values = vec![-2.0f32, -1e-30, -0.0, 0.0, 1e-40, 1e-30, 0.5, 1.0, 3.0];
        let keys: Vec<_> = values.iter().map(|&v| score_key(v)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        values.dedup_by(|a, b| a == b);
        for v in values {
            assert_eq!(key_score(score_key(v)), v);
        }
    }

    #[test]
    fn degenerate_cases() {
        // all tied: one threshold, ROC is the diagonal, AP is the prevalence
        let c = curve(&[(0.3, true), (0.3, false), (0.3, false), (0.3, false)]);
        assert_eq!(
            (c.thresholds, c.auroc, c.average_precision),
            (1, Some(0.5), Some(0.25))
        );
        assert_eq!(c.aucpr_trapezoid, Some((1.0 + 0.25) / 2.0));
        // no positives
        let c = curve(&[(0.3, false), (0.2, false)]);
        assert_eq!((c.auroc, c.average_precision, c.max_f1), (None, None, None));
        // one positive window
        let c = curve(&[(0.7, true)]);
        assert_eq!((c.auroc, c.average_precision), (None, Some(1.0)));
        assert_eq!(c.max_f1.unwrap().confusion.f1(), Some(1.0));
        // nothing at all
        let c = summarize(std::iter::empty(), 0, 0, 0, Points::All);
        assert_eq!((c.thresholds, c.auroc, c.points.len()), (0, None, 0));
    }

    #[test]
    fn merge_adds_equal_keys() {
        let a = hist(&[(0.9, true), (0.5, false), (0.1, false)]);
        let b = hist(&[(0.5, true), (0.2, false)]);
        let c = hist(&[]);
        let merged: Vec<_> = merge_descending([&a, &b, &c])
            .map(|(k, c)| (key_score(k), c.pos, c.neg))
            .collect();
        assert_eq!(merged, [(0.9, 1, 0), (0.5, 1, 1), (0.2, 0, 1), (0.1, 0, 1)]);
    }

    #[test]
    fn coarsening_merges_neighbours() {
        let next = f32::from_bits(0.5f32.to_bits() + 1);
        let mut h = hist(&[(0.5, true), (next, false), (0.5, false)]);
        assert_eq!(h.len(), 3);
        assert_eq!(h.coarsen(), 2);
        let (k, c) = h.descending().next().unwrap();
        assert_eq!((key_score(k << 1), c), (0.5, Counts { pos: 1, neg: 2 }));
    }

    #[test]
    fn max_f1_prefers_the_higher_threshold_on_ties() {
        // thresholds 0.9: tp1 fp0 -> F1 2/3; 0.5: tp2 fp2 -> F1 4/6 = 2/3
        let c = curve(&[(0.9, true), (0.5, true), (0.5, false), (0.5, false)]);
        assert_eq!(c.max_f1.unwrap().threshold, 0.9);
    }

    #[test]
    fn thinning_keeps_ends() {
        let windows: Vec<_> = (0..1000).map(|i| (i as f32 / 1000.0, i % 7 == 0)).collect();
        let h = hist(&windows);
        let p = windows.iter().filter(|w| w.1).count() as u64;
        let c = summarize(h.descending(), p, 1000 - p, 0, Points::Resolution(10));
        assert!(c.points.len() < 100, "{}", c.points.len());
        assert_eq!(c.points[0].threshold, 0.999);
        assert_eq!(c.points.last().unwrap().threshold, 0.0);
    }
}
