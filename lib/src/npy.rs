//! NPY side outputs (`--npy FILE`) for numpy users: `[N, width]` (or `[N]`) float32, C order.
//!
//! N is known only at the end of a stream, and the NPY header comes first, so rows are spooled to
//! a temporary file and the array is written (by `npyz`) when the stream is done. The file
//! appears under its name only when complete. NPY goes to files, never to a pipe.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Collects rows of `width` floats and writes them as one NPY array.
pub struct NpyWriter {
    path: PathBuf,
    width: usize,
    rows: u64,
    spool: BufWriter<File>,
}

impl NpyWriter {
    /// Prepares `path` for rows of `width` values (`width` 1 gives a 1-D array).
    pub fn create(path: &Path, width: usize) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if path.as_os_str() == "-" {
            return Err(Error::Invalid(
                "NPY output needs a file name, not stdout".into(),
            ));
        }
        let spool = tempfile::tempfile_in(parent(path)).map_err(io)?;
        Ok(Self {
            path: path.to_owned(),
            width,
            rows: 0,
            spool: BufWriter::new(spool),
        })
    }

    /// Appends one row.
    pub fn push(&mut self, row: &[f32]) -> Result<()> {
        debug_assert_eq!(row.len(), self.width);
        for v in row {
            self.spool
                .write_all(&v.to_le_bytes())
                .map_err(|e| self.io(e))?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Writes the array and renames it into place.
    pub fn finish(self) -> Result<()> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let mut spool = self.spool.into_inner().map_err(|e| io(e.into_error()))?;
        spool.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut values = BufReader::new(spool);
        let out = output_file(parent(&self.path)).map_err(io)?;
        let shape = if self.width == 1 {
            vec![self.rows]
        } else {
            vec![self.rows, self.width as u64]
        };
        use npyz::WriterBuilder;
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(BufWriter::new(out.as_file()))
            .begin_nd()
            .map_err(io)?;
        let mut buf = [0u8; 4];
        for _ in 0..self.rows * self.width as u64 {
            values.read_exact(&mut buf).map_err(io)?;
            writer.push(&f32::from_le_bytes(buf)).map_err(io)?;
        }
        writer.finish().map_err(io)?;
        out.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// A temporary file readable by others once renamed, like any file a tool writes (not `0600`).
pub fn output_file(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".mire2e-partial-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_readable_array() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let mut w = NpyWriter::create(&path, 3).unwrap();
        w.push(&[1.0, 2.5, -3.0]).unwrap();
        w.push(&[0.1, 0.2, 0.3]).unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(npy.shape(), &[2, 3]);
        assert_eq!(
            npy.into_vec::<f32>().unwrap(),
            [1.0, 2.5, -3.0, 0.1, 0.2, 0.3]
        );
    }
}
