//! CTRF fuzzing: arbitrary bytes, mutated real reports and arbitrary JSON in every field are
//! refused or read, never a panic.

use proptest::prelude::*;
use proptest::test_runner::Config;
use testvault_ingest::ctrf::CtrfReader;
use testvault_ingest::{IngestError, Limits};

const FIXTURES: [&str; 3] = [
    include_str!("ctrf/jest-30.json"),
    include_str!("ctrf/spec-0.1.json"),
    include_str!("ctrf/legacy-results-only.json"),
];

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

fn small_limits() -> Limits {
    Limits {
        max_depth: 12,
        max_attribute_bytes: 64,
        max_text_bytes: 128,
        max_elements: 50,
        ..Limits::default()
    }
}

/// Parses and drains; the only thing that matters is that it returns.
fn parse(bytes: &[u8], limits: Limits) -> Result<usize, IngestError> {
    let streamed = CtrfReader::new(bytes, limits).map(Iterator::count);
    let sliced = CtrfReader::from_slice(bytes, limits).map(Iterator::count);
    // They agree on the outcome and the reason; serde_json's reader and slice parsers may place
    // some errors (a number out of range) a few characters apart, so positions are not compared.
    let reason = |r: &Result<usize, IngestError>| match r {
        Ok(n) => format!("ok {n}"),
        Err(IngestError::Syntax {
            format, message, ..
        }) => format!("{format}: {message}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        reason(&streamed),
        reason(&sliced),
        "reading from a stream and from memory agree"
    );
    streamed
}

/// A byte-level edit of a document: overwrite, insert or delete at a position.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (
            any::<usize>(),
            prop::sample::select(b"{}[]\",:0-9.eE \\nul".to_vec())
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(mut doc: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = doc.len().max(1);
        match *e {
            Edit::Set(i, b) if !doc.is_empty() => doc[i % len] = b,
            Edit::Insert(i, b) => doc.insert(i % (doc.len() + 1), b),
            Edit::Delete(i) if !doc.is_empty() => {
                doc.remove(i % len);
            }
            _ => {}
        }
    }
    doc
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-z >\\[\\]0-9é-]{0,12}".prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "passed", "failed", "skipped", "pending", "other", "todo"
        ])
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "name",
                    "status",
                    "duration",
                    "suite",
                    "retries",
                    "retryAttempts",
                    "attempt",
                    "message",
                    "stdout",
                    "tags",
                    "labels",
                    "parameters",
                    "steps",
                    "attachments",
                    "line",
                    "flaky",
                    "x",
                ]),
                inner,
                0..6,
            )
            .prop_map(|m| serde_json::Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes, Limits::default());
        let _ = parse(&bytes, small_limits());
    }

    #[test]
    fn mutated_reports_never_panic(which in 0..FIXTURES.len(), edits in prop::collection::vec(edit(), 1..8)) {
        let doc = apply(FIXTURES[which].as_bytes().to_vec(), &edits);
        let _ = parse(&doc, Limits::default());
        let _ = parse(&doc, small_limits());
    }

    #[test]
    fn arbitrary_values_in_a_test_never_panic(test in json_value(), env in json_value()) {
        let doc = serde_json::json!({
            "reportFormat": "CTRF",
            "results": { "tool": { "name": "t" }, "tests": [test, { "name": "ok", "status": "passed" }], "environment": env }
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        match parse(&bytes, Limits::default()) {
            Ok(n) => prop_assert_eq!(n, 2),
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
        let _ = parse(&bytes, small_limits());
    }
}
