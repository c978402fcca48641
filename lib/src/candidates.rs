//! Candidate loci: windows scoring at or above a threshold, overlapping windows of one record and
//! strand merged into one locus that reports its best window, written as BED.

use std::io::Write;

use crate::error::{Error, Result};
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
}

/// Merges overlapping hits of the same record and strand (in any input order).
///
/// ```
/// use mire2e::candidates::{merge, Hit};
/// use mire2e::window::Strand::Forward;
/// let hit = |start, score| Hit { seq_id: "r".into(), start, end: start + 100, strand: Forward, score };
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
            }),
        }
    }
    loci
}

/// Writes loci as BED9: the locus, name `seq_id:start-end(strand)` of the best window, BED score
/// `round(1000 × best score)`, strand, the best window as thickStart/thickEnd, itemRgb 0.
pub fn write_bed<W: Write>(mut out: W, loci: &[Locus]) -> Result<()> {
    for l in loci {
        let b = &l.best;
        let score = (b.score.clamp(0.0, 1.0) * 1000.0).round() as u32;
        writeln!(
            out,
            "{}\t{}\t{}\t{}:{}-{}({})\t{score}\t{}\t{}\t{}\t0",
            l.seq_id, l.start, l.end, b.seq_id, b.start, b.end, b.strand, l.strand, b.start, b.end
        )
        .map_err(Error::Write)?;
    }
    Ok(())
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
