//! Compressed uploads (gzip, zstd) unwrapped as a stream, inside the limits: a body that would
//! decompress past `max_decompressed_bytes`, or that expands suspiciously (a decompression bomb),
//! is refused while it is being read, before the bytes pile up anywhere.
//!
//! The stream is an `io::Read`/`io::BufRead`, so parsers read it like any other body. Its own
//! refusals (a limit, a truncated or corrupt stream) travel as `io::Error`s that carry an
//! `IngestError`; `refusal` gets it back. Errors of the underlying reader (a client that hung up)
//! pass through untouched: they are the transport's, not the upload's fault.

use crate::{IngestError, Limits};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// Output past which the compression ratio is checked: tiny, very repetitive bodies are fine.
const RATIO_CHECK_AFTER: u64 = 1024 * 1024;

/// zstd frames may ask for a window up to this many bits (128 MiB of decoder memory), what the
/// zstd tool writes at most without `--ultra`/`--long=N>27`. Larger windows are refused by zstd.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// How a body was compressed, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not compressed (or in a way we don't unwrap, e.g. a zip archive, which has its own reader).
    None,
    /// RFC 1952 gzip, one member or several concatenated.
    Gzip,
    /// Zstandard, one frame or several.
    Zstd,
}

impl Compression {
    /// Sniffs the magic number at the start of `prefix` (4 bytes are enough).
    pub fn sniff(prefix: &[u8]) -> Compression {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "identity",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The payload of an `io::Error` produced by a `Decompressed` stream: why the upload is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub IngestError);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refusal {}

/// Wraps a refusal so it can travel through `io::Read`.
pub fn refusal_error(err: IngestError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Refusal(err))
}

/// The refusal an `io::Error` carries, if it came from a `Decompressed` stream (or anything else
/// that used `refusal_error`); `None` for plain I/O errors.
pub fn refusal(err: &io::Error) -> Option<IngestError> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
        .map(|r| r.0.clone())
}

/// Sniffs `reader`'s first bytes and returns a stream of its decompressed content (the content as
/// is when it is not gzip or zstd). Fails only when reading those first bytes fails.
pub fn decoder<R: Read>(reader: R, limits: Limits) -> io::Result<Decompressed<R>> {
    Decompressed::new(reader, limits)
}

/// A body, decompressed as it is read, refused past the limits. See the module documentation.
pub struct Decompressed<R: Read> {
    inner: BufReader<Limited<R>>,
}

impl<R: Read> Decompressed<R> {
    /// Reads up to four bytes to sniff the compression; nothing is lost, they are read again.
    pub fn new(mut reader: R, limits: Limits) -> io::Result<Self> {
        let mut prefix = [0u8; 4];
        let mut len = 0;
        while len < prefix.len() {
            match reader.read(&mut prefix[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let compression = Compression::sniff(&prefix[..len]);
        let counted = Counted {
            prefix,
            prefix_pos: 0,
            prefix_len: len,
            inner: reader,
            count: 0,
            transport_failed: false,
        };
        let inner = match compression {
            Compression::None => Inner::Plain(counted),
            Compression::Gzip => Inner::Gzip(flate2::read::MultiGzDecoder::new(counted)),
            Compression::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::new(counted)?;
                decoder.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Inner::Zstd(decoder)
            }
        };
        Ok(Decompressed {
            inner: BufReader::new(Limited {
                inner,
                compression,
                out: 0,
                limits,
                failed: None,
            }),
        })
    }

    pub fn compression(&self) -> Compression {
        self.inner.get_ref().compression
    }

    /// Compressed bytes taken from the underlying reader so far (read-ahead included).
    pub fn bytes_in(&self) -> u64 {
        self.inner.get_ref().inner.counted().count
    }

    /// Decompressed bytes produced so far (including what sits in the read buffer).
    pub fn bytes_out(&self) -> u64 {
        self.inner.get_ref().out
    }
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Read> BufRead for Decompressed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount)
    }
}

impl<R: Read> fmt::Debug for Decompressed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressed")
            .field("compression", &self.compression())
            .field("bytes_in", &self.bytes_in())
            .field("bytes_out", &self.bytes_out())
            .finish()
    }
}

enum Inner<R: Read> {
    Plain(Counted<R>),
    Gzip(flate2::read::MultiGzDecoder<Counted<R>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Counted<R>>>),
}

impl<R: Read> Inner<R> {
    fn counted(&self) -> &Counted<R> {
        match self {
            Inner::Plain(c) => c,
            Inner::Gzip(d) => d.get_ref(),
            Inner::Zstd(d) => d.get_ref().get_ref(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Inner::Plain(c) => c.read(buf),
            Inner::Gzip(d) => d.read(buf),
            Inner::Zstd(d) => d.read(buf),
        }
    }
}

/// The source, with the sniffed bytes put back in front and the bytes read counted.
struct Counted<R> {
    prefix: [u8; 4],
    prefix_pos: usize,
    prefix_len: usize,
    inner: R,
    count: u64,
    /// The source itself failed: the error that comes out of the decoder is the transport's.
    transport_failed: bool,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.prefix_pos < self.prefix_len {
            let rest = &self.prefix[self.prefix_pos..self.prefix_len];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.prefix_pos += n;
            self.count += n as u64;
            return Ok(n);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.count += n as u64;
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.transport_failed = true;
                }
                Err(e)
            }
        }
    }
}

/// Counts the output and refuses past the limits; turns decoder errors into refusals.
struct Limited<R: Read> {
    inner: Inner<R>,
    compression: Compression,
    out: u64,
    limits: Limits,
    /// Once refused, always refused: a caller that retries gets the same answer.
    failed: Option<IngestError>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = &self.failed {
            return Err(refusal_error(err.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // Never produce more than one byte past the limit, so a bomb is stopped at the limit.
        let room = self
            .limits
            .max_decompressed_bytes
            .saturating_sub(self.out)
            .saturating_add(1);
        let want = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) => return Err(self.decoder_error(e)),
        };
        self.out += n as u64;
        if let Some(err) = self.check_limits() {
            self.failed = Some(err.clone());
            return Err(refusal_error(err));
        }
        Ok(n)
    }
}

impl<R: Read> Limited<R> {
    fn check_limits(&self) -> Option<IngestError> {
        let what = self.compression.name();
        if self.out > self.limits.max_decompressed_bytes {
            return Some(IngestError::limit(match self.compression {
                Compression::None => format!(
                    "the body is larger than {} bytes (max_decompressed_bytes)",
                    self.limits.max_decompressed_bytes
                ),
                _ => format!(
                    "the {what} body decompresses to more than {} bytes (max_decompressed_bytes)",
                    self.limits.max_decompressed_bytes
                ),
            }));
        }
        if self.compression != Compression::None && self.out > RATIO_CHECK_AFTER {
            let input = self.inner.counted().count.max(1);
            if self.out / input > self.limits.max_compression_ratio {
                return Some(IngestError::limit(format!(
                    "the {what} body expands more than {}:1 ({} bytes out of {} compressed bytes): \
                     a decompression bomb? (max_compression_ratio)",
                    self.limits.max_compression_ratio, self.out, input
                )));
            }
        }
        None
    }

    fn decoder_error(&mut self, err: io::Error) -> io::Error {
        let counted = self.inner.counted();
        if counted.transport_failed
            || err.kind() == io::ErrorKind::Interrupted
            || refusal(&err).is_some()
        {
            return err;
        }
        let offset = counted.count;
        let message = if err.kind() == io::ErrorKind::UnexpectedEof {
            format!(
                "the compressed stream ends early, after {offset} bytes: a truncated upload? ({err})"
            )
        } else {
            format!("corrupt compressed data near byte {offset}: {err}")
        };
        let refused = IngestError::Syntax {
            format: self.compression.name(),
            line: 1,
            column: offset,
            message,
        };
        self.failed = Some(refused.clone());
        refusal_error(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_numbers() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"<?xm"), Compression::None);
        assert_eq!(Compression::sniff(&[0x1f]), Compression::None);
        assert_eq!(Compression::sniff(&[]), Compression::None);
    }

    #[test]
    fn short_plain_bodies_pass_through() {
        for body in [&b""[..], b"x", b"ab", b"abc", b"abcd", b"abcde"] {
            let mut d = decoder(body, Limits::default()).unwrap();
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            assert_eq!(out, body);
            assert_eq!(d.compression(), Compression::None);
        }
    }
}
