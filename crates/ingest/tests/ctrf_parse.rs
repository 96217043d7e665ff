#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! CTRF: real and hand-written reports mapped to results; every refusal names its place.

use std::io::Write;
use testvault_ingest::ctrf::CtrfReader;
use testvault_ingest::decompress::decoder;
use testvault_ingest::{IngestError, Limits, Outcome, ResultSource, TestResult};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/ctrf/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).expect("fixture")
}

fn read_all(bytes: &[u8], limits: Limits) -> Result<(CtrfReader, Vec<TestResult>), IngestError> {
    let mut reader = CtrfReader::new(bytes, limits)?;
    let mut out = Vec::new();
    while let Some(r) = reader.next_result()? {
        out.push(r);
    }
    Ok((reader, out))
}

fn results(bytes: &[u8]) -> (CtrfReader, Vec<TestResult>) {
    read_all(bytes, Limits::default()).expect("valid CTRF")
}

fn label<'a>(r: &'a TestResult, name: &str) -> Vec<&'a str> {
    r.labels
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn refusal(json: &str) -> IngestError {
    read_all(json.as_bytes(), Limits::default()).expect_err("refused")
}

fn field_of(err: &IngestError) -> &str {
    match err {
        IngestError::Field { field, .. } => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn jest_reporter_output_is_mapped() {
    let (reader, rs) = results(&fixture("jest-30.json"));
    assert_eq!(reader.spec_version(), Some("0.0.0"));
    let meta = reader.meta();
    assert_eq!(meta.tool.as_deref(), Some("jest"));
    assert_eq!(meta.branch.as_deref(), Some("main"));
    assert_eq!(meta.build_name.as_deref(), Some("shop-ci"));
    assert_eq!(
        meta.build_url.as_deref(),
        Some("https://ci.example.com/shop/412")
    );
    assert!(
        meta.environment
            .contains(&("buildNumber".into(), "412".into()))
    );
    assert!(
        meta.environment
            .contains(&("osPlatform".into(), "linux".into()))
    );

    assert_eq!(rs.len(), 8);
    let first = &rs[0];
    assert_eq!(first.identity.suite, ["cart.test.js", "cart", "total"]);
    assert_eq!(
        first.identity.name,
        "cart total sums prices times quantities"
    );
    assert_eq!(first.outcome, Outcome::Passed);
    assert_eq!(first.duration_ms, Some(1));
    assert_eq!(
        first.file.as_deref(),
        Some("/tmp/ctrf-jest/src/cart.test.js")
    );
    assert_eq!(label(first, "type"), ["unit"]);

    let discount = &rs[1];
    assert_eq!(discount.outcome, Outcome::Failed);
    assert!(discount.message.as_deref().unwrap().contains("Expected: 8"));
    assert!(
        discount
            .trace
            .as_deref()
            .unwrap()
            .contains("cart.test.js:15:52")
    );
    // `retries: 2` without details: two earlier failed runs.
    assert_eq!(discount.attempts.len(), 2);
    assert!(
        discount
            .attempts
            .iter()
            .all(|a| a.outcome == Outcome::Failed)
    );
    assert!(!discount.is_flaky());

    let pending = rs
        .iter()
        .find(|r| r.identity.name == "cart handles currencies")
        .unwrap();
    assert_eq!(pending.outcome, Outcome::Skipped);
    let todo = rs
        .iter()
        .find(|r| r.identity.name == "cart rounds half-cents")
        .unwrap();
    assert_eq!(
        todo.outcome,
        Outcome::Skipped,
        "status other with rawStatus todo is a skip"
    );

    let flaky = rs
        .iter()
        .find(|r| r.identity.name == "eventually consistent read")
        .unwrap();
    assert_eq!(flaky.outcome, Outcome::Passed);
    assert!(flaky.marked_flaky && flaky.is_flaky());
    assert_eq!(flaky.attempts.len(), 1);
    assert_eq!(flaky.identity.suite, ["cart.test.js"]);
}

#[test]
fn spec_0_1_fields_are_mapped() {
    let (reader, rs) = results(&fixture("spec-0.1.json"));
    assert_eq!(reader.spec_version(), Some("0.1.0"));
    let meta = reader.meta();
    assert_eq!(meta.tool.as_deref(), Some("playwright"));
    assert_eq!(meta.branch.as_deref(), Some("release/2.7"));
    assert_eq!(
        meta.commit.as_deref(),
        Some("4e1c0d9b2a7f5e3c8d6b1a0f9e8d7c6b5a4f3e2d")
    );
    assert_eq!(meta.build_name.as_deref(), Some("e2e-nightly"));
    for pair in [
        ("tool.version", "1.52.0"),
        ("buildNumber", "1287"),
        ("healthy", "true"),
        ("testEnvironment", "staging"),
    ] {
        assert!(
            meta.environment.contains(&(pair.0.into(), pair.1.into())),
            "{pair:?} in {:?}",
            meta.environment
        );
    }
    assert!(!meta.environment.iter().any(|(k, _)| k == "extra"));

    let basket = &rs[0];
    assert_eq!(
        basket.identity.key(),
        "checkout.spec.ts › Checkout › basket › shows the basket total[currency=EUR, items=3]"
    );
    assert_eq!(basket.duration_ms, Some(1830));
    assert_eq!(basket.line, Some(12));
    assert_eq!(basket.file.as_deref(), Some("tests/checkout.spec.ts"));
    assert_eq!(
        basket.stdout.as_deref(),
        Some("navigating to /basket\ntotal: 42.00 EUR")
    );
    assert_eq!(label(basket, "tag"), ["@smoke", "@checkout"]);
    assert_eq!(label(basket, "owner"), ["shop-team"]);
    assert_eq!(label(basket, "priority"), ["1"]);
    assert_eq!(label(basket, "components"), ["cart", "pricing"]);
    assert_eq!(label(basket, "thread"), ["worker-2"]);
    assert_eq!(label(basket, "browser"), ["chromium 137.0"]);
    assert_eq!(
        label(basket, "ctrf.id"),
        ["2b0a4c1e-7d1f-4f65-8d2a-3f4c5b6a7d8e"]
    );
    assert_eq!(
        label(basket, "attachment"),
        ["trace; application/zip; test-results/checkout-basket/trace.zip"]
    );
    assert!(label(basket, "step.failed").is_empty());

    let voucher = &rs[1];
    assert_eq!(voucher.outcome, Outcome::Failed);
    assert_eq!(voucher.attempts.len(), 1);
    assert_eq!(voucher.attempts[0].duration_ms, Some(5012));
    assert_eq!(
        voucher.attempts[0].message.as_deref(),
        Some("Error: expect(locator).toHaveText(expected)")
    );
    assert_eq!(label(voucher, "step.failed"), ["apply voucher SAVE10"]);
    assert_eq!(
        voucher.stderr.as_deref(),
        Some("[WebServer] warning: slow response (2300 ms)")
    );

    let address = &rs[2];
    assert!(address.is_flaky());
    assert_eq!(address.attempts.len(), 2);
    assert_eq!(rs[3].outcome, Outcome::Skipped);
    assert_eq!(
        rs[3].message.as_deref(),
        Some("skipped: PDF export is behind a feature flag")
    );
    assert_eq!(
        rs[4].outcome,
        Outcome::Errored,
        "other/interrupted is an error"
    );
}

#[test]
fn the_older_shape_without_report_format_is_read() {
    let (reader, rs) = results(&fixture("legacy-results-only.json"));
    assert_eq!(reader.spec_version(), None);
    assert_eq!(reader.meta().commit.as_deref(), Some("a1b2c3d"));
    assert_eq!(rs.len(), 4);
    assert_eq!(
        rs[0].duration_ms,
        Some(13),
        "fractional milliseconds are rounded"
    );
    assert_eq!(rs[0].identity.suite, ["tests/test_auth.py::TestLogin"]);
    assert_eq!(rs[1].stdout.as_deref(), Some("locking user alice\n"));
    assert_eq!(rs[1].attempts.len(), 0);
    assert!(rs[3].is_flaky());
}

#[test]
fn a_final_run_listed_among_the_retry_attempts_is_not_counted_twice() {
    let json = r#"{"results":{"tests":[{"name":"t","status":"passed","duration":1,"retries":1,
        "retryAttempts":[{"attempt":1,"status":"failed"},{"attempt":2,"status":"passed"}]}]}}"#;
    let (_, rs) = results(json.as_bytes());
    assert_eq!(rs[0].attempts.len(), 1);
    assert_eq!(rs[0].attempts[0].outcome, Outcome::Failed);
    assert!(rs[0].is_flaky());
}

#[test]
fn a_gzipped_report_reads_through_the_decoder() {
    let body = fixture("spec-0.1.json");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&body).unwrap();
    let packed = enc.finish().unwrap();
    let stream = decoder(&packed[..], Limits::default()).unwrap();
    let reader = CtrfReader::new(stream, Limits::default()).unwrap();
    assert_eq!(reader.count(), 5);
}

#[test]
fn a_truncated_gzipped_report_is_refused_as_truncated() {
    let body = fixture("spec-0.1.json");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&body).unwrap();
    let packed = enc.finish().unwrap();
    let stream = decoder(&packed[..packed.len() / 2], Limits::default()).unwrap();
    let err = CtrfReader::new(stream, Limits::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::Syntax { format: "gzip", message, .. } if message.contains("ends early")),
        "{err:?}"
    );
}

#[test]
fn wrong_types_and_values_name_the_json_path() {
    let cases = [
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed"},{"name":"b","status":"done"}]}}"#,
            "results.tests[1].status",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":1}]}}"#,
            "results.tests[0].status",
        ),
        (
            r#"{"results":{"tests":[{"status":"passed"}]}}"#,
            "results.tests[0].name",
        ),
        (
            r#"{"results":{"tests":[{"name":"  ","status":"passed"}]}}"#,
            "results.tests[0].name",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","duration":-3}]}}"#,
            "results.tests[0].duration",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","duration":"3"}]}}"#,
            "results.tests[0].duration",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","suite":7}]}}"#,
            "results.tests[0].suite",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","suite":["x",1]}]}}"#,
            "results.tests[0].suite[1]",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","tags":"smoke"}]}}"#,
            "results.tests[0].tags",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","flaky":"yes"}]}}"#,
            "results.tests[0].flaky",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","stdout":[1]}]}}"#,
            "results.tests[0].stdout[0]",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","retries":99999999}]}}"#,
            "results.tests[0].retries",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","retryAttempts":[{"attempt":1}]}]}}"#,
            "results.tests[0].retryAttempts[0].status",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","steps":[{"name":"s","status":"weird"}]}]}}"#,
            "results.tests[0].steps[0].status",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","labels":{"k":[{"x":1}]}}]}}"#,
            "results.tests[0].labels.k[0]",
        ),
        (
            r#"{"results":{"tests":[{"name":"a","status":"passed","line":-1}]}}"#,
            "results.tests[0].line",
        ),
        (r#"{"results":{"tests":["a"]}}"#, "results.tests[0]"),
        (r#"{"results":{"tests":{}}}"#, "results.tests"),
        (r#"{"results":[]}"#, "results"),
        (
            r#"{"results":{"tool":{"name":3},"tests":[]}}"#,
            "results.tool.name",
        ),
        (
            r#"{"results":{"environment":{"branchName":5},"tests":[]}}"#,
            "results.environment.branchName",
        ),
        (
            r#"{"reportFormat":"JUNIT","results":{"tests":[]}}"#,
            "reportFormat",
        ),
        (r#"{"reportFormat":"CTRF"}"#, "results"),
        (r#"{"results":{"tool":{"name":"x"}}}"#, "results.tests"),
        (r#"[1,2]"#, "(document)"),
        (r#""CTRF""#, "(document)"),
    ];
    for (json, path) in cases {
        let err = refusal(json);
        assert_eq!(field_of(&err), path, "{json}: {err}");
        assert!(err.to_string().contains(path), "{err}");
    }
}

#[test]
fn malformed_json_is_a_syntax_error_with_line_and_column() {
    let err = refusal("{\n  \"results\": {\n    \"tests\": [\n      {\"name\": \"a\",, }\n");
    match err {
        IngestError::Syntax {
            format,
            line,
            column,
            ..
        } => {
            assert_eq!(format, "ctrf");
            assert_eq!(line, 4);
            assert!(column > 10, "{column}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(refusal(""), IngestError::Syntax { line: 1, .. }));
    assert!(matches!(
        refusal(r#"{"results":{"tests":[]}} trailing"#),
        IngestError::Syntax { .. }
    ));
    assert!(matches!(
        refusal(r#"{"results":{"tests":[{"name":"a","status":"passed"}"#),
        IngestError::Syntax { .. }
    ));
}

#[test]
fn nesting_past_max_depth_is_refused_with_its_place() {
    let deep = format!(
        r#"{{"results":{{"tests":[{{"name":"a","status":"passed","extra":{}1{}}}]}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let err = refusal(&deep);
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_depth") && m.contains("results.tests[0]")),
        "{err}"
    );

    // Ignored parts are depth-checked too.
    let deep_extra = format!(
        r#"{{"extra":{}1{},"results":{{"tests":[]}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert!(matches!(refusal(&deep_extra), IngestError::Limit(m) if m.contains("`extra`")));

    let shallow = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let err = read_all(
        br#"{"results":{"tests":[{"name":"a","status":"passed"}]}}"#,
        shallow,
    )
    .unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_depth")),
        "{err}"
    );
    let ok = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    assert!(
        read_all(
            br#"{"results":{"tests":[{"name":"a","status":"passed"}]}}"#,
            ok
        )
        .is_ok()
    );
}

#[test]
fn long_names_are_refused_and_long_texts_cut() {
    let limits = Limits {
        max_attribute_bytes: 16,
        max_text_bytes: 32,
        ..Limits::default()
    };
    let long_name = format!(
        r#"{{"results":{{"tests":[{{"name":"{}","status":"passed"}}]}}}}"#,
        "n".repeat(17)
    );
    let err = read_all(long_name.as_bytes(), limits).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("results.tests[0].name") && m.contains("max_attribute_bytes")),
        "{err}"
    );

    let long_key = format!(
        r#"{{"results":{{"tests":[{{"{}":1,"name":"a","status":"passed"}}]}}}}"#,
        "k".repeat(17)
    );
    assert!(
        matches!(read_all(long_key.as_bytes(), limits), Err(IngestError::Limit(m)) if m.contains("key"))
    );

    let long_message = format!(
        r#"{{"results":{{"tests":[{{"name":"a","status":"failed","message":"{}","stdout":["{}","{}"]}}]}}}}"#,
        "é".repeat(40),
        "x".repeat(20),
        "y".repeat(20)
    );
    let (_, rs) = read_all(long_message.as_bytes(), limits).unwrap();
    assert_eq!(
        rs[0].message.as_deref(),
        Some(format!("{}…", "é".repeat(14)).as_str())
    );
    let stdout = rs[0].stdout.as_deref().unwrap();
    assert_eq!(stdout.len(), 32);
    assert!(stdout.ends_with('…'), "{stdout}");
}

#[test]
fn too_many_tests_are_refused() {
    let limits = Limits {
        max_elements: 2,
        ..Limits::default()
    };
    let json = r#"{"results":{"tests":[{"name":"a","status":"passed"},{"name":"b","status":"passed"},{"name":"c","status":"passed"}]}}"#;
    let err = read_all(json.as_bytes(), limits).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_elements")),
        "{err}"
    );
}

#[test]
fn a_document_past_the_size_limit_is_refused() {
    let body = fixture("spec-0.1.json");
    let limits = Limits {
        max_decompressed_bytes: 1000,
        ..Limits::default()
    };
    let err = read_all(&body, limits).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_decompressed_bytes")),
        "{err}"
    );
    assert!(matches!(
        CtrfReader::from_slice(&body, limits),
        Err(IngestError::Limit(_))
    ));
    assert_eq!(
        CtrfReader::from_slice(&body, Limits::default())
            .unwrap()
            .remaining(),
        5
    );
}

#[test]
fn the_same_test_in_ctrf_and_from_another_run_has_the_same_identity() {
    let a = r#"{"results":{"tests":[{"name":"t","status":"passed","suite":"f.spec.ts > A > b","parameters":{"y":"2","x":1}}]}}"#;
    let b = r#"{"results":{"tests":[{"name":"t","status":"failed","suite":["f.spec.ts","A","b"],"parameters":{"x":1,"y":"2"},"filePath":"/other/machine/f.spec.ts"}]}}"#;
    let (_, ra) = results(a.as_bytes());
    let (_, rb) = results(b.as_bytes());
    assert_eq!(ra[0].identity, rb[0].identity);
    assert_eq!(ra[0].identity.key(), "f.spec.ts › A › b › t[x=1, y=2]");
}
