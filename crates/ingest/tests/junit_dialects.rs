//! One fixture per JUnit dialect (see `tests/junit/README.md` for which tool wrote which), read
//! end to end: counts by outcome, identities, messages, traces, durations, locations, retries and
//! properties — the things history and flakiness depend on.
#![expect(
    clippy::expect_used,
    reason = "tests: a failure should stop the test loudly"
)]

use std::path::Path;
use testvault_ingest::junit::{JunitReader, looks_like_junit};
use testvault_ingest::{Limits, Outcome, ReportMeta, ResultSource, TestResult};

struct Report {
    results: Vec<TestResult>,
    meta: ReportMeta,
}

impl Report {
    fn read(fixture: &str) -> Report {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/junit")
            .join(fixture);
        let bytes = std::fs::read(&path).expect("fixture exists");
        assert!(
            looks_like_junit(&bytes[..bytes.len().min(512)]),
            "{fixture} sniffs as JUnit"
        );
        let mut reader = JunitReader::new(bytes.as_slice(), Limits::default());
        let mut results = Vec::new();
        while let Some(result) = reader.next_result().expect("fixture parses") {
            results.push(result);
        }
        Report {
            results,
            meta: reader.meta().clone(),
        }
    }

    /// Passed, failed, errored, skipped.
    fn counts(&self) -> [usize; 4] {
        let n = |o: Outcome| self.results.iter().filter(|r| r.outcome == o).count();
        [
            n(Outcome::Passed),
            n(Outcome::Failed),
            n(Outcome::Errored),
            n(Outcome::Skipped),
        ]
    }

    fn get(&self, key: &str) -> &TestResult {
        self.results
            .iter()
            .find(|r| r.identity.key() == key)
            .unwrap_or_else(|| {
                let keys: Vec<String> = self.results.iter().map(|r| r.identity.key()).collect();
                panic!("no test {key:?} among {keys:#?}")
            })
    }
}

fn param(id: &str) -> Vec<(String, String)> {
    vec![("id".to_string(), id.to_string())]
}

#[test]
fn pytest_xunit1() {
    let report = Report::read("pytest-xunit1.xml");
    assert_eq!(report.counts(), [4, 1, 1, 2]);
    assert_eq!(report.meta.tool.as_deref(), Some("pytest"));
    assert_eq!(
        report.meta.environment,
        vec![("hostname".to_string(), "vm".to_string())]
    );

    let fails = report.get("tests › test_api › test_fails");
    assert_eq!(fails.outcome, Outcome::Failed);
    assert_eq!(
        fails.message.as_deref(),
        Some("AssertionError: expected <ok> & \"200\"\nassert 503 == 200")
    );
    let trace = fails.trace.as_deref().expect("a trace");
    assert!(trace.starts_with("def test_fails():"), "{trace}");
    assert!(
        trace.ends_with("tests/test_api.py:19: AssertionError"),
        "{trace}"
    );
    assert!(
        trace.contains(">       assert value[\"status\"] == 200"),
        "{trace}"
    );
    // pytest's line is 0-based: the `def` is on line 14 of the module.
    assert_eq!(fails.file.as_deref(), Some("tests/test_api.py"));
    assert_eq!(fails.line, Some(14));
    assert_eq!(fails.duration_ms, Some(1));
    assert!(
        fails
            .stdout
            .as_deref()
            .expect("stdout")
            .contains("about to check the status")
    );
    assert!(
        fails
            .stderr
            .as_deref()
            .expect("stderr")
            .contains("warning: slow backend")
    );

    let xfail = report.get("tests › test_api › test_expected_failure");
    assert_eq!(xfail.outcome, Outcome::Skipped);
    assert_eq!(xfail.message.as_deref(), Some("bug #123 not fixed yet"));
    assert_eq!(
        xfail.labels,
        vec![("skipped.type".to_string(), "pytest.xfail".to_string())]
    );

    let skipped = report.get("tests › test_api › test_skipped");
    assert_eq!(skipped.message.as_deref(), Some("not on this platform"));
    assert!(
        skipped
            .trace
            .as_deref()
            .expect("the skip location")
            .ends_with(":22: not on this platform")
    );

    let fixture_error = report.get("tests › test_api › test_fixture_error");
    assert_eq!(fixture_error.outcome, Outcome::Errored);
    assert_eq!(
        fixture_error.message.as_deref(),
        Some("failed on setup with \"ConnectionError: database is down\"")
    );
    assert_eq!(fixture_error.line, Some(32));

    let param_case = report.get("tests › test_api › TestUsers › test_add[id=1-2]");
    assert_eq!(
        param_case.identity.suite,
        ["tests", "test_api", "TestUsers"]
    );
    assert_eq!(param_case.identity.name, "test_add");
    assert_eq!(param_case.identity.parameters, param("1-2"));
    assert_eq!(param_case.outcome, Outcome::Passed);
    report.get("tests › test_api › TestUsers › test_add[id=3-4]");

    let recorded = report.get("tests › test_api › TestUsers › test_record");
    assert_eq!(
        recorded.labels,
        vec![("owner".to_string(), "team-api".to_string())]
    );

    let passes = report.get("tests › test_api › test_passes");
    assert!(
        passes
            .stdout
            .as_deref()
            .expect("stdout")
            .contains("hello from stdout")
    );
    assert!(passes.attempts.is_empty() && !passes.is_flaky());
}

#[test]
fn pytest_xunit2_has_the_same_identities_without_locations() {
    let xunit1 = Report::read("pytest-xunit1.xml");
    let xunit2 = Report::read("pytest-xunit2.xml");
    assert_eq!(xunit2.counts(), [4, 1, 1, 2]);
    let keys = |r: &Report| -> Vec<String> { r.results.iter().map(|t| t.identity.key()).collect() };
    assert_eq!(keys(&xunit1), keys(&xunit2));
    assert!(
        xunit2
            .results
            .iter()
            .all(|r| r.file.is_none() && r.line.is_none())
    );
    // xunit2 refuses record_property at run time, yet pytest still wrote it: it is kept.
    let recorded = xunit2.get("tests › test_api › TestUsers › test_record");
    assert_eq!(
        recorded.labels,
        vec![("owner".to_string(), "team-api".to_string())]
    );
    let fails = xunit2.get("tests › test_api › test_fails");
    assert!(
        fails
            .stdout
            .as_deref()
            .expect("stdout")
            .contains("Captured Out")
    );
}

#[test]
fn jest_junit_defaults() {
    let report = Report::read("jest-junit-default.xml");
    // jest-junit reports a todo test as passed.
    assert_eq!(report.counts(), [5, 1, 0, 1]);
    assert_eq!(report.meta.tool.as_deref(), Some("jest"));

    // classname == name (the default templates): the suite is the testsuite's name.
    let failed = report.get("UserService › UserService rejects a duplicate email");
    assert_eq!(failed.outcome, Outcome::Failed);
    assert_eq!(failed.duration_ms, Some(3));
    // No message attribute: the first line of the body.
    assert_eq!(
        failed.message.as_deref(),
        Some("Error: expect(received).toEqual(expected) // deep equality")
    );
    let trace = failed.trace.as_deref().expect("a trace");
    assert!(
        trace.contains("\"ok\": false,"),
        "entities in text are resolved: {trace}"
    );
    assert!(trace.contains("at new Promise (<anonymous>)"), "{trace}");

    let escaped = report
        .get("UserService › UserService when the store is down reports <unavailable> & retries");
    assert_eq!(escaped.outcome, Outcome::Passed);

    // jest-junit names a file without a describe block `undefined`: not a suite.
    let each = report.get("add(1, 1) = 2");
    assert!(each.identity.suite.is_empty());
    assert_eq!(
        report
            .get("UserService › UserService sends a welcome mail")
            .outcome,
        Outcome::Skipped
    );
}

#[test]
fn jest_junit_configured_with_file_and_title_templates() {
    let report = Report::read("jest-junit-configured.xml");
    assert_eq!(report.counts(), [5, 1, 0, 1]);
    let nested = report.get(
        "src/user.test.js › UserService when the store is down › reports <unavailable> & retries",
    );
    assert_eq!(nested.file.as_deref(), Some("src/user.test.js"));
    let skipped = report.get("src/user.test.js › UserService › sends a welcome mail");
    assert_eq!(skipped.outcome, Outcome::Skipped);
    assert_eq!(skipped.message, None);
    let each = report.get("src/math.test.js › add(2, 2) = 4");
    assert_eq!(each.duration_ms, Some(4));
}

#[test]
fn cargo_nextest_with_retries() {
    let report = Report::read("nextest.xml");
    assert_eq!(report.counts(), [3, 1, 0, 0]);
    assert_eq!(report.meta.tool.as_deref(), Some("cargo-nextest"));

    // `shop` + `tests::sums_prices`: the module path joins the suite path.
    let unit = report.get("shop › tests › sums_prices");
    assert_eq!(unit.identity.name, "sums_prices");
    assert!(
        unit.stdout
            .as_deref()
            .expect("stdout")
            .contains("summing three prices")
    );
    assert_eq!(unit.stderr, None, "an empty <system-err> is no output");

    // Failed on the first run and both retries: the last retry is the result.
    let failing = report.get("shop › tests › applies_discount");
    assert_eq!(failing.outcome, Outcome::Failed);
    assert_eq!(failing.attempts.len(), 2);
    assert!(
        failing
            .attempts
            .iter()
            .all(|a| a.outcome == Outcome::Failed)
    );
    assert!(!failing.is_flaky());
    assert!(
        failing
            .message
            .as_deref()
            .expect("message")
            .contains("(4518) panicked at src/lib.rs:17:9")
    );
    assert!(
        failing.attempts[0]
            .message
            .as_deref()
            .expect("message")
            .contains("(4508)")
    );
    assert!(
        failing.attempts[1]
            .message
            .as_deref()
            .expect("message")
            .contains("(4513)")
    );
    let trace = failing.trace.as_deref().expect("trace");
    assert!(
        trace.starts_with("thread 'tests::applies_discount' (4518)"),
        "{trace}"
    );
    assert!(
        trace.ends_with("to display a backtrace"),
        "the retry's output is not in the trace: {trace}"
    );
    assert_eq!(failing.attempts[1].duration_ms, Some(4));

    // Failed once, passed on the retry.
    let flaky = report.get("shop › checkout › flaky_checkout");
    assert_eq!(flaky.outcome, Outcome::Passed);
    assert!(flaky.is_flaky());
    assert_eq!(flaky.attempts.len(), 1);
    assert_eq!(flaky.attempts[0].outcome, Outcome::Failed);
    assert!(
        flaky.attempts[0]
            .trace
            .as_deref()
            .expect("trace")
            .contains("payment gateway timed out")
    );
    assert_eq!(flaky.stderr.as_deref(), Some("attempt 2"));
}

#[test]
fn surefire_flaky_and_rerun_failures() {
    let report = Report::read("surefire-reruns.xml");
    assert_eq!(report.counts(), [3, 1, 1, 1]);
    let meta = &report.meta;
    assert_eq!(meta.tool.as_deref(), Some("maven-surefire"));
    assert_eq!(meta.branch.as_deref(), Some("main"));
    assert_eq!(meta.commit.as_deref(), Some("3f2a9c1d7e"));
    assert_eq!(
        meta.build_url.as_deref(),
        Some("https://jenkins.example.com/job/billing/812/")
    );
    assert_eq!(meta.build_name.as_deref(), Some("812"));
    // JVM properties: a few kept as environment, the class path and home directory dropped.
    let env: Vec<&str> = meta.environment.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(env, ["java.version", "os.name", "spring.profiles.active"]);

    let tax = report.get("com › acme › billing › InvoiceServiceTest › computesTax");
    assert_eq!(tax.duration_ms, Some(12));
    assert_eq!(
        tax.labels,
        vec![("spring.profiles.active".to_string(), "test".to_string())]
    );

    let flaky = report.get("com › acme › billing › InvoiceServiceTest › retriesPayment");
    assert_eq!(flaky.outcome, Outcome::Passed);
    assert!(flaky.is_flaky());
    assert_eq!(flaky.duration_ms, Some(1_001_250), "time=\"1,001.250\"");
    let outcomes: Vec<Outcome> = flaky.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [Outcome::Failed, Outcome::Errored]);
    assert_eq!(flaky.attempts[0].message.as_deref(), Some("Read timed out"));
    let first_trace = flaky.attempts[0].trace.as_deref().expect("stackTrace");
    assert!(first_trace.starts_with("java.net.SocketTimeoutException: Read timed out\n\tat "));
    assert!(
        !first_trace.contains("attempt 1"),
        "a retry's output is not its trace"
    );
    assert_eq!(
        flaky.stdout.as_deref(),
        Some("attempt 3: calling the gateway\npaid invoice INV-7")
    );

    let rerun = report.get("com › acme › billing › InvoiceServiceTest › roundsTotals");
    assert_eq!(rerun.outcome, Outcome::Failed);
    assert_eq!(
        rerun.message.as_deref(),
        Some("expected: <42.00> but was: <41.97>")
    );
    assert_eq!(rerun.attempts.len(), 2);
    assert_eq!(
        rerun.attempts[0].message.as_deref(),
        Some("expected: <42.00> but was: <41.99>")
    );
    assert_eq!(
        rerun.attempts[0].duration_ms,
        Some(4),
        "the first run is timed by the testcase"
    );
    assert!(
        rerun.attempts[0]
            .trace
            .as_deref()
            .expect("trace")
            .contains("AssertionUtils.fail")
    );
    assert_eq!(
        rerun.attempts[1].message.as_deref(),
        Some("expected: <42.00> but was: <41.98>")
    );
    assert_eq!(rerun.stdout.as_deref(), Some("rounding 41.995"));

    let errored = report.get("com › acme › billing › InvoiceServiceTest › loadsRates");
    assert_eq!(errored.outcome, Outcome::Errored);
    assert_eq!(errored.attempts.len(), 1);
    assert_eq!(errored.attempts[0].outcome, Outcome::Errored);
    assert_eq!(
        errored.message.as_deref(),
        Some("Cannot invoke \"com.acme.billing.Rate.value()\" because \"rate\" is null")
    );

    let skipped = report.get("com › acme › billing › InvoiceServiceTest › exportsPdf");
    assert_eq!(skipped.message.as_deref(), Some("Requires a PDF renderer"));

    // A JUnit 5 nested class and a parametrised invocation.
    let nested =
        report.get("com › acme › billing › InvoiceServiceTest › Arithmetic › adds(int, int)[id=2]");
    assert_eq!(nested.identity.name, "adds(int, int)");
    assert_eq!(nested.identity.parameters, param("2"));
}

#[test]
fn ant_nested_suites_properties_and_escaping() {
    let report = Report::read("ant-nested.xml");
    assert_eq!(report.counts(), [2, 1, 1, 1]);
    let meta = &report.meta;
    assert_eq!(meta.tool, None);
    assert_eq!(meta.branch.as_deref(), Some("release/2.4"));
    assert_eq!(meta.commit.as_deref(), Some("9b1c2d3e4f"));
    assert_eq!(
        meta.build_url.as_deref(),
        Some("https://jenkins.example.com/job/nightly/77/")
    );
    assert_eq!(
        meta.environment,
        [
            ("browser", "firefox"),
            ("hostname", "build-7"),
            ("db", "postgres 16")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );

    // Named enclosing suites make the path when there is no classname.
    let card = report.get("integration › Checkout flow › pays with a card");
    assert_eq!(card.duration_ms, Some(3250));
    assert_eq!(
        card.file.as_deref(),
        Some("it/checkout.it.ts"),
        "inherited from the suite"
    );
    assert_eq!(
        card.labels,
        [
            ("browser", "firefox"),
            ("db", "postgres 16"),
            ("owner", "team-pay")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );

    let expired = report.get("integration › Checkout flow › refuses an expired card");
    assert_eq!(
        expired.message.as_deref(),
        Some("Card \"4111…\" accepted & charged")
    );
    assert!(
        expired
            .trace
            .as_deref()
            .expect("trace")
            .contains("at Context.<anonymous> (it/checkout.it.ts:42:11)")
    );

    // The suite named like the classname is not repeated.
    let unicode = report.get("org › example › text › EscapingTest › keepsUnicode");
    assert_eq!(
        unicode.stdout.as_deref(),
        Some("café ✓ <tag> &amp; 'single' \"double\"")
    );
    assert_eq!(unicode.stderr.as_deref(), Some("raw <xml> & stuff ]]> end"));

    let crash = report.get("org › example › text › EscapingTest › crashes");
    assert_eq!(crash.outcome, Outcome::Errored);
    assert_eq!(
        crash.message.as_deref(),
        Some("java.lang.OutOfMemoryError: Java heap space")
    );
    assert_eq!(
        crash.trace.as_deref(),
        Some(
            "java.lang.OutOfMemoryError: Java heap space\n\tat org.example.text.Escaping.grow(Escaping.java:12)"
        )
    );

    let disabled = report.get("org › example › text › EscapingTest › DISABLED_legacy");
    assert_eq!(disabled.outcome, Outcome::Skipped);
}

#[test]
fn identities_agree_across_dialects() {
    // The same pytest test, as pytest writes it and as a hand-written Ant report would.
    let ant = br#"<testsuites><testsuite name="tests.test_api"><testcase classname="tests.test_api.TestUsers" name="test_x[1-2]"/></testsuite></testsuites>"#;
    let mut reader = JunitReader::new(&ant[..], Limits::default());
    let result = reader.next_result().expect("parses").expect("one result");
    assert_eq!(result.identity.suite, ["tests", "test_api", "TestUsers"]);
    assert_eq!(result.identity.name, "test_x");
    assert_eq!(result.identity.parameters, param("1-2"));
    assert_eq!(
        result.identity.key(),
        "tests › test_api › TestUsers › test_x[id=1-2]"
    );
}

#[test]
fn long_text_is_cut_and_marked_not_refused() {
    let limits = Limits {
        max_text_bytes: 64,
        ..Limits::default()
    };
    let body = "x".repeat(10_000);
    let xml = format!(
        "<testsuite><testcase name=\"t\"><failure message=\"m\">{body}</failure>\
         <system-out><![CDATA[{body}]]>{body}</system-out></testcase></testsuite>"
    );
    let mut reader = JunitReader::new(xml.as_bytes(), limits);
    let result = reader
        .next_result()
        .expect("not refused")
        .expect("a result");
    let trace = result.trace.expect("trace");
    assert!(trace.starts_with(&"x".repeat(64)));
    assert!(trace.ends_with("\n… [truncated 9936 bytes]"), "{trace}");
    let stdout = result.stdout.expect("stdout");
    assert!(
        stdout.ends_with("[truncated 19936 bytes]"),
        "one budget per element: {stdout}"
    );
}

#[test]
fn meta_read_after_the_last_result_includes_late_properties() {
    let xml = br#"<testsuites><testsuite name="s"><testcase name="a"/>
        <properties><property name="commit" value="abc"/><property name="os" value="linux"/></properties>
        </testsuite></testsuites>"#;
    let mut reader = JunitReader::new(&xml[..], Limits::default());
    let first = reader.next_result().expect("parses").expect("one");
    assert!(
        first.labels.is_empty(),
        "properties after a case do not reach it"
    );
    assert!(reader.next_result().expect("parses").is_none());
    assert!(reader.next_result().expect("still the end").is_none());
    assert_eq!(reader.meta().commit.as_deref(), Some("abc"));
    assert_eq!(
        reader.meta().environment,
        vec![("os".to_string(), "linux".to_string())]
    );
}
