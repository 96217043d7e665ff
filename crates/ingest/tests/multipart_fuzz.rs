//! Multipart fuzzing: arbitrary bytes and byte edits of a real form are refused or read, never a
//! panic, and a well-formed form of arbitrary files reads back exactly.

use proptest::prelude::*;
use proptest::test_runner::Config;
use testvault_ingest::Limits;
use testvault_ingest::multipart::read_files;

const BOUNDARY: &str = "----form-boundary-42";

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

fn form(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_files(&bytes[..], BOUNDARY, Limits::default());
    }

    #[test]
    fn edited_forms_never_panic(
        cut in 0usize..400,
        at in 0usize..400,
        byte in any::<u8>(),
    ) {
        let mut body = form(&[
            ("a-result.json".to_string(), b"{\"name\":\"x\"}".to_vec()),
            ("b-container.json".to_string(), b"{}".to_vec()),
        ]);
        if at < body.len() {
            body[at] = byte;
        }
        body.truncate(cut.min(body.len()));
        let _ = read_files(&body[..], BOUNDARY, Limits::default());
    }

    #[test]
    fn well_formed_forms_read_back(
        files in proptest::collection::vec(
            ("[a-z0-9-]{1,20}\\.json", proptest::collection::vec(any::<u8>(), 0..200)),
            0..6,
        )
    ) {
        // Content that happens to hold the delimiter line cannot be sent in a form.
        let delimiter = format!("\r\n--{BOUNDARY}");
        let files: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .filter(|(_, c)| !c.windows(delimiter.len()).any(|w| w == delimiter.as_bytes()))
            .collect();
        let body = form(&files);
        let read = read_files(&body[..], BOUNDARY, Limits::default());
        prop_assert_eq!(read.ok(), Some(files));
    }
}
