//! One entry point for a report body: unwrap gzip/zstd, tell the format (or take the caller's
//! word), and hand back the right parser.

use crate::detect::{Format, detect};
use crate::{IngestError, Limits, ResultSource, allure, ctrf, decompress, junit};
use std::io::{BufReader, Cursor, Read};

/// How much of a body detection looks at.
const SNIFF_BYTES: usize = 64 * 1024;

/// A parser over `body`, whose format is `format` or detected from its first bytes.
pub fn open_report(
    body: Box<dyn Read + Send>,
    format: Option<Format>,
    limits: Limits,
) -> Result<Box<dyn ResultSource + Send>, IngestError> {
    let mut stream = decompress::decoder(body, limits).map_err(io_refusal)?;
    // Detection looks at a bounded prefix, read ahead and then put back in front of the rest.
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    (&mut stream)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(io_refusal)?;
    let format = match format {
        Some(f) => f,
        None => detect(&prefix)?,
    };
    let stream = BufReader::with_capacity(64 * 1024, Cursor::new(prefix).chain(stream));
    Ok(match format {
        Format::Junit => Box::new(junit::JunitReader::new(stream, limits)),
        Format::Ctrf => Box::new(ctrf::CtrfReader::new(stream, limits)?),
        Format::AllureZip => {
            // A zip's directory is at its end: the archive is read whole, within the limit.
            let mut buf = Vec::new();
            stream
                .take(limits.max_decompressed_bytes.saturating_add(1))
                .read_to_end(&mut buf)
                .map_err(io_refusal)?;
            if buf.len() as u64 > limits.max_decompressed_bytes {
                return Err(IngestError::limit(format!(
                    "the archive is larger than {} bytes",
                    limits.max_decompressed_bytes
                )));
            }
            Box::new(allure::AllureReader::from_zip(Cursor::new(buf), limits)?)
        }
    })
}

/// A parser over an Allure results directory sent as a `multipart/form-data` form (gzip or zstd
/// around the whole form is unwrapped as for any body).
pub fn open_form(
    body: Box<dyn Read + Send>,
    boundary: &str,
    limits: Limits,
) -> Result<Box<dyn ResultSource + Send>, IngestError> {
    let stream = decompress::decoder(body, limits).map_err(io_refusal)?;
    let files = crate::multipart::read_files(stream, boundary, limits)?;
    Ok(Box::new(allure::AllureReader::from_files(files, limits)?))
}

/// An I/O error while reading the body: the decompressor's own refusal, or a broken upload.
fn io_refusal(e: std::io::Error) -> IngestError {
    decompress::refusal(&e).unwrap_or_else(|| IngestError::Syntax {
        format: "upload",
        line: 0,
        column: 0,
        message: format!("the upload could not be read: {e}"),
    })
}
