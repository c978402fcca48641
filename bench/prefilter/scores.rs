//! Prints the prefilter's stem score of sequences, for tuning and measuring it (see README.md).
//!
//! `cargo run --release -p mire2e --example prefilter-scores -- MODE LABEL FASTA...`
//! MODE `whole`: one score per record, its sequence as is (`center` when longer than 100 nt: the
//! central 100 nt); `windows`: one score per 100-nt window, step 20, both strands, with the tail
//! window (`mire2e-window`'s defaults). Output TSV: label, record, start, end, strand, stem score.
//! `MIRE2E_STEM="gc,au,gu,mismatch,bulge,max_loop"` scores with other values.

use std::io::{BufWriter, Write};

use mire2e::prefilter::{stem_score_with, Scoring};
use mire2e::window::{Params, Strand, Windows, WINDOW_LENGTH};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, label, files @ ..] = &args[..] else {
        return Err("usage: prefilter-scores whole|windows LABEL FASTA...".into());
    };
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    let params = Params::default();
    // MIRE2E_STEM="gc,au,gu,mismatch,bulge,max_loop[,stack]" tries other scores (tuning only).
    let mut sc = Scoring::default();
    if let Ok(v) = std::env::var("MIRE2E_STEM") {
        let v: Vec<i32> = v.split(',').map(|x| x.parse()).collect::<Result<_, _>>()?;
        (sc.gc, sc.au, sc.gu, sc.mismatch, sc.bulge) = (v[0], v[1], v[2], v[3], v[4]);
        sc.max_loop = v[5] as usize;
        sc.stack = v.get(6).copied().unwrap_or(0);
    }
    let stem_score = |seq: &[u8]| stem_score_with(seq, &sc);
    for path in files {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut reader = mire2e::fasta::reader(path.as_str(), file)?;
        let mut record = mire2e::fasta::Record::default();
        while reader.read_record(&mut record)? {
            if mode == "whole" {
                let n = record.seq.len();
                let from = n.saturating_sub(WINDOW_LENGTH) / 2;
                let to = (from + WINDOW_LENGTH).min(n);
                let score = stem_score(&record.seq[from..to]);
                writeln!(out, "{label}\t{}\t{from}\t{to}\t+\t{score}", record.id)?;
            } else {
                for w in Windows::new(&record.seq, &params) {
                    let strand = if w.strand == Strand::Forward {
                        '+'
                    } else {
                        '-'
                    };
                    let score = stem_score(&w.seq);
                    writeln!(
                        out,
                        "{label}\t{}\t{}\t{}\t{strand}\t{score}",
                        record.id, w.start, w.end
                    )?;
                }
            }
            record.id.clear();
        }
    }
    out.flush()?;
    Ok(())
}
