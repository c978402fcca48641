//! Outputs that never look complete when they are not: files are written to a temporary file
//! beside the target and renamed on success; for stdout, what is still buffered when a run fails
//! is dropped, so a run that fails early writes nothing at all. A target that exists and is not a
//! regular file (`/dev/null`, a FIFO, `/dev/fd/N` of a process substitution) is written in place:
//! renaming over it would replace the device or pipe with a file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A buffered output: stdout, or a file that appears under its name only after [`Output::commit`].
pub struct Output {
    target: Target,
}

enum Target {
    Stdout(StdoutBuffer),
    File {
        tmp: BufWriter<tempfile::NamedTempFile>,
        path: PathBuf,
    },
    /// A device or pipe, written as a stream (like stdout).
    Special {
        out: BufWriter<File>,
        path: PathBuf,
    },
}

impl Output {
    /// Opens `path` ('-' = stdout).
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self {
                target: Target::Stdout(StdoutBuffer(Vec::with_capacity(BUFFER))),
            });
        }
        if mire2e::outfile::writes_in_place(path) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open output {}", path.display()))?;
            return Ok(Self {
                target: Target::Special {
                    out: BufWriter::with_capacity(BUFFER, file),
                    path: path.to_owned(),
                },
            });
        }
        let tmp = mire2e::outfile::temporary_beside(path)
            .with_context(|| format!("cannot create output {}", path.display()))?;
        Ok(Self {
            target: Target::File {
                tmp: BufWriter::with_capacity(1 << 16, tmp),
                path: path.to_owned(),
            },
        })
    }

    /// Flushes and, for a file, renames the temporary file to its final name.
    pub fn commit(self) -> anyhow::Result<()> {
        match self.target {
            Target::Stdout(mut w) => w.flush().context("cannot write to stdout"),
            Target::File { tmp, path } => {
                let tmp = tmp
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                tmp.persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(())
            }
            Target::Special { mut out, path } => out
                .flush()
                .with_context(|| format!("cannot write {}", path.display())),
        }
    }
}

const BUFFER: usize = 1 << 16;

/// Like `BufWriter<Stdout>`, but dropping it discards what was not flushed yet.
struct StdoutBuffer(Vec<u8>);

impl Write for StdoutBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.extend_from_slice(buf);
        if self.0.len() >= BUFFER {
            let mut out = io::stdout().lock();
            out.write_all(&self.0)?;
            self.0.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(&self.0)?;
        self.0.clear();
        out.flush()
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.target {
            Target::Stdout(w) => w.write(buf),
            Target::File { tmp, .. } => tmp.write(buf),
            Target::Special { out, .. } => out.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.target {
            Target::Stdout(w) => w.write_all(buf),
            Target::File { tmp, .. } => tmp.write_all(buf),
            Target::Special { out, .. } => out.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.target {
            Target::Stdout(w) => w.flush(),
            Target::File { tmp, .. } => tmp.flush(),
            Target::Special { out, .. } => out.flush(),
        }
    }
}

/// Whether output to `path` is a stream ('-' = stdout, or a device or pipe, see
/// [`mire2e::outfile::writes_in_place`]): written as it comes, never renamed into place.
pub fn is_stream(path: &Path) -> bool {
    path.as_os_str() == "-" || mire2e::outfile::writes_in_place(path)
}

/// Opens an input path ('-' = stdin) as a buffered reader.
pub fn open_input(path: &Path) -> anyhow::Result<Box<dyn io::BufRead + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::BufReader::with_capacity(1 << 16, io::stdin())));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(io::BufReader::with_capacity(1 << 16, file)))
}

/// The name an input goes by in messages: its path, or `stdin` for '-'.
pub fn input_name(path: &std::path::Path) -> String {
    if path.as_os_str() == "-" {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}
