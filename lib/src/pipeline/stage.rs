//! One model over a window stream, the loop every stage binary runs: read rows, batch them, run
//! the model, append its columns, pass every other column through.

use std::io::{BufRead, Write};

use super::Batching;
use crate::error::{Error, Result};
use crate::model::Attention;
use crate::stream::{self, Reader, Row, WindowColumns, WindowFields, Writer};
use crate::window::{self, Strand, WINDOW_LENGTH};

/// Inputs of one batch, parsed from its rows.
#[derive(Default)]
pub struct Batch<'a> {
    /// The windows (100 letters `A C G U N` each).
    pub seqs: Vec<&'a [u8]>,
    /// Their structure values (100 per window), when the stage reads them.
    pub structure: Vec<f32>,
    /// Their MFE values, when the stage reads them.
    pub mfe: Vec<f32>,
    /// The window fields of each row.
    pub windows: Vec<WindowFields<'a>>,
    /// Which rows are tail windows (all false outside [`Batches::Original`]).
    pub tails: Vec<bool>,
}

/// What a stage reads and appends.
#[derive(Debug, Clone, Copy)]
pub struct StageSpec {
    /// Reads the `pairing` column (the Structure output).
    pub reads_pairing: bool,
    /// Reads the `mfe` column.
    pub reads_mfe: bool,
    /// The columns it appends.
    pub appends: &'static [&'static str],
    /// Model outputs per row.
    pub width: usize,
    /// How rows are batched for the model.
    pub batches: Batches,
}

/// How a stage's rows are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batches {
    /// Up to this many rows per model call.
    Rows(usize),
    /// The original's batches: one record at a time, this many rows, tail windows not counted
    /// (the original never scans them). The record's `+` rows must come before its `-` rows.
    Original(usize),
}

impl Batches {
    /// The Classifier's batches under `batching`: the original's in batch-compat mode.
    pub fn classifier(batching: &Batching) -> Self {
        match batching.attention {
            Attention::Window => Self::Rows(batching.chunk()),
            Attention::BatchCompat => Self::Original(batching.chunk()),
        }
    }

    fn limit(self) -> usize {
        match self {
            Self::Rows(n) | Self::Original(n) => n.max(1),
        }
    }
}

/// A model run over a window stream.
pub trait Stage {
    /// What it reads and appends.
    fn spec(&self) -> StageSpec;
    /// Model outputs for a batch, [`StageSpec::width`] per row, concatenated.
    fn predict(&mut self, batch: &Batch<'_>) -> Result<Vec<f32>>;
    /// Formats one row's outputs into the appended columns.
    fn format(&mut self, values: &[f32], out: &mut [String]);
    /// Sees row `i` of a batch and its outputs (side outputs: loci, tracks, NPY).
    fn observe(&mut self, _batch: &Batch<'_>, _i: usize, _values: &[f32]) -> Result<()> {
        Ok(())
    }
}

/// Runs `stage` over the rows of `reader` and writes them, with its columns appended and `meta`
/// added to the metadata, to `out`, which it returns. `progress` hears how many rows were done.
pub fn run_stage<R: BufRead, W: Write>(
    stage: &mut dyn Stage,
    reader: &mut Reader<R>,
    out: W,
    meta: String,
    progress: &dyn Fn(u64),
) -> Result<W> {
    let spec = stage.spec();
    let columns = WindowColumns::find(reader)?;
    let pairing = spec
        .reads_pairing
        .then(|| reader.require("pairing"))
        .transpose()?;
    let mfe = spec.reads_mfe.then(|| reader.require("mfe")).transpose()?;
    let header = reader
        .header()
        .extend(meta, spec.appends)
        .map_err(|e| reader.error(e.to_string()))?;
    let mut writer = Writer::new(out, &header)?;
    let original = matches!(spec.batches, Batches::Original(_));
    let limit = spec.batches.limit();
    // Tail windows are known by the step of the windows' metadata line; without one, none is.
    let step = reader.header().window_step().filter(|_| original);
    let is_tail = |row: &Row| {
        step.zip(columns.start_of(row))
            .is_some_and(|(step, start)| window::is_tail(start, step))
    };
    let mut rows: Vec<Row> = Vec::with_capacity(limit);
    let mut tails: Vec<bool> = Vec::with_capacity(limit);
    let mut next = Row::default();
    let mut pending = reader.read_row(&mut next)?;
    let mut text = vec![String::new(); spec.appends.len()];
    // The record whose `-` windows have begun: in the original's order no `+` window follows.
    let mut reverse_of = String::new();
    while pending {
        rows.clear();
        tails.clear();
        let mut counted = 0;
        while pending && counted < limit {
            if original
                && rows
                    .first()
                    .is_some_and(|r| r.fields.get(0) != next.fields.get(0))
            {
                break;
            }
            let tail = is_tail(&next);
            counted += usize::from(!tail);
            tails.push(tail);
            rows.push(std::mem::take(&mut next));
            pending = reader.read_row(&mut next)?;
        }
        let mut batch = Batch {
            tails: std::mem::take(&mut tails),
            ..Batch::default()
        };
        let mut values = Vec::new();
        for row in &rows {
            let w = columns.parse(reader, row, WINDOW_LENGTH)?;
            if original {
                let at = &w.location;
                match at.strand {
                    Strand::Reverse if reverse_of != at.seq_id => {
                        at.seq_id.clone_into(&mut reverse_of)
                    }
                    Strand::Forward if reverse_of == at.seq_id => {
                        return Err(reader.error(format!(
                            "line {}: a '+' window of {} after its '-' windows: batch-compat \
                             needs each record's '+' windows, then its '-' windows, as the \
                             original ordered them (cut records longer than a megabase with \
                             `mire2e-window --whole-records`)",
                            row.line, at.seq_id
                        )))
                    }
                    _ => {}
                }
            }
            batch.seqs.push(w.seq);
            batch.windows.push(w);
            if let Some(col) = pairing {
                stream::parse_f32_list(&row.fields[col], WINDOW_LENGTH, &mut values)
                    .map_err(|m| reader.field_error(row, col, &m))?;
                batch.structure.extend_from_slice(&values);
            }
            if let Some(col) = mfe {
                let v = stream::parse_f32(&row.fields[col])
                    .map_err(|m| reader.field_error(row, col, &m))?;
                batch.mfe.push(v);
            }
        }
        let out = stage.predict(&batch).map_err(|e| match e {
            Error::Model(m) => Error::Model(format!("{}: {m}", reader.name())),
            e => e,
        })?;
        for (i, row) in rows.iter().enumerate() {
            let values = &out[i * spec.width..(i + 1) * spec.width];
            stage.observe(&batch, i, values)?;
            for t in text.iter_mut() {
                t.clear();
            }
            stage.format(values, &mut text);
            let appended: Vec<&str> = text.iter().map(String::as_str).collect();
            writer.write_row(row.fields.iter(), &appended)?;
        }
        progress(rows.len() as u64);
    }
    Ok(writer.into_inner())
}
