//! The cascade over batches of windows: Structure → MFE → Classifier; [`scan`], which streams
//! FASTA records through it with memory bounded by one part of a record and one chunk of windows;
//! and [`run_stage`], one model over a window stream (the stage binaries' loop).

mod scan;
mod stage;

pub use scan::{
    scan, scan_header, Checkpoints, DecoySummary, ScanColumns, ScanJob, ScanSummary, Sinks,
};
pub use stage::{run_stage, Batch, Batches, Stage, StageSpec};

use crate::bundle::Bundle;
use crate::error::Result;
use crate::model::engine::Architecture;
use crate::model::{Attention, Classifier, Mfe, Model, Placement, Structure};
use crate::window::WINDOW_LENGTH;

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

/// Model `A` of `bundle`: its file read once, checked against the manifest, then loaded.
fn load<A: Architecture>(bundle: &Bundle, placement: Placement) -> Result<Model<A>> {
    let (path, bytes) = bundle.read_weights(A::KIND)?;
    Model::load_bytes(&bytes, &path, placement)
}

impl Cascade {
    /// Loads the bundle's three models (checksums verified) for `placement` (a [`Device`](crate::model::Device) alone:
    /// f32; the precision applies to Structure, see [`Placement::precision`]).
    pub fn from_bundle(bundle: &Bundle, placement: impl Into<Placement>) -> Result<Self> {
        let placement = placement.into();
        // checked and loaded side by side on the pool's threads: loading is most of a short
        // scan's start-up; the first failure in the order A, B, C is the one reported
        let (structure, (mfe, classifier)) = rayon::join(
            || load(bundle, placement),
            || rayon::join(|| load(bundle, placement), || load(bundle, placement)),
        );
        Ok(Self {
            structure: structure?,
            mfe: mfe?,
            classifier: classifier?,
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
