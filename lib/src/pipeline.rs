//! The cascade over batches of windows: Structure → MFE → Classifier, and `scan`, which streams
//! FASTA records through it with memory bounded by one record and one chunk of windows.

use std::io::{BufRead, Write};

use crate::bundle::Bundle;
use crate::candidates::Hit;
use crate::error::Result;
use crate::fasta::{self, Record};
use crate::model::{Attention, Classifier, Device, Kind, Mfe, Structure};
use crate::prefilter::{self, Level};
use crate::stream::{self, Header, Writer};
use crate::window::{self, Window, Windows, WINDOW_LENGTH};

/// The three models, loaded.
pub struct Cascade {
    /// Model A.
    pub structure: Structure,
    /// Model B.
    pub mfe: Mfe,
    /// Model C.
    pub classifier: Classifier,
}

/// How windows are batched through the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Windows per model call.
    pub batch_size: usize,
    /// The Classifier's attention context.
    pub attention: Attention,
    /// With [`Attention::BatchCompat`]: the original's batch size (its default 4096).
    pub compat_batch: usize,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            batch_size: 256,
            attention: Attention::Window,
            compat_batch: 4096,
        }
    }
}

impl Batching {
    /// Windows per chunk handed to [`Cascade::run`]: one original batch in compat mode.
    pub fn chunk(&self) -> usize {
        match self.attention {
            Attention::Window => self.batch_size.max(1),
            Attention::BatchCompat => self.compat_batch.max(1),
        }
    }
}

/// Outputs of the cascade for a chunk of windows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    /// Structure values, 100 per window.
    pub structure: Vec<f32>,
    /// Estimated |MFE| per nucleotide, one per window.
    pub mfe: Vec<f32>,
    /// Pre-miRNA score, one per window.
    pub score: Vec<f32>,
}

impl Cascade {
    /// Loads the bundle's three models (checksums verified).
    pub fn from_bundle(bundle: &Bundle, device: &Device) -> Result<Self> {
        Ok(Self {
            structure: Structure::load(&bundle.weights(Kind::Structure)?, device)?,
            mfe: Mfe::load(&bundle.weights(Kind::Mfe)?, device)?,
            classifier: Classifier::load(&bundle.weights(Kind::Classifier)?, device)?,
        })
    }

    /// Runs a chunk of windows (each [`WINDOW_LENGTH`] letters `A C G U N`). Structure and MFE run
    /// in batches of `batch_size`. In compat mode the chunk's original windows are one Classifier
    /// batch and its tail windows (`tails[i]`, see [`classify_compat`]) are scored each on its own;
    /// `tails` is empty when there are none.
    pub fn run(&self, windows: &[&[u8]], tails: &[bool], batching: &Batching) -> Result<Outputs> {
        let size = batching.batch_size.max(1);
        let mut out = Outputs::default();
        for batch in windows.chunks(size) {
            let s = self.structure.predict(batch)?;
            out.mfe.extend(self.mfe.predict(batch, &s)?);
            out.structure.extend(s);
        }
        match batching.attention {
            Attention::Window => {
                for (i, batch) in windows.chunks(size).enumerate() {
                    let (from, to) = (i * size, i * size + batch.len());
                    let s = &out.structure[from * WINDOW_LENGTH..to * WINDOW_LENGTH];
                    out.score.extend(self.classifier.predict(
                        batch,
                        s,
                        &out.mfe[from..to],
                        Attention::Window,
                    )?);
                }
            }
            Attention::BatchCompat => {
                out.score =
                    classify_compat(&self.classifier, windows, &out.structure, &out.mfe, tails)?;
            }
        }
        Ok(out)
    }
}

/// Scores one batch of the original in batch-compat mode. The original never scans tail windows
/// (`tails[i]`; empty = none), so they must not join its batches, where they would change what
/// the cross-window attention mixes: the other windows form the batch exactly as the original
/// does, and each tail window is scored on its own (a batch of one, the per-window attention).
pub fn classify_compat(
    classifier: &Classifier,
    windows: &[&[u8]],
    structure: &[f32],
    mfe: &[f32],
    tails: &[bool],
) -> Result<Vec<f32>> {
    if !tails.contains(&true) {
        return classifier.predict(windows, structure, mfe, Attention::BatchCompat);
    }
    let mut scores = vec![0.0; windows.len()];
    for (tail, attention) in [(false, Attention::BatchCompat), (true, Attention::Window)] {
        let picked: Vec<usize> = (0..windows.len()).filter(|&i| tails[i] == tail).collect();
        if picked.is_empty() {
            continue;
        }
        let seqs: Vec<&[u8]> = picked.iter().map(|&i| windows[i]).collect();
        let s: Vec<f32> = picked
            .iter()
            .flat_map(|&i| &structure[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH])
            .copied()
            .collect();
        let m: Vec<f32> = picked.iter().map(|&i| mfe[i]).collect();
        let got = classifier.predict(&seqs, &s, &m, attention)?;
        for (&i, score) in picked.iter().zip(got) {
            scores[i] = score;
        }
    }
    Ok(scores)
}

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
    /// Windows scored.
    pub windows: u64,
    /// Windows skipped by the N / soft-mask filters.
    pub skipped: u64,
    /// Windows written without running the models, as the prefilter rejected them.
    pub prefiltered: u64,
    /// Windows scoring at or above the threshold.
    pub hits: Vec<Hit>,
}

/// Record boundaries of a scan, so that a killed run can be resumed where it stopped.
pub struct Checkpoints<'a, W> {
    /// Ids of the records an interrupted run finished, in input order: they are read again and
    /// checked against the input, but not scored (their rows are already in the output).
    pub done: &'a [String],
    /// Called after the rows of each scored record are written, with the record id: the place to
    /// flush the output and record that the record is complete.
    pub record_done: &'a mut dyn FnMut(&mut Writer<W>, &str) -> Result<()>,
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
}

/// Scans every record of `reader` through the cascade and writes one row per window.
///
/// Windows flow in chunks (see [`Batching::chunk`]) in the original's order (per record, `+` then
/// `-`), so compat mode reproduces the original's batches; memory holds one record and one chunk.
/// `progress` is told how many windows were done. With `checkpoints`, the records it names as done
/// are skipped (after checking that the input has them, in that order) and it hears of every
/// record finished.
pub fn scan<R: BufRead, W: Write>(
    reader: &mut fasta::Reader<R>,
    job: ScanJob<'_>,
    writer: &mut Writer<W>,
    progress: &dyn Fn(u64),
    mut checkpoints: Option<Checkpoints<'_, W>>,
) -> Result<ScanSummary> {
    let ScanJob {
        cascade,
        params,
        batching,
        columns,
        threshold,
    } = job;
    if columns.prefilter.is_some() && batching.attention == Attention::BatchCompat {
        return Err(crate::Error::Invalid(
            "the prefilter changes which windows share a batch: it cannot be used with \
             batch-compat attention"
                .to_owned(),
        ));
    }
    let mut summary = ScanSummary::default();
    let mut record = Record::default();
    let mut chunk: Vec<Window> = Vec::with_capacity(batching.chunk());
    let mut tails: Vec<bool> = Vec::with_capacity(batching.chunk());
    let mut text = RowText::default();
    let done = checkpoints.as_ref().map_or(&[][..], |c| c.done);
    for id in done {
        if !reader.read_record(&mut record)? || record.id != *id {
            let found = if record.id.is_empty() {
                "the input ends".to_owned()
            } else {
                format!("the input has '{}'", record.id)
            };
            return Err(crate::Error::Invalid(format!(
                "cannot resume: the interrupted run had finished record '{id}', but {found} \
                 there (was the input changed?)"
            )));
        }
        summary.records += 1;
        record.id.clear();
    }
    while reader.read_record(&mut record)? {
        summary.records += 1;
        let mut windows = Windows::new(&record.seq, params);
        loop {
            // In compat mode a chunk holds one batch of the original: tail windows do not count.
            let compat = batching.attention == Attention::BatchCompat;
            chunk.clear();
            tails.clear();
            let mut counted = 0;
            while counted < batching.chunk() {
                let Some(w) = windows.next() else { break };
                let tail = compat && params.is_tail(w.start);
                counted += usize::from(!tail);
                tails.push(tail);
                chunk.push(w);
            }
            if chunk.is_empty() {
                break;
            }
            let stems: Vec<i32> = match columns.prefilter {
                Some(_) => chunk
                    .iter()
                    .map(|w| prefilter::stem_score(&w.seq))
                    .collect(),
                None => Vec::new(),
            };
            let min_stem = columns.prefilter.map_or(i32::MIN, Level::min_score);
            let kept: Vec<usize> = (0..chunk.len())
                .filter(|&i| stems.get(i).is_none_or(|&s| s >= min_stem))
                .collect();
            let seqs: Vec<&[u8]> = kept.iter().map(|&i| chunk[i].seq.as_slice()).collect();
            let mut out = cascade.run(&seqs, &tails, batching)?;
            if kept.len() < chunk.len() {
                summary.prefiltered += (chunk.len() - kept.len()) as u64;
                out = scatter(out, &kept, chunk.len());
            }
            for (i, w) in chunk.iter().enumerate() {
                let score = out.score[i];
                if threshold.is_some_and(|t| score >= t) {
                    summary.hits.push(Hit {
                        seq_id: record.id.clone(),
                        start: w.start as u64,
                        end: w.end as u64,
                        strand: w.strand,
                        score,
                    });
                }
                let structure = columns
                    .full
                    .then(|| &out.structure[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH]);
                let stem = stems.get(i).copied();
                text.write(writer, &record.id, w, structure, out.mfe[i], score, stem)?;
            }
            summary.windows += chunk.len() as u64;
            progress(chunk.len() as u64);
        }
        summary.skipped += windows.skipped;
        if let Some(c) = checkpoints.as_mut() {
            (c.record_done)(writer, &record.id)?;
        }
    }
    Ok(summary)
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
    start: String,
    end: String,
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
        self.start.clear();
        let _ = write!(self.start, "{}", w.start);
        self.end.clear();
        let _ = write!(self.end, "{}", w.end);
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
        let strand = if w.strand == window::Strand::Forward {
            "+"
        } else {
            "-"
        };
        match structure {
            None => writer.write_row([seq_id, &self.start, &self.end, strand], tail),
            Some(values) => {
                self.dot_bracket.clear();
                stream::push_dot_bracket(&mut self.dot_bracket, values, stream::PAIRING_THRESHOLD);
                self.pairing.clear();
                stream::push_f32_list(&mut self.pairing, values);
                let seq = std::str::from_utf8(&w.seq).unwrap_or_default();
                writer.write_row(
                    [
                        seq_id,
                        &self.start,
                        &self.end,
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
