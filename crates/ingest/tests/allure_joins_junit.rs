#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! One pytest run reported twice, as JUnit XML and as Allure results: every test must get the
//! same identity from both, or its history would split by report format.

use std::collections::BTreeSet;
use std::io::Cursor;
use testvault_ingest::allure::AllureReader;
use testvault_ingest::junit::JunitReader;
use testvault_ingest::{Limits, ResultSource};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/allure/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn keys(source: &mut dyn ResultSource) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    while let Some(r) = source.next_result().expect("result") {
        out.insert(r.identity.key());
    }
    out
}

#[test]
fn pytest_identities_are_the_same_in_junit_and_allure() {
    let xml = fixture("pytest-junit.xml");
    let mut junit = JunitReader::new(&xml[..], Limits::default());
    let mut allure = AllureReader::from_zip(
        Cursor::new(fixture("pytest-results.zip")),
        Limits::default(),
    )
    .unwrap();
    let from_junit = keys(&mut junit);
    let from_allure = keys(&mut allure);
    assert_eq!(from_junit.len(), 8);
    assert_eq!(from_junit, from_allure);
    assert!(from_allure.contains("tests › test_shop › TestCart › test_multiplies[id=2-3-6]"));
}
