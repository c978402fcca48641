//! Training inputs: the original's `<seq><dot-bracket>( mfe)` records and plain FASTA sequences.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::fasta::{decompress, normalize};
use crate::window::WINDOW_LENGTH;
use crate::{Error, Result};

/// One record of a Structure/MFE training file.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldRecord {
    /// The record id.
    pub id: String,
    /// The sequence, `A C G U N`, at most [`WINDOW_LENGTH`] nt.
    pub seq: Vec<u8>,
    /// The pairing target per nucleotide (`(` → +1, `)` → −1, `.` → 0), as long as `seq`.
    pub pairing: Vec<f32>,
    /// The MFE target: |MFE| divided by the full (untruncated) length, as the original.
    pub mfe_per_nt: f32,
}

/// One FASTA record: id and the text of its sequence lines, joined without spaces (as Biopython).
struct RawRecord {
    number: usize,
    id: String,
    text: Vec<u8>,
}

fn fail(path: &Path, message: String) -> Error {
    Error::Fasta {
        source_name: path.display().to_string(),
        message,
    }
}

/// Every record of a FASTA file (plain or gzip), or an error naming the file and record.
fn read_raw(path: &Path) -> Result<Vec<RawRecord>> {
    let io_err = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut reader = decompress(BufReader::new(file)).map_err(io_err)?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(io_err)?;
    let mut records: Vec<RawRecord> = Vec::new();
    for (n, line) in bytes.lines().enumerate() {
        let line = line.map_err(|_| fail(path, format!("line {}: not valid UTF-8", n + 1)))?;
        let line = line.trim_end_matches('\r');
        if let Some(header) = line.strip_prefix('>') {
            let id = header.split_whitespace().next().unwrap_or("").to_owned();
            let number = records.len() + 1;
            if id.is_empty() {
                return Err(fail(path, format!("record {number}: the header has no id")));
            }
            records.push(RawRecord {
                number,
                id,
                text: Vec::new(),
            });
        } else if let Some(record) = records.last_mut() {
            record.text.extend(line.bytes().filter(|&b| b != b' '));
        } else if !line.trim().is_empty() {
            return Err(fail(
                path,
                format!("line {}: expected a '>' header line", n + 1),
            ));
        }
    }
    if records.is_empty() {
        return Err(fail(path, "contains no FASTA record".into()));
    }
    Ok(records)
}

impl RawRecord {
    fn error(&self, path: &Path, message: impl std::fmt::Display) -> Error {
        fail(
            path,
            format!("record {} ({}): {message}", self.number, self.id),
        )
    }

    /// The sequence `seq` normalised to upper-case `A C G U N` and cut to [`WINDOW_LENGTH`].
    fn sequence(&self, path: &Path, seq: &[u8]) -> Result<Vec<u8>> {
        if seq.is_empty() {
            return Err(self.error(path, "empty sequence"));
        }
        let mut seq = seq[..seq.len().min(WINDOW_LENGTH)].to_vec();
        normalize(&mut seq).map_err(|(pos, b)| {
            self.error(
                path,
                format!(
                    "position {pos}: {:?} is not a nucleotide (A C G T U, N or an IUPAC code)",
                    b as char
                ),
            )
        })?;
        seq.make_ascii_uppercase();
        Ok(seq)
    }
}

/// Reads a Structure/MFE training file: FASTA whose record text is `<seq><dot-bracket>( mfe)`, the
/// RNAfold output under a header (parsed as the original: the MFE starts at the last `(`, the
/// sequence is the first half of what precedes it).
///
/// Beyond the original, a record is refused when the text before the MFE has odd length (sequence
/// and dot-bracket differ in length), the dot-bracket holds anything but `.()`, the sequence holds a
/// non-nucleotide or the MFE is not a number.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("t.fa");
/// std::fs::write(&path, ">r1\nGGGAAACCC\n(((...))) ( -1.20)\n")?;
/// let records = mire2e::train::read_fold_records(&path)?;
/// assert_eq!(records[0].pairing, vec![1., 1., 1., 0., 0., 0., -1., -1., -1.]);
/// assert!((records[0].mfe_per_nt - 1.2 / 9.0).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_fold_records(path: &Path) -> Result<Vec<FoldRecord>> {
    read_raw(path)?
        .iter()
        .map(|r| parse_fold(path, r))
        .collect()
}

fn parse_fold(path: &Path, r: &RawRecord) -> Result<FoldRecord> {
    let Some(ind) = r.text.iter().rposition(|&b| b == b'(') else {
        return Err(r.error(path, "no MFE field: expected `<seq><dot-bracket>( -12.30)`"));
    };
    let mfe_text = std::str::from_utf8(&r.text[ind..])
        .unwrap_or("")
        .trim_matches(|c| c == '(' || c == ')');
    let mfe: f32 = match mfe_text.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && mfe_text.contains(|c: char| c.is_ascii_digit()) => v,
        _ => {
            return Err(r.error(
                path,
                "no MFE field: expected `<seq><dot-bracket>( -12.30)` at the end",
            ))
        }
    };
    if ind % 2 == 1 || ind == 0 {
        return Err(r.error(
            path,
            format!("sequence and dot-bracket differ in length ({ind} characters before the MFE)"),
        ));
    }
    let len = ind / 2;
    let seq = r.sequence(path, &r.text[..len])?;
    let mut pairing = Vec::with_capacity(seq.len());
    for (i, &c) in r.text[len..ind].iter().enumerate() {
        let v = match c {
            b'.' => 0.0,
            b'(' => 1.0,
            b')' => -1.0,
            other => {
                return Err(r.error(
                    path,
                    format!(
                        "dot-bracket position {}: {:?} is not one of . ( )",
                        i + 1,
                        other as char
                    ),
                ))
            }
        };
        if i < WINDOW_LENGTH {
            pairing.push(v);
        }
    }
    Ok(FoldRecord {
        id: r.id.clone(),
        seq,
        pairing,
        mfe_per_nt: mfe.abs() / len as f32,
    })
}

/// Reads plain FASTA sequences (classifier positives or negatives): ids and sequences normalised to
/// upper-case `A C G U N`, each cut to its first [`WINDOW_LENGTH`] nt as the original does.
pub fn read_sequences(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    read_raw(path)?
        .iter()
        .map(|r| Ok((r.id.clone(), r.sequence(path, &r.text)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<Vec<FoldRecord>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.fa");
        std::fs::write(&path, text).unwrap();
        read_fold_records(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_as_the_original() {
        let r = parse(">a x\nACGU\nNT\n((..))( -3.00)\n>b\nAC..(1)\n").unwrap();
        assert_eq!(r[0].seq, b"ACGUNU");
        assert_eq!(r[0].pairing, vec![1., 1., 0., 0., -1., -1.]);
        assert_eq!(r[0].mfe_per_nt, 0.5);
        assert_eq!((r[1].seq.as_slice(), r[1].mfe_per_nt), (&b"AC"[..], 0.5));
    }

    #[test]
    fn names_bad_records() {
        for (text, want) in [
            (">a\nACGU....\n", "record 1 (a): no MFE field"),
            (
                ">a\nACG...( -1.0)\n>b\nACGU...( -1.0)\n",
                "record 2 (b): sequence and dot-bracket differ",
            ),
            (">a\nACGX....( -1.0)\n", "record 1 (a): position 4"),
            (">a\nACGU..x.( -1.0)\n", "dot-bracket position 3"),
            ("", "contains no FASTA record"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains("x.fa") && err.contains(want),
                "{text:?}: {err}"
            );
        }
    }
}
