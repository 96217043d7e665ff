#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Compressed bodies: round trips, bombs refused early, truncated streams named as such.

use std::io::{self, Read, Write};
use testvault_ingest::decompress::{Compression, decoder, refusal};
use testvault_ingest::{IngestError, Limits};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).expect("zstd")
}

/// Reads everything, returning the bytes or the refusal the stream carried.
fn read_all(body: &[u8], limits: Limits) -> Result<Vec<u8>, IngestError> {
    let mut d = decoder(body, limits).expect("sniffing a slice cannot fail");
    let mut out = Vec::new();
    match d.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) => Err(refusal(&e).expect("every error of a slice-backed stream is a refusal")),
    }
}

/// Streams `len` zeros through `enc` in 1 MiB pieces: a bomb is built without holding it.
fn write_zeros(enc: &mut impl Write, len: u64) {
    let chunk = vec![0u8; 1024 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        enc.write_all(&chunk[..n]).expect("compress");
        left -= n as u64;
    }
}

const GIB: u64 = 1024 * 1024 * 1024;

fn report() -> Vec<u8> {
    report_of(2000)
}

fn report_of(cases: u32) -> Vec<u8> {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuite name=\"s\">\n");
    for i in 0..cases {
        xml.push_str(&format!(
            "  <testcase classname=\"pkg.Cls\" name=\"test_{i}\" time=\"0.{i}\"/>\n"
        ));
    }
    xml.push_str("</testsuite>\n");
    xml.into_bytes()
}

#[test]
fn gzip_round_trip() {
    let body = report();
    let packed = gzip(&body);
    let mut d = decoder(&packed[..], Limits::default()).unwrap();
    assert_eq!(d.compression(), Compression::Gzip);
    let mut out = Vec::new();
    d.read_to_end(&mut out).unwrap();
    assert_eq!(out, body);
    assert_eq!(d.bytes_out(), body.len() as u64);
    assert_eq!(d.bytes_in(), packed.len() as u64);
}

#[test]
fn zstd_round_trip() {
    let body = report();
    let packed = zstd(&body);
    let mut d = decoder(&packed[..], Limits::default()).unwrap();
    assert_eq!(d.compression(), Compression::Zstd);
    let mut out = Vec::new();
    d.read_to_end(&mut out).unwrap();
    assert_eq!(out, body);
}

#[test]
fn plain_bodies_pass_through_and_are_bounded() {
    let body = report();
    assert_eq!(read_all(&body, Limits::default()).unwrap(), body);
    let small = Limits {
        max_decompressed_bytes: 100,
        ..Limits::default()
    };
    let err = read_all(&body, small).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_decompressed_bytes")),
        "{err}"
    );
}

#[test]
fn concatenated_gzip_members_are_one_body() {
    let mut packed = gzip(b"<testsuites>");
    packed.extend(gzip(b"<testsuite name=\"a\"/>"));
    packed.extend(gzip(b"</testsuites>"));
    assert_eq!(
        read_all(&packed, Limits::default()).unwrap(),
        b"<testsuites><testsuite name=\"a\"/></testsuites>"
    );
}

#[test]
fn concatenated_zstd_frames_are_one_body() {
    let mut packed = zstd(b"hello ");
    packed.extend(zstd(b"world"));
    assert_eq!(
        read_all(&packed, Limits::default()).unwrap(),
        b"hello world"
    );
}

#[test]
fn a_gzip_bomb_is_refused_by_its_ratio_after_a_few_mebibytes() {
    // 1 GiB of zeros, about 1 MiB compressed (deflate tops out near 1000:1).
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write_zeros(&mut enc, GIB);
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 8 * 1024 * 1024, "{}", bomb.len());

    let mut d = decoder(&bomb[..], Limits::default()).unwrap();
    let err = io::copy(&mut d, &mut io::sink()).unwrap_err();
    let refused = refusal(&err).unwrap();
    assert!(
        matches!(&refused, IngestError::Limit(m) if m.contains("max_compression_ratio")),
        "{refused}"
    );
    assert!(
        d.bytes_out() < 64 * 1024 * 1024,
        "stopped early, not at {}",
        d.bytes_out()
    );
    // A caller that reads again gets the same refusal, not the rest of the bomb.
    let again = io::copy(&mut d, &mut io::sink()).unwrap_err();
    assert_eq!(refusal(&again), Some(refused));
}

#[test]
fn a_gzip_body_past_the_size_limit_is_refused_at_the_limit() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write_zeros(&mut enc, 64 * 1024 * 1024);
    let packed = enc.finish().unwrap();
    let limits = Limits {
        max_decompressed_bytes: 10 * 1024 * 1024,
        max_compression_ratio: 100_000,
        ..Limits::default()
    };
    let mut d = decoder(&packed[..], limits).unwrap();
    let err = io::copy(&mut d, &mut io::sink()).unwrap_err();
    let refused = refusal(&err).unwrap();
    assert!(
        matches!(&refused, IngestError::Limit(m) if m.contains("max_decompressed_bytes")),
        "{refused}"
    );
    assert!(d.bytes_out() <= 10 * 1024 * 1024 + 1, "{}", d.bytes_out());
}

#[test]
fn a_zstd_bomb_is_refused() {
    // zstd squeezes 1 GiB of zeros to a few tens of KiB.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    write_zeros(&mut enc, GIB);
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());

    let mut d = decoder(&bomb[..], Limits::default()).unwrap();
    let err = io::copy(&mut d, &mut io::sink()).unwrap_err();
    let refused = refusal(&err).unwrap();
    assert!(
        matches!(&refused, IngestError::Limit(m) if m.contains("zstd") && m.contains("max_compression_ratio")),
        "{refused}"
    );
    assert!(d.bytes_out() < 64 * 1024 * 1024, "{}", d.bytes_out());
}

#[test]
fn ordinary_compressible_reports_are_not_bombs() {
    // Repetitive XML compresses well, but nowhere near 200:1.
    let body = report_of(40_000);
    assert!(body.len() > 2 * 1024 * 1024);
    assert_eq!(
        read_all(&gzip(&body), Limits::default()).unwrap().len(),
        body.len()
    );
    assert_eq!(
        read_all(&zstd(&body), Limits::default()).unwrap().len(),
        body.len()
    );
}

fn assert_truncated(err: &IngestError, format: &str) {
    match err {
        IngestError::Syntax {
            format: f, message, ..
        } => {
            assert_eq!(*f, format);
            assert!(message.contains("ends early"), "{message}");
        }
        other => panic!("expected a truncation error, got {other:?}"),
    }
}

#[test]
fn a_truncated_gzip_stream_is_named_as_such() {
    let packed = gzip(&report());
    for cut in [3, 10, packed.len() / 2, packed.len() - 4] {
        let err = read_all(&packed[..cut], Limits::default()).unwrap_err();
        assert_truncated(&err, "gzip");
        assert!(err.to_string().contains("gzip:"), "{err}");
    }
}

#[test]
fn a_truncated_zstd_stream_is_named_as_such() {
    let packed = zstd(&report());
    for cut in [4, 10, packed.len() / 2, packed.len() - 1] {
        let err = read_all(&packed[..cut], Limits::default()).unwrap_err();
        assert_truncated(&err, "zstd");
    }
}

#[test]
fn corrupt_gzip_data_is_refused_with_its_offset() {
    let mut packed = gzip(&report());
    let mid = packed.len() / 2;
    for b in &mut packed[mid..mid + 64] {
        *b = 0xff;
    }
    let err = read_all(&packed, Limits::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::Syntax { format: "gzip", column, .. } if *column > 0),
        "{err:?}"
    );
}

#[test]
fn garbage_after_a_gzip_member_is_refused() {
    let mut packed = gzip(b"<testsuite/>");
    packed.extend_from_slice(b"trailing garbage");
    assert!(matches!(
        read_all(&packed, Limits::default()),
        Err(IngestError::Syntax { format: "gzip", .. })
    ));
}

/// A source that fails like a client hanging up.
struct Broken {
    sent: usize,
    body: Vec<u8>,
}

impl Read for Broken {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent >= self.body.len() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            ));
        }
        let n = buf.len().min(self.body.len() - self.sent).min(7);
        buf[..n].copy_from_slice(&self.body[self.sent..self.sent + n]);
        self.sent += n;
        Ok(n)
    }
}

#[test]
fn transport_errors_pass_through_and_are_not_refusals() {
    let packed = gzip(&report());
    let half = packed[..packed.len() / 2].to_vec();
    let mut d = decoder(
        Broken {
            sent: 0,
            body: half,
        },
        Limits::default(),
    )
    .unwrap();
    let err = io::copy(&mut d, &mut io::sink()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(refusal(&err), None);
}

#[test]
fn a_source_handing_out_one_byte_at_a_time_is_still_sniffed() {
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }
    let body = report();
    let packed = zstd(&body);
    let mut d = decoder(Trickle(&packed), Limits::default()).unwrap();
    assert_eq!(d.compression(), Compression::Zstd);
    let mut out = Vec::new();
    d.read_to_end(&mut out).unwrap();
    assert_eq!(out, body);
}
