//! A deterministic, realistic JUnit report for benchmarks and tests: Surefire-shaped suites of
//! Java-like classes, with failures that carry multi-line stack traces and captured output, skips,
//! and the odd flaky test rerun by Surefire (`flakyFailure`).
//!
//! Two guarantees make it useful for history tests: the same `(cases, seed)` always writes the
//! same bytes, and a test's identity depends only on its index — the seed changes outcomes and
//! times, never names — so reports written with different seeds describe the same tests in
//! different runs.
//!
//! The writer streams: memory holds one suite's plan (at most 200 small entries), whatever the
//! number of cases. Give it a `BufWriter` when writing to a file.

use std::io::{self, Write};

/// Cases per suite, inclusive.
const SUITE_MIN: u64 = 50;
const SUITE_MAX: u64 = 200;

/// Out of 10,000: how a case ends.
const FAILED_PER_10K: u64 = 700;
const ERRORED_PER_10K: u64 = 100;
const SKIPPED_PER_10K: u64 = 300;
/// One failing case in this many is instead flaky: it failed, was rerun and passed.
const FLAKY_ONE_IN: u64 = 200;

/// Writes a JUnit report of `cases` test cases, deterministic for `seed`.
pub fn write_junit(out: &mut impl Write, cases: u64, seed: u64) -> io::Result<()> {
    out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    writeln!(out, "<testsuites name=\"generated\" tests=\"{cases}\">")?;
    let mut plan = Vec::with_capacity(SUITE_MAX as usize);
    let mut first = 0u64;
    let mut suite = 0u64;
    while first < cases {
        let size = suite_size(suite).min(cases - first);
        plan.clear();
        plan.extend((first..first + size).map(|index| CasePlan::draw(seed, index)));
        write_suite(out, suite, &plan)?;
        first += size;
        suite += 1;
    }
    out.write_all(b"</testsuites>\n")
}

/// splitmix64: tiny, fast and good enough to pick words and outcomes.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform enough in `0..n` (n is small here, so the modulo bias is negligible).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A suite's size depends on its number only, so case `i` is always in the same suite.
fn suite_size(suite: u64) -> u64 {
    SUITE_MIN + mix(suite ^ 0x0005_eed5) % (SUITE_MAX - SUITE_MIN + 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Passed,
    Failed,
    Errored,
    Skipped,
    Flaky,
}

/// What one case will be: drawn from `(seed, index)` alone, so cases are independent.
#[derive(Debug, Clone, Copy)]
struct CasePlan {
    kind: Kind,
    millis: u64,
    /// Drives the details (messages, trace length, output) of this case.
    detail: u64,
}

impl CasePlan {
    fn draw(seed: u64, index: u64) -> Self {
        let mut rng = SplitMix::new(seed ^ mix(index.wrapping_add(0x1234_5678)));
        let roll = rng.below(10_000);
        let mut kind = if roll < FAILED_PER_10K {
            Kind::Failed
        } else if roll < FAILED_PER_10K + ERRORED_PER_10K {
            Kind::Errored
        } else if roll < FAILED_PER_10K + ERRORED_PER_10K + SKIPPED_PER_10K {
            Kind::Skipped
        } else {
            Kind::Passed
        };
        if matches!(kind, Kind::Failed | Kind::Errored) && rng.below(FLAKY_ONE_IN) == 0 {
            kind = Kind::Flaky;
        }
        let millis = match kind {
            Kind::Skipped => 0,
            _ if rng.below(20) == 0 => 500 + rng.below(4_500),
            _ => 1 + rng.below(250),
        };
        CasePlan {
            kind,
            millis,
            detail: rng.next(),
        }
    }
}

const ORGS: &[&str] = &[
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
];
const MODULES: &[&str] = &[
    "billing",
    "auth",
    "catalog",
    "checkout",
    "inventory",
    "search",
    "shipping",
    "payments",
    "notifications",
    "reporting",
    "accounts",
    "pricing",
    "orders",
    "gateway",
    "storage",
    "analytics",
];
const LAYERS: &[&str] = &[
    "api",
    "service",
    "repository",
    "model",
    "util",
    "client",
    "config",
    "event",
    "cache",
    "security",
    "web",
    "batch",
    "domain",
    "mapper",
    "validation",
    "scheduler",
];
const NOUNS: &[&str] = &[
    "Account",
    "Invoice",
    "Order",
    "Customer",
    "Payment",
    "Session",
    "Token",
    "Cart",
    "Product",
    "Price",
    "Discount",
    "Ledger",
    "Shipment",
    "Address",
    "Report",
    "Query",
    "Index",
    "Cache",
    "Event",
    "Message",
    "Queue",
    "Schedule",
    "Tenant",
    "User",
    "Role",
    "Permission",
    "Audit",
    "Export",
    "Import",
    "Webhook",
    "Config",
    "Currency",
];
const VERBS: &[&str] = &[
    "should",
    "creates",
    "rejects",
    "updates",
    "deletes",
    "finds",
    "validates",
    "computes",
    "parses",
    "serialises",
    "retries",
    "caches",
    "expires",
    "notifies",
    "exports",
    "handles",
];
const OBJECTS: &[&str] = &[
    "ValidInput",
    "EmptyList",
    "ExpiredToken",
    "DuplicateKey",
    "NegativeAmount",
    "UnicodeName",
    "LargePayload",
    "MissingField",
    "NullValue",
    "ConcurrentWrite",
    "ZeroQuantity",
    "FutureDate",
    "UnknownCurrency",
    "SlowResponse",
    "PartialPage",
    "MalformedJson",
];
const CONDITIONS: &[&str] = &[
    "",
    "WhenCacheIsCold",
    "WhenDatabaseIsDown",
    "WithDefaultLocale",
    "ForAdmin",
    "ForGuest",
    "InParallel",
    "AfterRetry",
    "OnFirstCall",
    "WithTimeout",
    "WhenDisabled",
    "UnderLoad",
    "AcrossTimezones",
    "WithEmptyConfig",
    "InBatch",
    "AfterMigration",
];

/// The fully qualified class of suite `suite`: distinct for every suite number (mixed radix over
/// the word lists, with a numeric suffix once they are exhausted).
pub(crate) fn class_name(suite: u64) -> String {
    let mut n = suite;
    let mut digit = |len: usize| {
        let d = (n % len as u64) as usize;
        n /= len as u64;
        d
    };
    let second = NOUNS[digit(NOUNS.len())];
    let first = NOUNS[digit(NOUNS.len())];
    let layer = LAYERS[digit(LAYERS.len())];
    let module = MODULES[digit(MODULES.len())];
    let org = ORGS[digit(ORGS.len())];
    let suffix = if n > 0 { n.to_string() } else { String::new() };
    format!("com.{org}.{module}.{layer}.{first}{second}{suffix}Test")
}

/// The method name of case `position` in suite `suite`: distinct within the suite (mixed radix
/// over 4,096 combinations, at most 200 used), a few of them parametrised.
pub(crate) fn method_name(suite: u64, position: u64) -> String {
    let combos = (VERBS.len() * OBJECTS.len() * CONDITIONS.len()) as u64;
    let mut n = (position + mix(suite) % combos) % combos;
    let mut digit = |len: usize| {
        let d = (n % len as u64) as usize;
        n /= len as u64;
        d
    };
    let object = OBJECTS[digit(OBJECTS.len())];
    let verb = VERBS[digit(VERBS.len())];
    let condition = CONDITIONS[digit(CONDITIONS.len())];
    if position % 23 == 7 {
        format!("{verb}{object}{condition}[{}]", 1 + position % 5)
    } else {
        format!("{verb}{object}{condition}")
    }
}

fn write_suite(out: &mut impl Write, suite: u64, plan: &[CasePlan]) -> io::Result<()> {
    let class = class_name(suite);
    let count = |k: Kind| plan.iter().filter(|c| c.kind == k).count();
    let total_ms: u64 = plan.iter().map(|c| c.millis).sum();
    write!(
        out,
        "  <testsuite name=\"{class}\" tests=\"{}\"",
        plan.len()
    )?;
    writeln!(
        out,
        " failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        count(Kind::Failed),
        count(Kind::Errored),
        count(Kind::Skipped),
        Seconds(total_ms)
    )?;
    out.write_all(
        b"    <properties>\n      <property name=\"java.version\" value=\"21.0.2\"/>\n      \
          <property name=\"os.name\" value=\"Linux\"/>\n      \
          <property name=\"file.encoding\" value=\"UTF-8\"/>\n    </properties>\n",
    )?;
    for (position, case) in plan.iter().enumerate() {
        write_case(out, suite, &class, position as u64, case)?;
    }
    out.write_all(b"  </testsuite>\n")
}

/// Milliseconds written as Surefire writes seconds.
struct Seconds(u64);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

fn write_case(
    out: &mut impl Write,
    suite: u64,
    class: &str,
    position: u64,
    case: &CasePlan,
) -> io::Result<()> {
    let method = method_name(suite, position);
    write!(out, "    <testcase name=\"")?;
    write_escaped(out, &method)?;
    write!(
        out,
        "\" classname=\"{class}\" time=\"{}\"",
        Seconds(case.millis)
    )?;
    let mut rng = SplitMix::new(case.detail);
    match case.kind {
        Kind::Passed => out.write_all(b"/>\n"),
        Kind::Skipped => {
            out.write_all(b">\n      <skipped message=\"")?;
            write_escaped(out, rng.pick(SKIP_REASONS))?;
            out.write_all(b"\"/>\n    </testcase>\n")
        }
        Kind::Failed | Kind::Errored => {
            out.write_all(b">\n")?;
            let failure = Failure::draw(&mut rng, case.kind == Kind::Errored);
            let element = if case.kind == Kind::Errored {
                "error"
            } else {
                "failure"
            };
            write!(out, "      <{element} message=\"")?;
            write_escaped(out, &failure.message)?;
            write!(out, "\" type=\"{}\">", failure.type_name)?;
            write_trace(out, &mut rng, class, &method, &failure)?;
            writeln!(out, "</{element}>")?;
            if rng.below(2) == 0 {
                write_output(out, &mut rng, class)?;
            }
            out.write_all(b"    </testcase>\n")
        }
        Kind::Flaky => {
            out.write_all(b">\n")?;
            let failure = Failure::timeout(&mut rng);
            out.write_all(b"      <flakyFailure message=\"")?;
            write_escaped(out, &failure.message)?;
            write!(
                out,
                "\" type=\"{}\">\n        <stackTrace>",
                failure.type_name
            )?;
            write_trace(out, &mut rng, class, &method, &failure)?;
            out.write_all(b"</stackTrace>\n")?;
            write_output(out, &mut rng, class)?;
            out.write_all(b"      </flakyFailure>\n    </testcase>\n")
        }
    }
}

const SKIP_REASONS: &[&str] = &[
    "Disabled until PAY-1234 is fixed",
    "Requires a Docker daemon",
    "Assumption failed: running on CI only",
    "Slow test: run with -Pslow",
    "Not supported on Linux",
];

struct Failure {
    type_name: &'static str,
    message: String,
}

impl Failure {
    fn draw(rng: &mut SplitMix, errored: bool) -> Self {
        if errored {
            let (type_name, message) = match rng.below(3) {
                0 => (
                    "java.lang.NullPointerException",
                    "Cannot invoke \"com.acme.model.User.getId()\" because \"user\" is null"
                        .to_string(),
                ),
                1 => (
                    "java.lang.IllegalStateException",
                    format!(
                        "Connection pool exhausted after {}ms",
                        1000 * (1 + rng.below(30))
                    ),
                ),
                _ => (
                    "org.springframework.beans.factory.BeanCreationException",
                    "Error creating bean with name 'dataSource': <init> threw an exception"
                        .to_string(),
                ),
            };
            return Failure { type_name, message };
        }
        let (type_name, message) = match rng.below(3) {
            0 => (
                "org.opentest4j.AssertionFailedError",
                format!("expected: <200> but was: <{}>", 400 + rng.below(104)),
            ),
            1 => (
                "java.lang.AssertionError",
                format!(
                    "Expected order total 42.00 but got {}.{:02} & the tax line was missing",
                    rng.below(100),
                    rng.below(100)
                ),
            ),
            _ => (
                "org.opentest4j.AssertionFailedError",
                format!("expected list of size {} but was \"[]\"", 1 + rng.below(9)),
            ),
        };
        Failure { type_name, message }
    }

    fn timeout(rng: &mut SplitMix) -> Self {
        Failure {
            type_name: "java.net.SocketTimeoutException",
            message: format!("Read timed out after {} ms", 1000 * (1 + rng.below(10))),
        }
    }
}

const FRAMES: &[&str] = &[
    "org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)",
    "org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)",
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
    "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)",
    "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)",
    "org.junit.jupiter.engine.execution.InvocationInterceptorChain$ValidatingInvocation.proceed(InvocationInterceptorChain.java:131)",
    "org.junit.jupiter.engine.extension.TimeoutExtension.intercept(TimeoutExtension.java:156)",
    "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:218)",
    "org.junit.platform.engine.support.hierarchical.ThrowableCollector.execute(ThrowableCollector.java:73)",
    "org.junit.platform.engine.support.hierarchical.NodeTestTask.executeRecursively(NodeTestTask.java:151)",
    "java.base/java.util.ArrayList.forEach(ArrayList.java:1596)",
    "org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invokeAllTests(JUnitPlatformProvider.java:142)",
    "org.apache.maven.surefire.booter.ForkedBooter.runSuitesInProcess(ForkedBooter.java:385)",
];

/// The exception line, the test's own frames, then 10–30 lines of framework frames.
fn write_trace(
    out: &mut impl Write,
    rng: &mut SplitMix,
    class: &str,
    method: &str,
    failure: &Failure,
) -> io::Result<()> {
    write!(out, "{}: ", failure.type_name)?;
    write_escaped(out, &failure.message)?;
    let simple = class.rsplit('.').next().unwrap_or(class);
    let base = method.split('[').next().unwrap_or(method);
    write!(
        out,
        "\n\tat {class}.{base}({simple}.java:{})",
        20 + rng.below(400)
    )?;
    let lines = 9 + rng.below(21);
    for _ in 0..lines {
        write!(
            out,
            "\n\tat {}",
            FRAMES[rng.below(FRAMES.len() as u64) as usize]
        )?;
    }
    out.write_all(b"\n")
}

fn write_output(out: &mut impl Write, rng: &mut SplitMix, class: &str) -> io::Result<()> {
    out.write_all(b"      <system-out><![CDATA[")?;
    for _ in 0..2 + rng.below(4) {
        let level = if rng.below(4) == 0 { "WARN " } else { "INFO " };
        writeln!(
            out,
            "2026-01-15 10:{:02}:{:02}.{:03} {level}[main] {class} - request id={:08x} took {}ms",
            rng.below(60),
            rng.below(60),
            rng.below(1000),
            rng.next() as u32,
            rng.below(900)
        )?;
    }
    out.write_all(b"]]></system-out>\n")
}

/// Writes `text` escaped for an attribute value or element text.
fn write_escaped(out: &mut impl Write, text: &str) -> io::Result<()> {
    let mut rest = text;
    while let Some(i) = rest.find(['<', '>', '&', '"', '\'']) {
        out.write_all(&rest.as_bytes()[..i])?;
        let entity: &[u8] = match rest.as_bytes()[i] {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            b'"' => b"&quot;",
            _ => b"&apos;",
        };
        out.write_all(entity)?;
        rest = &rest[i + 1..];
    }
    out.write_all(rest.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::JunitReader;
    use crate::{Limits, Outcome, ResultSource};
    use std::collections::HashSet;

    fn generate(cases: u64, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let written = write_junit(&mut out, cases, seed);
        assert!(written.is_ok(), "writing to a Vec cannot fail");
        out
    }

    #[test]
    fn reads_back_every_case_in_realistic_proportions() {
        let cases = 20_000;
        let bytes = generate(cases, 7);
        let mut reader = JunitReader::new(bytes.as_slice(), Limits::default());
        let (mut total, mut failed, mut errored, mut skipped, mut flaky) = (0u64, 0, 0, 0, 0);
        let mut keys = HashSet::new();
        loop {
            let result = match reader.next_result() {
                Ok(Some(result)) => result,
                Ok(None) => break,
                Err(err) => panic!("generated report refused: {err}"),
            };
            total += 1;
            match result.outcome {
                Outcome::Failed => failed += 1,
                Outcome::Errored => errored += 1,
                Outcome::Skipped => skipped += 1,
                Outcome::Passed => {}
            }
            if result.is_flaky() {
                flaky += 1;
            }
            if result.outcome.is_failure() {
                let lines = result.trace.as_deref().map_or(0, |t| t.lines().count());
                assert!((10..=32).contains(&lines), "a trace of {lines} lines");
                assert!(result.message.is_some());
            }
            keys.insert(result.identity.key());
        }
        assert_eq!(total, cases);
        assert_eq!(keys.len() as u64, cases, "identities are distinct");
        let percent = |n: u64| n as f64 * 100.0 / cases as f64;
        assert!(
            (6.0..8.0).contains(&percent(failed)),
            "failed {}%",
            percent(failed)
        );
        assert!(
            (0.6..1.4).contains(&percent(errored)),
            "errored {}%",
            percent(errored)
        );
        assert!(
            (2.4..3.6).contains(&percent(skipped)),
            "skipped {}%",
            percent(skipped)
        );
        assert!((1..=25).contains(&flaky), "{flaky} flaky");
        assert_eq!(
            reader.meta().environment.len(),
            2,
            "{:?}",
            reader.meta().environment
        );
    }

    #[test]
    fn deterministic_and_names_do_not_depend_on_the_seed() {
        assert_eq!(generate(500, 1), generate(500, 1));
        assert_ne!(generate(500, 1), generate(500, 2));
        let names = |bytes: Vec<u8>| -> Vec<String> {
            let mut reader = JunitReader::new(bytes.as_slice(), Limits::default());
            let mut keys = Vec::new();
            while let Ok(Some(result)) = reader.next_result() {
                keys.push(result.identity.key());
            }
            keys
        };
        let a = names(generate(500, 1));
        assert_eq!(a.len(), 500);
        assert_eq!(a, names(generate(500, 2)));
        // A longer report starts with the same tests.
        assert_eq!(a[..], names(generate(800, 3))[..500]);
    }

    #[test]
    fn class_and_method_names_are_distinct() {
        let classes: HashSet<String> = (0..5_000).map(class_name).collect();
        assert_eq!(classes.len(), 5_000);
        let methods: HashSet<String> = (0..SUITE_MAX).map(|p| method_name(42, p)).collect();
        assert_eq!(methods.len() as u64, SUITE_MAX);
    }
}
