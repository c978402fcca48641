//! `scan`: FASTA records through the cascade, one row per window, hits for candidate loci, and
//! optionally decoy sequence scanned alongside for a false-discovery estimate.

use std::io::{BufRead, Write};

use rayon::prelude::*;

use super::{Batching, Cascade, Outputs};
use crate::candidates::{Fold, Hit};
use crate::decoy;
use crate::error::Result;
use crate::fasta;
use crate::model::Attention;
use crate::prefilter::{self, Level};
use crate::report::Histogram;
use crate::stream::{self, Header, LocationText, Writer};
use crate::window::{self, Part, Parts, Window, Windows, WINDOW_LENGTH};

/// What `scan` writes besides scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanColumns {
    /// Also write `seq`, `structure` and `pairing` (about 1 kB per window).
    pub full: bool,
    /// Run only the windows this [`prefilter`] level passes through the models, and add a `stem`
    /// column (the window's [`prefilter::stem_score`]). Skipped windows keep their row, with
    /// `mfe` and `score` 0 (and, with `full`, no pairs).
    pub prefilter: Option<Level>,
}

/// Totals of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    /// Records read.
    pub records: u64,
    /// Bases of the records read (one strand), finished ones of a resumed run included.
    pub bases: u64,
    /// Windows scored.
    pub windows: u64,
    /// Windows skipped by the N / soft-mask filters.
    pub skipped: u64,
    /// Windows written without running the models, as the prefilter rejected them.
    pub prefiltered: u64,
    /// Windows scoring at or above the threshold.
    pub hits: Vec<Hit>,
    /// The decoy's share: its bases, windows, and windows scoring at or above the threshold.
    pub decoy: DecoySummary,
}

/// What the decoy scan found.
#[derive(Debug, Clone, Default)]
pub struct DecoySummary {
    /// Bases of decoy sequence (one strand).
    pub bases: u64,
    /// Decoy windows scored.
    pub windows: u64,
    /// Decoy windows scoring at or above the threshold.
    pub hits: Vec<Hit>,
    /// All decoy windows' scores.
    pub scores: Histogram,
}

/// Record boundaries of a scan, so that a killed run can be resumed where it stopped.
pub struct Checkpoints<'a, W> {
    /// Ids of the records an interrupted run finished, in input order: they are read again and
    /// checked against the input, but not scored (their rows are already in the output; their
    /// decoy, which has no rows, is scanned again).
    pub done: &'a [String],
    /// Called after the rows of each scored record are written, with the record id: the place to
    /// flush the output and record that the record is complete.
    pub record_done: &'a mut dyn FnMut(&mut Writer<W>, &str) -> Result<()>,
    /// The hits the interrupted run had found, read back from its rows: when the job keeps folds,
    /// theirs are filled in as their records are read again.
    pub finished_hits: &'a mut [Hit],
}

/// Told a window's record id, the window and its score.
pub type ScoreSink<'a> = dyn FnMut(&str, &Window, f32) -> Result<()> + 'a;

/// Where a scan reports besides its rows.
pub struct Sinks<'a, W> {
    /// Told how many windows were done.
    pub progress: &'a dyn Fn(u64),
    /// Resuming: see [`Checkpoints`].
    pub checkpoints: Option<Checkpoints<'a, W>>,
    /// Told every window's score, in row order (for browser tracks).
    pub scores: Option<&'a mut ScoreSink<'a>>,
}

/// The columns `scan` writes.
pub fn scan_header(meta: Vec<String>, columns: ScanColumns) -> Header {
    let mut names = vec!["seq_id", "start", "end", "strand"];
    if columns.full {
        names.extend(["seq", "structure", "pairing"]);
    }
    names.extend(["mfe", "score"]);
    if columns.prefilter.is_some() {
        names.push("stem");
    }
    Header {
        meta,
        columns: names.into_iter().map(str::to_owned).collect(),
    }
}

/// What a scan runs and writes, whatever its input and output.
#[derive(Clone, Copy)]
pub struct ScanJob<'a> {
    /// The three models.
    pub cascade: &'a Cascade,
    /// Window length, step, strands and filters.
    pub params: &'a window::Params,
    /// Chunks, model batches and attention.
    pub batching: &'a Batching,
    /// Columns beyond the scores.
    pub columns: ScanColumns,
    /// Collect hits (windows scoring at or above it) for candidate loci.
    pub threshold: Option<f32>,
    /// Keep each hit's sequence and predicted structure ([`Hit::fold`]).
    pub folds: bool,
    /// Also scan a decoy of the input ([`decoy`]): its hits and size go to the summary.
    pub decoy: Option<decoy::Spec>,
}

/// Scans every record of `reader` through the cascade and writes one row per window.
///
/// Records are read in [`Parts`], so memory holds one part (about a megabase) and one chunk (see
/// [`Batching::chunk`]), whatever the record's length. Windows come in the original's order (per
/// record, `+` then `-`) within each part; compat mode reads each record whole, so that it
/// reproduces the original's batches. With a decoy, each part's decoy blocks are scanned after
/// it (no rows). With `checkpoints`, the records it names as done are skipped (after checking
/// that the input has them, in that order) and it hears of every record finished.
pub fn scan<R: BufRead, W: Write>(
    reader: &mut fasta::Reader<R>,
    job: ScanJob<'_>,
    writer: &mut Writer<W>,
    mut sinks: Sinks<'_, W>,
) -> Result<ScanSummary> {
    if job.columns.prefilter.is_some() && job.batching.attention == Attention::BatchCompat {
        return Err(crate::Error::Invalid(
            "the prefilter changes which windows share a batch: it cannot be used with \
             batch-compat attention"
                .to_owned(),
        ));
    }
    let mut summary = ScanSummary::default();
    let mut chunks = Chunks::new(job);
    let mut text = RowText::default();
    let mut plan = job.decoy.map(decoy::Plan::new);
    // Compat mode needs the original's batches: all `+` windows of a record, then all `-`.
    let mut parts = match job.batching.attention {
        Attention::BatchCompat => Parts::whole(job.params),
        Attention::Window => Parts::new(job.params),
    };
    let mut id = String::new();
    let done = sinks.checkpoints.as_ref().map_or(&[][..], |c| c.done);
    for done_id in done {
        let more = parts.next_record(reader, &mut id)?;
        if !more || id != *done_id {
            let found = if !more {
                "the input ends".to_owned()
            } else {
                format!("the input has '{id}'")
            };
            return Err(crate::Error::Invalid(format!(
                "cannot resume: the interrupted run had finished record '{done_id}', but {found} \
                 there (was the input changed?)"
            )));
        }
        summary.records += 1;
        while let Some(part) = parts.next(reader)? {
            summary.bases += part.fresh().0.len() as u64;
            if job.folds {
                let c = sinks
                    .checkpoints
                    .as_mut()
                    .expect("done records come from checkpoints");
                fill_folds(job, &id, &part, c.finished_hits)?;
            }
            if let Some(plan) = plan.as_mut() {
                scan_decoy(&mut chunks, plan, &id, &part, &mut summary.decoy)?;
            }
        }
    }
    while parts.next_record(reader, &mut id)? {
        summary.records += 1;
        while let Some(part) = parts.next(reader)? {
            summary.bases += part.fresh().0.len() as u64;
            let mut windows = part.windows();
            while let Some(out) = chunks.next(&mut windows)? {
                summary.prefiltered += chunks.prefiltered as u64;
                for (i, w) in chunks.windows.iter().enumerate() {
                    let score = out.score[i];
                    let structure = &out.structure[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH];
                    if job.threshold.is_some_and(|t| score >= t) {
                        summary
                            .hits
                            .push(hit(&id, w, score, job.folds.then_some(structure)));
                    }
                    let stem = chunks.stems.get(i).copied();
                    let full = job.columns.full.then_some(structure);
                    text.write(writer, &id, w, full, out.mfe[i], score, stem)?;
                    if let Some(scores) = sinks.scores.as_mut() {
                        scores(&id, w, score)?;
                    }
                }
                summary.windows += chunks.windows.len() as u64;
                (sinks.progress)(chunks.windows.len() as u64);
            }
            summary.skipped += windows.skipped;
            if let Some(plan) = plan.as_mut() {
                scan_decoy(&mut chunks, plan, &id, &part, &mut summary.decoy)?;
            }
        }
        if let Some(c) = sinks.checkpoints.as_mut() {
            (c.record_done)(writer, &id)?;
        }
    }
    Ok(summary)
}

/// Scans the decoy blocks of `part` of record `id`: hits and counts only.
fn scan_decoy(
    chunks: &mut Chunks<'_>,
    plan: &mut decoy::Plan,
    id: &str,
    part: &Part<'_>,
    summary: &mut DecoySummary,
) -> Result<()> {
    let (fresh, bases) = part.fresh();
    for block in plan.blocks(id, fresh.start, bases) {
        summary.bases += block.seq.len() as u64;
        let mut windows = Windows::new(&block.seq, chunks.job.params);
        while let Some(out) = chunks.next(&mut windows)? {
            for (i, w) in chunks.windows.iter().enumerate() {
                if chunks.job.threshold.is_some_and(|t| out.score[i] >= t) {
                    summary.hits.push(hit(&block.id, w, out.score[i], None));
                }
                summary.scores.add(out.score[i]);
            }
            summary.windows += chunks.windows.len() as u64;
        }
    }
    Ok(())
}

/// Fills the folds of `hits` in `part` of record `id` that have none: their windows cut again
/// and folded.
fn fill_folds(job: ScanJob<'_>, id: &str, part: &Part<'_>, hits: &mut [Hit]) -> Result<()> {
    let (missing, windows): (Vec<usize>, Vec<Window>) = (0..hits.len())
        .filter(|&i| hits[i].fold.is_none() && hits[i].seq_id == id)
        .filter_map(|i| Some((i, part.window(hits[i].start as usize, hits[i].strand)?)))
        .unzip();
    if missing.is_empty() {
        return Ok(());
    }
    let seqs: Vec<&[u8]> = windows.iter().map(|w| w.seq.as_slice()).collect();
    let structure = job.cascade.structure.predict(&seqs)?;
    for ((&i, w), values) in missing
        .iter()
        .zip(&windows)
        .zip(structure.chunks(WINDOW_LENGTH))
    {
        hits[i].fold = hit(id, w, hits[i].score, Some(values)).fold;
    }
    Ok(())
}

fn hit(seq_id: &str, w: &Window, score: f32, structure: Option<&[f32]>) -> Hit {
    Hit {
        seq_id: seq_id.to_owned(),
        start: w.start as u64,
        end: w.end as u64,
        strand: w.strand,
        score,
        fold: structure.map(|values| {
            let mut dot_bracket = String::with_capacity(values.len());
            stream::push_dot_bracket(&mut dot_bracket, values, stream::PAIRING_THRESHOLD);
            Fold {
                seq: String::from_utf8_lossy(&w.seq).into_owned(),
                structure: dot_bracket,
            }
        }),
    }
}

/// Cuts a record's windows into chunks and runs each through the cascade.
struct Chunks<'a> {
    job: ScanJob<'a>,
    /// The current chunk's windows.
    windows: Vec<Window>,
    /// Which of them are tail windows (compat mode only).
    tails: Vec<bool>,
    /// Their stem scores, with the prefilter.
    stems: Vec<i32>,
    /// How many of them the prefilter kept from the models.
    prefiltered: usize,
}

impl<'a> Chunks<'a> {
    fn new(job: ScanJob<'a>) -> Self {
        let n = job.batching.chunk();
        Self {
            job,
            windows: Vec::with_capacity(n),
            tails: Vec::with_capacity(n),
            stems: Vec::new(),
            prefiltered: 0,
        }
    }

    /// The next chunk of `windows` through the cascade; `None` at the end.
    fn next(&mut self, windows: &mut Windows<'_>) -> Result<Option<Outputs>> {
        let ScanJob {
            cascade,
            params,
            batching,
            columns,
            ..
        } = self.job;
        // In compat mode a chunk holds one batch of the original: tail windows do not count.
        let compat = batching.attention == Attention::BatchCompat;
        self.windows.clear();
        self.tails.clear();
        let mut counted = 0;
        while counted < batching.chunk() {
            let Some(w) = windows.next() else { break };
            let tail = compat && params.is_tail(w.start);
            counted += usize::from(!tail);
            self.tails.push(tail);
            self.windows.push(w);
        }
        if self.windows.is_empty() {
            return Ok(None);
        }
        self.stems.clear();
        if columns.prefilter.is_some() {
            // on the pool's threads: run alone, the stem finder leaves the other cores idle
            let stems = self
                .windows
                .par_iter()
                .map(|w| prefilter::stem_score(&w.seq));
            self.stems.par_extend(stems);
        }
        let min_stem = columns.prefilter.map_or(i32::MIN, Level::min_score);
        let kept: Vec<usize> = (0..self.windows.len())
            .filter(|&i| self.stems.get(i).is_none_or(|&s| s >= min_stem))
            .collect();
        let seqs: Vec<&[u8]> = kept
            .iter()
            .map(|&i| self.windows[i].seq.as_slice())
            .collect();
        let mut out = cascade.run(&seqs, &self.tails, batching)?;
        self.prefiltered = self.windows.len() - kept.len();
        if kept.len() < self.windows.len() {
            out = scatter(out, &kept, self.windows.len());
        }
        Ok(Some(out))
    }
}

/// Spreads the outputs of the `kept` windows over `n` rows; the others get zeros.
fn scatter(kept_out: Outputs, kept: &[usize], n: usize) -> Outputs {
    let mut out = Outputs {
        structure: vec![0.0; n * WINDOW_LENGTH],
        mfe: vec![0.0; n],
        score: vec![0.0; n],
    };
    for (k, &i) in kept.iter().enumerate() {
        out.mfe[i] = kept_out.mfe[k];
        out.score[i] = kept_out.score[k];
        out.structure[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH]
            .copy_from_slice(&kept_out.structure[k * WINDOW_LENGTH..(k + 1) * WINDOW_LENGTH]);
    }
    out
}

/// Reused text buffers for one output row.
#[derive(Default)]
struct RowText {
    location: LocationText,
    dot_bracket: String,
    pairing: String,
    mfe: String,
    score: String,
    stem: String,
}

impl RowText {
    #[allow(clippy::too_many_arguments)]
    fn write<W: Write>(
        &mut self,
        writer: &mut Writer<W>,
        seq_id: &str,
        w: &Window,
        structure: Option<&[f32]>,
        mfe: f32,
        score: f32,
        stem: Option<i32>,
    ) -> Result<()> {
        use std::fmt::Write as _;
        self.mfe.clear();
        stream::push_f32(&mut self.mfe, mfe);
        self.score.clear();
        stream::push_f32(&mut self.score, score);
        self.stem.clear();
        if let Some(stem) = stem {
            let _ = write!(self.stem, "{stem}");
        }
        let tail: &[&str] = if stem.is_some() {
            &[&self.mfe, &self.score, &self.stem]
        } else {
            &[&self.mfe, &self.score]
        };
        let [start, end, strand] = self.location.of(w);
        match structure {
            None => writer.write_row([seq_id, start, end, strand], tail),
            Some(values) => {
                self.dot_bracket.clear();
                stream::push_dot_bracket(&mut self.dot_bracket, values, stream::PAIRING_THRESHOLD);
                self.pairing.clear();
                stream::push_f32_list(&mut self.pairing, values);
                let seq = std::str::from_utf8(&w.seq).unwrap_or_default();
                writer.write_row(
                    [
                        seq_id,
                        start,
                        end,
                        strand,
                        seq,
                        &self.dot_bracket,
                        &self.pairing,
                    ],
                    tail,
                )
            }
        }
    }
}
