//! The truth: known precursors from GFF3, BED, or hairpin sequences located in a genome.
//!
//! Every precursor is kept as a 0-based half-open interval `[start, end)` on the forward strand of
//! its chromosome, with its strand (`None` when the input gives none). GFF3 (1-based, closed) and
//! BED (0-based, half-open) are converted on reading.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use crate::error::{Error, Result};
use crate::fasta::{Reader as FastaReader, Record};
use crate::window::Strand;

/// One known precursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precursor {
    /// Chromosome (sequence) name as in the annotation.
    pub chrom: String,
    /// 0-based start.
    pub start: i64,
    /// 0-based exclusive end.
    pub end: i64,
    /// Strand; `None` when the annotation gives none (`.`, `?` or no column).
    pub strand: Option<Strand>,
    /// Name (GFF3 `Name`/`ID`, BED name, FASTA id); may be empty.
    pub name: String,
}

impl Precursor {
    /// Length in nt.
    pub fn len(&self) -> i64 {
        self.end - self.start
    }

    /// Whether the interval is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Precursors indexed by chromosome for overlap queries.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    precursors: Vec<Precursor>,
    by_chrom: HashMap<String, ChromIndex>,
}

#[derive(Debug, Clone, Default)]
struct ChromIndex {
    /// (start, id) sorted by start.
    starts: Vec<(i64, usize)>,
    max_len: i64,
}

impl Truth {
    /// Indexes precursors; exact duplicates (same interval and strand) are merged, joining names.
    ///
    /// ```
    /// use mire2e::eval::{Precursor, Truth};
    /// let p = |start, end| Precursor { chrom: "c".into(), start, end, strand: None, name: String::new() };
    /// let truth = Truth::new(vec![p(100, 160), p(300, 390)]);
    /// assert_eq!(truth.overlapping("c", 150, 250).collect::<Vec<_>>(), [0]);
    /// assert_eq!(truth.overlapping("c", 160, 300).count(), 0);
    /// ```
    pub fn new(precursors: Vec<Precursor>) -> Self {
        let mut kept: Vec<Precursor> = Vec::with_capacity(precursors.len());
        let mut seen: HashMap<(String, i64, i64, Option<Strand>), usize> = HashMap::new();
        for p in precursors {
            let key = (p.chrom.clone(), p.start, p.end, p.strand);
            match seen.get(&key) {
                Some(&i) => {
                    if !p.name.is_empty() && !kept[i].name.split(',').any(|n| n == p.name) {
                        if !kept[i].name.is_empty() {
                            kept[i].name.push(',');
                        }
                        kept[i].name.push_str(&p.name);
                    }
                }
                None => {
                    seen.insert(key, kept.len());
                    kept.push(p);
                }
            }
        }
        let mut by_chrom: HashMap<String, ChromIndex> = HashMap::new();
        for (id, p) in kept.iter().enumerate() {
            let index = by_chrom.entry(p.chrom.clone()).or_default();
            index.starts.push((p.start, id));
            index.max_len = index.max_len.max(p.len());
        }
        for index in by_chrom.values_mut() {
            index.starts.sort_unstable();
        }
        Self {
            precursors: kept,
            by_chrom,
        }
    }

    /// All precursors (ids are indices into this slice).
    pub fn precursors(&self) -> &[Precursor] {
        &self.precursors
    }

    /// Number of precursors.
    pub fn len(&self) -> usize {
        self.precursors.len()
    }

    /// Whether there is no precursor.
    pub fn is_empty(&self) -> bool {
        self.precursors.is_empty()
    }

    /// Ids of the precursors on `chrom` that share at least one base with `[start, end)`.
    pub fn overlapping<'a>(
        &'a self,
        chrom: &str,
        start: i64,
        end: i64,
    ) -> impl Iterator<Item = usize> + 'a {
        let slice = match self.by_chrom.get(chrom) {
            Some(index) => {
                // candidates start in (start - max_len, end)
                let hi = index.starts.partition_point(|&(s, _)| s < end);
                let lo = index.starts[..hi].partition_point(|&(s, _)| s <= start - index.max_len);
                &index.starts[lo..hi]
            }
            None => &[][..],
        };
        slice
            .iter()
            .map(|&(_, id)| id)
            .filter(move |&id| self.precursors[id].end > start)
    }
}

fn annotation_error(name: &str, message: String) -> Error {
    Error::Annotation {
        source_name: name.to_owned(),
        message,
    }
}

fn parse_strand(text: &str) -> Option<Option<Strand>> {
    match text {
        "+" => Some(Some(Strand::Forward)),
        "-" => Some(Some(Strand::Reverse)),
        "." | "?" => Some(None),
        _ => None,
    }
}

/// Reads precursors from BED (0-based half-open: `chrom start end [name [score [strand ...]]]`).
///
/// `track`, `browser`, `#` and blank lines are skipped. The strand is column 6 when present.
///
/// ```
/// let bed = "track name=x\nchr1\t10\t70\tmir-1\t0\t-\nchr2\t5\t50\n";
/// let p = mire2e::eval::read_bed("t.bed", bed.as_bytes())?;
/// assert_eq!((p[0].start, p[0].end, p[0].strand), (10, 70, Some(mire2e::window::Strand::Reverse)));
/// assert_eq!((p[1].name.as_str(), p[1].strand), ("", None));
/// # Ok::<(), mire2e::Error>(())
/// ```
pub fn read_bed<R: BufRead>(name: &str, mut input: R) -> Result<Vec<Precursor>> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = read_line(name, &mut input, &mut line, number + 1)?;
        if n == 0 {
            break;
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty()
            || text.starts_with('#')
            || text.starts_with("track")
            || text.starts_with("browser")
        {
            continue;
        }
        let err = |m: String| annotation_error(name, format!("line {number}: {m}"));
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() < 3 {
            return Err(err(format!(
                "{} tab-separated fields; BED needs at least chrom, start, end",
                fields.len()
            )));
        }
        let int = |i: usize, what: &str| {
            fields[i]
                .parse::<i64>()
                .ok()
                .filter(|&v| v >= 0)
                .ok_or_else(|| {
                    err(format!(
                        "{what} '{}' is not a non-negative integer",
                        fields[i]
                    ))
                })
        };
        let (start, end) = (int(1, "start")?, int(2, "end")?);
        if end <= start {
            return Err(err(format!("end {end} is not after start {start}")));
        }
        let strand = match fields.get(5) {
            Some(s) => parse_strand(s)
                .ok_or_else(|| err(format!("strand '{s}' is not '+', '-' or '.'")))?,
            None => None,
        };
        out.push(Precursor {
            chrom: fields[0].to_owned(),
            start,
            end,
            strand,
            name: fields.get(3).map_or("", |s| s).to_owned(),
        });
    }
    Ok(out)
}

/// Reads the features of type `feature` (miRBase: `miRNA_primary_transcript`) from GFF3
/// (1-based, closed coordinates; converted to 0-based half-open).
///
/// The name is the `Name` attribute, else `ID`. Reading stops at a `##FASTA` line.
///
/// ```
/// let gff = "##gff-version 3\nchr6\t.\tmiRNA_primary_transcript\t11\t70\t.\t+\t.\tID=MI1;Name=mir-1\n\
///            chr6\t.\tmiRNA\t20\t41\t.\t+\t.\tID=MIMAT1\n";
/// let p = mire2e::eval::read_gff3("t.gff3", gff.as_bytes(), "miRNA_primary_transcript")?;
/// assert_eq!((p.len(), p[0].start, p[0].end, p[0].name.as_str()), (1, 10, 70, "mir-1"));
/// # Ok::<(), mire2e::Error>(())
/// ```
pub fn read_gff3<R: BufRead>(name: &str, mut input: R, feature: &str) -> Result<Vec<Precursor>> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = read_line(name, &mut input, &mut line, number + 1)?;
        if n == 0 {
            break;
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.starts_with("##FASTA") {
            break;
        }
        if text.trim().is_empty() || text.starts_with('#') {
            continue;
        }
        let err = |m: String| annotation_error(name, format!("line {number}: {m}"));
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() != 9 {
            return Err(err(format!(
                "{} tab-separated fields; GFF3 has 9",
                fields.len()
            )));
        }
        if fields[2] != feature {
            continue;
        }
        let int = |i: usize, what: &str| {
            fields[i]
                .parse::<i64>()
                .ok()
                .filter(|&v| v >= 1)
                .ok_or_else(|| err(format!("{what} '{}' is not a positive integer", fields[i])))
        };
        let (start, end) = (int(3, "start")?, int(4, "end")?);
        if end < start {
            return Err(err(format!("end {end} is before start {start}")));
        }
        let strand = parse_strand(fields[6]).ok_or_else(|| {
            err(format!(
                "strand '{}' is not '+', '-', '.' or '?'",
                fields[6]
            ))
        })?;
        let attr = |key: &str| {
            fields[8]
                .split(';')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
        };
        out.push(Precursor {
            chrom: fields[0].to_owned(),
            start: start - 1,
            end,
            strand,
            name: attr("Name").or_else(|| attr("ID")).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn read_line<R: BufRead>(
    name: &str,
    input: &mut R,
    line: &mut String,
    number: u64,
) -> Result<usize> {
    input.read_line(line).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::InvalidData {
            "is not valid UTF-8 text".to_owned()
        } else {
            format!("cannot read: {e}")
        };
        annotation_error(name, format!("line {number}: {what}"))
    })
}

/// What [`locate_hairpins`] found.
#[derive(Debug, Clone, Default)]
pub struct Located {
    /// Every exact full-length match, on either strand (a hairpin may match several loci).
    pub precursors: Vec<Precursor>,
    /// Ids of hairpins with no exact match.
    pub not_found: Vec<String>,
    /// Ids of hairpins that were not searched: shorter than 16 nt, or holding N/ambiguity codes.
    pub skipped: Vec<String>,
}

const K: usize = 16;

/// Finds exact full-length matches of hairpin sequences in a genome, on both strands.
///
/// Letters are compared after FASTA normalisation (T = U, case ignored). Each genome record is
/// held in memory one at a time; hairpins are indexed by their first 16 nt (and those of their
/// reverse complement), so the genome is read once.
///
/// ```
/// use mire2e::fasta::Reader;
/// let genome = ">chr\nTTTTACGTACGGTCAGTCAGGTTTGGGGCCTGACTGACCGTACGTAAAA\n";
/// let hairpins = ">fwd\nACGTACGGTCAGTCAGG\n>rev\nCCTGACTGACCGTACGT\n>none\nAAAAAAAAAAAAAAAAAAAC\n";
/// let found = mire2e::eval::locate_hairpins(
///     &mut Reader::new("h", hairpins.as_bytes()),
///     &mut Reader::new("g", genome.as_bytes()),
/// )?;
/// let got: Vec<_> = found.precursors.iter().map(|p| (p.name.as_str(), p.start, p.strand)).collect();
/// use mire2e::window::Strand::{Forward, Reverse};
/// assert_eq!(got, [("fwd", 4, Some(Forward)), ("rev", 4, Some(Reverse)), ("fwd", 28, Some(Reverse)), ("rev", 28, Some(Forward))]);
/// assert_eq!(found.not_found, ["none"]);
/// # Ok::<(), mire2e::Error>(())
/// ```
pub fn locate_hairpins<H: BufRead, G: BufRead>(
    hairpins: &mut FastaReader<H>,
    genome: &mut FastaReader<G>,
) -> Result<Located> {
    let mut located = Located::default();
    // patterns: (id, sequence as searched on the forward strand, strand)
    let mut patterns: Vec<(usize, Vec<u8>, Strand)> = Vec::new();
    let mut names = Vec::new();
    let mut record = Record::default();
    while hairpins.read_record(&mut record)? {
        let seq: Vec<u8> = record.seq.iter().map(u8::to_ascii_uppercase).collect();
        if seq.len() < K || seq.contains(&b'N') {
            located.skipped.push(record.id.clone());
            continue;
        }
        let id = names.len();
        names.push(record.id.clone());
        let rc: Vec<u8> = seq
            .iter()
            .rev()
            .map(|&b| crate::window::complement(b))
            .collect();
        patterns.push((id, seq, Strand::Forward));
        patterns.push((id, rc, Strand::Reverse));
    }
    let mut index: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut filter = vec![0u64; FILTER_BITS / 64];
    for (i, (_, seq, _)) in patterns.iter().enumerate() {
        let code = encode(&seq[..K]).unwrap_or_default();
        index.entry(code).or_default().push(i);
        let slot = filter_slot(code);
        filter[slot / 64] |= 1 << (slot % 64);
    }
    let mut found: HashSet<usize> = HashSet::new();
    let mut hits = Vec::new();
    while genome.read_record(&mut record)? {
        let seq = &mut record.seq;
        seq.make_ascii_uppercase();
        let (mut code, mut valid) = (0u32, 0usize);
        for i in 0..seq.len() {
            match base_code(seq[i]) {
                Some(b) => {
                    code = (code << 2) | u32::from(b);
                    valid += 1;
                }
                None => valid = 0,
            }
            if valid < K {
                continue;
            }
            let slot = filter_slot(code);
            if filter[slot / 64] & (1 << (slot % 64)) == 0 {
                continue;
            }
            let Some(list) = index.get(&code) else {
                continue;
            };
            let start = i + 1 - K;
            for &p in list {
                let (id, pattern, strand) = &patterns[p];
                if seq[start..].starts_with(pattern) {
                    found.insert(*id);
                    hits.push(Precursor {
                        chrom: record.id.clone(),
                        start: start as i64,
                        end: (start + pattern.len()) as i64,
                        strand: Some(*strand),
                        name: names[*id].clone(),
                    });
                }
            }
        }
    }
    located.precursors = hits;
    located.not_found = names
        .iter()
        .enumerate()
        .filter(|(id, _)| !found.contains(id))
        .map(|(_, n)| n.clone())
        .collect();
    Ok(located)
}

const FILTER_BITS: usize = 1 << 24;

fn filter_slot(code: u32) -> usize {
    (u64::from(code).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize
}

fn base_code(b: u8) -> Option<u8> {
    match b {
        b'A' => Some(0),
        b'C' => Some(1),
        b'G' => Some(2),
        b'U' => Some(3),
        _ => None,
    }
}

fn encode(seq: &[u8]) -> Option<u32> {
    seq.iter().try_fold(0u32, |code, &b| {
        Some((code << 2) | u32::from(base_code(b)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bed_errors_name_the_line() {
        let msg = read_bed("x.bed", "c\t1\t5\nc\tx\t9\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "x.bed: line 2: start 'x' is not a non-negative integer"
        );
        let msg = read_bed("x.bed", "c\t9\t5\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 1: end 5 is not after start 9"), "{msg}");
        let msg = read_bed("x.bed", "c 1 5\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 1: 1 tab-separated fields"), "{msg}");
        let msg = read_bed("x.bed", "c\t1\t5\tn\t0\tx\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("strand 'x'"), "{msg}");
    }

    #[test]
    fn gff3_errors_name_the_line() {
        let bad = "##gff-version 3\nchr1\t.\tmiRNA_primary_transcript\t0\t10\t.\t+\t.\tID=a\n";
        let msg = read_gff3("x.gff3", bad.as_bytes(), "miRNA_primary_transcript")
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "x.gff3: line 2: start '0' is not a positive integer");
        let msg = read_gff3("x.gff3", "chr1\t.\tx\n".as_bytes(), "x")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 1: 3 tab-separated fields"), "{msg}");
    }

    #[test]
    fn overlap_queries_cover_long_intervals() {
        let p = |start, end| Precursor {
            chrom: "c".into(),
            start,
            end,
            strand: None,
            name: String::new(),
        };
        let truth = Truth::new(vec![p(0, 1000), p(500, 560), p(2000, 2100), p(500, 560)]);
        assert_eq!(truth.len(), 3); // duplicate merged
        let mut got: Vec<_> = truth.overlapping("c", 900, 1000).collect();
        got.sort();
        assert_eq!(got, [0]);
        let mut got: Vec<_> = truth.overlapping("c", 520, 530).collect();
        got.sort();
        assert_eq!(got, [0, 1]);
        assert_eq!(truth.overlapping("d", 0, 10).count(), 0);
        assert_eq!(truth.overlapping("c", 1000, 2000).count(), 0);
    }
}
