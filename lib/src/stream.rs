//! The TSV stream the stages pass: `#` metadata lines, one header line, one row per window.
//!
//! Every stage reads a stream, appends its columns and writes it on, carrying metadata lines and
//! unknown columns through unchanged. Floats are written in their shortest text that reads back to
//! the same `f32` ([`push_f32`]), so outputs are byte-stable and exact.

use std::io::{BufRead, Write};

use crate::error::{Error, Result};
use crate::window::{Strand, Window};

/// Columns written by `mire2e-window`.
pub const WINDOW_COLUMNS: [&str; 5] = ["seq_id", "start", "end", "strand", "seq"];

/// Metadata lines (with their leading `#`) and column names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Metadata lines before the header, each starting with `#`, in order.
    pub meta: Vec<String>,
    /// Column names.
    pub columns: Vec<String>,
}

impl Header {
    /// The header of a windows stream with one metadata line.
    pub fn windows(meta: String) -> Self {
        Self {
            meta: vec![meta],
            columns: WINDOW_COLUMNS.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// The window step that `mire2e-window` (or `scan`) recorded in its metadata line, if any.
    pub fn window_step(&self) -> Option<usize> {
        self.meta
            .iter()
            .filter(|line| line.starts_with("#mire2e-window "))
            .flat_map(|line| line.split_whitespace())
            .find_map(|field| field.strip_prefix("step=")?.parse().ok())
    }

    /// Index of a column, if present.
    pub fn position(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// A copy with `columns` appended and `meta` added; refuses a column that is already there.
    pub fn extend(&self, meta: String, columns: &[&str]) -> Result<Self> {
        let mut out = self.clone();
        for &column in columns {
            if out.position(column).is_some() {
                return Err(Error::Invalid(format!(
                    "the input already has a `{column}` column (was this stage run twice?)"
                )));
            }
            out.columns.push(column.to_owned());
        }
        out.meta.push(meta);
        Ok(out)
    }
}

/// Reads a stream row by row.
pub struct Reader<R> {
    inner: csv::Reader<R>,
    name: String,
    header: Header,
    first_row_line: u64,
}

/// One row: its fields and the line it came from (1-based, counting metadata and header lines).
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The fields, in header order.
    pub fields: csv::StringRecord,
    /// 1-based line number in the input.
    pub line: u64,
}

impl<R: BufRead> Reader<R> {
    /// Reads the metadata and header lines; `name` (path or `stdin`) appears in errors.
    ///
    /// ```
    /// use mire2e::stream::{Reader, Row};
    /// let data = "#mire2e-window 0.1.0\nseq_id\tstart\tend\tstrand\tseq\nr\t0\t4\t+\tACGU\n";
    /// let mut reader = Reader::new("example", data.as_bytes())?;
    /// assert_eq!(reader.header().meta, ["#mire2e-window 0.1.0"]);
    /// let mut row = Row::default();
    /// assert!(reader.read_row(&mut row)?);
    /// assert_eq!((&row.fields[4], row.line), ("ACGU", 3));
    /// # Ok::<(), mire2e::Error>(())
    /// ```
    pub fn new(name: impl Into<String>, mut inner: R) -> Result<Self> {
        let name = name.into();
        let error = |message: String| Error::Stream {
            source_name: name.clone(),
            message,
        };
        let mut header = Header::default();
        let mut line = String::new();
        let mut lines = 0u64;
        loop {
            line.clear();
            let n = inner.read_line(&mut line).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    error(format!("line {}: not valid UTF-8 text", lines + 1))
                }
                _ => error(format!("cannot read: {e}")),
            })?;
            lines += 1;
            if n == 0 {
                return Err(error("empty input: no header line".into()));
            }
            let text = line.trim_end_matches(['\n', '\r']);
            if text.starts_with('#') {
                header.meta.push(text.to_owned());
                continue;
            }
            header.columns = text.split('\t').map(str::to_owned).collect();
            break;
        }
        if let Some(empty) = header.columns.iter().position(String::is_empty) {
            return Err(error(format!(
                "line {lines}: header column {} has no name",
                empty + 1
            )));
        }
        let mut seen = std::collections::HashMap::new();
        for (i, column) in header.columns.iter().enumerate() {
            if let Some(first) = seen.insert(column.as_str(), i) {
                return Err(error(format!(
                    "line {lines}: header column {} `{column}` repeats column {}",
                    i + 1,
                    first + 1
                )));
            }
        }
        let inner = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .quoting(false)
            .has_headers(false)
            .flexible(true)
            .from_reader(inner);
        Ok(Self {
            inner,
            name,
            header,
            first_row_line: lines + 1,
        })
    }

    /// Metadata and columns.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The input's name (path or `stdin`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Index of a column the caller needs, or an error naming it.
    pub fn require(&self, column: &str) -> Result<usize> {
        self.header.position(column).ok_or_else(|| {
            let mut has = self.header.columns.join(", ");
            if let Some((cut, _)) = has.char_indices().nth(200) {
                has.truncate(cut);
                has.push_str("...");
            }
            self.error(format!("missing column `{column}` (header has: {has})"))
        })
    }

    /// Reads the next row into `row`; `Ok(false)` at the end.
    pub fn read_row(&mut self, row: &mut Row) -> Result<bool> {
        let more = self.inner.read_record(&mut row.fields).map_err(|e| {
            let line = e.position().map(|p| p.line() - 1 + self.first_row_line);
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            self.error(format!("{at}{}", csv_message(&e)))
        })?;
        if !more {
            return Ok(false);
        }
        let line = row
            .fields
            .position()
            .map_or(0, |p| p.line() - 1 + self.first_row_line);
        row.line = line;
        if row.fields.len() != self.header.columns.len() {
            return Err(self.error(format!(
                "line {line}: {} fields, but the header has {} columns",
                row.fields.len(),
                self.header.columns.len()
            )));
        }
        Ok(true)
    }

    /// An error about this stream.
    pub fn error(&self, message: String) -> Error {
        Error::Stream {
            source_name: self.name.clone(),
            message,
        }
    }

    /// An error about a field of `row`.
    pub fn field_error(&self, row: &Row, column: usize, what: &str) -> Error {
        let name = self.header.columns.get(column).map_or("?", String::as_str);
        let value = row.fields.get(column).unwrap_or("");
        let value = match value.char_indices().nth(40) {
            Some((cut, _)) => format!("{}...", &value[..cut]),
            None => value.to_owned(),
        };
        Error::Field {
            source_name: self.name.clone(),
            line: row.line,
            column: name.to_owned(),
            found: value,
            expected: what.to_owned(),
        }
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".into(),
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => e.to_string(),
    }
}

/// Column indices of a window's location (`seq_id start end strand`), with typed parsing: the one
/// parser of locations, for window streams and score streams alike.
#[derive(Debug, Clone, Copy)]
pub struct LocationColumns {
    seq_id: usize,
    start: usize,
    end: usize,
    strand: usize,
}

/// Where a window lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// Record id.
    pub seq_id: &'a str,
    /// 0-based start on the forward strand.
    pub start: u64,
    /// 0-based exclusive end, after `start`.
    pub end: u64,
    /// Strand.
    pub strand: Strand,
}

impl LocationColumns {
    /// Finds the location columns in a stream, or names the one that is missing.
    pub fn find<R: BufRead>(reader: &Reader<R>) -> Result<Self> {
        Ok(Self {
            seq_id: reader.require("seq_id")?,
            start: reader.require("start")?,
            end: reader.require("end")?,
            strand: reader.require("strand")?,
        })
    }

    /// The start of `row`'s window, when it is a number ([`Self::parse`] reports it when not).
    pub fn start_of(&self, row: &Row) -> Option<u64> {
        row.fields.get(self.start)?.parse().ok()
    }

    /// Parses the location of `row`; errors name the line, the column and the value.
    pub fn parse<'r, R: BufRead>(&self, reader: &Reader<R>, row: &'r Row) -> Result<Location<'r>> {
        let f = &row.fields;
        let int = |i: usize| {
            f[i].parse::<u64>()
                .map_err(|_| reader.field_error(row, i, "is not a non-negative integer"))
        };
        let (start, end) = (int(self.start)?, int(self.end)?);
        if end <= start {
            return Err(reader.field_error(row, self.end, &format!("is not after start {start}")));
        }
        let strand = f[self.strand]
            .parse()
            .map_err(|_| reader.field_error(row, self.strand, "is not '+' or '-'"))?;
        Ok(Location {
            seq_id: &f[self.seq_id],
            start,
            end,
            strand,
        })
    }
}

/// Column indices of the window fields, with typed parsing.
#[derive(Debug, Clone, Copy)]
pub struct WindowColumns {
    location: LocationColumns,
    seq: usize,
}

/// The window fields of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowFields<'a> {
    /// Where the window is.
    pub location: Location<'a>,
    /// The encoded window (upper case A C G U N).
    pub seq: &'a [u8],
}

impl WindowColumns {
    /// Finds the window columns in a stream, or names the one that is missing.
    pub fn find<R: BufRead>(reader: &Reader<R>) -> Result<Self> {
        Ok(Self {
            location: LocationColumns::find(reader)?,
            seq: reader.require("seq")?,
        })
    }

    /// The start of `row`'s window, when it is a number ([`Self::parse`] reports it when not).
    pub fn start_of(&self, row: &Row) -> Option<u64> {
        self.location.start_of(row)
    }

    /// Parses the window fields of `row`; `length` is the window length the model expects.
    pub fn parse<'r, R: BufRead>(
        &self,
        reader: &Reader<R>,
        row: &'r Row,
        length: usize,
    ) -> Result<WindowFields<'r>> {
        let location = self.location.parse(reader, row)?;
        let seq = row.fields[self.seq].as_bytes();
        if seq.len() != length {
            return Err(reader.field_error(
                row,
                self.seq,
                &format!("has {} letters; the model takes {length}", seq.len()),
            ));
        }
        if let Some(bad) = seq
            .iter()
            .position(|b| !matches!(b, b'A' | b'C' | b'G' | b'U' | b'N'))
        {
            return Err(reader.field_error(
                row,
                self.seq,
                &format!(
                    "has '{}' at position {}; expected A C G U N (as mire2e-window writes)",
                    seq[bad] as char,
                    bad + 1
                ),
            ));
        }
        Ok(WindowFields { location, seq })
    }
}

/// Writes a stream: the header once, then rows.
pub struct Writer<W> {
    inner: W,
    line: String,
}

impl<W: Write> Writer<W> {
    /// Writes the metadata and header lines.
    pub fn new(mut inner: W, header: &Header) -> Result<Self> {
        let mut text = String::new();
        for meta in &header.meta {
            text.push_str(meta);
            text.push('\n');
        }
        text.push_str(&header.columns.join("\t"));
        text.push('\n');
        inner.write_all(text.as_bytes()).map_err(Error::Write)?;
        Ok(Self {
            inner,
            line: String::with_capacity(1024),
        })
    }

    /// Writes one row: `fields` (those read) followed by `appended` (already formatted).
    pub fn write_row<'a>(
        &mut self,
        fields: impl IntoIterator<Item = &'a str>,
        appended: &[&'a str],
    ) -> Result<()> {
        self.line.clear();
        for (i, field) in fields
            .into_iter()
            .chain(appended.iter().copied())
            .enumerate()
        {
            if i > 0 {
                self.line.push('\t');
            }
            self.line.push_str(field);
        }
        self.line.push('\n');
        self.inner
            .write_all(self.line.as_bytes())
            .map_err(Error::Write)
    }

    /// A writer continuing a stream whose metadata and header lines are already written (a resumed
    /// run appending to its partial output).
    pub fn append(inner: W) -> Self {
        Self {
            inner,
            line: String::with_capacity(1024),
        }
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// A window's location columns as text (`start`, `end`, `strand`), in buffers reused row after
/// row: how every stream that starts from windows (`mire2e-window`, `mire2e scan`) writes them.
#[derive(Debug, Default)]
pub struct LocationText {
    start: String,
    end: String,
}

impl LocationText {
    /// `[start, end, strand]` of `window`.
    pub fn of(&mut self, window: &Window) -> [&str; 3] {
        use std::fmt::Write as _;
        self.start.clear();
        let _ = write!(self.start, "{}", window.start);
        self.end.clear();
        let _ = write!(self.end, "{}", window.end);
        [&self.start, &self.end, window.strand.as_str()]
    }
}

/// Appends the shortest text that reads back as exactly `value`.
///
/// ```
/// let mut s = String::new();
/// mire2e::stream::push_f32(&mut s, 0.1);
/// assert_eq!(s, "0.1");
/// assert_eq!(s.parse::<f32>().unwrap(), 0.1);
/// ```
pub fn push_f32(out: &mut String, value: f32) {
    use std::fmt::Write as _;
    // Rust's float Display is the shortest round-trip representation.
    let _ = write!(out, "{value}");
}

/// Formats values comma-separated in their shortest exact text (the `pairing` column).
pub fn push_f32_list(out: &mut String, values: &[f32]) {
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_f32(out, v);
    }
}

/// Structure values above `+t` print as `(`, below `-t` as `)` (the training targets are +1, -1, 0).
pub const PAIRING_THRESHOLD: f32 = 0.5;

/// Appends the dot-bracket-like string of structure values: `(` above `+t`, `)` below `-t`, else `.`.
///
/// ```
/// let mut s = String::new();
/// mire2e::stream::push_dot_bracket(&mut s, &[0.9, 0.1, -0.2, -0.7], 0.5);
/// assert_eq!(s, "(..)");
/// ```
pub fn push_dot_bracket(out: &mut String, values: &[f32], t: f32) {
    out.extend(values.iter().map(|&v| {
        if v > t {
            '('
        } else if v < -t {
            ')'
        } else {
            '.'
        }
    }));
}

/// Parses a comma-separated list of exactly `n` finite floats into `out`.
pub fn parse_f32_list(text: &str, n: usize, out: &mut Vec<f32>) -> std::result::Result<(), String> {
    out.clear();
    for part in text.split(',') {
        let v: f32 = part
            .parse()
            .map_err(|_| format!("has '{part}', which is not a number"))?;
        if !v.is_finite() {
            return Err(format!("has '{part}', which is not finite"));
        }
        out.push(v);
    }
    if out.len() != n {
        return Err(format!("has {} values; expected {n}", out.len()));
    }
    Ok(())
}

/// Parses one finite float.
pub fn parse_f32(text: &str) -> std::result::Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err("is not finite".into()),
        Err(_) => Err("is not a number".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS: &str = "#m\nseq_id\tstart\tend\tstrand\tseq\textra\nr\t0\t4\t+\tACGU\tx\n";

    #[test]
    fn window_step_comes_from_the_window_line_only() {
        let header = |meta: &[&str]| Header {
            meta: meta.iter().map(|m| m.to_string()).collect(),
            columns: Vec::new(),
        };
        let windows = "#mire2e-window 0.1.0 length=100 step=15 strands=both tail=true";
        assert_eq!(
            header(&["#mire2e-fold 0.1.0 step=3", windows]).window_step(),
            Some(15)
        );
        assert_eq!(header(&["#mire2e-fold 0.1.0 step=3"]).window_step(), None);
        assert_eq!(header(&[]).window_step(), None);
    }

    #[test]
    fn passes_unknown_columns_and_meta_through() {
        let mut reader = Reader::new("t", WINDOWS.as_bytes()).unwrap();
        let header = reader.header().extend("#stage".into(), &["mfe"]).unwrap();
        let mut out = Writer::new(Vec::new(), &header).unwrap();
        let mut row = Row::default();
        while reader.read_row(&mut row).unwrap() {
            out.write_row(row.fields.iter(), &["0.5"]).unwrap();
        }
        let text = String::from_utf8(out.into_inner()).unwrap();
        assert_eq!(
            text,
            "#m\n#stage\nseq_id\tstart\tend\tstrand\tseq\textra\tmfe\nr\t0\t4\t+\tACGU\tx\t0.5\n"
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let bad = "seq_id\tstart\tend\tstrand\tseq\nr\t0\t4\t+\tACGU\nr\tx\t4\t+\tACGU\n";
        let mut reader = Reader::new("t", bad.as_bytes()).unwrap();
        let cols = WindowColumns::find(&reader).unwrap();
        let mut row = Row::default();
        assert!(reader.read_row(&mut row).unwrap());
        assert!(cols.parse(&reader, &row, 4).is_ok());
        assert!(reader.read_row(&mut row).unwrap());
        let msg = cols.parse(&reader, &row, 4).unwrap_err().to_string();
        assert_eq!(
            msg,
            "t: line 3, column `start`: 'x' is not a non-negative integer"
        );
        assert!(matches!(
            cols.parse(&reader, &row, 4),
            Err(Error::Field { line: 3, ref column, ref found, .. }) if column == "start" && found == "x"
        ));

        let short = "seq_id\tstart\nr\n";
        let mut reader = Reader::new("t", short.as_bytes()).unwrap();
        assert!(reader
            .require("seq")
            .unwrap_err()
            .to_string()
            .contains("missing column `seq`"));
        let msg = reader.read_row(&mut row).unwrap_err().to_string();
        assert_eq!(msg, "t: line 2: 1 fields, but the header has 2 columns");
        assert!(Reader::new("t", &b""[..]).is_err());
        let twice = "seq_id\tseq\tstart\tseq\n";
        let msg = Reader::new("t", twice.as_bytes())
            .err()
            .unwrap()
            .to_string();
        assert_eq!(msg, "t: line 1: header column 4 `seq` repeats column 2");
    }

    #[test]
    fn floats_round_trip_exactly() {
        let values = [
            0.1f32,
            -1.0,
            1e-30,
            0.99999994,
            f32::MIN_POSITIVE,
            123456.79,
        ];
        let mut text = String::new();
        push_f32_list(&mut text, &values);
        let mut back = Vec::new();
        parse_f32_list(&text, values.len(), &mut back).unwrap();
        assert_eq!(back, values);
        assert!(parse_f32_list("1,nan", 2, &mut back).is_err());
        assert!(parse_f32_list("1,2", 3, &mut back).is_err());
    }
}
