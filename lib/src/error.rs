//! The library's one error type.

use std::path::PathBuf;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library; each variant says where (file, record, row).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Malformed FASTA input.
    #[error("{source_name}: {message}")]
    Fasta {
        /// The input's name (path or `stdin`).
        source_name: String,
        /// What is wrong, naming the record and position.
        message: String,
    },
    /// A letter of a FASTA record that is not a nucleotide.
    #[error(
        "{source_name}: record {record} ({id}), position {position}: {found} is not {expected}"
    )]
    Letter {
        /// The input's name (path or `stdin`).
        source_name: String,
        /// The 1-based record number.
        record: u64,
        /// The record's id.
        id: String,
        /// The 1-based position in the record.
        position: u64,
        /// The letter, described (`'x'`, or a byte value).
        found: String,
        /// What the letter may be.
        expected: String,
    },
    /// Malformed stream (TSV) input.
    #[error("{source_name}: {message}")]
    Stream {
        /// The input's name (path or `stdin`).
        source_name: String,
        /// What is wrong, naming the line and column.
        message: String,
    },
    /// A field of a stream row that is not what its column holds.
    #[error("{source_name}: line {line}, column `{column}`: '{found}' {expected}")]
    Field {
        /// The input's name (path or `stdin`).
        source_name: String,
        /// The 1-based line.
        line: u64,
        /// The column's name.
        column: String,
        /// The field (cut after 40 characters).
        found: String,
        /// What is wrong with it, e.g. "is not a non-negative integer".
        expected: String,
    },
    /// Malformed annotation (BED, GFF3) or truth input of the evaluation.
    #[error("{source_name}: {message}")]
    Annotation {
        /// The input's name (path or `stdin`).
        source_name: String,
        /// What is wrong, naming the line and column.
        message: String,
    },
    /// Weights that do not fit the model: missing tensor, wrong shape, corrupt file.
    #[error("{}: {message}", .path.display())]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong, naming the tensor.
        message: String,
    },
    /// A model failed while running.
    #[error("model: {0}")]
    Model(String),
    /// A parameter value outside the ones it can take.
    #[error("{what} must be {expected}, not '{found}'")]
    Value {
        /// The parameter, e.g. "precision" or "--max-n".
        what: String,
        /// The value given.
        found: String,
        /// The values it can take.
        expected: String,
    },
    /// An invalid parameter value.
    #[error("{0}")]
    Invalid(String),
    /// Writing output failed.
    #[error(transparent)]
    Write(std::io::Error),
}

impl Error {
    /// A [`Error::Value`].
    pub(crate) fn value(what: &str, found: impl std::fmt::Display, expected: &str) -> Self {
        Self::Value {
            what: what.to_owned(),
            found: found.to_string(),
            expected: expected.to_owned(),
        }
    }
}
