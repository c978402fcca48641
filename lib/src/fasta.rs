//! FASTA input: plain, gzip or BGZF (detected from the bytes, not the name), record by record.
//!
//! Letters are checked and normalised as they are read (see [`normalize`]): every record comes out
//! as `A C G U N` (upper case) or `a c g u n` (soft-masked), so later steps never see anything else.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader};

use noodles_fasta::record::Definition;

use crate::error::{Error, Result};

/// How an input is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed text.
    None,
    /// gzip (one or many members).
    Gzip,
    /// Blocked gzip (bgzip): gzip members with a `BC` extra field.
    Bgzf,
}

impl Compression {
    /// Detects the compression from the magic bytes at the start of `src`.
    ///
    /// ```
    /// use mire2e::fasta::Compression;
    /// assert_eq!(Compression::detect(b">r\nACGU\n"), Compression::None);
    /// assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    /// ```
    pub fn detect(src: &[u8]) -> Self {
        const FEXTRA: u8 = 0x04;
        match src {
            [0x1f, 0x8b, _, flags, _, _, _, _, _, _, _, _, b'B', b'C', ..]
                if flags & FEXTRA != 0 =>
            {
                Self::Bgzf
            }
            [0x1f, 0x8b, ..] => Self::Gzip,
            _ => Self::None,
        }
    }
}

/// Wraps `inner` in the decompressor its first bytes call for.
pub fn decompress<'a, R: BufRead + Send + 'a>(
    mut inner: R,
) -> io::Result<Box<dyn BufRead + Send + 'a>> {
    let compression = Compression::detect(inner.fill_buf()?);
    Ok(match compression {
        Compression::None => Box::new(inner),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(inner),
        )),
        Compression::Bgzf => Box::new(noodles_bgzf::io::Reader::new(inner)),
    })
}

/// One FASTA record with a normalised sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The record id (the definition's first word).
    pub id: String,
    /// The sequence, normalised by [`normalize`].
    pub seq: Vec<u8>,
}

/// Reads FASTA records one at a time, whole or in parts, so memory never holds the genome (only
/// the ids seen so far: a repeated id is an error, since windows, scores and loci are keyed by it).
pub struct Reader<R> {
    inner: noodles_fasta::io::Reader<R>,
    name: String,
    records: u64,
    definition: Definition,
    ids: HashMap<String, u64>,
    /// The current record's id, and how many of its bases were read.
    id: String,
    bases: u64,
    /// Whether bases of the current record may be left to read.
    in_sequence: bool,
}

impl<R: BufRead> Reader<R> {
    /// A reader over already decompressed text; `name` (a path or `stdin`) appears in errors.
    pub fn new(name: impl Into<String>, inner: R) -> Self {
        Self {
            inner: noodles_fasta::io::Reader::new(inner),
            name: name.into(),
            records: 0,
            definition: Definition::default(),
            ids: HashMap::new(),
            id: String::new(),
            bases: 0,
            in_sequence: false,
        }
    }

    /// Reads the next record into `record`; `Ok(false)` at the end of the input.
    ///
    /// ```
    /// use mire2e::fasta::{Reader, Record};
    /// let mut reader = Reader::new("example", &b">r1 some text\nacgT\nNRu\n"[..]);
    /// let mut record = Record::default();
    /// assert!(reader.read_record(&mut record)?);
    /// assert_eq!((record.id.as_str(), &record.seq[..]), ("r1", &b"acgUNNu"[..]));
    /// assert!(!reader.read_record(&mut record)?);
    /// # Ok::<(), mire2e::Error>(())
    /// ```
    pub fn read_record(&mut self, record: &mut Record) -> Result<bool> {
        if !self.next_record(&mut record.id)? {
            return Ok(false);
        }
        record.seq.clear();
        while self.read_bases(&mut record.seq, usize::MAX)? > 0 {}
        Ok(true)
    }

    /// Reads the next record's header, leaving its sequence to [`Self::read_bases`]: the way to
    /// read a record too long to hold. `Ok(false)` at the end of the input. Bases the previous
    /// record left unread are skipped.
    ///
    /// ```
    /// use mire2e::fasta::Reader;
    /// let mut reader = Reader::new("example", &b">r1\nACGT\nAC\n>r2\nG\n"[..]);
    /// let (mut id, mut part) = (String::new(), Vec::new());
    /// assert!(reader.next_record(&mut id)?);
    /// assert_eq!(reader.read_bases(&mut part, 5)?, 5);
    /// assert_eq!(reader.read_bases(&mut part, 5)?, 1);
    /// assert_eq!(reader.read_bases(&mut part, 5)?, 0);
    /// assert_eq!((id.as_str(), &part[..]), ("r1", &b"ACGUAC"[..]));
    /// assert!(reader.next_record(&mut id)? && id == "r2");
    /// # Ok::<(), mire2e::Error>(())
    /// ```
    pub fn next_record(&mut self, id: &mut String) -> Result<bool> {
        let mut skipped = Vec::new();
        while self.in_sequence && self.read_bases(&mut skipped, 1 << 16)? > 0 {
            skipped.clear();
        }
        let first = self
            .inner
            .get_mut()
            .fill_buf()
            .map(|buf| buf.first().copied());
        let at = match self.records {
            0 => String::new(),
            n => format!("after record {n}: "),
        };
        match first.map_err(|e| self.io_error(&at, e))? {
            None if self.records == 0 => return Err(self.error("contains no FASTA record".into())),
            None => return Ok(false),
            Some(b'>') => {}
            Some(b'@') if self.records == 0 => {
                return Err(self.error(
                    "looks like FASTQ (starts with '@'); expected FASTA (a '>' header line)".into(),
                ))
            }
            Some(b) if self.records == 0 => {
                return Err(self.error(format!(
                    "not FASTA: expected a '>' header line at the start, found {}",
                    describe_byte(b)
                )))
            }
            Some(b) => {
                return Err(self.error(format!(
                    "after record {}: expected a '>' header line, found {}",
                    self.records,
                    describe_byte(b)
                )))
            }
        }
        self.records += 1;
        self.inner
            .read_definition(&mut self.definition)
            .map_err(|e| {
                self.error(format!("record {}: invalid header line: {e}", self.records))
            })?;
        id.clear();
        id.push_str(std::str::from_utf8(self.definition.name()).map_err(|_| {
            self.error(format!(
                "record {}: the id is not valid UTF-8",
                self.records
            ))
        })?);
        if id.is_empty() {
            return Err(self.error(format!("record {}: the header has no id", self.records)));
        }
        if let Some(first) = self.ids.insert(id.clone(), self.records) {
            return Err(self.error(format!(
                "record {} ({id}): duplicate id (also record {first}); ids must be unique",
                self.records
            )));
        }
        id.clone_into(&mut self.id);
        self.bases = 0;
        self.in_sequence = true;
        Ok(true)
    }

    /// Appends up to `max` more bases of the current record to `buf`, normalised (see
    /// [`normalize`]); 0 at the record's end (or when `max` is 0). A record without bases is an
    /// error.
    pub fn read_bases(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize> {
        if !self.in_sequence || max == 0 {
            return Ok(0);
        }
        let from = buf.len();
        let mut sequence = self.inner.sequence_reader();
        while buf.len() - from < max {
            let line = match sequence.fill_buf() {
                Ok(line) => line,
                Err(e) => {
                    let at = format!("record {} ({}): ", self.records, self.id);
                    return Err(self.io_error(&at, e));
                }
            };
            if line.is_empty() {
                break;
            }
            let n = line.len().min(max - (buf.len() - from));
            buf.extend_from_slice(&line[..n]);
            sequence.consume(n);
        }
        let read = buf.len() - from;
        normalize(&mut buf[from..]).map_err(|(position, byte)| Error::Letter {
            source_name: self.name.clone(),
            record: self.records,
            id: self.id.clone(),
            position: self.bases + position,
            found: describe_byte(byte),
            expected: "a nucleotide (A C G T U, N or an IUPAC code)".into(),
        })?;
        self.bases += read as u64;
        if read == 0 {
            self.in_sequence = false;
            if self.bases == 0 {
                return Err(self.error(format!(
                    "record {} ({}): empty sequence",
                    self.records, self.id
                )));
            }
        }
        Ok(read)
    }

    fn error(&self, message: String) -> Error {
        Error::Fasta {
            source_name: self.name.clone(),
            message,
        }
    }

    fn io_error(&self, at: &str, e: io::Error) -> Error {
        let message = match e.kind() {
            io::ErrorKind::UnexpectedEof => format!("truncated input ({e})"),
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                format!("corrupt input ({e})")
            }
            _ => e.to_string(),
        };
        self.error(format!("{at}{message}"))
    }
}

/// Normalises a sequence in place: T→U, IUPAC ambiguity codes→N, case kept (lower case = soft-masked).
///
/// Returns the 1-based position and byte of the first letter that is not a nucleotide.
///
/// ```
/// let mut seq = b"ACGTRYacgtn".to_vec();
/// mire2e::fasta::normalize(&mut seq).unwrap();
/// assert_eq!(seq, b"ACGUNNacgun");
/// assert_eq!(mire2e::fasta::normalize(&mut b"AC-G".to_vec()), Err((3, b'-')));
/// ```
pub fn normalize(seq: &mut [u8]) -> std::result::Result<(), (u64, u8)> {
    for (i, b) in seq.iter_mut().enumerate() {
        let n = NORMAL[usize::from(*b)];
        if n == 0 {
            return Err((i as u64 + 1, *b));
        }
        *b = n;
    }
    Ok(())
}

/// Byte → normalised letter (0 = not a nucleotide).
const NORMAL: [u8; 256] = {
    let mut table = [0u8; 256];
    let upper: &[(u8, u8)] = &[
        (b'A', b'A'),
        (b'C', b'C'),
        (b'G', b'G'),
        (b'T', b'U'),
        (b'U', b'U'),
        (b'N', b'N'),
    ];
    let mut i = 0;
    while i < upper.len() {
        let (from, to) = upper[i];
        table[from as usize] = to;
        table[from.to_ascii_lowercase() as usize] = to.to_ascii_lowercase();
        i += 1;
    }
    let iupac = b"RYSWKMBDHV";
    let mut i = 0;
    while i < iupac.len() {
        table[iupac[i] as usize] = b'N';
        table[iupac[i].to_ascii_lowercase() as usize] = b'n';
        i += 1;
    }
    table
};

fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// Opens a FASTA source for reading: decompression detected from its bytes.
pub fn reader<'a, R: BufRead + Send + 'a>(
    name: impl Into<String>,
    inner: R,
) -> Result<Reader<Box<dyn BufRead + Send + 'a>>> {
    let name = name.into();
    let inner = decompress(inner).map_err(|e| Error::Fasta {
        source_name: name.clone(),
        message: e.to_string(),
    })?;
    Ok(Reader::new(name, inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(data: &[u8]) -> Result<Vec<Record>> {
        let mut reader = reader("test", data)?;
        let mut out = Vec::new();
        let mut record = Record::default();
        while reader.read_record(&mut record)? {
            out.push(record.clone());
        }
        Ok(out)
    }

    #[test]
    fn crlf_equals_lf() {
        let lf = read(b">a x\nACGT\nAC\n>b\nGG\n").unwrap();
        let crlf = read(b">a x\r\nACGT\r\nAC\r\n>b\r\nGG\r\n").unwrap();
        assert_eq!(lf, crlf);
        assert_eq!(lf[0].seq, b"ACGUAC");
    }

    #[test]
    fn gzip_is_detected() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b">a\nACGT\n").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(Compression::detect(&gz), Compression::Gzip);
        assert_eq!(read(&gz).unwrap()[0].seq, b"ACGU");
        let truncated = read(&gz[..gz.len() - 6]).unwrap_err().to_string();
        assert!(truncated.contains("test:"), "{truncated}");
    }

    #[test]
    fn bad_inputs_name_the_problem() {
        let msg = |d: &[u8]| read(d).unwrap_err().to_string();
        assert!(msg(b"").contains("no FASTA record"));
        assert!(msg(b"@r\nACGT\n+\nIIII\n").contains("FASTQ"));
        assert!(msg(b"ACGT\n>r\nACGT\n").contains("expected a '>'"));
        assert!(msg(b">r\nAC\n>s\nACXG\n").contains("record 2 (s), position 3: 'X'"));
        assert!(msg(b">r\n\n>s\nAC\n").contains("record 1 (r): empty sequence"));
        assert!(msg(b"\x00\x01\x02").contains("byte 0x00"));
        assert!(msg(b">r\nAC\n>s\nAC\n>r x\nAC\n")
            .contains("record 3 (r): duplicate id (also record 1)"));
        assert!(msg(b"> r\nAC\n").contains("record 1: invalid header line"));
    }

    #[test]
    fn a_bad_letter_is_a_typed_error() {
        // the second line of record 2: positions count from the record's start
        match read(b">r\nAC\n>s\nACGU\nAC-G\n").unwrap_err() {
            Error::Letter {
                record,
                id,
                position,
                found,
                ..
            } => assert_eq!(
                (record, id.as_str(), position, found.as_str()),
                (2, "s", 7, "'-'")
            ),
            other => panic!("not Error::Letter: {other}"),
        }
    }
}
