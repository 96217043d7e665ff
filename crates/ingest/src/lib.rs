#![forbid(unsafe_code)]
//! Test report formats in, one stream of results out. Pure: readers and bytes in, records out —
//! no files, no network, no database. Every parser enforces `Limits` and refuses bad input with an
//! `IngestError` that names where (line and column, or the JSON field).
//!
//! Formats: JUnit XML in its dialects (`junit`), CTRF JSON (`ctrf`), Allure result directories
//! (`allure`, as a zip or a `multipart/form-data` form of its files), detected by `detect`. Compressed bodies (gzip, zstd) are unwrapped by `decompress`
//! within the size limits.

pub mod allure;
pub mod ctrf;
pub mod decompress;
pub mod detect;
pub mod error;
pub mod generate;
pub mod generate_history;
pub mod identity;
pub mod junit;
pub mod limits;
pub mod model;
pub mod multipart;
mod open;
pub mod signature;

pub use error::IngestError;
pub use identity::TestIdentity;
pub use limits::Limits;
pub use model::{Attempt, Outcome, ReportMeta, TestResult};
pub use open::{open_form, open_report};

/// A parser positioned in one report: pull results one at a time, so memory does not grow with
/// the file. `meta()` holds what the report said about the run so far (JUnit properties can come
/// late; read it again after the last result).
pub trait ResultSource {
    /// The next result, `None` at the end, or why the report is refused.
    fn next_result(&mut self) -> Result<Option<TestResult>, IngestError>;
    fn meta(&self) -> &ReportMeta;
}
