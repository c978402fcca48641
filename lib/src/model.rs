//! The three miRe2e models: [`Structure`] (A), [`Mfe`] (B) and [`Classifier`] (C).
//!
//! Each loads its weights from a safetensors file whose tensor names are the original PyTorch
//! `state_dict` names, and predicts on 100-nt windows given as bytes `A C G U N`. The API takes and
//! returns plain slices and vectors; the framework (candle) stays inside this module.
//!
//! The three are one type, [`Model`], loaded the same way for a [`Placement`] (device and
//! precision, both fixed at load time because they decide how the weights are packed).
//!
//! ```no_run
//! use mire2e::model::{Attention, Classifier, Device, Mfe, Placement, Precision, Structure};
//! # fn main() -> mire2e::Result<()> {
//! let device: Device = "cpu".parse()?;
//! let placement = Placement { device, precision: Precision::Bf16 };
//! let structure = Structure::load("structure.safetensors".as_ref(), placement)?;
//! let mfe = Mfe::load("mfe.safetensors".as_ref(), device)?;
//! let classifier = Classifier::load("classifier.safetensors".as_ref(), device)?;
//! let window = [b'A'; 100];
//! let windows: Vec<&[u8]> = vec![&window];
//! let s = structure.predict(&windows)?; // 100 values per window
//! let m = mfe.predict(&windows, &s)?; // 1 value per window
//! let scores = classifier.predict(&windows, &s, &m, Attention::Window)?;
//! # Ok(()) }
//! ```
//!
//! ## Weights files
//!
//! [`expected_tensors`] lists the whole original state dict of a model: what a faithful conversion
//! of an original checkpoint holds, including tensors the forward pass never reads (the stray
//! `encoder_layer.*` of Structure and Classifier, the Classifier's `med2tag`, every BatchNorm's
//! `num_batches_tracked`). Loading needs only [`required_tensors`]: all of them are checked (present,
//! shape, float dtype) before anything is built, and any others in the file are ignored.

pub(crate) mod classifier;
pub mod config;
pub(crate) mod cpu;
pub(crate) mod device;
pub(crate) mod engine;
pub(crate) mod input;
pub(crate) mod load;
pub(crate) mod mfe;
pub(crate) mod nn;
pub(crate) mod structure;

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};
use config::{ClassifierConfig, MfeConfig, StructureConfig};
use nn::weights::{Source, TensorSpec, Vb};

pub use device::Device;
pub use engine::Model;

/// Model A: the pairing of every nucleotide of a window (its `predict` is on [`Model`]).
pub type Structure = Model<arch::A>;
/// Model B: estimated |MFE| per nucleotide (its `predict` is on [`Model`]).
pub type Mfe = Model<arch::B>;
/// Model C: the pre-miRNA score of a window (its `predict` is on [`Model`]).
pub type Classifier = Model<arch::C>;

/// The three architectures, as [`Model`]'s type parameter (the paper's models A, B and C).
pub mod arch {
    /// Model A, Structure.
    pub enum A {}
    /// Model B, MFE.
    pub enum B {}
    /// Model C, Classifier.
    pub enum C {}
}

/// Where a model runs and how its weights are packed: given when it is loaded. A [`Device`] alone
/// converts to a placement in f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Placement {
    /// Where the model runs.
    pub device: Device,
    /// The arithmetic of its matrix products: with bf16, every product of the Structure model and
    /// the convolutions of the MFE and Classifier models (see docs/precision.md). bf16 is refused
    /// on a GPU, and runs f32 with one warning on a CPU without bf16 instructions
    /// ([`Model::precision`] says what a model runs in).
    pub precision: Precision,
}

impl From<Device> for Placement {
    fn from(device: Device) -> Self {
        Self {
            device,
            precision: Precision::F32,
        }
    }
}

impl From<&Device> for Placement {
    fn from(device: &Device) -> Self {
        Self::from(*device)
    }
}

/// How the Classifier's transformer forms its attention context.
///
/// The original reinterprets its `[B, 6, 64]` tokens as `[6, B, 64]` (sequence first), so a window
/// attends over tokens of other windows of its batch and its score depends on the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attention {
    /// Each window attends over its own 6 tokens: the original run with batch size 1. Results do not
    /// depend on batching, threads or device.
    #[default]
    Window,
    /// The windows given to one `predict` call are one batch of the original and the cross-window
    /// mixing is reproduced exactly. The caller forms the batches as the original did (per record,
    /// all `+` windows then all `-` windows, consecutive chunks of N, default 4096).
    BatchCompat,
}

/// Arithmetic of the Structure model's matrix products on the CPU (see [`Placement::precision`]).
///
/// # Examples
///
/// ```
/// use mire2e::model::Precision;
/// assert_eq!("bf16".parse::<Precision>().unwrap(), Precision::Bf16);
/// assert_eq!(Precision::default().to_string(), "f32");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32 throughout: the outputs match the original within 1e-4 (DESIGN.md, "Parity").
    #[default]
    F32,
    /// Opt-in: the operands of the convolutions, of the transformer's projections and feed-forward
    /// layers and of its attention products are rounded to bfloat16 (8-bit mantissa) and their
    /// products summed in f32. Fast only on CPUs with Intel AMX (Xeon Sapphire Rapids and later;
    /// elsewhere the same rounding at f32 speed). Results deviate from f32 (with the default
    /// model, scores by up to ~2e-3: `docs/precision.md`) and stay independent of batching and
    /// threads.
    Bf16,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        })
    }
}

impl FromStr for Precision {
    type Err = Error;

    /// `f32` or `bf16` (as displayed).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            _ => Err(Error::value("precision", s, "f32 or bf16")),
        }
    }
}

/// One of the three models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Model A, per-nucleotide structure.
    Structure,
    /// Model B, |MFE| per nucleotide.
    Mfe,
    /// Model C, pre-miRNA classifier (`Predictor` in the original).
    Classifier,
}

impl Kind {
    /// The three kinds, in cascade order.
    pub const ALL: [Kind; 3] = [Kind::Structure, Kind::Mfe, Kind::Classifier];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Structure => "structure",
            Self::Mfe => "mfe",
            Self::Classifier => "classifier",
        })
    }
}

impl FromStr for Kind {
    type Err = Error;

    /// `structure`, `mfe` or `classifier` (as displayed).
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.to_string() == s)
            .ok_or_else(|| Error::value("model", s, "structure, mfe or classifier"))
    }
}

/// Every tensor of the original `state_dict` of model `kind` (PyTorch names, shapes; `[]` for the
/// int64 `num_batches_tracked` scalars), in module order. Includes the tensors the forward pass does
/// not read; see [`required_tensors`].
///
/// # Examples
///
/// ```
/// use mire2e::model::{expected_tensors, Kind};
/// let t = expected_tensors(Kind::Structure);
/// assert!(t.contains(&("transformer_encoder.layers.5.self_attn.in_proj_weight".into(), vec![666, 222])));
/// assert!(t.contains(&("encoder_layer.norm1.weight".into(), vec![222]))); // carried, never read
/// ```
pub fn expected_tensors(kind: Kind) -> Vec<(String, Vec<usize>)> {
    specs(kind).into_iter().map(|s| (s.name, s.shape)).collect()
}

/// The tensors model `kind` reads (a subset of [`expected_tensors`]); loading fails unless all are
/// present with these shapes.
pub fn required_tensors(kind: Kind) -> Vec<(String, Vec<usize>)> {
    specs(kind)
        .into_iter()
        .filter(|s| s.used)
        .map(|s| (s.name, s.shape))
        .collect()
}

/// The state dict of `kind`, from building the model against a recording source.
pub(crate) fn specs(kind: Kind) -> Vec<TensorSpec> {
    fn record<M>(build: impl FnOnce(&Vb) -> candle_core::Result<M>) -> Vec<TensorSpec> {
        let source = Source::record();
        // building from zeros with the published configuration cannot fail
        let built = build(&Vb::root(&source));
        debug_assert!(built.is_ok(), "recording a model failed");
        drop(built);
        source.into_specs()
    }
    match kind {
        Kind::Structure => {
            record(|vb| nn::structure::StructureNet::load(vb, &StructureConfig::default()))
        }
        Kind::Mfe => record(|vb| nn::mfe::MfeNet::load(vb, &MfeConfig::default())),
        Kind::Classifier => {
            record(|vb| nn::classifier::ClassifierNet::load(vb, &ClassifierConfig::default()))
        }
    }
}

/// A failure while running a model.
pub(crate) fn model_error(e: candle_core::Error) -> Error {
    Error::Model(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (tensors, tensors read, parameters: weights and biases without BatchNorm statistics and PE)
    fn count(kind: Kind) -> (usize, usize, usize) {
        let all = expected_tensors(kind);
        let is_param = |n: &str| {
            ![
                "running_mean",
                "running_var",
                "num_batches_tracked",
                "PE.pe",
            ]
            .iter()
            .any(|b| n.ends_with(b))
        };
        let params = all
            .iter()
            .filter(|(n, _)| is_param(n))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        (all.len(), required_tensors(kind).len(), params)
    }

    #[test]
    fn state_dicts_match_the_original() {
        // tensor counts of the original files; parameter counts from ARCHITECTURE.md
        assert_eq!(count(Kind::Structure), (139, 139 - 12 - 7, 4_408_606));
        assert_eq!(count(Kind::Mfe), (65, 65 - 9, 156_135));
        assert_eq!(count(Kind::Classifier), (244, 244 - 12 - 2 - 27, 2_893_274));
    }

    #[test]
    fn models_are_send_and_sync() {
        // the pipeline shares loaded models between threads
        fn check<T: Send + Sync>() {}
        check::<Structure>();
        check::<Mfe>();
        check::<Classifier>();
    }

    #[test]
    fn precisions_round_trip() {
        for p in [Precision::F32, Precision::Bf16] {
            assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
        }
        assert!("fp16".parse::<Precision>().is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.to_string().parse::<Kind>().unwrap(), k);
        }
        assert!("predictor".parse::<Kind>().is_err());
    }
}
