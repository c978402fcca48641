//! Window scores as genome-browser tracks: one bedGraph per strand, where each base carries the
//! best score of the windows covering it (so a locus shows as a plateau as wide as its windows),
//! and the same as bigWig ([`write_bigwig`], with bigtools).
//!
//! Windows arrive as a scan writes them (per record, each strand in start order) and are written
//! as they pass, in memory bounded by the windows overlapping one base. Adjacent bases with the
//! same value share one line; bases no window covers get none.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use bigtools::beddata::BedParserStreamingIterator;
use bigtools::BigWigWrite;

use crate::error::{Error, Result};
use crate::stream;
use crate::window::Strand;

/// The two strands' bedGraph outputs.
pub struct BedGraph<W> {
    plus: Sweep<W>,
    minus: Sweep<W>,
    sizes: BTreeMap<String, u64>,
}

/// The finished tracks: both outputs, and each record's length as the windows saw it (the end of
/// its last window: the record's length with the tail window, the default).
pub struct Finished<W> {
    /// The `+` strand's bedGraph.
    pub plus: W,
    /// The `-` strand's bedGraph.
    pub minus: W,
    /// Record lengths, for the bigWig header.
    pub sizes: BTreeMap<String, u64>,
}

impl<W: Write> BedGraph<W> {
    /// Tracks written to `plus` (`+` windows) and `minus` (`-` windows).
    pub fn new(plus: W, minus: W) -> Self {
        Self {
            plus: Sweep::new(plus),
            minus: Sweep::new(minus),
            sizes: BTreeMap::new(),
        }
    }

    /// One window's score. Within a record, each strand's windows must come in start order.
    pub fn window(
        &mut self,
        seq_id: &str,
        start: u64,
        end: u64,
        strand: Strand,
        score: f32,
    ) -> Result<()> {
        match self.sizes.get_mut(seq_id) {
            Some(size) => *size = (*size).max(end),
            None => {
                self.sizes.insert(seq_id.to_owned(), end);
            }
        }
        match strand {
            Strand::Forward => self.plus.window(seq_id, start, end, score),
            Strand::Reverse => self.minus.window(seq_id, start, end, score),
        }
    }

    /// Writes what is pending and returns the outputs and the record lengths.
    pub fn finish(mut self) -> Result<Finished<W>> {
        self.plus.flush_record()?;
        self.minus.flush_record()?;
        Ok(Finished {
            plus: self.plus.out,
            minus: self.minus.out,
            sizes: self.sizes,
        })
    }
}

/// Writes the bigWig of a bedGraph written by [`BedGraph`] (records in any order), with the
/// record lengths `sizes`.
pub fn write_bigwig(bedgraph: &Path, sizes: &BTreeMap<String, u64>, out: &Path) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::Invalid(format!("bigWig {}: {e}", out.display()));
    let mut chroms = HashMap::new();
    for (name, &size) in sizes {
        let size = u32::try_from(size).map_err(|_| fail(&format!("{name} is longer than 4 Gb")))?;
        chroms.insert(name.clone(), size);
    }
    let input = std::fs::File::open(bedgraph).map_err(|e| fail(&e))?;
    let values = BedParserStreamingIterator::from_bedgraph_file(input, true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .map_err(|e| fail(&e))?;
    let writer = BigWigWrite::create_file(out, chroms).map_err(|e| fail(&e))?;
    writer.write(values, runtime).map_err(|e| fail(&e))
}

/// One strand: the windows covering the current position, and the line being extended.
struct Sweep<W> {
    out: W,
    seq_id: String,
    /// Everything before it is written (or covered by `line`).
    pos: u64,
    /// Windows overlapping `pos` and later, by start (equal lengths: also by end).
    active: std::collections::VecDeque<(u64, u64, f32)>,
    /// A line not yet written, as it may grow: (start, end, value).
    line: Option<(u64, u64, f32)>,
    last_start: u64,
    text: String,
}

impl<W: Write> Sweep<W> {
    fn new(out: W) -> Self {
        Self {
            out,
            seq_id: String::new(),
            pos: 0,
            active: Default::default(),
            line: None,
            last_start: 0,
            text: String::new(),
        }
    }

    fn window(&mut self, seq_id: &str, start: u64, end: u64, score: f32) -> Result<()> {
        if seq_id != self.seq_id {
            self.flush_record()?;
            self.seq_id.clear();
            self.seq_id.push_str(seq_id);
            (self.pos, self.last_start) = (start, start);
        }
        if start < self.last_start {
            return Err(Error::Invalid(format!(
                "bedGraph: record '{seq_id}': a window at {start} comes after one at {} on the \
                 same strand (windows must be in start order, as mire2e-window writes them)",
                self.last_start
            )));
        }
        self.last_start = start;
        self.advance(start)?;
        if self.active.is_empty() {
            self.pos = self.pos.max(start);
        }
        self.active.push_back((start, end, score));
        Ok(())
    }

    /// Writes the best score of the active windows for every base before `to`.
    fn advance(&mut self, to: u64) -> Result<()> {
        while self.pos < to {
            let Some(&(_, front_end, _)) = self.active.front() else {
                break;
            };
            let next = front_end.min(to);
            // every active window starts at or before `pos`: `pos` reaches each start before its
            // window joins
            let best = self
                .active
                .iter()
                .map(|w| w.2)
                .fold(f32::NEG_INFINITY, f32::max);
            self.extend(self.pos, next, best)?;
            self.pos = next;
            while self.active.front().is_some_and(|w| w.1 <= self.pos) {
                self.active.pop_front();
            }
        }
        Ok(())
    }

    fn extend(&mut self, start: u64, end: u64, value: f32) -> Result<()> {
        match &mut self.line {
            Some((_, e, v)) if *e == start && *v == value => *e = end,
            _ => {
                self.write_line()?;
                self.line = Some((start, end, value));
            }
        }
        Ok(())
    }

    fn write_line(&mut self) -> Result<()> {
        if let Some((start, end, value)) = self.line.take() {
            self.text.clear();
            stream::push_f32(&mut self.text, value);
            writeln!(self.out, "{}\t{start}\t{end}\t{}", self.seq_id, self.text)
                .map_err(Error::Write)?;
        }
        Ok(())
    }

    fn flush_record(&mut self) -> Result<()> {
        self.advance(u64::MAX)?;
        self.write_line()?;
        self.active.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(windows: &[(&str, u64, u64, Strand, f32)]) -> (String, String) {
        let mut tracks = BedGraph::new(Vec::new(), Vec::new());
        for &(id, start, end, strand, score) in windows {
            tracks.window(id, start, end, strand, score).unwrap();
        }
        let done = tracks.finish().unwrap();
        (
            String::from_utf8(done.plus).unwrap(),
            String::from_utf8(done.minus).unwrap(),
        )
    }

    /// Each base gets the best covering window; equal neighbours share a line; gaps stay empty.
    #[test]
    fn best_covering_window_per_base() {
        use Strand::*;
        let (plus, minus) = run(&[
            ("a", 0, 100, Forward, 0.1),
            ("a", 20, 120, Forward, 0.5),
            ("a", 40, 140, Forward, 0.2),
            ("a", 300, 400, Forward, 0.3),
            ("a", 0, 100, Reverse, 0.7),
            ("b", 0, 100, Forward, 0.1),
            ("b", 20, 120, Forward, 0.1),
        ]);
        assert_eq!(
            plus,
            "a\t0\t20\t0.1\na\t20\t120\t0.5\na\t120\t140\t0.2\na\t300\t400\t0.3\nb\t0\t120\t0.1\n"
        );
        assert_eq!(minus, "a\t0\t100\t0.7\n");
    }

    /// A tail window (off the step grid) and a short record's window take part like any other.
    #[test]
    fn tail_and_short_windows() {
        use Strand::*;
        let (plus, _) = run(&[
            ("a", 0, 100, Forward, 0.4),
            ("a", 20, 120, Forward, 0.2),
            ("a", 30, 130, Forward, 0.9),
            ("s", 0, 60, Forward, 0.5),
        ]);
        assert_eq!(plus, "a\t0\t30\t0.4\na\t30\t130\t0.9\ns\t0\t60\t0.5\n");
    }

    #[test]
    fn refuses_windows_out_of_order() {
        let mut tracks = BedGraph::new(Vec::new(), Vec::new());
        tracks.window("a", 40, 140, Strand::Forward, 0.1).unwrap();
        let e = tracks
            .window("a", 20, 120, Strand::Forward, 0.1)
            .unwrap_err();
        assert!(e.to_string().contains("start order"), "{e}");
    }
}
