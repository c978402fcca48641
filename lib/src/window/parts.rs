//! A record read and cut in parts, so that memory holds one part of it, never the whole record.
//!
//! A part gives the windows starting in its span of about [`PART`] bases (all `+`, then all `-`),
//! and holds the bases they cover: its span plus one window length, and the step before it, where
//! the tail window may start. A record no longer than one span is one part: its windows come in
//! the original's order, as before parts existed.

use std::io::BufRead;
use std::ops::Range;

use super::{Params, Strand, Window, Windows};
use crate::error::Result;
use crate::fasta;

/// About how many bases of window starts one part spans.
pub const PART: usize = 1 << 20;

/// Parts start at multiples of this (and of the step), so that blocks of this length, or of a
/// length dividing it (the decoy's), never straddle two parts.
pub const PART_ALIGN: usize = 10_000;

/// Reads records part by part (see the module docs).
pub struct Parts<'p> {
    params: &'p Params,
    /// Window starts per part: a multiple of the step (and of the alignment asked for); `None`
    /// reads each record whole.
    span: Option<usize>,
    /// The record's bases from `offset` on.
    buf: Vec<u8>,
    offset: usize,
    /// The first window start not given yet; record positions before it were given as `fresh`.
    next: usize,
    finished: bool,
}

/// One part of a record.
pub struct Part<'a> {
    params: &'a Params,
    /// The record's bases from `offset` on.
    seq: &'a [u8],
    offset: usize,
    /// The record positions read first in this part: the parts of a record tile it.
    fresh: Range<usize>,
    /// Window starts, ascending.
    starts: Vec<usize>,
}

impl<'p> Parts<'p> {
    /// Parts of about [`PART`] bases whose spans start at multiples of [`PART_ALIGN`] and of the
    /// step, so that `mire2e-window` and `mire2e scan` cut a record the same way.
    pub fn new(params: &'p Params) -> Self {
        let grain = lcm(params.step.max(1), PART_ALIGN);
        Self::with_span(params, Some(PART.div_ceil(grain) * grain))
    }

    /// Each record in one part, for the original's window order over a whole record.
    pub fn whole(params: &'p Params) -> Self {
        Self::with_span(params, None)
    }

    fn with_span(params: &'p Params, span: Option<usize>) -> Self {
        Self {
            params,
            span,
            buf: Vec::new(),
            offset: 0,
            next: 0,
            finished: true,
        }
    }

    /// Reads the next record's header (see [`fasta::Reader::next_record`]); its parts follow
    /// from [`Self::next`].
    pub fn next_record<R: BufRead>(
        &mut self,
        reader: &mut fasta::Reader<R>,
        id: &mut String,
    ) -> Result<bool> {
        self.buf.clear();
        (self.offset, self.next) = (0, 0);
        self.finished = !reader.next_record(id)?;
        Ok(!self.finished)
    }

    /// The next part of the current record; `None` after its last.
    pub fn next<R: BufRead>(&mut self, reader: &mut fasta::Reader<R>) -> Result<Option<Part<'_>>> {
        if self.finished {
            return Ok(None);
        }
        let (length, step) = (self.params.length, self.params.step.max(1));
        // Later windows start at `next` or, for the tail window, after the last grid start.
        let keep = self.next.saturating_sub(step).max(self.offset);
        self.buf.drain(..keep - self.offset);
        self.offset = keep;
        // The span's bases, and those of its last window.
        let need = self.span.map_or(usize::MAX, |span| {
            self.next + span + length.saturating_sub(step)
        });
        let mut ended = false;
        while self.offset + self.buf.len() < need {
            let want = need - self.offset - self.buf.len();
            if reader.read_bases(&mut self.buf, want)? == 0 {
                ended = true;
                break;
            }
        }
        let end = self.offset + self.buf.len();
        let fresh_start = self.next;
        let starts: Vec<usize> = match self.span {
            Some(span) if !ended => {
                self.next += span;
                (fresh_start..self.next).step_by(step).collect()
            }
            _ => {
                self.finished = true;
                self.next = end;
                let params = self.params;
                params
                    .starts(end)
                    .filter(|&s| s >= fresh_start || params.is_tail(s))
                    .collect()
            }
        };
        Ok(Some(Part {
            params: self.params,
            seq: &self.buf,
            offset: self.offset,
            fresh: fresh_start..self.next,
            starts,
        }))
    }
}

impl<'a> Part<'a> {
    /// The part's windows.
    pub fn windows(&self) -> Windows<'a> {
        Windows::at(self.seq, self.offset, self.starts.clone(), self.params)
    }

    /// The record positions read first in this part, and their bases.
    pub fn fresh(&self) -> (Range<usize>, &'a [u8]) {
        let at = self.fresh.start - self.offset..self.fresh.end - self.offset;
        (self.fresh.clone(), &self.seq[at])
    }

    /// The window at `start` on `strand`, when this part gives a window there.
    pub fn window(&self, start: usize, strand: Strand) -> Option<Window> {
        self.starts
            .binary_search(&start)
            .is_ok()
            .then(|| self.params.cut_at(self.seq, self.offset, start, strand))
    }
}

fn lcm(a: usize, b: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every window of every record, part by part, with the bases given fresh.
    fn cut(fasta: &[u8], parts: &mut Parts<'_>) -> (Vec<(String, Window)>, Vec<u8>) {
        let mut reader = fasta::Reader::new("test", fasta);
        let (mut id, mut windows, mut fresh) = (String::new(), Vec::new(), Vec::new());
        while parts.next_record(&mut reader, &mut id).unwrap() {
            let mut at = 0;
            while let Some(part) = parts.next(&mut reader).unwrap() {
                let (range, bases) = part.fresh();
                assert_eq!(range.start, at, "parts tile the record");
                at = range.end;
                fresh.extend_from_slice(bases);
                windows.extend(part.windows().map(|w| (id.clone(), w)));
            }
        }
        (windows, fresh)
    }

    /// Parts give the record's windows, each once, + before - within a part, and tile its bases.
    #[test]
    fn parts_give_every_window_of_the_record() {
        let seq: Vec<u8> = (0..3_517u32)
            .map(|i| b"ACGU"[(i * 7 % 13 % 4) as usize])
            .collect();
        for (length, step, tail) in [
            (100, 20, true),
            (100, 20, false),
            (50, 7, true),
            (10, 60, true),
        ] {
            let params = Params {
                length,
                step,
                tail,
                ..Params::default()
            };
            let mut text = b">r1\n".to_vec();
            text.extend_from_slice(&seq);
            text.extend_from_slice(b"\n>r2\nACGU\n");
            let mut whole: Vec<(String, Window)> = Windows::new(&seq, &params)
                .map(|w| ("r1".to_owned(), w))
                .collect();
            whole.extend(Windows::new(b"ACGU", &params).map(|w| ("r2".to_owned(), w)));
            let parts = |span| Parts::with_span(&params, Some(span));
            for span in [step, 3 * step, 40 * step, 10_000 * step] {
                let (mut got, fresh) = cut(&text, &mut parts(span));
                assert_eq!(fresh.len(), seq.len() + 4);
                assert_eq!(&fresh[..seq.len()], &seq[..]);
                let pos = |(id, w): &(String, Window)| (id.clone(), w.strand, w.start);
                let key = |x: &(String, Window)| (x.0.clone(), x.1.start, x.1.strand);
                if span >= seq.len() {
                    assert_eq!(got, whole, "one part keeps the original's order");
                }
                let mut want = whole.clone();
                got.sort_by_key(key);
                want.sort_by_key(key);
                assert_eq!(got, want, "length {length} step {step} span {span}");
                assert!(got
                    .iter()
                    .map(pos)
                    .collect::<Vec<_>>()
                    .windows(2)
                    .all(|p| p[0] != p[1]));
            }
            assert_eq!(cut(&text, &mut Parts::whole(&params)).0, whole);
        }
    }

    #[test]
    fn spans_are_aligned_and_hold_one_part() {
        let params = Params::default();
        let parts = Parts::new(&params);
        let span = parts.span.unwrap();
        assert!(span >= PART && span.is_multiple_of(10_000) && span.is_multiple_of(20));
        let seq = vec![b'A'; 3 * span + 200];
        let mut text = b">big\n".to_vec();
        text.extend_from_slice(&seq);
        let mut reader = fasta::Reader::new("test", &text[..]);
        let mut parts = Parts::new(&params);
        assert!(parts.next_record(&mut reader, &mut String::new()).unwrap());
        let mut n = 0;
        while let Some(part) = parts.next(&mut reader).unwrap() {
            assert!(part.seq.len() <= span + params.length, "{}", part.seq.len());
            assert!(part.window(part.offset + 1, Strand::Forward).is_none());
            n += 1;
        }
        assert_eq!(n, 4);
    }
}
