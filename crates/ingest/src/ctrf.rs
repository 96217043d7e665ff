//! CTRF (Common Test Report Format, <https://ctrf.io>): one JSON document, `results.tests[]` one
//! entry per test. Read in one pass from the body: each test is converted as soon as it is parsed,
//! so memory holds the converted results, never the document text and a tree of it side by side.
//!
//! Mapping (spec 0.0.x to 0.1.0, and the older shape without `reportFormat`):
//! - identity: suite path from `suite` (an array, or a string split on ` > ` as Jest and
//!   Playwright write it), `name`, parameters from the `parameters` object. Without `parameters`,
//!   a name ending in a bracketed id (`test_x[1-2]`, pytest) is the name before the bracket with
//!   the parameter `id`, as in JUnit and Allure. `filePath` is not part of the identity:
//!   producers write it absolute, so it changes from machine to machine.
//! - `status` passed/failed/skipped/pending/other → Passed/Failed/Skipped/Skipped/Errored, except
//!   `other` whose `rawStatus` says todo/disabled/skipped/pending/ignored → Skipped.
//! - `retryAttempts` become `attempts` (the spec's history: the first run and all retries but the
//!   final one; a list that also holds the final run, i.e. `retries + 1` entries, has it dropped).
//!   Without `retryAttempts`, `retries: n` means n earlier failed runs (a retry follows a failure).
//! - `tags` → `tag` labels, `labels` → labels, `type`/`threadId`/`browser`/`device`/`id` →
//!   `type`/`thread`/`browser`/`device`/`ctrf.id` labels, failed `steps` → `step.failed`,
//!   `attachments` → `attachment` labels (`name; contentType; path`: metadata, not content).
//! - `results.tool` and `results.environment` → `ReportMeta`. `extra`, `insights`, `summary`,
//!   `screenshot` (base64) and `ai` are ignored.

use crate::{
    Attempt, IngestError, Limits, Outcome, ReportMeta, ResultSource, TestIdentity, TestResult,
};
use json::{JsonCtx, ValueSeed};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::io::Read;

const FORMAT: &str = "ctrf";

/// A `retries` count past which the number is nonsense (and would cost memory as attempts).
const MAX_RETRIES: u64 = 10_000;

/// A parsed CTRF report, handing out its results in document order.
#[derive(Debug)]
pub struct CtrfReader {
    meta: ReportMeta,
    spec_version: Option<String>,
    results: std::vec::IntoIter<TestResult>,
}

impl CtrfReader {
    /// Reads and converts the whole document from `reader` (at most `max_decompressed_bytes`).
    /// Wrap a compressed body in `decompress::decoder` first; its refusals come back as they are.
    pub fn new<R: Read>(reader: R, limits: Limits) -> Result<Self, IngestError> {
        let bounded = json::Bounded::new(reader, limits.max_decompressed_bytes);
        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(bounded));
        Self::parse(&mut de, limits)
    }

    /// The same from bytes already in memory.
    pub fn from_slice(bytes: &[u8], limits: Limits) -> Result<Self, IngestError> {
        if bytes.len() as u64 > limits.max_decompressed_bytes {
            return Err(IngestError::limit(format!(
                "ctrf: the document is larger than {} bytes (max_decompressed_bytes)",
                limits.max_decompressed_bytes
            )));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        Self::parse(&mut de, limits)
    }

    /// The document's `specVersion`, when it has one.
    pub fn spec_version(&self) -> Option<&str> {
        self.spec_version.as_deref()
    }

    /// Results not handed out yet.
    pub fn remaining(&self) -> usize {
        self.results.len()
    }

    fn parse<'de, R: serde_json::de::Read<'de>>(
        de: &mut serde_json::Deserializer<R>,
        limits: Limits,
    ) -> Result<Self, IngestError> {
        let mut doc = Doc {
            ctx: JsonCtx::new(FORMAT, limits),
            report_format: None,
            spec_version: None,
            saw_results: false,
            saw_tests: false,
            meta: ReportMeta::default(),
            results: Vec::new(),
        };
        let parsed = DocSeed { doc: &mut doc }
            .deserialize(&mut *de)
            .and_then(|()| de.end());
        if let Err(err) = parsed {
            return Err(doc.ctx.take_error(err));
        }
        if let Some(format) = &doc.report_format
            && !format.eq_ignore_ascii_case("CTRF")
        {
            return Err(doc.ctx.field(
                "reportFormat",
                format!("expected \"CTRF\", found {format:?}"),
            ));
        }
        if !doc.saw_results {
            return Err(doc
                .ctx
                .field("results", "missing: a CTRF document has `results.tests`"));
        }
        if !doc.saw_tests {
            return Err(doc.ctx.field("results.tests", "missing"));
        }
        Ok(CtrfReader {
            meta: doc.meta,
            spec_version: doc.spec_version,
            results: doc.results.into_iter(),
        })
    }
}

impl ResultSource for CtrfReader {
    fn next_result(&mut self) -> Result<Option<TestResult>, IngestError> {
        Ok(self.results.next())
    }

    fn meta(&self) -> &ReportMeta {
        &self.meta
    }
}

impl Iterator for CtrfReader {
    type Item = TestResult;

    fn next(&mut self) -> Option<TestResult> {
        self.results.next()
    }
}

struct Doc {
    ctx: JsonCtx,
    report_format: Option<String>,
    spec_version: Option<String>,
    saw_results: bool,
    saw_tests: bool,
    meta: ReportMeta,
    results: Vec<TestResult>,
}

/// Generates the `visit_*` methods for the JSON types a container visitor does not accept: each
/// records a `Field` error naming the path and what was found.
macro_rules! refuse_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(self.wrong("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(self.wrong("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(self.wrong("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(self.wrong("a number"))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(self.wrong("a string"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(self.wrong("null"))
        }
    };
}

struct DocSeed<'d> {
    doc: &'d mut Doc,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl DocSeed<'_> {
    fn wrong<E: de::Error>(self, found: &str) -> E {
        self.doc.ctx.fail(IngestError::Field {
            format: FORMAT,
            field: "(document)".into(),
            message: format!("expected a JSON object, found {found}"),
        })
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CTRF document (a JSON object)")
    }

    refuse_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.wrong("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let doc = self.doc;
        let max_depth = doc.ctx.limits.max_depth;
        if max_depth < 1 {
            return Err(doc.ctx.fail(depth_error(&doc.ctx, "(document)")));
        }
        while let Some(key) = map.next_key_seed(json::KeySeed { ctx: &mut doc.ctx })? {
            match key.as_str() {
                "results" => {
                    doc.saw_results = true;
                    map.next_value_seed(ResultsSeed { doc: &mut *doc })?;
                }
                "reportFormat" | "specVersion" => {
                    doc.ctx.path = key.clone();
                    let value =
                        map.next_value_seed(ValueSeed::keep(&mut doc.ctx, max_depth - 1))?;
                    let text = doc
                        .ctx
                        .as_str(&value, &key)
                        .map_err(|e| doc.ctx.fail::<A::Error>(e))?;
                    let text = doc
                        .ctx
                        .attr(text, &key)
                        .map_err(|e| doc.ctx.fail::<A::Error>(e))?;
                    if key == "reportFormat" {
                        doc.report_format = Some(text);
                    } else {
                        doc.spec_version = Some(text);
                    }
                }
                other => {
                    doc.ctx.path = other.to_string();
                    map.next_value_seed(ValueSeed::ignore(&mut doc.ctx, max_depth - 1))?;
                }
            }
        }
        Ok(())
    }
}

struct ResultsSeed<'d> {
    doc: &'d mut Doc,
}

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ResultsSeed<'_> {
    fn wrong<E: de::Error>(self, found: &str) -> E {
        self.doc.ctx.fail(IngestError::Field {
            format: FORMAT,
            field: "results".into(),
            message: format!("expected an object, found {found}"),
        })
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the `results` object")
    }

    refuse_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.wrong("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let doc = self.doc;
        let max_depth = doc.ctx.limits.max_depth;
        if max_depth < 2 {
            return Err(doc.ctx.fail(depth_error(&doc.ctx, "results")));
        }
        while let Some(key) = map.next_key_seed(json::KeySeed { ctx: &mut doc.ctx })? {
            match key.as_str() {
                "tests" => {
                    doc.saw_tests = true;
                    map.next_value_seed(TestsSeed { doc: &mut *doc })?;
                }
                "tool" | "environment" => {
                    let path = format!("results.{key}");
                    doc.ctx.path = path.clone();
                    let value =
                        map.next_value_seed(ValueSeed::keep(&mut doc.ctx, max_depth - 2))?;
                    let applied = if key == "tool" {
                        apply_tool(&doc.ctx, &value, &path, &mut doc.meta)
                    } else {
                        apply_environment(&doc.ctx, &value, &path, &mut doc.meta)
                    };
                    applied.map_err(|e| doc.ctx.fail::<A::Error>(e))?;
                }
                other => {
                    doc.ctx.path = format!("results.{other}");
                    map.next_value_seed(ValueSeed::ignore(&mut doc.ctx, max_depth - 2))?;
                }
            }
        }
        Ok(())
    }
}

struct TestsSeed<'d> {
    doc: &'d mut Doc,
}

impl<'de> DeserializeSeed<'de> for TestsSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl TestsSeed<'_> {
    fn wrong<E: de::Error>(self, found: &str) -> E {
        self.doc.ctx.fail(IngestError::Field {
            format: FORMAT,
            field: "results.tests".into(),
            message: format!("expected an array, found {found}"),
        })
    }
}

impl<'de> Visitor<'de> for TestsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the `results.tests` array")
    }

    refuse_scalars!();

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.wrong("an object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let doc = self.doc;
        let max_depth = doc.ctx.limits.max_depth;
        if max_depth < 3 {
            return Err(doc.ctx.fail(depth_error(&doc.ctx, "results.tests")));
        }
        let mut index: u64 = 0;
        loop {
            let path = format!("results.tests[{index}]");
            if index >= doc.ctx.limits.max_elements {
                return Err(doc.ctx.fail(IngestError::limit(format!(
                    "ctrf: `results.tests` has more than {} entries (max_elements)",
                    doc.ctx.limits.max_elements
                ))));
            }
            doc.ctx.path = path.clone();
            let Some(value) =
                seq.next_element_seed(ValueSeed::keep(&mut doc.ctx, max_depth - 3))?
            else {
                break;
            };
            let result =
                convert_test(&doc.ctx, &value, &path).map_err(|e| doc.ctx.fail::<A::Error>(e))?;
            doc.results.push(result);
            index += 1;
        }
        Ok(())
    }
}

fn depth_error(ctx: &JsonCtx, path: &str) -> IngestError {
    IngestError::limit(format!(
        "{}: JSON nested deeper than {} levels (max_depth) at `{path}`",
        ctx.format, ctx.limits.max_depth
    ))
}

fn apply_tool(
    ctx: &JsonCtx,
    value: &Value,
    path: &str,
    meta: &mut ReportMeta,
) -> Result<(), IngestError> {
    let obj = ctx.as_object(value, path)?;
    if let Some(name) = ctx.opt_str(obj, "name", path)? {
        meta.tool = Some(ctx.attr(name, &format!("{path}.name"))?);
    }
    if let Some(version) = ctx.opt_str(obj, "version", path)? {
        let version = ctx.attr(version, &format!("{path}.version"))?;
        meta.environment.push(("tool.version".into(), version));
    }
    Ok(())
}

fn apply_environment(
    ctx: &JsonCtx,
    value: &Value,
    path: &str,
    meta: &mut ReportMeta,
) -> Result<(), IngestError> {
    let obj = ctx.as_object(value, path)?;
    for (key, v) in obj {
        let key_path = format!("{path}.{key}");
        if key == "extra" {
            continue;
        }
        let text = match v {
            Value::Null | Value::Array(_) | Value::Object(_) => continue,
            Value::String(s) => ctx.attr(s, &key_path)?,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
        };
        let known = match key.as_str() {
            "branchName" => &mut meta.branch,
            "commit" => &mut meta.commit,
            "buildUrl" => &mut meta.build_url,
            "buildName" => &mut meta.build_name,
            _ => {
                meta.environment.push((key.clone(), text));
                continue;
            }
        };
        if !matches!(v, Value::String(_)) {
            return Err(ctx.field(
                &key_path,
                format!("expected a string, found {}", json::kind(v)),
            ));
        }
        *known = Some(text);
    }
    Ok(())
}

fn parse_status(
    ctx: &JsonCtx,
    obj: &Map<String, Value>,
    path: &str,
) -> Result<Outcome, IngestError> {
    let status_path = format!("{path}.status");
    let Some(status) = ctx.opt_str(obj, "status", path)? else {
        return Err(ctx.field(&status_path, "missing"));
    };
    let raw = ctx.opt_str(obj, "rawStatus", path)?;
    status_outcome(ctx, status, raw, &status_path)
}

fn status_outcome(
    ctx: &JsonCtx,
    status: &str,
    raw: Option<&str>,
    path: &str,
) -> Result<Outcome, IngestError> {
    Ok(match status.to_ascii_lowercase().as_str() {
        "passed" => Outcome::Passed,
        "failed" => Outcome::Failed,
        "skipped" | "pending" => Outcome::Skipped,
        "other" => match raw.map(str::to_ascii_lowercase).as_deref() {
            Some("todo" | "disabled" | "skipped" | "pending" | "ignored") => Outcome::Skipped,
            _ => Outcome::Errored,
        },
        _ => {
            let shown = json::cut_text(status, 60);
            return Err(ctx.field(
                path,
                format!("expected one of passed, failed, skipped, pending, other; found {shown:?}"),
            ));
        }
    })
}

fn convert_test(ctx: &JsonCtx, value: &Value, path: &str) -> Result<TestResult, IngestError> {
    let obj = ctx.as_object(value, path)?;
    let p = |key: &str| format!("{path}.{key}");

    let name = match ctx.opt_str(obj, "name", path)? {
        Some(name) if !name.trim().is_empty() => ctx.attr(name, &p("name"))?,
        Some(_) => return Err(ctx.field(&p("name"), "must not be empty")),
        None => return Err(ctx.field(&p("name"), "missing")),
    };
    let outcome = parse_status(ctx, obj, path)?;

    let suite: Vec<String> = match obj.get("suite") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            ctx.attr(s, &p("suite"))?;
            s.split(" > ").map(str::to_string).collect()
        }
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, part) in parts.iter().enumerate() {
                let part_path = format!("{path}.suite[{i}]");
                out.push(ctx.attr(ctx.as_str(part, &part_path)?, &part_path)?);
            }
            out
        }
        Some(other) => {
            return Err(ctx.field(
                &p("suite"),
                format!(
                    "expected a string or an array of strings, found {}",
                    json::kind(other)
                ),
            ));
        }
    };

    let mut parameters = Vec::new();
    if let Some(params) = ctx.opt_object(obj, "parameters", path)? {
        for (k, v) in params {
            let vp = format!("{path}.parameters.{k}");
            let k = ctx.attr(k, &vp)?;
            let v = match v {
                Value::String(s) => ctx.attr(s, &vp)?,
                other => ctx.attr(&other.to_string(), &vp)?,
            };
            parameters.push((k, v));
        }
    }

    let name = match crate::allure::rules::split_parameter(&name) {
        (base, Some(id)) if parameters.is_empty() => {
            parameters.push(("id".to_string(), id.to_string()));
            base.to_string()
        }
        _ => name,
    };

    let mut result = TestResult::new(TestIdentity::new(suite, name, parameters), outcome);
    result.duration_ms = match ctx.opt_millis(obj, "duration", path)? {
        Some(ms) => Some(ms),
        None => match (
            ctx.opt_millis(obj, "start", path)?,
            ctx.opt_millis(obj, "stop", path)?,
        ) {
            (Some(start), Some(stop)) if stop >= start => Some(stop - start),
            _ => None,
        },
    };
    result.message = ctx.opt_str(obj, "message", path)?.map(|s| ctx.text(s));
    result.trace = ctx.opt_str(obj, "trace", path)?.map(|s| ctx.text(s));
    result.stdout = lines(ctx, obj, "stdout", path)?;
    result.stderr = lines(ctx, obj, "stderr", path)?;
    result.marked_flaky = ctx.opt_bool(obj, "flaky", path)?.unwrap_or(false);
    result.file = match ctx.opt_str(obj, "filePath", path)? {
        Some(f) => Some(ctx.attr(f, &p("filePath"))?),
        None => match ctx.opt_str(obj, "filepath", path)? {
            Some(f) => Some(ctx.attr(f, &p("filepath"))?),
            None => None,
        },
    };
    result.line = match ctx.opt_u64(obj, "line", path)? {
        Some(0) | None => None,
        Some(line) => Some(
            u32::try_from(line).map_err(|_| ctx.field(&p("line"), "line number out of range"))?,
        ),
    };

    let labels = &mut result.labels;
    for (key, label) in [
        ("id", "ctrf.id"),
        ("type", "type"),
        ("threadId", "thread"),
        ("browser", "browser"),
        ("device", "device"),
    ] {
        if let Some(v) = ctx.opt_str(obj, key, path)? {
            labels.push((label.to_string(), ctx.attr(v, &p(key))?));
        }
    }
    if let Some(tags) = ctx.opt_array(obj, "tags", path)? {
        for (i, tag) in tags.iter().enumerate() {
            let tp = format!("{path}.tags[{i}]");
            labels.push(("tag".into(), ctx.attr(ctx.as_str(tag, &tp)?, &tp)?));
        }
    }
    if let Some(map) = ctx.opt_object(obj, "labels", path)? {
        for (k, v) in map {
            let lp = format!("{path}.labels.{k}");
            let k = ctx.attr(k, &lp)?;
            let values: &[Value] = match v {
                Value::Array(items) => items,
                single => std::slice::from_ref(single),
            };
            for (i, item) in values.iter().enumerate() {
                let text = match item {
                    Value::String(s) => ctx.attr(s, &lp)?,
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(ctx.field(
                            &format!("{lp}[{i}]"),
                            format!(
                                "expected a string, number or boolean, found {}",
                                json::kind(other)
                            ),
                        ));
                    }
                };
                labels.push((k.clone(), text));
            }
        }
    }
    if let Some(steps) = ctx.opt_array(obj, "steps", path)? {
        for (i, step) in steps.iter().enumerate() {
            let sp = format!("{path}.steps[{i}]");
            let step = ctx.as_object(step, &sp)?;
            let status = ctx.opt_str(step, "status", &sp)?.unwrap_or("passed");
            let outcome = status_outcome(ctx, status, None, &format!("{sp}.status"))?;
            if outcome.is_failure()
                && let Some(name) = ctx.opt_str(step, "name", &sp)?
            {
                labels.push(("step.failed".into(), ctx.attr(name, &format!("{sp}.name"))?));
            }
        }
    }
    attachments(ctx, obj, path, labels)?;

    result.attempts = attempts(ctx, obj, path)?;
    Ok(result)
}

fn attachments(
    ctx: &JsonCtx,
    obj: &Map<String, Value>,
    path: &str,
    labels: &mut Vec<(String, String)>,
) -> Result<(), IngestError> {
    if let Some(items) = ctx.opt_array(obj, "attachments", path)? {
        for (i, item) in items.iter().enumerate() {
            let ap = format!("{path}.attachments[{i}]");
            let item = ctx.as_object(item, &ap)?;
            let mut parts = Vec::with_capacity(3);
            for key in ["name", "contentType", "path"] {
                let v = ctx.opt_str(item, key, &ap)?.unwrap_or("");
                parts.push(ctx.attr(v, &format!("{ap}.{key}"))?);
            }
            labels.push(("attachment".into(), parts.join("; ")));
        }
    }
    Ok(())
}

fn attempts(
    ctx: &JsonCtx,
    obj: &Map<String, Value>,
    path: &str,
) -> Result<Vec<Attempt>, IngestError> {
    let retries = ctx.opt_u64(obj, "retries", path)?;
    if let Some(n) = retries
        && n > MAX_RETRIES
    {
        return Err(ctx.field(
            &format!("{path}.retries"),
            format!("{n} retries is more than {MAX_RETRIES}: not a plausible count"),
        ));
    }
    let Some(items) = ctx.opt_array(obj, "retryAttempts", path)? else {
        // Only a count: every run before the final one failed, or it would not have been retried.
        let n = retries.unwrap_or(0);
        return Ok((0..n)
            .map(|_| Attempt {
                outcome: Outcome::Failed,
                duration_ms: None,
                message: None,
                trace: None,
            })
            .collect());
    };
    let mut numbered = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ap = format!("{path}.retryAttempts[{i}]");
        let item = ctx.as_object(item, &ap)?;
        let number = ctx.opt_u64(item, "attempt", &ap)?;
        let status = ctx
            .opt_str(item, "status", &ap)?
            .ok_or_else(|| ctx.field(&format!("{ap}.status"), "missing"))?;
        let outcome = status_outcome(
            ctx,
            status,
            ctx.opt_str(item, "rawStatus", &ap)?,
            &format!("{ap}.status"),
        )?;
        let attempt = Attempt {
            outcome,
            duration_ms: ctx.opt_millis(item, "duration", &ap)?,
            message: ctx.opt_str(item, "message", &ap)?.map(|s| ctx.text(s)),
            trace: ctx.opt_str(item, "trace", &ap)?.map(|s| ctx.text(s)),
        };
        numbered.push((number.unwrap_or(i as u64 + 1), attempt));
    }
    numbered.sort_by_key(|(n, _)| *n);
    // Spec 0.1: the history has `retries` entries and excludes the final run. Some producers list
    // the final run too; it is already the result itself.
    if let Some(n) = retries
        && numbered.len() as u64 == n + 1
    {
        numbered.pop();
    }
    Ok(numbered.into_iter().map(|(_, a)| a).collect())
}

/// `stdout`/`stderr`: an array of lines (the spec) or one string (some producers).
fn lines(
    ctx: &JsonCtx,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, IngestError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(ctx.text(s))),
        Some(Value::Array(items)) => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                let line = ctx.as_str(item, &format!("{path}.{key}[{i}]"))?;
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(line);
                if out.len() > ctx.limits.max_text_bytes {
                    break;
                }
            }
            Ok(Some(ctx.text(&out)))
        }
        Some(other) => Err(ctx.field(
            &json::join(path, key),
            format!("expected an array of strings, found {}", json::kind(other)),
        )),
    }
}

/// JSON plumbing shared by the JSON formats (CTRF, Allure): a depth- and size-checked value
/// builder for serde, typed accessors whose errors name the JSON path, and the text limits.
pub(crate) mod json {
    use crate::{IngestError, Limits};
    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};
    use std::fmt;
    use std::io::{self, Read};

    /// What a parse is doing: the format, the limits, the path being read, and the refusal a
    /// visitor recorded (serde's own error type can't carry it).
    pub(crate) struct JsonCtx {
        pub format: &'static str,
        pub limits: Limits,
        pub path: String,
        error: Option<IngestError>,
    }

    impl JsonCtx {
        pub fn new(format: &'static str, limits: Limits) -> Self {
            JsonCtx {
                format,
                limits,
                path: String::new(),
                error: None,
            }
        }

        /// Records `err` and returns a serde error that unwinds the parse; `take_error` finds it.
        pub fn fail<E: de::Error>(&mut self, err: IngestError) -> E {
            self.error = Some(err);
            E::custom("refused")
        }

        pub fn field(&self, field: &str, message: impl Into<String>) -> IngestError {
            field_error(self.format, field, message)
        }

        /// The refusal behind a failed parse: the recorded one, the one an underlying
        /// `decompress` stream carried, or serde_json's syntax error with its line and column.
        pub fn take_error(&mut self, err: serde_json::Error) -> IngestError {
            if let Some(recorded) = self.error.take() {
                return recorded;
            }
            let (line, column) = (err.line() as u64, err.column() as u64);
            if err.is_io() {
                let io: io::Error = err.into();
                if let Some(refused) = crate::decompress::refusal(&io) {
                    return refused;
                }
                return IngestError::Syntax {
                    format: self.format,
                    line,
                    column,
                    message: format!("reading the body failed: {io}"),
                };
            }
            let message = strip_position(&err.to_string());
            IngestError::Syntax {
                format: self.format,
                line,
                column,
                message,
            }
        }

        /// A string used as a name, key or label: refused past `max_attribute_bytes`.
        pub fn attr(&self, s: &str, path: &str) -> Result<String, IngestError> {
            if s.len() > self.limits.max_attribute_bytes {
                return Err(IngestError::limit(format!(
                    "{}: `{path}` is longer than {} bytes (max_attribute_bytes)",
                    self.format, self.limits.max_attribute_bytes
                )));
            }
            Ok(s.to_string())
        }

        /// A message, trace or output: cut at `max_text_bytes`, not refused.
        pub fn text(&self, s: &str) -> String {
            cut_text(s, self.limits.max_text_bytes)
        }

        /// The longest string worth keeping whole; longer ones are cut while parsing (to one
        /// byte more, so that `attr` still sees they were too long).
        fn max_string(&self) -> usize {
            self.limits
                .max_attribute_bytes
                .max(self.limits.max_text_bytes)
                .saturating_add(1)
        }
    }

    /// serde_json appends " at line L column C"; our errors carry them as fields.
    fn strip_position(message: &str) -> String {
        match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message.to_string(),
        }
    }

    pub(crate) fn field_error(
        format: &'static str,
        field: &str,
        message: impl Into<String>,
    ) -> IngestError {
        IngestError::Field {
            format,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// `s` cut to at most `max` bytes on a character boundary, marked with `…` when cut (as
    /// `junit` marks its cut texts).
    pub(crate) fn cut_text(s: &str, max: usize) -> String {
        if s.len() <= max {
            return s.to_string();
        }
        let mut end = max.saturating_sub('…'.len_utf8());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut out = String::with_capacity(end + 3);
        out.push_str(&s[..end]);
        out.push('…');
        out
    }

    /// Cut to at least `min` bytes (the next character boundary), for strings refused later.
    fn cut_after(s: &str, min: usize) -> String {
        if s.len() <= min {
            return s.to_string();
        }
        let mut end = min;
        while !s.is_char_boundary(end) {
            end += 1;
        }
        s[..end].to_string()
    }

    /// A reader that fails (with a refusal) past `max` bytes rather than ending quietly.
    pub(crate) struct Bounded<R> {
        inner: R,
        left: u64,
        max: u64,
    }

    impl<R> Bounded<R> {
        pub fn new(inner: R, max: u64) -> Self {
            Bounded {
                inner,
                left: max,
                max,
            }
        }
    }

    impl<R: Read> Read for Bounded<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = usize::try_from(self.left.saturating_add(1))
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = self.inner.read(&mut buf[..want])?;
            if n as u64 > self.left {
                return Err(crate::decompress::refusal_error(IngestError::limit(
                    format!(
                        "the document is larger than {} bytes (max_decompressed_bytes)",
                        self.max
                    ),
                )));
            }
            self.left -= n as u64;
            Ok(n)
        }
    }

    /// `path.key`, or `key` at the root (an empty path).
    pub(crate) fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    }

    pub(crate) fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// Typed access to parsed JSON; a wrong type is a `Field` error naming `path.key`.
    impl JsonCtx {
        fn expected(&self, path: &str, what: &str, found: &Value) -> IngestError {
            self.field(path, format!("expected {what}, found {}", kind(found)))
        }

        pub fn as_object<'v>(
            &self,
            v: &'v Value,
            path: &str,
        ) -> Result<&'v Map<String, Value>, IngestError> {
            v.as_object()
                .ok_or_else(|| self.expected(path, "an object", v))
        }

        pub fn as_str<'v>(&self, v: &'v Value, path: &str) -> Result<&'v str, IngestError> {
            v.as_str().ok_or_else(|| self.expected(path, "a string", v))
        }

        /// `obj[key]` as a string; missing or null is `None`.
        pub fn opt_str<'v>(
            &self,
            obj: &'v Map<String, Value>,
            key: &str,
            path: &str,
        ) -> Result<Option<&'v str>, IngestError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(self.expected(&join(path, key), "a string", other)),
            }
        }

        pub fn opt_bool(
            &self,
            obj: &Map<String, Value>,
            key: &str,
            path: &str,
        ) -> Result<Option<bool>, IngestError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(other) => Err(self.expected(&join(path, key), "a boolean", other)),
            }
        }

        pub fn opt_array<'v>(
            &self,
            obj: &'v Map<String, Value>,
            key: &str,
            path: &str,
        ) -> Result<Option<&'v Vec<Value>>, IngestError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => Ok(Some(a)),
                Some(other) => Err(self.expected(&join(path, key), "an array", other)),
            }
        }

        pub fn opt_object<'v>(
            &self,
            obj: &'v Map<String, Value>,
            key: &str,
            path: &str,
        ) -> Result<Option<&'v Map<String, Value>>, IngestError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(m)) => Ok(Some(m)),
                Some(other) => Err(self.expected(&join(path, key), "an object", other)),
            }
        }

        /// A non-negative integer.
        pub fn opt_u64(
            &self,
            obj: &Map<String, Value>,
            key: &str,
            path: &str,
        ) -> Result<Option<u64>, IngestError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| self.expected(&join(path, key), "a non-negative integer", v)),
            }
        }

        /// Milliseconds (a duration or a Unix time): a non-negative number, fractions rounded.
        pub fn opt_millis(
            &self,
            obj: &Map<String, Value>,
            key: &str,
            path: &str,
        ) -> Result<Option<u64>, IngestError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => {
                    if let Some(ms) = n.as_u64() {
                        return Ok(Some(ms));
                    }
                    match n.as_f64() {
                        Some(f) if f.is_finite() && (0.0..1.8e19).contains(&f) => {
                            #[expect(
                                clippy::cast_possible_truncation,
                                clippy::cast_sign_loss,
                                reason = "range checked above"
                            )]
                            let ms = f.round() as u64;
                            Ok(Some(ms))
                        }
                        _ => Err(self.field(
                            &join(path, key),
                            format!("expected a non-negative number of milliseconds, found {n}"),
                        )),
                    }
                }
                Some(other) => {
                    Err(self.expected(&join(path, key), "a number of milliseconds", other))
                }
            }
        }
    }

    /// Builds a `serde_json::Value` (or skips one, `keep: false`) refusing nesting deeper than
    /// `depth_left` more levels and arrays longer than `max_elements`; strings past the text
    /// and attribute limits are cut while parsing.
    pub(crate) struct ValueSeed<'c> {
        ctx: &'c mut JsonCtx,
        depth_left: usize,
        keep: bool,
    }

    impl<'c> ValueSeed<'c> {
        pub fn keep(ctx: &'c mut JsonCtx, depth_left: usize) -> Self {
            ValueSeed {
                ctx,
                depth_left,
                keep: true,
            }
        }

        pub fn ignore(ctx: &'c mut JsonCtx, depth_left: usize) -> Self {
            ValueSeed {
                ctx,
                depth_left,
                keep: false,
            }
        }

        /// Refuses a container here when no level is left.
        fn enter<E: de::Error>(&mut self) -> Result<(), E> {
            if self.depth_left > 0 {
                return Ok(());
            }
            let err = IngestError::limit(format!(
                "{}: JSON nested deeper than {} levels (max_depth) in `{}`",
                self.ctx.format, self.ctx.limits.max_depth, self.ctx.path
            ));
            Err(self.ctx.fail(err))
        }

        fn nested(&mut self) -> ValueSeed<'_> {
            ValueSeed {
                ctx: &mut *self.ctx,
                depth_left: self.depth_left.saturating_sub(1),
                keep: self.keep,
            }
        }
    }

    impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
        type Value = Value;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ValueSeed<'_> {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
            Ok(if self.keep {
                Value::Bool(v)
            } else {
                Value::Null
            })
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
            Ok(if self.keep {
                Value::from(v)
            } else {
                Value::Null
            })
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
            Ok(if self.keep {
                Value::from(v)
            } else {
                Value::Null
            })
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Ok(if self.keep {
                Value::from(v)
            } else {
                Value::Null
            })
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
            Ok(if self.keep {
                Value::String(cut_after(v, self.ctx.max_string()))
            } else {
                Value::Null
            })
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
            self.visit_str(&v)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E: de::Error>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
            self.enter()?;
            let max_elements = self.ctx.limits.max_elements;
            let keep = self.keep;
            let mut items = Vec::new();
            let mut count: u64 = 0;
            loop {
                if count >= max_elements {
                    let err = IngestError::limit(format!(
                        "{}: an array in `{}` has more than {max_elements} entries (max_elements)",
                        self.ctx.format, self.ctx.path
                    ));
                    return Err(self.ctx.fail(err));
                }
                let child = self.nested();
                match seq.next_element_seed(child)? {
                    Some(v) => {
                        if keep {
                            items.push(v);
                        }
                    }
                    None => break,
                }
                count += 1;
            }
            Ok(if keep {
                Value::Array(items)
            } else {
                Value::Null
            })
        }

        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
            self.enter()?;
            let keep = self.keep;
            let mut out = Map::new();
            while let Some(key) = map.next_key_seed(KeySeed {
                ctx: &mut *self.ctx,
            })? {
                let child = self.nested();
                let v = map.next_value_seed(child)?;
                if keep {
                    out.insert(key, v);
                }
            }
            Ok(if keep {
                Value::Object(out)
            } else {
                Value::Null
            })
        }
    }

    /// An object key, refused past `max_attribute_bytes`.
    pub(crate) struct KeySeed<'c> {
        pub ctx: &'c mut JsonCtx,
    }

    impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
        type Value = String;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeySeed<'_> {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            if v.len() > self.ctx.limits.max_attribute_bytes {
                let err = IngestError::limit(format!(
                    "{}: an object key in `{}` is longer than {} bytes (max_attribute_bytes)",
                    self.ctx.format, self.ctx.path, self.ctx.limits.max_attribute_bytes
                ));
                return Err(self.ctx.fail(err));
            }
            Ok(v.to_string())
        }
    }

    /// Parses one JSON document from bytes into a value, within the limits.
    pub(crate) fn parse_slice(ctx: &mut JsonCtx, bytes: &[u8]) -> Result<Value, IngestError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let depth = ctx.limits.max_depth;
        let parsed = ValueSeed::keep(ctx, depth)
            .deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v));
        parsed.map_err(|e| ctx.take_error(e))
    }
}
