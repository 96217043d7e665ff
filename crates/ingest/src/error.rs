//! Why an upload was refused, said so a person can fix the file: where (line and column of the
//! XML, or the JSON path) and what.

/// A refusal. Nothing of an upload that produced one is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The bytes are not the format they claim (or no known format).
    #[error("{format}: {message} (line {line}, column {column})")]
    Syntax {
        format: &'static str,
        line: u64,
        column: u64,
        message: String,
    },
    /// A JSON document is well formed but a field is wrong.
    #[error("{format}: field `{field}`: {message}")]
    Field {
        format: &'static str,
        field: String,
        message: String,
    },
    /// A safety limit was reached (size, depth, count, decompression ratio, zip entry name).
    #[error("refused: {0}")]
    Limit(String),
    /// The format could not be recognised.
    #[error("unrecognised report format: {0}")]
    UnknownFormat(String),
}

impl IngestError {
    pub fn limit(what: impl Into<String>) -> Self {
        IngestError::Limit(what.into())
    }
}
