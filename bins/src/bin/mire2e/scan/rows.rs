//! `mire2e scan`'s rows: to stdout, or to `-o FILE` through `FILE.partial`, checkpointed after
//! every record, which `--resume` continues.

use mire2e::candidates::Hit;
use mire2e::fasta;
use mire2e::pipeline::{self, Checkpoints, ScanJob, ScanSummary, Sinks};
use mire2e::stream::{self, Header, Writer};
use mire2e::window::{Strand, Window};
use mire2e_cli::output::{self, Output};
use mire2e_cli::progress;

use super::Args;
use crate::partial::{self, Partial};

/// Scans the input into the rows' destination. Returns the summary and, with `-o FILE`, the partial
/// file: the caller finishes it after everything else is written.
pub(super) fn scan(
    args: &Args,
    job: ScanJob,
    header: &Header,
    mut on_score: Option<&mut OnScore<'_>>,
) -> anyhow::Result<(ScanSummary, Option<Partial>)> {
    let mut reader = fasta::reader(
        output::input_name(&args.input),
        output::open_input(&args.input)?,
    )?;
    let bar = progress::counter("windows", args.common.quiet > 0);
    let progress = |n| bar.inc(n);
    let out = &args.common.output;
    // stdout, a device or a pipe: streamed, without checkpoints (nothing to resume or rename)
    if output::is_stream(out) {
        let mut writer = Writer::new(Output::create(out)?, header)?;
        let mut on_window = on_score.map(per_window);
        let sinks = Sinks {
            progress: &progress,
            checkpoints: None,
            scores: on_window.as_mut().map(|f| f as _),
        };
        let summary = pipeline::scan(&mut reader, job, &mut writer, sinks)?;
        bar.finish_and_clear();
        writer.into_inner().commit()?;
        return Ok((summary, None));
    }
    let header_text = Writer::new(Vec::new(), header)?.into_inner();
    let input_len = (args.input.as_os_str() != "-")
        .then(|| std::fs::metadata(&args.input).map(|m| m.len()).ok())
        .flatten();
    let input = partial::input_identity(&output::input_name(&args.input), input_len);
    let resumed = if args.resume {
        Partial::resume(out, &header_text, &input)?
    } else {
        None
    };
    let (partial, done, mut hits) = match resumed {
        Some(r) => {
            log::info!(
                "resuming {}: {} records already done",
                out.display(),
                r.done.len()
            );
            let hits = finished_rows(&r.partial, job.threshold, on_score.as_deref_mut())?;
            (r.partial, r.done, hits)
        }
        None => {
            if args.resume {
                log::info!("nothing to resume for {}: starting afresh", out.display());
            }
            (
                Partial::create(out, &header_text, &input)?,
                Vec::new(),
                Vec::new(),
            )
        }
    };
    let mut writer = Writer::append(partial);
    let mut on_window = on_score.map(per_window);
    let mut record_done = |w: &mut Writer<Partial>, id: &str| {
        w.get_mut().checkpoint(id).map_err(mire2e::Error::Write)
    };
    let sinks = Sinks {
        progress: &progress,
        checkpoints: Some(Checkpoints {
            done: &done,
            record_done: &mut record_done,
            finished_hits: &mut hits,
        }),
        scores: on_window.as_mut().map(|f| f as _),
    };
    let mut summary = match pipeline::scan(&mut reader, job, &mut writer, sinks) {
        Ok(summary) => summary,
        Err(e) => {
            writer.into_inner().abandon();
            return Err(e.into());
        }
    };
    bar.finish_and_clear();
    hits.append(&mut summary.hits);
    summary.hits = hits;
    Ok((summary, Some(writer.into_inner())))
}

/// Told a window's record, start, end, strand and score.
pub(super) type OnScore<'a> = dyn FnMut(&str, u64, u64, Strand, f32) -> mire2e::Result<()> + 'a;

/// The scan's per-window sink, from a per-score one.
fn per_window<'a, 'b>(
    on_score: &'a mut OnScore<'b>,
) -> impl FnMut(&str, &Window, f32) -> mire2e::Result<()> + use<'a, 'b> {
    move |id, w, score| on_score(id, w.start as u64, w.end as u64, w.strand, score)
}

/// Reads back the rows an interrupted run finished: its hits at `threshold` (scores are written
/// exactly, so they are the hits the run had found), and every row's score for `on_score`.
fn finished_rows(
    partial: &Partial,
    threshold: Option<f32>,
    mut on_score: Option<&mut OnScore<'_>>,
) -> anyhow::Result<Vec<Hit>> {
    let mut hits = Vec::new();
    if threshold.is_none() && on_score.is_none() {
        return Ok(hits);
    }
    let (name, rows) = partial.finished_rows()?;
    let mut reader = stream::Reader::new(name, rows)?;
    let columns = ["seq_id", "start", "end", "strand", "score"]
        .map(|c| reader.require(c))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let mut row = stream::Row::default();
    while reader.read_row(&mut row)? {
        let field = |i: usize| &row.fields[columns[i]];
        let bad = |i: usize| reader.field_error(&row, columns[i], "cannot be read back");
        let score: f32 = field(4).parse().map_err(|_| bad(4))?;
        let (start, end) = (
            field(1).parse().map_err(|_| bad(1))?,
            field(2).parse().map_err(|_| bad(2))?,
        );
        let strand = field(3).parse().map_err(|_| bad(3))?;
        if let Some(on_score) = on_score.as_mut() {
            on_score(field(0), start, end, strand, score)?;
        }
        if threshold.is_some_and(|t| score >= t) {
            hits.push(Hit {
                seq_id: field(0).to_owned(),
                start,
                end,
                strand,
                score,
                fold: None,
            });
        }
    }
    Ok(hits)
}
