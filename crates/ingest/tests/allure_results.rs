#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Allure results: a real allure-pytest run, retries grouped, archives that try to escape or to
//! blow up refused with the entry named.

use std::io::{Cursor, Read, Write};
use testvault_ingest::allure::AllureReader;
use testvault_ingest::{IngestError, Limits, Outcome, ResultSource, TestResult};
use zip::write::SimpleFileOptions;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/allure/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn drain(mut reader: AllureReader) -> (testvault_ingest::ReportMeta, Vec<TestResult>) {
    let mut out = Vec::new();
    while let Some(r) = reader.next_result().expect("results") {
        out.push(r);
    }
    (reader.meta().clone(), out)
}

fn from_zip(
    bytes: &[u8],
    limits: Limits,
) -> Result<(testvault_ingest::ReportMeta, Vec<TestResult>), IngestError> {
    AllureReader::from_zip(Cursor::new(bytes), limits).map(drain)
}

/// Builds a zip archive in memory with the zip crate's writer.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        if name.ends_with('/') {
            w.add_directory(*name, opts).expect("dir");
        } else {
            w.start_file(*name, opts).expect("start");
            w.write_all(bytes).expect("write");
        }
    }
    w.finish().expect("finish").into_inner()
}

/// The files of an archive, as the multipart path would hand them over.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).expect("read");
        out.push((f.name().expect("name").to_string(), buf));
    }
    out
}

fn find<'a>(rs: &'a [TestResult], key: &str) -> &'a TestResult {
    rs.iter()
        .find(|r| r.identity.key() == key)
        .unwrap_or_else(|| {
            let keys: Vec<String> = rs.iter().map(|r| r.identity.key()).collect();
            panic!("no {key} in {keys:#?}")
        })
}

fn label<'a>(r: &'a TestResult, name: &str) -> Vec<&'a str> {
    r.labels
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn result_json(uuid: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"uuid":"{uuid}","name":"test_x","status":"passed","start":1000,"stop":1010,
            "labels":[{{"name":"parentSuite","value":"tests"}},{{"name":"suite","value":"test_a"}}]{extra}}}"#
    )
    .into_bytes()
}

#[test]
fn a_real_allure_pytest_run_is_read() {
    let (meta, rs) = from_zip(&fixture("pytest-results.zip"), Limits::default()).unwrap();
    assert_eq!(meta.tool.as_deref(), Some("pytest"));
    assert_eq!(meta.branch.as_deref(), Some("main"));
    assert_eq!(
        meta.commit.as_deref(),
        Some("9b2f4c1d7e3a5b6c8d0e1f2a3b4c5d6e7f8a9b0c")
    );
    assert_eq!(meta.build_name.as_deref(), Some("shop #412"));
    assert_eq!(
        meta.build_url.as_deref(),
        Some("https://ci.example.com/shop/-/pipelines/412")
    );
    for pair in [
        ("Python", "3.11.7"),
        ("os.name", "Linux"),
        ("app.url", "https://shop.example.com"),
        ("executor", "GitLab CI"),
    ] {
        assert!(
            meta.environment.contains(&(pair.0.into(), pair.1.into())),
            "{pair:?}"
        );
    }

    // Nine result files, one of them an earlier try of a rerun test.
    assert_eq!(rs.len(), 8);

    let sums = find(&rs, "tests › test_shop › TestCart › test_sums_prices");
    assert_eq!(sums.outcome, Outcome::Passed);
    assert_eq!(label(sums, "severity"), ["critical"]);
    assert_eq!(label(sums, "epic"), ["Shop"]);
    assert_eq!(label(sums, "framework"), ["pytest"]);
    assert_eq!(label(sums, "allure.historyId").len(), 1);
    assert!(
        label(sums, "suite").is_empty(),
        "suite labels are the identity, not labels"
    );

    let discount = find(&rs, "tests › test_shop › TestCart › test_discount_code");
    assert_eq!(discount.outcome, Outcome::Failed);
    assert!(
        discount
            .message
            .as_deref()
            .unwrap()
            .starts_with("AssertionError")
    );
    assert!(
        discount
            .trace
            .as_deref()
            .unwrap()
            .contains("tests/test_shop.py:26")
    );
    assert_eq!(label(discount, "step.failed"), ["apply code SAVE10"]);
    assert_eq!(label(discount, "tag"), ["discounts"]);

    let param = find(
        &rs,
        "tests › test_shop › TestCart › test_multiplies[id=2-3-6]",
    );
    assert_eq!(label(param, "parameter.price"), ["2"]);
    find(
        &rs,
        "tests › test_shop › TestCart › test_multiplies[id=1-1-1]",
    );

    let broken = find(&rs, "tests › test_shop › test_refund_broken");
    assert_eq!(broken.outcome, Outcome::Errored);
    assert_eq!(label(broken, "step.failed"), ["load the refund"]);

    let fixture_error = find(&rs, "tests › test_shop › test_order_history");
    assert_eq!(fixture_error.outcome, Outcome::Errored);
    assert_eq!(label(fixture_error, "fixture.failed"), ["before: db"]);

    let skipped = find(&rs, "tests › test_shop › test_currencies");
    assert_eq!(skipped.outcome, Outcome::Skipped);
    assert_eq!(
        skipped.message.as_deref(),
        Some("Skipped: currencies are not supported yet")
    );

    let flaky = find(&rs, "tests › test_shop › test_eventually_consistent_read");
    assert_eq!(flaky.outcome, Outcome::Passed);
    assert_eq!(flaky.attempts.len(), 1);
    assert_eq!(flaky.attempts[0].outcome, Outcome::Failed);
    assert!(
        flaky.attempts[0]
            .message
            .as_deref()
            .unwrap()
            .contains("stale read")
    );
    assert!(flaky.is_flaky());
    // allure-pytest attaches captured output as a file named `stdout`.
    assert!(flaky.stdout.as_deref().unwrap().contains("attempt 2"));
    assert!(label(flaky, "attachment").is_empty());
}

#[test]
fn separate_files_read_the_same_as_the_archive() {
    let bytes = fixture("pytest-results.zip");
    let (meta_zip, from_archive) = from_zip(&bytes, Limits::default()).unwrap();
    let mut files = unzip(&bytes);
    files.reverse();
    let (meta_files, from_files) =
        drain(AllureReader::from_files(files, Limits::default()).unwrap());
    assert_eq!(meta_zip, meta_files);
    assert_eq!(
        from_archive, from_files,
        "the order of files does not matter"
    );
}

#[test]
fn the_latest_retry_is_the_result_whatever_the_file_order() {
    let first = br#"{"uuid":"a","historyId":"h","name":"t","status":"failed","start":100,"stop":200,"statusDetails":{"message":"first"}}"#;
    let second = br#"{"uuid":"b","historyId":"h","name":"t","status":"broken","start":300,"stop":400,"statusDetails":{"message":"second"}}"#;
    let third =
        br#"{"uuid":"c","historyId":"h","name":"t","status":"passed","start":500,"stop":600}"#;
    let other =
        br#"{"uuid":"d","historyId":"other","name":"u","status":"passed","start":50,"stop":60}"#;
    let orders: [[&[u8]; 4]; 3] = [
        [first, second, third, other],
        [third, other, first, second],
        [second, third, other, first],
    ];
    for order in orders {
        let files = order
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("{i}-result.json"), b.to_vec()));
        let (_, rs) = drain(AllureReader::from_files(files, Limits::default()).unwrap());
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].identity.name, "u", "ordered by start time");
        let t = &rs[1];
        assert_eq!(t.outcome, Outcome::Passed);
        let tries: Vec<_> = t
            .attempts
            .iter()
            .map(|a| (a.outcome, a.message.as_deref()))
            .collect();
        assert_eq!(
            tries,
            [
                (Outcome::Failed, Some("first")),
                (Outcome::Errored, Some("second"))
            ]
        );
        assert_eq!(t.attempts[0].duration_ms, Some(100));
    }
}

#[test]
fn identity_falls_back_to_package_and_class_then_title_path() {
    let java = br#"{"uuid":"1","name":"addsTwoNumbers","status":"passed","labels":[
        {"name":"package","value":"com.acme.calc"},{"name":"testClass","value":"com.acme.calc.AdderTest"},
        {"name":"testMethod","value":"addsTwoNumbers"}],
        "parameters":[{"name":"a","value":"1"},{"name":"b","value":2},{"name":"seed","value":"77","excluded":true}]}"#;
    let js = br#"{"uuid":"2","name":"shows the total","status":"passed","titlePath":["tests/cart.spec.ts","Cart"]}"#;
    let bare = br#"{"uuid":"3","fullName":"only.a.full.name","status":"unknown"}"#;
    let files = [
        ("j-result.json", &java[..]),
        ("s-result.json", &js[..]),
        ("b-result.json", &bare[..]),
    ];
    let (_, rs) = drain(
        AllureReader::from_files(
            files.map(|(n, b)| (n.to_string(), b.to_vec())),
            Limits::default(),
        )
        .unwrap(),
    );
    let java = find(
        &rs,
        "com › acme › calc › AdderTest › addsTwoNumbers[a=1, b=2]",
    );
    assert_eq!(
        label(java, "parameter.seed"),
        ["77"],
        "excluded parameters are labels, not identity"
    );
    find(&rs, "tests/cart.spec.ts › Cart › shows the total");
    let bare = find(&rs, "only.a.full.name");
    assert_eq!(bare.outcome, Outcome::Errored, "unknown is an error");
}

#[test]
fn containers_attachments_and_folders_are_not_results() {
    let archive = zip_of(&[
        ("allure-results/", b""),
        ("allure-results/r1-result.json", &result_json("r1", "")),
        (
            "allure-results/c1-container.json",
            br#"{"uuid":"c1","children":["r1"],"befores":[{"name":"db","status":"passed"}]}"#,
        ),
        ("allure-results/a1-attachment.png", b"\x89PNG not really"),
        ("allure-results/categories.json", b"[]"),
        ("allure-results/history/history.json", b"{}"),
    ]);
    let (meta, rs) = from_zip(&archive, Limits::default()).unwrap();
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].identity.key(), "tests › test_a › test_x");
    assert_eq!(rs[0].duration_ms, Some(10));
    assert!(label(&rs[0], "fixture.failed").is_empty());
    assert_eq!(meta.tool.as_deref(), Some("allure"));
}

#[test]
fn an_archive_without_results_says_what_it_holds() {
    let archive = zip_of(&[("reports/", b""), ("reports/junit.xml", b"<testsuites/>")]);
    let err = from_zip(&archive, Limits::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::UnknownFormat(m) if m.contains("reports/junit.xml") && m.contains("-result.json")),
        "{err}"
    );
    let empty = zip_of(&[]);
    assert!(
        matches!(from_zip(&empty, Limits::default()), Err(IngestError::UnknownFormat(m)) if m.contains("no files"))
    );
    assert!(matches!(
        AllureReader::from_files(Vec::new(), Limits::default()),
        Err(IngestError::UnknownFormat(_))
    ));
}

#[test]
fn zip_slip_entries_are_refused_by_name() {
    for evil in [
        "../evil-result.json",
        "allure-results/../../etc/cron.d/x",
        "/etc/passwd",
        "..\\..\\evil.txt",
    ] {
        let archive = zip_of(&[("ok-result.json", &result_json("ok", "")), (evil, b"{}")]);
        let err = from_zip(&archive, Limits::default()).unwrap_err();
        match &err {
            IngestError::Limit(m) => {
                assert!(
                    m.contains("climbs out") && m.contains(&format!("{evil:?}")),
                    "{m}"
                );
            }
            other => panic!("{evil}: {other:?}"),
        }
        let files = vec![(evil.to_string(), b"{}".to_vec())];
        assert!(matches!(
            AllureReader::from_files(files, Limits::default()),
            Err(IngestError::Limit(_))
        ));
    }
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..5).map(|i| format!("{i}-attachment.txt")).collect();
    let result = result_json("r", "");
    let mut files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    files.push(("r-result.json", &result));
    let archive = zip_of(&files);
    let limits = Limits {
        max_zip_entries: 5,
        ..Limits::default()
    };
    let err = from_zip(&archive, limits).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_zip_entries") && m.contains('6')),
        "{err}"
    );
    let as_files = files.iter().map(|(n, b)| (n.to_string(), b.to_vec()));
    assert!(
        matches!(AllureReader::from_files(as_files, limits), Err(IngestError::Limit(m)) if m.contains("max_zip_entries"))
    );
    assert!(
        from_zip(
            &archive,
            Limits {
                max_zip_entries: 6,
                ..Limits::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn the_total_size_is_bounded() {
    let big = vec![b'x'; 4000];
    let archive = zip_of(&[
        ("a-attachment.txt", &big),
        ("b-attachment.txt", &big),
        ("r-result.json", &result_json("r", "")),
    ]);
    let limits = Limits {
        max_decompressed_bytes: 6000,
        ..Limits::default()
    };
    let err = from_zip(&archive, limits).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_decompressed_bytes")),
        "{err}"
    );

    // Result files alone past the budget: refused while reading, naming the entry.
    let padded = result_json("r", &format!(r#","description":"{}""#, "d".repeat(5000)));
    let files = vec![
        ("r1-result.json".to_string(), padded.clone()),
        ("r2-result.json".to_string(), padded),
    ];
    let limits = Limits {
        max_decompressed_bytes: 8000,
        ..Limits::default()
    };
    let err = AllureReader::from_files(files, limits).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("r2-result.json")),
        "{err}"
    );
}

#[test]
fn a_bomb_inside_the_archive_is_refused() {
    // 16 MiB of spaces in a result file: valid JSON padding, compressed about 1000:1.
    let mut body = result_json("r", "");
    let close = body.pop().expect("closing brace");
    body.extend(std::iter::repeat_n(b' ', 16 * 1024 * 1024));
    body.push(close);
    let archive = zip_of(&[("r-result.json", &body)]);
    assert!(archive.len() < 100 * 1024);
    let err = from_zip(&archive, Limits::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_compression_ratio") && m.contains("r-result.json")),
        "{err}"
    );
}

#[test]
fn bad_json_names_the_entry_and_the_place() {
    let err = AllureReader::from_files(
        vec![(
            "x/abc-result.json".into(),
            b"{\n \"name\": \"t\",\n \"status\": }".to_vec(),
        )],
        Limits::default(),
    )
    .unwrap_err();
    match &err {
        IngestError::Syntax {
            format,
            line,
            column,
            message,
        } => {
            assert_eq!(*format, "allure");
            assert_eq!((*line, *column), (3, 12));
            assert!(message.contains("x/abc-result.json"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let cases: [(&[u8], &str); 6] = [
        (
            br#"{"name":"t","status":"exploded"}"#,
            "abc-result.json: status",
        ),
        (
            br#"{"name":"t","labels":[{"name":"suite","value":3}]}"#,
            "abc-result.json: labels[0].value",
        ),
        (
            br#"{"name":"t","steps":[{"name":"s","steps":[{"name":"u","status":7}]}]}"#,
            "abc-result.json: steps[0].steps[0].status",
        ),
        (br#"{"name":"t","start":-5}"#, "abc-result.json: start"),
        (br#"{"status":"passed"}"#, "abc-result.json: name"),
        (br#"[]"#, "abc-result.json: (root)"),
    ];
    for (json, path) in cases {
        let err = AllureReader::from_files(
            vec![("abc-result.json".into(), json.to_vec())],
            Limits::default(),
        )
        .unwrap_err();
        match &err {
            IngestError::Field { field, .. } => assert_eq!(field, path, "{err}"),
            other => panic!("{path}: {other:?}"),
        }
    }

    let err = AllureReader::from_zip(
        Cursor::new(b"PK\x03\x04 not a zip".to_vec()),
        Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, IngestError::Field { field, .. } if field == "(zip archive)"),
        "{err}"
    );
}

#[test]
fn deep_steps_are_refused() {
    let mut steps = String::from(r#"{"name":"leaf","status":"failed"}"#);
    for i in 0..40 {
        steps = format!(r#"{{"name":"s{i}","status":"failed","steps":[{steps}]}}"#);
    }
    let json = format!(r#"{{"name":"t","status":"failed","steps":[{steps}]}}"#);
    let err = AllureReader::from_files(
        vec![("d-result.json".into(), json.into_bytes())],
        Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, IngestError::Limit(m) if m.contains("max_depth") && m.contains("d-result.json")),
        "{err}"
    );
}

#[test]
fn the_deepest_failing_step_lends_its_message() {
    let json = br#"{"name":"t","status":"failed","steps":[
        {"name":"ok","status":"passed"},
        {"name":"outer","status":"failed","steps":[
            {"name":"inner","status":"broken","statusDetails":{"message":"boom","trace":"at inner"}}]}]}"#;
    let (_, rs) = drain(
        AllureReader::from_files(
            vec![("s-result.json".into(), json.to_vec())],
            Limits::default(),
        )
        .unwrap(),
    );
    assert_eq!(label(&rs[0], "step.failed"), ["outer › inner"]);
    assert_eq!(rs[0].message.as_deref(), Some("boom"));
    assert_eq!(rs[0].trace.as_deref(), Some("at inner"));
}

#[test]
fn long_output_attachments_are_cut_and_marked() {
    let result = result_json(
        "r",
        r#","attachments":[{"name":"stdout","source":"o-attachment.txt","type":"text/plain"},{"name":"log","source":"l-attachment.txt","type":"text/plain"}]"#,
    );
    let out = "line\n".repeat(100);
    let files = vec![
        ("r-result.json".to_string(), result),
        ("o-attachment.txt".to_string(), out.into_bytes()),
        ("l-attachment.txt".to_string(), b"log".to_vec()),
    ];
    let limits = Limits {
        max_text_bytes: 50,
        ..Limits::default()
    };
    let (_, rs) = drain(AllureReader::from_files(files, limits).unwrap());
    let stdout = rs[0].stdout.as_deref().unwrap();
    assert!(stdout.len() <= 50 && stdout.ends_with('…'), "{stdout:?}");
    assert_eq!(
        label(&rs[0], "attachment"),
        ["log; text/plain; l-attachment.txt"]
    );
}
