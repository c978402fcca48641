//! `--bed` and `--threshold`, shared by `mire2e-classify` and `mire2e scan`.

use std::path::PathBuf;

use anyhow::Context;
use mire2e::bundle::Bundle;
use mire2e::candidates::{self, Hit};

use crate::output::Output;

/// Candidate-loci options.
#[derive(Debug, Clone, clap::Args)]
pub struct BedArgs {
    /// Write candidate loci (BED9) to this file.
    #[arg(long, value_name = "FILE")]
    pub bed: Option<PathBuf>,
    /// Score at or above which a window is a candidate [default: the model bundle's operating
    /// threshold (its manifest says how it was chosen), else 0.5].
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
}

/// The threshold without --threshold and without a bundle threshold (a window more likely a
/// pre-miRNA than not).
const FALLBACK_THRESHOLD: f32 = 0.5;

/// An open BED output and the threshold its hits were collected at.
pub struct Candidates {
    out: Output,
    /// Score at or above which a window is a hit.
    pub threshold: f32,
}

impl BedArgs {
    /// Checks the options and creates the BED output (before the models run, so a bad path fails
    /// early; the file appears only when [`Candidates::write`] commits it).
    ///
    /// `bundle` is the model bundle in use, if any: its operating threshold applies when
    /// --threshold is not given.
    pub fn open(&self, bundle: Option<&Bundle>) -> anyhow::Result<Option<Candidates>> {
        let threshold = match (
            self.threshold,
            bundle.and_then(|b| b.manifest().threshold.as_ref()),
        ) {
            (Some(t), _) => t,
            (None, Some(t)) => {
                log::info!("threshold {} from the model bundle ({})", t.value, t.basis);
                t.value
            }
            (None, None) => FALLBACK_THRESHOLD,
        };
        anyhow::ensure!(
            (0.0..=1.0).contains(&threshold),
            "--threshold must be in [0, 1]"
        );
        let Some(path) = &self.bed else {
            return Ok(None);
        };
        anyhow::ensure!(
            path.as_os_str() != "-",
            "--bed needs a file (stdout carries the scores)"
        );
        Ok(Some(Candidates {
            out: Output::create(path)?,
            threshold,
        }))
    }
}

impl Candidates {
    /// Merges the hits into loci, writes them and commits the file.
    pub fn write(mut self, hits: Vec<Hit>) -> anyhow::Result<()> {
        let loci = candidates::merge(hits);
        candidates::write_bed(&mut self.out, &loci)?;
        self.out.commit().context("cannot write the BED file")?;
        log::info!(
            "{} candidate loci at score >= {}",
            loci.len(),
            self.threshold
        );
        Ok(())
    }
}
