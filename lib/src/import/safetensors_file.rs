//! Tensors to and from safetensors files.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::tensor::{Dtype, Tensor};
use crate::error::{Error, Result};

/// Serializes `tensors` with `metadata` (safetensors orders them by dtype, then name).
pub(crate) fn write<W: Write>(
    tensors: &[Tensor],
    metadata: HashMap<String, String>,
    mut w: W,
) -> Result<()> {
    let bytes =
        safetensors::serialize(tensors.iter().map(|t| (t.name.as_str(), t)), Some(metadata))
            .map_err(|e| Error::Invalid(format!("cannot serialize safetensors: {e}")))?;
    w.write_all(&bytes).map_err(Error::Write)?;
    w.flush().map_err(Error::Write)
}

/// Reads every tensor of a safetensors file, sorted by name (to compare an import with a
/// reference, or to look inside a weights file).
///
/// # Examples
///
/// ```no_run
/// let tensors = mire2e::import::read_safetensors("mfe.safetensors".as_ref())?;
/// for t in &tensors {
///     println!("{} {} {:?}", t.name, t.dtype, t.shape);
/// }
/// # Ok::<(), mire2e::Error>(())
/// ```
pub fn read_safetensors(path: &Path) -> Result<Vec<Tensor>> {
    let fail = |message: String| Error::Weights {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let file = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| fail(format!("not a safetensors file: {e}")))?;
    let mut tensors = file
        .iter()
        .map(|(name, view)| {
            let dtype = Dtype::from_safetensors(view.dtype()).ok_or_else(|| {
                fail(format!(
                    "tensor {name}: unsupported dtype {:?}",
                    view.dtype()
                ))
            })?;
            Ok(Tensor {
                name: name.to_owned(),
                dtype,
                shape: view.shape().to_vec(),
                data: view.data().to_vec(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}
