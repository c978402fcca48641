//! NPY side outputs (`--npy FILE`) for numpy users: `[N, width]` (or `[N]`) float32, C order.
//!
//! N is known only at the end of a stream, and the NPY header comes first, so rows are spooled to
//! a temporary file and the array is written (by `npyz`) when the stream is done. The file
//! appears under its name only when complete. NPY never goes to stdout; a device or pipe named as
//! the output (`/dev/null`) is written in place when the stream is done.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::outfile;

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
        let spool = tempfile::tempfile_in(outfile::folder(path)).map_err(io)?;
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
        outfile::write_whole(&self.path, |out| {
            write_npy(out, &mut values, self.rows, self.width)
        })
        .map_err(io)
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// The NPY array of `rows` rows of `width` f32 values (1-D for width 1), read from `values`.
fn write_npy(
    out: impl Write,
    values: &mut impl Read,
    rows: u64,
    width: usize,
) -> std::io::Result<()> {
    use npyz::WriterBuilder;
    let shape = if width == 1 {
        vec![rows]
    } else {
        vec![rows, width as u64]
    };
    let mut writer = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&shape)
        .writer(BufWriter::new(out))
        .begin_nd()?;
    let mut buf = [0u8; 4];
    for _ in 0..rows * width as u64 {
        values.read_exact(&mut buf)?;
        writer.push(&f32::from_le_bytes(buf))?;
    }
    writer.finish()
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

    /// A FIFO (as `/dev/null`) is written in place and stays a FIFO: the rename that puts a file in
    /// place would replace it.
    #[cfg(unix)]
    #[test]
    fn writes_a_fifo_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo failed");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let mut w = NpyWriter::create(&fifo, 1).unwrap();
        w.push(&[4.0]).unwrap();
        w.finish().unwrap();
        // checked first: were the FIFO replaced, the reader would wait on it forever
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        let bytes = reader.join().unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(npy.shape(), &[1]);
        assert_eq!(npy.into_vec::<f32>().unwrap(), [4.0]);
    }
}
