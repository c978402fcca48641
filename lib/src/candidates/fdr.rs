//! A false-discovery rate for a genome-only scan, from loci called on decoy sequence
//! ([`crate::decoy`]) with the same models and threshold.
//!
//! At a score threshold t the real sequence gives R(t) loci (best score ≥ t) over `real_bases`,
//! the decoy D(t) over `decoy_bases`. The decoy's rate, scaled to the real sequence, estimates the
//! false calls among the real ones; one decoy locus is added, as target-decoy estimates do
//! (Levitsky et al. 2017), so that a decoy too small to see any call does not claim no false ones:
//! FDR(t) = min(1, (D(t) + 1) · real_bases / decoy_bases / R(t)), undefined without real loci. A
//! locus's q-value is the lowest FDR of any threshold that still calls it: q = min over t ≤ its
//! best score of FDR(t), taken at the real loci's scores. Loci are those merged at the run's
//! threshold; a higher threshold keeps the loci whose best score reaches it.

use super::Locus;

/// Per threshold: calls on real and decoy sequence, and the estimated FDR.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Score threshold.
    pub threshold: f32,
    /// Real loci with best score ≥ threshold.
    pub real: usize,
    /// Decoy loci with best score ≥ threshold.
    pub decoy: usize,
    /// Real loci per Mb of real sequence.
    pub real_per_mb: f64,
    /// Decoy loci per Mb of decoy sequence.
    pub decoy_per_mb: f64,
    /// Estimated FDR (`None` when no real locus is called).
    pub fdr: Option<f64>,
}

/// Sequence scanned, in bases (one strand; loci of both strands count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bases {
    /// Real sequence.
    pub real: u64,
    /// Decoy sequence.
    pub decoy: u64,
}

fn fdr(real: usize, decoy: usize, bases: Bases) -> Option<f64> {
    if real == 0 {
        return None;
    }
    let expected = (decoy + 1) as f64 * bases.real as f64 / bases.decoy.max(1) as f64;
    Some((expected / real as f64).min(1.0))
}

fn at_least(scores: &[f32], t: f32) -> usize {
    // scores sorted descending
    scores.partition_point(|&s| s >= t)
}

fn best_scores(loci: &[Locus]) -> Vec<f32> {
    let mut s: Vec<f32> = loci.iter().map(|l| l.best.score).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

/// Thresholds worth a row of the FDR table: the run's, four steps from it to the best real
/// locus's score, and the round ones (0.5 … 0.999) in between, ascending.
pub fn thresholds(run: f32, real: &[Locus]) -> Vec<f32> {
    let best = real.iter().map(|l| l.best.score).fold(run, f32::max);
    let round = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999];
    let steps = (1..5).map(|i| run + (best - run) * i as f32 / 5.0);
    let mut all: Vec<f32> = std::iter::once(run)
        .chain(steps)
        .chain(round.into_iter().filter(|&t| t > run && t < best))
        .collect();
    all.sort_by(f32::total_cmp);
    all.dedup();
    all
}

/// The FDR table at `thresholds`.
pub fn table(real: &[Locus], decoy: &[Locus], bases: Bases, thresholds: &[f32]) -> Vec<Row> {
    let (r, d) = (best_scores(real), best_scores(decoy));
    let per_mb = |n: usize, b: u64| n as f64 * 1e6 / b.max(1) as f64;
    thresholds
        .iter()
        .map(|&t| {
            let (real, decoy) = (at_least(&r, t), at_least(&d, t));
            Row {
                threshold: t,
                real,
                decoy,
                real_per_mb: per_mb(real, bases.real),
                decoy_per_mb: per_mb(decoy, bases.decoy),
                fdr: fdr(real, decoy, bases),
            }
        })
        .collect()
}

/// Sets every real locus's [`Locus::q_value`].
pub fn assign_q_values(real: &mut [Locus], decoy: &[Locus], bases: Bases) {
    let d = best_scores(decoy);
    let mut order: Vec<usize> = (0..real.len()).collect();
    order.sort_by(|&a, &b| real[b].best.score.total_cmp(&real[a].best.score));
    // FDR at each real score, from the highest: R(t) counts every locus scoring ≥ t (ties too)
    let scores: Vec<f32> = order.iter().map(|&i| real[i].best.score).collect();
    let fdrs: Vec<f64> = scores
        .iter()
        .map(|&t| fdr(at_least(&scores, t), at_least(&d, t), bases).unwrap_or(1.0))
        .collect();
    // from the lowest score up, the running minimum over the thresholds at or below it
    let mut q = f64::INFINITY;
    for (k, &i) in order.iter().enumerate().rev() {
        q = q.min(fdrs[k]);
        real[i].q_value = Some(q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::Hit;
    use crate::window::Strand;

    fn locus(score: f32) -> Locus {
        let best = Hit {
            seq_id: "r".into(),
            start: 0,
            end: 100,
            strand: Strand::Forward,
            score,
            fold: None,
        };
        Locus {
            seq_id: "r".into(),
            start: 0,
            end: 100,
            strand: Strand::Forward,
            best,
            windows: 1,
            q_value: None,
        }
    }

    /// Real loci 0.99 0.95 … 0.65 (8) and decoy loci 0.88 0.72, each on 1 Mb. FDR(t) =
    /// (D + 1) / R: 0.99: 1/1, 0.95: 1/2, 0.9: 1/3, 0.85: 2/4, 0.8: 2/5, 0.75: 2/6, 0.7: 3/7,
    /// 0.65: 3/8. The q-value takes the minimum over the thresholds at or below a locus: 1/3 for
    /// the six best (0.75's 2/6 lends itself upwards), 3/8 for 0.7 and 0.65.
    #[test]
    fn q_values_by_hand() {
        let scores = [0.8, 0.99, 0.65, 0.95, 0.9, 0.85, 0.7, 0.75];
        let mut real: Vec<Locus> = scores.map(locus).to_vec();
        let decoy: Vec<Locus> = [0.72, 0.88].map(locus).to_vec();
        let bases = Bases {
            real: 1_000_000,
            decoy: 1_000_000,
        };
        assign_q_values(&mut real, &decoy, bases);
        for l in &real {
            let want = if l.best.score >= 0.75 {
                1.0 / 3.0
            } else {
                3.0 / 8.0
            };
            let got = l.q_value.unwrap();
            assert!((got - want).abs() < 1e-12, "{}: {got}", l.best.score);
        }
        let rows = table(&real, &decoy, bases, &[0.65, 0.8, 1.0]);
        assert_eq!(
            rows.iter().map(|r| (r.real, r.decoy)).collect::<Vec<_>>(),
            [(8, 2), (5, 1), (0, 0)]
        );
        assert_eq!((rows[0].real_per_mb, rows[0].decoy_per_mb), (8.0, 2.0));
        assert!((rows[0].fdr.unwrap() - 0.375).abs() < 1e-12);
        assert!((rows[1].fdr.unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(rows[2].fdr, None);
    }

    #[test]
    fn thresholds_span_the_calls() {
        let real: Vec<Locus> = [0.62, 0.9, 0.7].map(locus).to_vec();
        let t = thresholds(0.6, &real);
        // 0.6, steps 0.66 0.72 0.78 0.84, round 0.7 0.8 (0.9 is not below the best)
        let want = [0.6, 0.66, 0.7, 0.72, 0.78, 0.8, 0.84];
        assert_eq!(t.len(), want.len(), "{t:?}");
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{t:?}"
        );
        assert_eq!(thresholds(0.5, &[]), [0.5]);
    }

    /// A decoy 4 times the real sequence counts a quarter per decoy locus.
    #[test]
    fn decoy_rate_is_scaled_to_the_real_sequence() {
        // FDR 0.9: 2·0.25/1; 0.8: 2·0.25/2; 0.7: 2·0.25/3; 0.6: 2·0.25/4 = 1/8, the minimum
        let mut real: Vec<Locus> = [0.9, 0.8, 0.7, 0.6].map(locus).to_vec();
        let bases = Bases {
            real: 1_000_000,
            decoy: 4_000_000,
        };
        assign_q_values(&mut real, &[locus(0.85)], bases);
        let q: Vec<f64> = real.iter().map(|l| l.q_value.unwrap()).collect();
        assert_eq!(q, [0.125; 4]);
    }
}
