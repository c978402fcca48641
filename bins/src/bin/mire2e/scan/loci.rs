//! The end of `mire2e scan`: hits merged into loci, q-values against the decoy, BED, GFF3, tracks
//! and the HTML report.

use std::path::PathBuf;

use mire2e::candidates::{self, fdr};
use mire2e::pipeline::ScanSummary;
use mire2e::report::{self, Histogram};
use mire2e_cli::loci_args::Loci;
use mire2e_cli::output::{self, Output};

use super::Args;

/// Merges the hits into loci, gives them q-values against the decoy, writes BED, GFF3, tracks
/// and the report.
pub(super) fn finish(
    args: &Args,
    meta: &[String],
    summary: &mut ScanSummary,
    histogram: &Histogram,
    loci_out: Loci,
    report_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let threshold = loci_out.threshold;
    let mut loci = candidates::merge(std::mem::take(&mut summary.hits));
    let table = match args.decoy {
        Some(_) => {
            let decoy_loci = candidates::merge(std::mem::take(&mut summary.decoy.hits));
            let bases = fdr::Bases {
                real: summary.bases,
                decoy: summary.decoy.bases,
            };
            if bases.decoy == 0 {
                log::warn!("--decoy: no block of the input was drawn (the input is small): no FDR");
            }
            fdr::assign_q_values(&mut loci, &decoy_loci, bases);
            let thresholds = fdr::thresholds(threshold, &loci);
            let table = fdr::table(&loci, &decoy_loci, bases, &thresholds);
            let row = &table[0];
            log::info!(
                "decoy ({:.3} Mb): {} loci at score >= {threshold} ({:.2} per Mb; real {:.2} per \
                 Mb): estimated FDR {}",
                bases.decoy as f64 / 1e6,
                row.decoy,
                row.decoy_per_mb,
                row.real_per_mb,
                row.fdr
                    .map_or("- (no real locus)".to_owned(), |f| format!("{f:.3}"))
            );
            Some(table)
        }
        None => None,
    };
    let comments: Vec<String> = meta
        .iter()
        .map(|m| m.trim_start_matches('#').to_owned())
        .chain(std::iter::once(format!(
            "threshold={threshold} ({})",
            loci_out.basis
        )))
        .collect();
    let basis = loci_out.basis.clone();
    loci_out.write(&loci, &comments)?;
    if let Some(dir) = report_dir {
        let decoy = table.as_ref().map(|table| report::DecoyPart {
            bases: summary.decoy.bases,
            histogram: &summary.decoy.scores,
            table,
        });
        let input = output::input_name(&args.input);
        let page = report::ScanReport {
            input: &input,
            meta,
            threshold: (threshold, &basis),
            records: summary.records,
            bases: summary.bases,
            windows: histogram.total(),
            skipped: summary.skipped,
            loci: &loci,
            histogram,
            decoy,
            top: args.report_top,
        };
        let path = dir.join("index.html");
        let mut out = Output::create(&path)?;
        report::write_html(&mut out, &page)?;
        out.commit()?;
        log::info!("report: {}", path.display());
    }
    Ok(())
}
