//! `--bed` and `--threshold`, shared by `mire2e-classify` and `mire2e scan`.

use std::path::PathBuf;

use anyhow::Context;
use mire2e::candidates::{self, Hit};

use crate::output::Output;

/// Candidate-loci options.
#[derive(Debug, Clone, clap::Args)]
pub struct BedArgs {
    /// Write candidate loci (BED9) to this file.
    #[arg(long, value_name = "FILE")]
    pub bed: Option<PathBuf>,
    /// Score at or above which a window is a candidate.
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    pub threshold: f32,
}

/// An open BED output and the threshold its hits were collected at.
pub struct Candidates {
    out: Output,
    /// Score at or above which a window is a hit.
    pub threshold: f32,
}

impl BedArgs {
    /// Checks the options and creates the BED output (before the models run, so a bad path fails
    /// early; the file appears only when [`Candidates::write`] commits it).
    pub fn open(&self) -> anyhow::Result<Option<Candidates>> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.threshold),
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
            threshold: self.threshold,
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
