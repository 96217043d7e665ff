#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Decompression fuzzing: arbitrary and mutated gzip/zstd streams are refused or read, never a
//! panic, and whatever is compressed comes back unchanged.

use proptest::prelude::*;
use proptest::test_runner::Config;
use std::io::{Read, Write};
use testvault_ingest::Limits;
use testvault_ingest::decompress::{decoder, refusal};
use testvault_ingest::detect::detect;

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

fn limits() -> Limits {
    Limits {
        max_decompressed_bytes: 256 * 1024,
        ..Limits::default()
    }
}

/// Reads the stream to its end or its first error; every error of a slice-backed stream must be
/// a refusal carrying an `IngestError`.
fn drain(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut d = decoder(bytes, limits()).expect("sniffing a slice cannot fail");
    let mut out = Vec::new();
    match d.read_to_end(&mut out) {
        Ok(_) => Some(out),
        Err(e) => {
            assert!(refusal(&e).is_some(), "not a refusal: {e}");
            None
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..512), magic in 0..3u8) {
        let prefix: &[u8] = match magic {
            0 => &[0x1f, 0x8b],
            1 => &[0x28, 0xb5, 0x2f, 0xfd],
            _ => &[],
        };
        bytes.splice(0..0, prefix.iter().copied());
        let _ = drain(&bytes);
        let _ = detect(&bytes);
    }

    #[test]
    fn round_trips(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert_eq!(drain(&gzip(&data)), Some(data.clone()));
        prop_assert_eq!(drain(&zstd::stream::encode_all(&data[..], 1).unwrap()), Some(data));
    }

    #[test]
    fn mutated_streams_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..2048),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
        zstd in any::<bool>(),
    ) {
        let mut packed = if zstd { zstd::stream::encode_all(&data[..], 3).unwrap() } else { gzip(&data) };
        for (at, byte) in edits {
            let len = packed.len();
            packed[at % len] = byte;
        }
        let _ = drain(&packed);
        let keep = cut % (packed.len() + 1);
        let _ = drain(&packed[..keep]);
    }
}
