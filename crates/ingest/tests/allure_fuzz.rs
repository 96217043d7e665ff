//! Allure fuzzing: arbitrary and mutated archives, result files and properties are refused or
//! read, never a panic.

use proptest::prelude::*;
use proptest::test_runner::Config;
use std::io::Cursor;
use testvault_ingest::Limits;
use testvault_ingest::allure::{AllureReader, properties};

const ARCHIVE: &[u8] = include_bytes!("allure/pytest-results.zip");

const RESULT: &str = r#"{"uuid":"u1","historyId":"h1","name":"test_x[1-2]","status":"failed",
 "statusDetails":{"message":"m","trace":"t","flaky":true},"start":1,"stop":5,
 "labels":[{"name":"parentSuite","value":"tests.api"},{"name":"suite","value":"test_a"},{"name":"tag","value":"x"}],
 "parameters":[{"name":"a","value":"1"},{"name":"b","value":"2","excluded":true}],
 "steps":[{"name":"s","status":"failed","steps":[{"name":"t","status":"broken","statusDetails":{"message":"boom"}}]}],
 "attachments":[{"name":"stdout","source":"o-attachment.txt","type":"text/plain"}],
 "links":[{"type":"issue","url":"https://x/1"}]}"#;

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

fn small_limits() -> Limits {
    Limits {
        max_depth: 8,
        max_attribute_bytes: 32,
        max_text_bytes: 64,
        max_zip_entries: 30,
        max_decompressed_bytes: 64 * 1024,
        ..Limits::default()
    }
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, bool)]) -> Vec<u8> {
    for &(at, byte, insert) in edits {
        if insert {
            bytes.insert(at % (bytes.len() + 1), byte);
        } else if !bytes.is_empty() {
            let len = bytes.len();
            bytes[at % len] = byte;
        }
    }
    bytes
}

fn read_files(files: Vec<(String, Vec<u8>)>, limits: Limits) {
    if let Ok(reader) = AllureReader::from_files(files, limits) {
        let _ = reader.count();
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_as_an_archive_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = AllureReader::from_zip(Cursor::new(&bytes), Limits::default()).map(Iterator::count);
        let mut with_magic = b"PK\x03\x04".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = AllureReader::from_zip(Cursor::new(with_magic), small_limits()).map(Iterator::count);
    }

    #[test]
    fn a_mutated_real_archive_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..6)) {
        let bytes = mutate(ARCHIVE.to_vec(), &edits);
        let _ = AllureReader::from_zip(Cursor::new(&bytes), Limits::default()).map(Iterator::count);
        let _ = AllureReader::from_zip(Cursor::new(&bytes), small_limits()).map(Iterator::count);
    }

    #[test]
    fn mutated_result_files_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..8)) {
        let result = mutate(RESULT.as_bytes().to_vec(), &edits);
        let files = vec![
            ("r-result.json".to_string(), result.clone()),
            ("r2-result.json".to_string(), RESULT.as_bytes().to_vec()),
            ("o-attachment.txt".to_string(), b"out".to_vec()),
            ("c-container.json".to_string(), mutate(br#"{"children":["u1"],"befores":[{"name":"f","status":"broken"}]}"#.to_vec(), &edits)),
            ("executor.json".to_string(), mutate(br#"{"name":"ci","buildName":"b","buildUrl":"u","buildOrder":3}"#.to_vec(), &edits)),
            ("environment.properties".to_string(), mutate(b"branch=main\ncommit=abc\n".to_vec(), &edits)),
        ];
        read_files(files.clone(), Limits::default());
        read_files(files, small_limits());
    }

    #[test]
    fn arbitrary_names_never_panic(names in prop::collection::vec("[a-z./\\\\:\\-]{0,24}(-result\\.json|-container\\.json|)", 0..8)) {
        let files = names.into_iter().map(|n| (n, RESULT.as_bytes().to_vec())).collect();
        read_files(files, Limits::default());
    }

    #[test]
    fn properties_never_panic(text in "[a-z=: \\\\\\n#!u0-9A-F]{0,200}") {
        let _ = properties(&text);
    }
}
