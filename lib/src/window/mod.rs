//! Sliding windows over a record, on both strands.
//!
//! Order within a record follows the original: all `+` windows by start, then all `-` windows by
//! start (the original's batch order, which `--attention batch-compat` needs). A record longer
//! than a [`Parts`] part is read and cut part by part, in that order within each part. A `-`
//! window is the reverse complement of the same forward interval. Records shorter than the window
//! give one window over the whole record, padded with `N` after the sequence as read on its strand.

mod parts;

pub use parts::{Part, Parts, PART, PART_ALIGN};

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The window length of the published models: the length they were trained on and read, and the
/// length training sequences are cut to, as the original cuts them.
pub const WINDOW_LENGTH: usize = 100;

/// A strand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strand {
    /// The record as read (`+`).
    Forward,
    /// The reverse complement (`-`).
    Reverse,
}

impl Strand {
    /// `+` or `-`, as streams, BED and GFF3 write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "+",
            Self::Reverse => "-",
        }
    }
}

impl fmt::Display for Strand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strand {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "+" => Ok(Self::Forward),
            "-" => Ok(Self::Reverse),
            _ => Err(Error::value("strand", s, "'+' or '-'")),
        }
    }
}

/// Which strands to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strands {
    /// `+` then `-`.
    #[default]
    Both,
    /// `+` only.
    Forward,
    /// `-` only.
    Reverse,
}

impl Strands {
    fn list(self) -> &'static [Strand] {
        match self {
            Self::Both => &[Strand::Forward, Strand::Reverse],
            Self::Forward => &[Strand::Forward],
            Self::Reverse => &[Strand::Reverse],
        }
    }
}

impl fmt::Display for Strands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Both => "both",
            Self::Forward => "forward",
            Self::Reverse => "reverse",
        })
    }
}

impl FromStr for Strands {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "both" => Ok(Self::Both),
            "forward" | "+" => Ok(Self::Forward),
            "reverse" | "-" => Ok(Self::Reverse),
            _ => Err(Error::value("strands", s, "both, forward or reverse")),
        }
    }
}

/// How windows are laid over a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Window length (nt).
    pub length: usize,
    /// Distance between window starts (nt).
    pub step: usize,
    /// Strands to scan.
    pub strands: Strands,
    /// Also scan a last window aligned to the record end when the steps miss the tail.
    pub tail: bool,
    /// Skip windows whose fraction of N (incl. IUPAC codes) exceeds this.
    pub max_n: f64,
    /// Skip windows whose fraction of soft-masked (lower-case) bases exceeds this.
    pub max_masked: f64,
}

impl Default for Params {
    /// The paper's windows: 100 nt, step 20, both strands, with the tail window, nothing skipped.
    fn default() -> Self {
        Self {
            length: WINDOW_LENGTH,
            step: 20,
            strands: Strands::Both,
            tail: true,
            max_n: 1.0,
            max_masked: 1.0,
        }
    }
}

impl Params {
    /// Checks the values: positive length and step, fractions in [0, 1].
    pub fn validate(&self) -> Result<(), Error> {
        if self.length == 0 || self.step == 0 {
            return Err(Error::Invalid(
                "window length and step must be positive".into(),
            ));
        }
        for (name, value) in [("max-n", self.max_n), ("skip-masked", self.max_masked)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::value(
                    &format!("--{name}"),
                    value,
                    "a fraction in [0, 1]",
                ));
            }
        }
        Ok(())
    }

    /// Whether a window starting at `start` is a tail window: one the original never scans, as its
    /// windows all start on the step grid (see [`is_tail`]).
    pub fn is_tail(&self, start: usize) -> bool {
        is_tail(start as u64, self.step)
    }

    /// The window at `start` on `strand` of a normalised sequence, as [`Windows`] gives it; an
    /// error when `start` lies outside the sequence.
    pub fn window_at(&self, seq: &[u8], start: usize, strand: Strand) -> Result<Window, Error> {
        if start >= seq.len().max(1) {
            return Err(Error::Invalid(format!(
                "no window starts at {start} in a sequence of {} bases",
                seq.len()
            )));
        }
        Ok(self.cut_at(seq, 0, start, strand))
    }

    /// The window at `start` (a record position) of `seq`, the record's bases from `offset`.
    fn cut_at(&self, seq: &[u8], offset: usize, start: usize, strand: Strand) -> Window {
        let end = (start + self.length).min(offset + seq.len());
        let bases = &seq[start - offset..end - offset];
        let mut out = Vec::with_capacity(self.length);
        match strand {
            Strand::Forward => out.extend(bases.iter().map(u8::to_ascii_uppercase)),
            Strand::Reverse => out.extend(bases.iter().rev().map(|&b| complement(b))),
        }
        out.resize(self.length, b'N');
        Window {
            start,
            end,
            strand,
            seq: out,
        }
    }

    /// Window starts on a record of `len` bases (the same for both strands).
    ///
    /// ```
    /// use mire2e::window::Params;
    /// let p = Params::default();
    /// assert_eq!(p.starts(150).collect::<Vec<_>>(), [0, 20, 40, 50]);
    /// assert_eq!(Params { tail: false, ..p.clone() }.starts(150).collect::<Vec<_>>(), [0, 20, 40]);
    /// assert_eq!(p.starts(60).collect::<Vec<_>>(), [0]);
    /// ```
    pub fn starts(&self, len: usize) -> impl Iterator<Item = usize> {
        let (length, step) = (self.length, self.step.max(1));
        let full = if len >= length {
            (len - length) / step + 1
        } else {
            0
        };
        let last_full_end = full.checked_sub(1).map(|i| i * step + length);
        let tail = match last_full_end {
            None => Some(0), // shorter than a window: one padded window
            Some(end) if self.tail && end < len => Some(len - length),
            Some(_) => None,
        };
        (0..full).map(move |i| i * step).chain(tail)
    }
}

/// Whether a window starting at `start` (forward strand, either strand's window) lies off the grid of
/// `step`: the tail window aligned to a record's end, which the original never scans. Its `-` window
/// covers the same interval, so the same test holds for both strands.
pub fn is_tail(start: u64, step: usize) -> bool {
    !start.is_multiple_of(step.max(1) as u64)
}

/// One window: its forward interval, strand and encoded sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// 0-based start on the forward strand.
    pub start: usize,
    /// 0-based exclusive end on the forward strand.
    pub end: usize,
    /// Strand.
    pub strand: Strand,
    /// `length` letters from `A C G U N` (upper case; padded with `N` for short records).
    pub seq: Vec<u8>,
}

/// The windows of one record or part (see [`crate::fasta::normalize`] for the letters `seq` may
/// hold).
pub struct Windows<'a> {
    /// The record's bases from `offset` on.
    seq: &'a [u8],
    offset: usize,
    params: &'a Params,
    strands: &'static [Strand],
    starts: Vec<usize>,
    strand: usize,
    next: usize,
    /// Windows skipped by `max_n` / `max_masked` so far.
    pub skipped: u64,
}

impl<'a> Windows<'a> {
    /// Windows of a normalised sequence.
    ///
    /// ```
    /// use mire2e::window::{Params, Strand, Windows};
    /// let params = Params { length: 4, step: 2, ..Params::default() };
    /// let got: Vec<_> = Windows::new(b"ACGUAc", &params)
    ///     .map(|w| (w.start, w.strand, String::from_utf8(w.seq).unwrap()))
    ///     .collect();
    /// assert_eq!(got, [
    ///     (0, Strand::Forward, "ACGU".into()), (2, Strand::Forward, "GUAC".into()),
    ///     (0, Strand::Reverse, "ACGU".into()), (2, Strand::Reverse, "GUAC".into()),
    /// ]);
    /// ```
    pub fn new(seq: &'a [u8], params: &'a Params) -> Self {
        Self::at(seq, 0, params.starts(seq.len()).collect(), params)
    }

    /// The windows at `starts` (record positions, ascending) of `seq`, the record's bases from
    /// `offset` on, which must hold each window (or reach the record's end).
    pub(crate) fn at(seq: &'a [u8], offset: usize, starts: Vec<usize>, params: &'a Params) -> Self {
        Self {
            seq,
            offset,
            params,
            strands: params.strands.list(),
            starts,
            strand: 0,
            next: 0,
            skipped: 0,
        }
    }

    fn keep(&self, bases: &[u8]) -> bool {
        if self.params.max_n >= 1.0 && self.params.max_masked >= 1.0 {
            return true;
        }
        let n = bases
            .iter()
            .filter(|b| b.eq_ignore_ascii_case(&b'N'))
            .count();
        let masked = bases.iter().filter(|b| b.is_ascii_lowercase()).count();
        let len = bases.len() as f64;
        n as f64 / len <= self.params.max_n && masked as f64 / len <= self.params.max_masked
    }
}

impl Iterator for Windows<'_> {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        loop {
            let strand = *self.strands.get(self.strand)?;
            let Some(&start) = self.starts.get(self.next) else {
                self.strand += 1;
                self.next = 0;
                continue;
            };
            self.next += 1;
            let end = (start + self.params.length).min(self.offset + self.seq.len());
            let bases = &self.seq[start - self.offset..end - self.offset];
            if !self.keep(bases) {
                self.skipped += 1;
                continue;
            }
            return Some(self.params.cut_at(self.seq, self.offset, start, strand));
        }
    }
}

/// Complement of a normalised letter (`A C G U N`, either case), in upper case.
pub fn complement(b: u8) -> u8 {
    match b.to_ascii_uppercase() {
        b'A' => b'U',
        b'U' => b'A',
        b'C' => b'G',
        b'G' => b'C',
        _ => b'N',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_original_without_tail() {
        // The original: floor((len - 100) / 20) + 1 windows per strand.
        let p = Params {
            tail: false,
            ..Params::default()
        };
        for (len, n) in [
            (100, 1),
            (119, 1),
            (120, 2),
            (3010, 146),
            (537, 22),
            (459, 18),
        ] {
            assert_eq!(p.starts(len).count(), n, "len {len}");
        }
    }

    #[test]
    fn tail_window_ends_at_the_record_end() {
        let p = Params::default();
        assert_eq!(p.starts(3010).last(), Some(2910));
        assert_eq!(p.starts(3000).last(), Some(2900)); // already aligned: no extra window
    }

    #[test]
    fn short_record_is_padded_on_each_strand() {
        let p = Params {
            length: 6,
            ..Params::default()
        };
        let w: Vec<_> = Windows::new(b"AACG", &p).collect();
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].start, w[0].end, &w[0].seq[..]),
            (0, 4, &b"AACGNN"[..])
        );
        assert_eq!(
            (w[1].start, w[1].end, &w[1].seq[..]),
            (0, 4, &b"CGUUNN"[..])
        );
    }

    #[test]
    fn fractions_skip_windows() {
        let p = Params {
            length: 4,
            step: 4,
            strands: Strands::Forward,
            max_n: 0.25,
            ..Params::default()
        };
        let mut w = Windows::new(b"ACGNNNGUacgu", &p);
        let starts: Vec<_> = w.by_ref().map(|w| w.start).collect();
        assert_eq!((starts, w.skipped), (vec![0, 8], 1));
        let p = Params {
            max_n: 1.0,
            max_masked: 0.5,
            ..p
        };
        assert_eq!(
            Windows::new(b"ACGNNNGUacgu", &p)
                .map(|w| w.start)
                .collect::<Vec<_>>(),
            [0, 4]
        );
    }
}
