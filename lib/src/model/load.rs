//! Loading a model from safetensors: read, check every tensor it needs, then build.

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use super::nn::weights::{self, Source, Vb};
use super::{specs, Kind};
use crate::{Error, Result};

/// The name used in errors for weights given as bytes.
const IN_MEMORY: &str = "<in-memory safetensors>";

/// Reads a weights file whole (the largest original file is 18 MB).
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Builds model `kind` with `build` from safetensors `bytes` (`origin`: the file, for errors), its
/// tensors on `device`.
///
/// Every tensor the model reads is checked (present, shape, float dtype) before anything is built;
/// the first problem is reported with the count of the others, and with the kind of model the file
/// fits if it is another model's weights.
pub(crate) fn build<M>(
    kind: Kind,
    bytes: &[u8],
    origin: Option<&Path>,
    device: &candle_core::Device,
    build: impl FnOnce(&Vb) -> candle_core::Result<M>,
) -> Result<M> {
    let path = origin.map_or_else(|| PathBuf::from(IN_MEMORY), Path::to_path_buf);
    let fail = |message: String| Error::Weights {
        path: path.clone(),
        message,
    };
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| fail(format!("not a readable safetensors file ({e})")))?;
    let needed = specs(kind);
    let problems = weights::check(&file, &needed);
    if let Some(first) = problems.first() {
        let mut message = format!("{first} for the {kind} model");
        if problems.len() > 1 {
            message += &format!(" (and {} more problems)", problems.len() - 1);
        }
        if let Some(other) = Kind::ALL
            .into_iter()
            .find(|&k| k != kind && weights::check(&file, &specs(k)).is_empty())
        {
            message += &format!("; the file holds the weights of the {other} model");
        }
        return Err(fail(message));
    }
    let tensors = weights::tensors(&file, &needed, device)
        .map_err(|e| fail(format!("cannot read the tensors ({e})")))?;
    let source = Source::Tensors(tensors, device.clone());
    build(&Vb::root(&source)).map_err(|e| fail(format!("cannot build the {kind} model ({e})")))
}
