//! Candidate loci: windows scoring at or above a threshold, overlapping windows of one record and
//! strand merged into one locus that reports its best window, written as BED or GFF3, with a
//! decoy-based q-value when a decoy scan was run.

mod bed;
pub mod fdr;
mod gff3;

pub use bed::write_bed;
pub use gff3::write_gff3;

use crate::window::Strand;

/// A window that scored at or above the threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Record id.
    pub seq_id: String,
    /// 0-based start on the forward strand.
    pub start: u64,
    /// 0-based exclusive end.
    pub end: u64,
    /// Strand.
    pub strand: Strand,
    /// Classifier score.
    pub score: f32,
    /// The window's sequence and predicted structure, where the caller kept them.
    pub fold: Option<Fold>,
}

/// A window's sequence and predicted structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// The window as scanned, on its strand (`A C G U N`).
    pub seq: String,
    /// The Structure model's output as brackets and dots ([`crate::stream::push_dot_bracket`]).
    pub structure: String,
}

/// A merged locus: the union of overlapping hits and its best window.
#[derive(Debug, Clone, PartialEq)]
pub struct Locus {
    /// Record id.
    pub seq_id: String,
    /// Start of the union of the merged windows.
    pub start: u64,
    /// End of the union of the merged windows.
    pub end: u64,
    /// Strand.
    pub strand: Strand,
    /// The best window (first of equal best scores).
    pub best: Hit,
    /// How many windows were merged.
    pub windows: usize,
    /// The decoy-based q-value of the best score ([`fdr`]), when a decoy was scanned.
    pub q_value: Option<f64>,
}

/// Merges overlapping hits of the same record and strand (in any input order).
///
/// ```
/// use mire2e::candidates::{merge, Hit};
/// use mire2e::window::Strand::Forward;
/// let hit = |start, score| Hit { seq_id: "r".into(), start, end: start + 100, strand: Forward, score, fold: None };
/// let loci = merge(vec![hit(40, 0.9), hit(0, 0.7), hit(500, 0.8)]);
/// assert_eq!(loci.len(), 2);
/// assert_eq!((loci[0].start, loci[0].end, loci[0].best.start, loci[0].windows), (0, 140, 40, 2));
/// ```
pub fn merge(mut hits: Vec<Hit>) -> Vec<Locus> {
    hits.sort_by(|a, b| {
        (&a.seq_id, a.strand, a.start, a.end).cmp(&(&b.seq_id, b.strand, b.start, b.end))
    });
    let mut loci: Vec<Locus> = Vec::new();
    for hit in hits {
        match loci.last_mut() {
            Some(l) if l.seq_id == hit.seq_id && l.strand == hit.strand && hit.start < l.end => {
                l.end = l.end.max(hit.end);
                l.windows += 1;
                if hit.score > l.best.score {
                    l.best = hit;
                }
            }
            _ => loci.push(Locus {
                seq_id: hit.seq_id.clone(),
                start: hit.start,
                end: hit.end,
                strand: hit.strand,
                best: hit,
                windows: 1,
                q_value: None,
            }),
        }
    }
    loci
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(seq_id: &str, start: u64, strand: Strand, score: f32) -> Hit {
        Hit {
            seq_id: seq_id.into(),
            start,
            end: start + 100,
            strand,
            score,
            fold: None,
        }
    }

    #[test]
    fn strands_and_records_stay_apart() {
        let loci = merge(vec![
            hit("a", 0, Strand::Forward, 0.6),
            hit("a", 20, Strand::Reverse, 0.7),
            hit("b", 20, Strand::Forward, 0.8),
            hit("a", 100, Strand::Forward, 0.9), // touches [0,100) without overlapping
        ]);
        assert_eq!(loci.len(), 4);
        let mut bed = Vec::new();
        write_bed(&mut bed, &loci[..1]).unwrap();
        assert_eq!(
            String::from_utf8(bed).unwrap(),
            "a\t0\t100\ta:0-100(+)\t600\t+\t0\t100\t0\n"
        );
    }
}
