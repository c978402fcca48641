//! Loci as BED9.

use std::io::Write;

use super::Locus;
use crate::error::{Error, Result};

/// Writes loci as BED9: the locus, name `seq_id:start-end(strand)` of the best window (followed by
/// `|q=Q` when the locus has a q-value), BED score `round(1000 × best score)`, strand, the best
/// window as thickStart/thickEnd, itemRgb 0.
pub fn write_bed<W: Write>(mut out: W, loci: &[Locus]) -> Result<()> {
    for l in loci {
        let b = &l.best;
        let score = (b.score.clamp(0.0, 1.0) * 1000.0).round() as u32;
        let q = l.q_value.map(|q| format!("|q={q:.4}")).unwrap_or_default();
        writeln!(
            out,
            "{}\t{}\t{}\t{}:{}-{}({}){q}\t{score}\t{}\t{}\t{}\t0",
            l.seq_id, l.start, l.end, b.seq_id, b.start, b.end, b.strand, l.strand, b.start, b.end
        )
        .map_err(Error::Write)?;
    }
    Ok(())
}
