//! Reading original PyTorch checkpoints (zip and legacy pickle) into safetensors.
//!
//! The original miRe2e publishes `state_dict`s saved with `torch.save`, in either format:
//! the zip archive of PyTorch >= 1.6 ([`Format::Zip`]) or the older stream of pickles followed by
//! raw storages ([`Format::Legacy`]). Both are read here without Python: a small pickle machine
//! that never imports or runs anything, then the tensors' bytes copied exactly as stored.
//!
//! [`read_checkpoint`] checks every name, shape and dtype against the model before reading any
//! tensor data, so a wrong file fails early and with one message naming the tensor:
//! tensors the model uses must all be there; the original's unused tensors (`encoder_layer.*`,
//! the classifier's `med2tag.*`, batch norms' `num_batches_tracked`) are kept when present, so the
//! conversion loses nothing; anything else is refused. Sizes declared in the file are checked
//! against it before anything is read, and memory grows only with the bytes actually there, so a
//! corrupt file is an error, not a crash or a huge allocation.

mod archive;
mod check;
mod legacy;
mod pickle;
mod safetensors_file;
mod tensor;
mod torch;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use safetensors_file::read_safetensors;
pub use tensor::{Dtype, Tensor};

use crate::error::{Error, Result};
use crate::model::Kind;
use torch::{StateDict, Storages};

/// The two `torch.save` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A zip archive with `data.pkl` and one entry per storage (PyTorch >= 1.6).
    Zip,
    /// Pickles followed by raw storages (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`).
    Legacy,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Zip => "zip",
            Self::Legacy => "legacy pickle",
        })
    }
}

/// A checkpoint read and checked against its model.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The file it came from.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The model it fits.
    pub kind: Kind,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The tensors, in the state dict's order, with their dtypes and bytes as stored.
    pub tensors: Vec<Tensor>,
}

impl Checkpoint {
    /// Provenance written into the safetensors header.
    pub fn metadata(&self) -> HashMap<String, String> {
        let source = self
            .path
            .file_name()
            .unwrap_or(self.path.as_os_str())
            .to_string_lossy();
        HashMap::from([
            ("model".to_owned(), self.kind.to_string()),
            ("source".to_owned(), source.into_owned()),
            ("source_format".to_owned(), self.format.to_string()),
            ("source_sha256".to_owned(), self.sha256.clone()),
            (
                "converter".to_owned(),
                format!("mire2e import {}", env!("CARGO_PKG_VERSION")),
            ),
        ])
    }

    /// Writes the tensors as a safetensors file, with [`Checkpoint::metadata`].
    pub fn write_safetensors<W: Write>(&self, writer: W) -> Result<()> {
        safetensors_file::write(&self.tensors, self.metadata(), writer)
    }
}

/// Reads a `torch.save` checkpoint of the model `kind`, either format.
///
/// # Examples
///
/// ```no_run
/// use mire2e::import::read_checkpoint;
/// use mire2e::model::Kind;
///
/// let checkpoint = read_checkpoint("mfe.pkl".as_ref(), Kind::Mfe)?;
/// let out = std::fs::File::create("mfe.safetensors").map_err(mire2e::Error::Write)?;
/// checkpoint.write_safetensors(std::io::BufWriter::new(out))?;
/// # Ok::<(), mire2e::Error>(())
/// ```
pub fn read_checkpoint(path: &Path, kind: Kind) -> Result<Checkpoint> {
    let fail = |message: String| Error::Weights {
        path: path.to_owned(),
        message,
    };
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut head = Vec::with_capacity(4);
    (&mut file).take(4).read_to_end(&mut head).map_err(io)?;
    file.rewind().map_err(io)?;
    let (format, dict, mut storages): (Format, StateDict, Box<dyn Storages>) = match head.as_slice()
    {
        [] => return Err(fail("empty file, not a PyTorch checkpoint".into())),
        b"PK\x03\x04" => {
            let (dict, archive) = archive::open(file, len).map_err(fail)?;
            (Format::Zip, dict, Box::new(archive))
        }
        [0x80, ..] => {
            let (dict, legacy) = legacy::open(file, len).map_err(fail)?;
            (Format::Legacy, dict, Box::new(legacy))
        }
        _ => {
            return Err(fail(
                "not a PyTorch checkpoint (neither a zip archive nor a torch.save pickle)".into(),
            ))
        }
    };
    check::check(kind, &dict.tensors).map_err(fail)?;
    let tensors = tensors(&dict, storages.as_mut()).map_err(fail)?;
    log::debug!(
        "{}: {} tensors, {format} format, fit the {kind} model",
        path.display(),
        tensors.len()
    );
    Ok(Checkpoint {
        path: path.to_owned(),
        format,
        kind,
        sha256: sha256(path)?,
        tensors,
    })
}

/// Every tensor's bytes, each storage read once.
fn tensors(
    dict: &StateDict,
    storages: &mut dyn Storages,
) -> std::result::Result<Vec<Tensor>, String> {
    let mut loaded: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    let mut out = Vec::with_capacity(dict.tensors.len());
    for t in &dict.tensors {
        if !loaded.contains_key(t.storage.as_str()) {
            let nbytes = dict
                .storages
                .get(&t.storage)
                .and_then(torch::Storage::nbytes)
                .ok_or_else(|| format!("tensor {}: bad storage {}", t.name, t.storage))?;
            let bytes = storages
                .load(&t.storage, nbytes)
                .map_err(|e| format!("tensor {}: {e}", t.name))?;
            loaded.insert(&t.storage, bytes);
        }
        let data = loaded
            .get(t.storage.as_str())
            .and_then(|storage| tensor::gather(storage, t.dtype.size(), &t.layout))
            .ok_or_else(|| {
                format!(
                    "tensor {} reaches past the end of its storage {}",
                    t.name, t.storage
                )
            })?;
        out.push(Tensor {
            name: t.name.clone(),
            dtype: t.dtype,
            shape: t.layout.shape.clone(),
            data,
        });
    }
    Ok(out)
}

fn sha256(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut hasher = Sha256::new();
    std::io::copy(&mut File::open(path).map_err(io)?, &mut hasher).map_err(io)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
