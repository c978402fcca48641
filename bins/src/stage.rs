//! The loop every model stage shares: read the stream, batch rows, run a model, append columns.

use std::path::Path;

use anyhow::{bail, Context};
use mire2e::stream::{self, Reader, Row, WindowColumns, WindowFields, Writer};
use mire2e::window::{self, Strand, WINDOW_LENGTH};

use crate::common::Common;
use crate::{output, progress};

/// Inputs of one batch, parsed from its rows.
#[derive(Default)]
pub struct Batch<'a> {
    /// The windows (100 letters `A C G U N` each).
    pub seqs: Vec<&'a [u8]>,
    /// Their structure values (100 per window), when the stage needs them.
    pub structure: Vec<f32>,
    /// Their MFE values, when the stage needs them.
    pub mfe: Vec<f32>,
    /// The window fields of each row.
    pub windows: Vec<WindowFields<'a>>,
    /// Which rows are tail windows (all false outside a stage whose batches are the original's).
    pub tails: Vec<bool>,
}

/// A model stage.
pub trait Stage {
    /// Columns the stage appends.
    fn columns(&self) -> &'static [&'static str];
    /// Whether the stage reads `pairing`, and `mfe`.
    fn needs(&self) -> (bool, bool);
    /// Whether batches are the original's (one record at a time, tail windows not counted, as the
    /// original never scans them), and the largest batch.
    fn batch_limit(&self) -> (bool, usize);
    /// Model outputs for a batch, concatenated per row.
    fn predict(&mut self, batch: &Batch) -> anyhow::Result<Vec<f32>>;
    /// Outputs per row.
    fn width(&self) -> usize;
    /// Formats one row's outputs into the appended columns.
    fn format(&mut self, values: &[f32], out: &mut [String]);
    /// Sees row `i` of a batch and its outputs (side outputs: loci, tracks, NPY).
    fn observe(&mut self, _batch: &Batch, _i: usize, _values: &[f32]) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Runs `stage` over the stream at `input`, writing to `common.output`.
pub fn run(
    stage: &mut dyn Stage,
    input: &Path,
    common: &Common,
    meta: String,
) -> anyhow::Result<()> {
    let mut reader = Reader::new(output::input_name(input), output::open_input(input)?)?;
    let columns = WindowColumns::find(&reader)?;
    let (needs_pairing, needs_mfe) = stage.needs();
    let pairing = needs_pairing
        .then(|| reader.require("pairing"))
        .transpose()?;
    let mfe = needs_mfe.then(|| reader.require("mfe")).transpose()?;
    let header = reader
        .header()
        .extend(meta, stage.columns())
        .with_context(|| reader.name().to_owned())?;
    let mut writer = Writer::new(output::Output::create(&common.output)?, &header)?;
    let bar = progress::counter("windows", common.quiet > 0);
    let (original_batches, limit) = stage.batch_limit();
    // Tail windows are known by the step of the windows' metadata line; without one, none is.
    let step = reader.header().window_step().filter(|_| original_batches);
    let is_tail = |row: &Row| {
        step.zip(columns.start_of(row))
            .is_some_and(|(step, start)| window::is_tail(start, step))
    };
    let mut rows: Vec<Row> = Vec::with_capacity(limit);
    let mut tails: Vec<bool> = Vec::with_capacity(limit);
    let mut next = Row::default();
    let mut pending = reader.read_row(&mut next)?;
    let mut text = vec![String::new(); stage.columns().len()];
    // The record whose `-` windows have begun: in the original's order no `+` window follows.
    let mut reverse_of = String::new();
    while pending {
        rows.clear();
        tails.clear();
        let mut counted = 0;
        while pending && counted < limit {
            if original_batches
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
            let w = columns.parse(&reader, row, WINDOW_LENGTH)?;
            if original_batches {
                match w.strand {
                    Strand::Reverse if reverse_of != w.seq_id => w.seq_id.clone_into(&mut reverse_of),
                    Strand::Forward if reverse_of == w.seq_id => bail!(
                        "{}: line {}: a '+' window of {} after its '-' windows: batch-compat needs \
                         each record's '+' windows, then its '-' windows, as the original ordered \
                         them (cut records longer than a megabase with `mire2e-window --whole-records`)",
                        reader.name(),
                        row.line,
                        w.seq_id
                    ),
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
        let out = stage
            .predict(&batch)
            .with_context(|| format!("{}: model failed", reader.name()))?;
        let width = stage.width();
        for (i, row) in rows.iter().enumerate() {
            let values = &out[i * width..(i + 1) * width];
            stage.observe(&batch, i, values)?;
            for t in text.iter_mut() {
                t.clear();
            }
            stage.format(values, &mut text);
            let appended: Vec<&str> = text.iter().map(String::as_str).collect();
            writer.write_row(row.fields.iter(), &appended)?;
        }
        bar.inc(rows.len() as u64);
    }
    bar.finish_and_clear();
    writer.into_inner().commit()
}
