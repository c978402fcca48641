//! The checkpointed output of `mire2e scan -o OUT`: rows go to `OUT.partial`, and after each
//! record the file is flushed to disk and one line is appended to `OUT.partial.state` (the
//! record id and the partial file's length then). `OUT` appears, by renaming, only once the scan
//! is complete, so a killed run never leaves a file that looks complete; `--resume` cuts
//! `OUT.partial` back to the last finished record and goes on from there.
//!
//! The state file is text: a first line `mire2e-scan-state 1<TAB>HEADER_BYTES<TAB>INPUT`, then one
//! line `BYTES<TAB>ID` per finished record, appended and synced. A resumed run must write exactly
//! the metadata and header lines at the start of `OUT.partial` (tool version, window parameters,
//! model checksums, attention, columns) and read the same input (its name and size), so a run
//! with other parameters, another model or another input is refused instead of being spliced onto
//! the old rows; the ids of the finished records are checked against the input as it is read
//! again. A last line cut short by a kill is ignored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
const MAGIC: &str = "mire2e-scan-state 1";

/// `OUT.partial` and its state file, open for appending rows.
pub struct Partial {
    out: PathBuf,
    partial: PathBuf,
    state_path: PathBuf,
    file: BufWriter<File>,
    state: File,
    /// Bytes in `OUT.partial` (written through `file`, flushed or not).
    len: u64,
}

/// What a resumed run continues from.
pub struct Resumed {
    /// The output, cut back to the last finished record.
    pub partial: Partial,
    /// Ids of the records already finished, in input order.
    pub done: Vec<String>,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// What identifies a run's input in the state file: its name and, for a file, its size.
pub fn input_identity(input_name: &str, input_len: Option<u64>) -> String {
    let len = input_len.map_or_else(|| "-".to_owned(), |n| n.to_string());
    format!("{len} {input_name}").replace(['\t', '\n'], " ")
}

impl Partial {
    /// Starts `OUT.partial` afresh (replacing one left by an earlier run) with `header`.
    pub fn create(out: &Path, header: &[u8], input: &str) -> anyhow::Result<Self> {
        let partial = with_suffix(out, ".partial");
        let state_path = with_suffix(out, ".partial.state");
        let cannot = |p: &Path| format!("cannot create {}", p.display());
        let mut file = File::create(&partial).with_context(|| cannot(&partial))?;
        file.write_all(header).with_context(|| cannot(&partial))?;
        file.sync_data().with_context(|| cannot(&partial))?;
        let mut state = File::create(&state_path).with_context(|| cannot(&state_path))?;
        writeln!(state, "{MAGIC}\t{}\t{input}", header.len())
            .and_then(|()| state.sync_data())
            .with_context(|| cannot(&state_path))?;
        Ok(Self {
            out: out.to_owned(),
            partial,
            state_path,
            file: BufWriter::with_capacity(1 << 16, file),
            state,
            len: header.len() as u64,
        })
    }

    /// Continues the run left in `OUT.partial`, or `None` when there is none to continue.
    /// Refuses one whose header or input is not this run's.
    pub fn resume(out: &Path, header: &[u8], input: &str) -> anyhow::Result<Option<Resumed>> {
        let partial = with_suffix(out, ".partial");
        let state_path = with_suffix(out, ".partial.state");
        let text = match fs::read(&state_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", state_path.display()))
            }
        };
        let bad = |what: &str| {
            anyhow::anyhow!(
                "{}: {what}; remove it (and {}) to start afresh",
                state_path.display(),
                partial.display()
            )
        };
        let text = String::from_utf8(text).map_err(|_| bad("not a scan state file"))?;
        // Only lines ended by '\n' count: a kill may cut the last one short.
        let mut lines = text.split_inclusive('\n').filter(|l| l.ends_with('\n'));
        let first = lines.next().ok_or_else(|| bad("not a scan state file"))?;
        let fields: Vec<&str> = first.trim_end_matches('\n').splitn(3, '\t').collect();
        let [magic, header_len, found] = fields.as_slice() else {
            return Err(bad("not a scan state file"));
        };
        if *magic != MAGIC {
            return Err(bad("not a scan state file"));
        }
        if *found != input || header_len.parse::<usize>().ok() != Some(header.len()) {
            bail!(
                "cannot resume {}: it was started with other parameters, another model or \
                 another input (run without --resume to start afresh)",
                partial.display()
            );
        }
        let mut len = header.len() as u64;
        let mut done = Vec::new();
        for (i, line) in lines.enumerate() {
            let (bytes, id) = line
                .trim_end_matches('\n')
                .split_once('\t')
                .ok_or_else(|| bad(&format!("line {} is not 'BYTES<tab>ID'", i + 2)))?;
            let bytes: u64 = bytes
                .parse()
                .map_err(|_| bad(&format!("line {}: '{bytes}' is not a length", i + 2)))?;
            if bytes < len {
                return Err(bad(&format!("line {}: lengths go backwards", i + 2)));
            }
            len = bytes;
            done.push(id.to_owned());
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&partial)
            .with_context(|| format!("cannot resume: cannot open {}", partial.display()))?;
        let on_disk = file.metadata()?.len();
        if on_disk < len {
            bail!(
                "cannot resume: {} has {on_disk} bytes, fewer than the {len} its state file \
                 records as finished (run without --resume to start afresh)",
                partial.display()
            );
        }
        let mut written = vec![0; header.len()];
        file.read_exact(&mut written)
            .with_context(|| format!("cannot read {}", partial.display()))?;
        if written != header {
            bail!(
                "cannot resume {}: its header is not this run's (run without --resume to start \
                 afresh)",
                partial.display()
            );
        }
        // Rows of a record that was cut short go.
        file.set_len(len)
            .and_then(|()| file.seek(SeekFrom::Start(len)).map(drop))
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot truncate {}", partial.display()))?;
        let state = OpenOptions::new()
            .append(true)
            .open(&state_path)
            .with_context(|| format!("cannot open {}", state_path.display()))?;
        // A last line cut short is cut away, so that the next line starts a line.
        let complete = text.rfind('\n').map_or(0, |i| i + 1) as u64;
        state
            .set_len(complete)
            .with_context(|| format!("cannot truncate {}", state_path.display()))?;
        Ok(Some(Resumed {
            partial: Self {
                out: out.to_owned(),
                partial,
                state_path,
                file: BufWriter::with_capacity(1 << 16, file),
                state,
                len,
            },
            done,
        }))
    }

    /// The rows of the finished records (with the header), for reading back, and their name.
    pub fn finished_rows(&self) -> anyhow::Result<(String, io::Take<io::BufReader<File>>)> {
        let name = self.partial.display().to_string();
        let file = File::open(&self.partial).with_context(|| format!("cannot read {name}"))?;
        Ok((name, io::BufReader::new(file).take(self.len)))
    }

    /// Marks record `id` finished: its rows are flushed and synced, then the state line is
    /// appended and synced.
    pub fn checkpoint(&mut self, id: &str) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        let line = format!("{}\t{id}\n", self.len);
        self.state.write_all(line.as_bytes())?;
        self.state.sync_data()
    }

    /// Removes `OUT.partial` and its state: a run that failed on an error (bad input, full disk)
    /// leaves nothing behind; only a killed run leaves something to resume.
    pub fn abandon(self) {
        drop(self.file);
        let _ = fs::remove_file(&self.partial);
        let _ = fs::remove_file(&self.state_path);
    }

    /// Renames `OUT.partial` to `OUT` and removes the state file.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let cannot = || format!("cannot write {}", self.out.display());
        self.file.flush().with_context(cannot)?;
        self.file.get_ref().sync_data().with_context(cannot)?;
        fs::rename(&self.partial, &self.out).with_context(cannot)?;
        fs::remove_file(&self.state_path)
            .with_context(|| format!("cannot remove {}", self.state_path.display()))
    }
}

impl Write for Partial {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
