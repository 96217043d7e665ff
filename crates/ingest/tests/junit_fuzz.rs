//! Property tests on stable: arbitrary bytes and mutated real reports never make the JUnit reader
//! panic or loop; it always ends, with results or an error — a short one.

use proptest::prelude::*;
use proptest::test_runner::Config;
use std::path::Path;
use testvault_ingest::junit::{JunitReader, looks_like_junit};
use testvault_ingest::{IngestError, Limits, ResultSource};

/// Reads everything; returns how many results came before the end or the error.
fn drain(bytes: &[u8], limits: Limits) -> (usize, Option<IngestError>) {
    let mut reader = JunitReader::new(bytes, limits);
    let mut results = 0;
    // Each result consumes at least one `<testcase` of the input, so this bound is never reached
    // by a reader that makes progress.
    for _ in 0..=bytes.len() {
        match reader.next_result() {
            Ok(Some(_)) => results += 1,
            Ok(None) => return (results, None),
            Err(err) => return (results, Some(err)),
        }
    }
    panic!("the reader did not end within {} results", bytes.len() + 1);
}

fn check(bytes: &[u8], limits: Limits) {
    let _ = looks_like_junit(bytes);
    let (results, err) = drain(bytes, limits);
    let cases = bytes.windows(8).filter(|w| w == b"testcase").count();
    assert!(results <= cases, "{results} results from {cases} testcases");
    if let Some(err) = err {
        let text = err.to_string();
        assert!(text.len() < 400, "a long message: {text}");
        if let IngestError::Syntax { line, column, .. } = err {
            assert!(line >= 1 && column >= 1);
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            assert!(line <= lines, "line {line} of {lines}");
        }
    }
}

/// Real reports to mutate: the dialect fixtures and a small generated one.
fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit");
    let mut seeds: Vec<Vec<u8>> = [
        "pytest-xunit1.xml",
        "jest-junit-default.xml",
        "nextest.xml",
        "surefire-reruns.xml",
        "ant-nested.xml",
    ]
    .iter()
    .filter_map(|name| std::fs::read(dir.join(name)).ok())
    .collect();
    let mut generated = Vec::new();
    if testvault_ingest::generate::write_junit(&mut generated, 60, 1).is_ok() {
        seeds.push(generated);
    }
    assert_eq!(seeds.len(), 6, "all seed documents are readable");
    seeds
}

/// Pieces of markup worth splicing in: the places where parsers go wrong.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"/>",
    b"</testcase>",
    b"<testcase name=\"x\">",
    b"<testsuite>",
    b"</testsuite>",
    b"&",
    b"&amp;",
    b"&#x0;",
    b"&#1114112;",
    b"&lt",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<!DOCTYPE x [<!ENTITY a \"b\">]>",
    b"<?pi?>",
    b"\"",
    b"'",
    b"=",
    b"\xff",
    b"\xEF\xBB\xBF",
    b"<flakyFailure>",
    b"<rerunFailure message=\"m\">",
    b"<properties><property name=\"a\">",
    b"\r\n",
    b"\0",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Token(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Mutation::Token(at, t)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), 1usize..256).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(doc: &mut Vec<u8>, mutation: &Mutation) {
    let len = doc.len().max(1);
    match mutation {
        Mutation::Flip(at, b) => {
            if let Some(byte) = doc.get_mut(at % len) {
                *byte = *b;
            }
        }
        Mutation::Insert(at, bytes) => {
            let at = at % (doc.len() + 1);
            doc.splice(at..at, bytes.iter().copied());
        }
        Mutation::Token(at, t) => {
            let at = at % (doc.len() + 1);
            doc.splice(at..at, TOKENS[*t].iter().copied());
        }
        Mutation::Delete(at, n) => {
            let at = at % len;
            let end = (at + n).min(doc.len());
            if at < end {
                doc.drain(at..end);
            }
        }
        Mutation::Duplicate(at, n) => {
            let at = at % len;
            let end = (at + n).min(doc.len());
            if at < end {
                let copy: Vec<u8> = doc[at..end].to_vec();
                doc.splice(end..end, copy);
            }
        }
        Mutation::Truncate(at) => doc.truncate(at % len),
    }
}

/// 256 cases a property (well under 5 s in debug); `PROPTEST_CASES=100000` for a longer run.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    Config {
        cases: cases.unwrap_or(256),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Small limits, so that the limit paths are fuzzed too.
fn tight() -> Limits {
    Limits {
        max_depth: 8,
        max_attribute_bytes: 256,
        max_text_bytes: 128,
        max_elements: 200,
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_end_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes, Limits::default());
        check(&bytes, tight());
    }

    #[test]
    fn arbitrary_markup_ends_without_panicking(pieces in proptest::collection::vec(0..TOKENS.len(), 0..64)) {
        let bytes: Vec<u8> = pieces.iter().flat_map(|&t| TOKENS[t].iter().copied()).collect();
        check(&bytes, Limits::default());
    }

    #[test]
    fn mutated_reports_end_without_panicking(
        seed in 0usize..6,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let mut doc = seeds[seed % seeds.len()].clone();
        for m in &mutations {
            apply(&mut doc, m);
        }
        check(&doc, Limits::default());
        check(&doc, tight());
    }
}
