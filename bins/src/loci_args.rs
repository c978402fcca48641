//! `--threshold`, `--bed`, `--gff3` and `--bedgraph`, shared by `mire2e-classify` and `mire2e
//! scan`: the loci a run calls and the tracks it writes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mire2e::bundle::Bundle;
use mire2e::candidates::{self, Locus};
use mire2e::tracks::{self, BedGraph};
use mire2e::window::Strand;

use crate::output::Output;

/// Loci and track options.
#[derive(Debug, Clone, clap::Args)]
pub struct LociArgs {
    /// Write candidate loci (BED9) to this file.
    #[arg(long, value_name = "FILE")]
    pub bed: Option<PathBuf>,
    /// Write candidate loci as GFF3 (miRNA_primary_transcript, 1-based; attributes: best window,
    /// windows merged, q-value with --decoy, predicted structure) to this file.
    #[arg(long, value_name = "FILE")]
    pub gff3: Option<PathBuf>,
    /// Write every window's score as bedGraph tracks, PREFIX.plus.bedgraph and
    /// PREFIX.minus.bedgraph: each base carries the best score of the windows covering it.
    #[arg(long, value_name = "PREFIX")]
    pub bedgraph: Option<PathBuf>,
    /// Also write the tracks as bigWig, PREFIX.plus.bw and PREFIX.minus.bw (needs --bedgraph;
    /// chromosome sizes are the ends of each record's last windows).
    #[arg(long, value_name = "PREFIX", requires = "bedgraph")]
    pub bigwig: Option<PathBuf>,
    /// Score at or above which a window is a candidate [default: the model bundle's operating
    /// threshold (its manifest says how it was chosen), else 0.5].
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
}

/// The threshold without --threshold and without a bundle threshold (a window more likely a
/// pre-miRNA than not).
const FALLBACK_THRESHOLD: f32 = 0.5;

/// The open loci and track outputs, and the threshold the loci are called at.
pub struct Loci {
    bed: Option<Output>,
    gff3: Option<Output>,
    tracks: Option<BedGraph<Output>>,
    /// The bedGraph prefix (with `tracks`).
    bedgraph: Option<PathBuf>,
    /// The bigWig prefix (with `bedgraph`).
    bigwig: Option<PathBuf>,
    /// Score at or above which a window is a hit.
    pub threshold: f32,
    /// Where the threshold came from.
    pub basis: String,
}

impl LociArgs {
    /// Checks the options and creates the outputs (before the models run, so a bad path fails
    /// early; files appear only when [`Loci::write`] commits them).
    ///
    /// `bundle` is the model bundle in use, if any: its operating threshold applies when
    /// --threshold is not given.
    pub fn open(&self, bundle: Option<&Bundle>) -> anyhow::Result<Loci> {
        let (threshold, basis) = match (
            self.threshold,
            bundle.and_then(|b| b.manifest().threshold.as_ref()),
        ) {
            (Some(t), _) => (t, "--threshold".to_owned()),
            (None, Some(t)) => {
                log::info!("threshold {} from the model bundle ({})", t.value, t.basis);
                (t.value, format!("the model bundle's: {}", t.basis))
            }
            (None, None) => (FALLBACK_THRESHOLD, "the default, 0.5".to_owned()),
        };
        anyhow::ensure!(
            (0.0..=1.0).contains(&threshold),
            "--threshold must be in [0, 1]"
        );
        let file = |path: &Option<PathBuf>, flag: &str| -> anyhow::Result<Option<Output>> {
            let Some(path) = path else { return Ok(None) };
            anyhow::ensure!(
                path.as_os_str() != "-",
                "{flag} needs a file (stdout carries the scores)"
            );
            Ok(Some(Output::create(path)?))
        };
        let tracks = match &self.bedgraph {
            Some(prefix) => Some(BedGraph::new(
                Output::create(&track_path(prefix, Strand::Forward))?,
                Output::create(&track_path(prefix, Strand::Reverse))?,
            )),
            None => None,
        };
        Ok(Loci {
            bed: file(&self.bed, "--bed")?,
            gff3: file(&self.gff3, "--gff3")?,
            tracks,
            bedgraph: self.bedgraph.clone(),
            bigwig: self.bigwig.clone(),
            threshold,
            basis,
        })
    }
}

/// `PREFIX.plus.bedgraph` or `PREFIX.minus.bedgraph`.
pub fn track_path(prefix: &Path, strand: Strand) -> PathBuf {
    strand_path(prefix, strand, "bedgraph")
}

/// `PREFIX.plus.EXT` or `PREFIX.minus.EXT`.
fn strand_path(prefix: &Path, strand: Strand, ext: &str) -> PathBuf {
    let name = match strand {
        Strand::Forward => "plus",
        Strand::Reverse => "minus",
    };
    let mut path = prefix.as_os_str().to_owned();
    path.push(format!(".{name}.{ext}"));
    PathBuf::from(path)
}

impl Loci {
    /// Whether loci are written, so hits must be collected.
    pub fn wants_hits(&self) -> bool {
        self.bed.is_some() || self.gff3.is_some()
    }

    /// Whether hits must keep their sequence and predicted structure (GFF3's `structure`).
    pub fn wants_folds(&self) -> bool {
        self.gff3.is_some()
    }

    /// Whether every window's score is wanted (tracks).
    pub fn wants_scores(&self) -> bool {
        self.tracks.is_some()
    }

    /// One window's score, for the tracks.
    pub fn window(
        &mut self,
        seq_id: &str,
        start: u64,
        end: u64,
        strand: Strand,
        score: f32,
    ) -> mire2e::Result<()> {
        match &mut self.tracks {
            Some(t) => t.window(seq_id, start, end, strand, score),
            None => Ok(()),
        }
    }

    /// Writes the loci (BED, GFF3 with `comments` as its header comments) and the tracks, and
    /// commits the files.
    pub fn write(self, loci: &[Locus], comments: &[String]) -> anyhow::Result<()> {
        if let Some(mut out) = self.bed {
            candidates::write_bed(&mut out, loci)?;
            out.commit().context("cannot write the BED file")?;
        }
        if let Some(mut out) = self.gff3 {
            candidates::write_gff3(&mut out, loci, comments)?;
            out.commit().context("cannot write the GFF3 file")?;
        }
        if let Some(tracks) = self.tracks {
            let done = tracks.finish()?;
            done.plus.commit().context("cannot write the + bedGraph")?;
            done.minus.commit().context("cannot write the - bedGraph")?;
            if let (Some(bedgraph), Some(bigwig)) = (&self.bedgraph, &self.bigwig) {
                for strand in [Strand::Forward, Strand::Reverse] {
                    // written beside its name, renamed when complete
                    let out = strand_path(bigwig, strand, "bw");
                    let partial = strand_path(bigwig, strand, "bw.partial");
                    tracks::write_bigwig(&track_path(bedgraph, strand), &done.sizes, &partial)?;
                    std::fs::rename(&partial, &out)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                }
            }
        }
        log::info!(
            "{} candidate loci at score >= {}",
            loci.len(),
            self.threshold
        );
        Ok(())
    }
}
