//! Loci as GFF3, for genome browsers: one `miRNA_primary_transcript` feature per locus, in the
//! 1-based closed coordinates of GFF3, sorted by record and start.

use std::io::Write;

use noodles_core::Position;
use noodles_gff::feature::record::Strand as GffStrand;
use noodles_gff::feature::record_buf::attributes::field::{Tag, Value};
use noodles_gff::feature::record_buf::Attributes;
use noodles_gff::feature::RecordBuf;
use noodles_gff::{self as gff, directive_buf::key, directive_buf::Value as Directive};

use super::Locus;
use crate::error::{Error, Result};
use crate::window::Strand;

/// The feature type of a precursor in miRBase's GFF3.
pub const FEATURE_TYPE: &str = "miRNA_primary_transcript";

/// Writes `##gff-version 3`, then `comment` lines (each written after `#`), then one feature per
/// locus: source `mire2e`, the locus span, the best window's score, strand, and the attributes
/// `ID` (`mire2e_N`, N counting loci in output order), `best_window` (`seq:start-end(strand)`,
/// 1-based closed), `windows` (windows merged), `q_value` (with a decoy scan) and `structure`
/// (the best window's predicted structure, 5'→3' on the locus strand, where it was kept).
pub fn write_gff3<W: Write>(out: W, loci: &[Locus], comments: &[String]) -> Result<()> {
    let mut writer = gff::io::Writer::new(out);
    let version = gff::DirectiveBuf::new(
        key::GFF_VERSION,
        Some(Directive::GffVersion(Default::default())),
    );
    writer.write_directive(&version).map_err(Error::Write)?;
    for c in comments {
        let line = gff::LineBuf::Comment(c.as_str().into());
        writer.write_line(&line).map_err(Error::Write)?;
    }
    let mut order: Vec<&Locus> = loci.iter().collect();
    order.sort_by(|a, b| (&a.seq_id, a.start, a.strand).cmp(&(&b.seq_id, b.start, b.strand)));
    for (i, l) in order.into_iter().enumerate() {
        writer
            .write_record(&record(i + 1, l)?)
            .map_err(Error::Write)?;
    }
    Ok(())
}

fn record(n: usize, l: &Locus) -> Result<RecordBuf> {
    let b = &l.best;
    let mut attributes = vec![
        (Tag::from("ID"), Value::from(format!("mire2e_{n}"))),
        (
            Tag::from("best_window"),
            Value::from(format!(
                "{}:{}-{}({})",
                b.seq_id,
                b.start + 1,
                b.end,
                b.strand
            )),
        ),
        (Tag::from("windows"), Value::from(l.windows.to_string())),
    ];
    if let Some(q) = l.q_value {
        attributes.push((Tag::from("q_value"), Value::from(format!("{q:.4}"))));
    }
    if let Some(fold) = &b.fold {
        attributes.push((Tag::from("structure"), Value::from(fold.structure.clone())));
    }
    let position = |p: u64| {
        usize::try_from(p)
            .ok()
            .and_then(Position::new)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "locus {}:{}-{} has no GFF3 position",
                    l.seq_id, l.start, l.end
                ))
            })
    };
    Ok(RecordBuf::builder()
        .set_reference_sequence_name(l.seq_id.as_str())
        .set_source("mire2e")
        .set_type(FEATURE_TYPE)
        .set_start(position(l.start + 1)?)
        .set_end(position(l.end)?)
        .set_score(b.score)
        .set_strand(match l.strand {
            Strand::Forward => GffStrand::Forward,
            Strand::Reverse => GffStrand::Reverse,
        })
        .set_attributes(attributes.into_iter().collect::<Attributes>())
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::{merge, write_bed, Fold, Hit};

    fn hit(seq_id: &str, start: u64, strand: Strand, score: f32) -> Hit {
        Hit {
            seq_id: seq_id.into(),
            start,
            end: start + 100,
            strand,
            score,
            fold: Some(Fold {
                seq: "A".repeat(100),
                structure: format!("((({});;=,%", ".".repeat(88)) + ")))",
            }),
        }
    }

    /// The GFF3, read back with noodles' reader, holds the BED's loci (BED 0-based half-open =
    /// GFF3 1-based closed), and the attributes survive GFF3's escaping.
    #[test]
    fn reads_back_as_the_bed() {
        let mut loci = merge(vec![
            hit("chr2", 500, Strand::Forward, 0.9),
            hit("chr1", 40, Strand::Reverse, 0.75),
            hit("chr1", 0, Strand::Reverse, 0.8),
            hit("chr1", 900, Strand::Forward, 0.6),
        ]);
        let first = loci.iter_mut().find(|l| l.start == 0).unwrap();
        first.q_value = Some(0.0125);
        let (mut gff, mut bed) = (Vec::new(), Vec::new());
        write_gff3(&mut gff, &loci, &["mire2e test".to_owned()]).unwrap();
        write_bed(&mut bed, &loci).unwrap();
        let text = String::from_utf8(gff.clone()).unwrap();
        assert!(
            text.starts_with("##gff-version 3\n#mire2e test\n"),
            "{text}"
        );

        let mut reader = gff::io::Reader::new(&gff[..]);
        let records: Vec<RecordBuf> = reader.record_bufs().map(|r| r.unwrap()).collect();
        let bed = String::from_utf8(bed).unwrap();
        let mut from_bed: Vec<(String, usize, usize, String, f32)> = bed
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let (start, end): (usize, usize) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                (
                    f[0].into(),
                    start + 1,
                    end,
                    f[5].into(),
                    f[4].parse::<f32>().unwrap() / 1000.0,
                )
            })
            .collect();
        from_bed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let from_gff: Vec<(String, usize, usize, String, f32)> = records
            .iter()
            .map(|r| {
                let strand = match r.strand() {
                    GffStrand::Forward => "+",
                    GffStrand::Reverse => "-",
                    other => panic!("strand {other:?}"),
                };
                let score = (r.score().unwrap() * 1000.0).round() / 1000.0;
                (
                    r.reference_sequence_name().to_string(),
                    r.start().get(),
                    r.end().get(),
                    strand.into(),
                    score,
                )
            })
            .collect();
        assert_eq!(from_gff, from_bed);
        assert!(records
            .iter()
            .all(|r| r.ty() == FEATURE_TYPE && r.source() == "mire2e"));

        let attribute = |r: &RecordBuf, tag: &str| {
            r.attributes()
                .get(tag.as_bytes())
                .and_then(|v| v.as_string())
                .map(|v| v.to_string())
        };
        // chr1 - [0, 140) from windows at 0 (0.8, best) and 40; first in merge order, with its q
        let first = &records[0];
        assert_eq!(attribute(first, "ID").as_deref(), Some("mire2e_1"));
        assert_eq!(
            attribute(first, "best_window").as_deref(),
            Some("chr1:1-100(-)")
        );
        assert_eq!(attribute(first, "windows").as_deref(), Some("2"));
        assert_eq!(attribute(first, "q_value").as_deref(), Some("0.0125"));
        assert_eq!(
            attribute(first, "structure"),
            Some(hit("x", 0, Strand::Forward, 0.0).fold.unwrap().structure)
        );
        assert_eq!(attribute(&records[1], "q_value"), None);
    }
}
