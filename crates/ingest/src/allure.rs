//! Allure results (the `allure-results` directory test adapters write, uploaded as a zip archive
//! or as separate files): one `*-result.json` per test execution, `*-container.json` fixtures,
//! attachment files, and optionally `environment.properties` and `executor.json`.
//!
//! Retries are separate result files sharing a `historyId`, so results are buffered and grouped
//! before any is handed out: the latest (by `stop`) is the result, earlier ones its `attempts`.
//! Result files are small; each is bounded (`MAX_JSON_ENTRY_BYTES`) and all together by
//! `max_decompressed_bytes`, and converted results keep text cut to `max_text_bytes`.
//!
//! Identity (the rules `junit` applies too, so history joins across formats — for pytest, the
//! JUnit `tests.test_shop.TestCart` + `test_x[1-2]` and the Allure labels `tests`/`test_shop`/
//! `TestCart` + name `test_x[1-2]` are one test):
//! - suite: the `parentSuite`, `suite`, `subSuite` labels when any is present; else `testClass`
//!   (with `package` in front unless the class name already starts with it); else `titlePath`.
//!   Each part that is a dotted identifier path is split (`tests.api` → `tests`, `api`), as JUnit
//!   splits classnames;
//! - name: `name` (else `fullName`). A name ending in a bracketed id (`test_x[1-2]`) is the name
//!   before the bracket with the parameter `id` = `1-2`; the declared parameters are then labels
//!   (`parameter.<name>`), because the id already tells the cases apart and JUnit only has the id;
//! - otherwise parameters: the `parameters` not marked `excluded` (excluded ones become labels).
//!
//! `historyId`/`testCaseId` are kept as `allure.historyId`/`allure.testCaseId` labels; other
//! labels (tag, severity, owner, feature, story, epic, host, thread, framework, …) keep their
//! Allure names. Status broken and unknown are `Errored`. The deepest failing step is kept as a
//! `step.failed` label (`outer › inner`) and lends its message and trace when the test has none.
//! Attachments named `stdout`/`stderr` (as allure-pytest writes captured output) become the
//! result's output; the others are listed as `attachment` labels (`name; type; source`).

use crate::ctrf::json::{self, JsonCtx};
use crate::{
    Attempt, IngestError, Limits, Outcome, ReportMeta, ResultSource, TestIdentity, TestResult,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek};

const FORMAT: &str = "allure";

/// One result, container, `executor.json` or `environment.properties` file may not be larger.
pub const MAX_JSON_ENTRY_BYTES: u64 = 32 * 1024 * 1024;

/// Decompressed bytes per compressed byte past which a zip entry is a bomb (after 1 MiB), as for
/// compressed bodies (`Limits::max_compression_ratio` applies; this is the check's threshold).
const RATIO_CHECK_AFTER: u64 = 1024 * 1024;

/// The results of one Allure results directory, grouped and ordered by start time.
#[derive(Debug)]
pub struct AllureReader {
    meta: ReportMeta,
    results: std::vec::IntoIter<TestResult>,
}

impl AllureReader {
    /// Reads an archive of a results directory (the files at its root or in one folder).
    /// Refuses more than `max_zip_entries` entries, more than `max_decompressed_bytes` in total,
    /// and entry names that are absolute or climb out with `..`.
    pub fn from_zip<R: Read + Seek>(reader: R, limits: Limits) -> Result<Self, IngestError> {
        let archive = zip::ZipArchive::new(reader).map_err(|e| {
            json::field_error(
                FORMAT,
                "(zip archive)",
                format!("not a readable zip archive: {e}"),
            )
        })?;
        if archive.len() > limits.max_zip_entries {
            return Err(IngestError::limit(format!(
                "allure: the archive has {} entries, more than {} (max_zip_entries)",
                archive.len(),
                limits.max_zip_entries
            )));
        }
        build(ZipEntries { archive }, limits)
    }

    /// Reads a results directory handed over as named files (a multipart upload). Names may
    /// carry a folder (`allure-results/…`); the same name rules as for archives apply.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, Vec<u8>)>,
        limits: Limits,
    ) -> Result<Self, IngestError> {
        let mut entries = Vec::new();
        for (name, bytes) in files {
            if entries.len() >= limits.max_zip_entries {
                return Err(IngestError::limit(format!(
                    "allure: more than {} files (max_zip_entries)",
                    limits.max_zip_entries
                )));
            }
            entries.push((name, Some(bytes)));
        }
        build(FileEntries { entries }, limits)
    }
}

impl ResultSource for AllureReader {
    fn next_result(&mut self) -> Result<Option<TestResult>, IngestError> {
        Ok(self.results.next())
    }

    fn meta(&self) -> &ReportMeta {
        &self.meta
    }
}

impl Iterator for AllureReader {
    type Item = TestResult;

    fn next(&mut self) -> Option<TestResult> {
        self.results.next()
    }
}

/// The identity rules shared with JUnit live in `identity`, so a pytest test has one identity
/// whether it came as JUnit XML or as Allure results.
pub(crate) use crate::identity::rules;

/// What an entry's name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Result,
    Container,
    Environment,
    Executor,
    Other,
}

fn kind_of(base: &str) -> Kind {
    if base.ends_with("-result.json") {
        Kind::Result
    } else if base.ends_with("-container.json") {
        Kind::Container
    } else if base == "environment.properties" {
        Kind::Environment
    } else if base == "executor.json" {
        Kind::Executor
    } else {
        Kind::Other
    }
}

/// The file name after the last folder separator.
fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// A name as shown in messages: quoted, escaped, not too long.
fn shown(name: &str) -> String {
    let cut: String = name.chars().take(200).collect();
    format!("{cut:?}")
}

/// Refuses names that would escape a results directory if extracted (zip-slip).
fn check_name(name: &str) -> Result<(), IngestError> {
    let absolute = name.starts_with(['/', '\\'])
        || name.as_bytes().get(1) == Some(&b':')
        || name.contains('\0');
    let climbs = name.split(['/', '\\']).any(|part| part == "..");
    if absolute || climbs {
        return Err(IngestError::limit(format!(
            "allure: entry {} is absolute or climbs out with `..`",
            shown(name)
        )));
    }
    Ok(())
}

struct EntryInfo {
    name: String,
    is_file: bool,
    declared_size: u64,
}

/// Over-long content: refused (result JSON) or cut (attachments shown as output).
#[derive(Clone, Copy, PartialEq, Eq)]
enum TooLong {
    Refuse,
    Cut,
}

/// The two ways files arrive, behind one interface.
trait Entries {
    fn len(&self) -> usize;
    fn info(&mut self, index: usize) -> Result<EntryInfo, IngestError>;
    /// At most `cap` bytes of the entry; longer content is cut, or `None` with `TooLong::Refuse`.
    fn read(
        &mut self,
        index: usize,
        cap: u64,
        too_long: TooLong,
        limits: &Limits,
    ) -> Result<Option<Vec<u8>>, IngestError>;
    /// The entry will not be read: memory it holds can go.
    fn release(&mut self, _index: usize) {}
}

struct ZipEntries<R> {
    archive: zip::ZipArchive<R>,
}

impl<R: Read + Seek> Entries for ZipEntries<R> {
    fn len(&self) -> usize {
        self.archive.len()
    }

    fn info(&mut self, index: usize) -> Result<EntryInfo, IngestError> {
        let file = self.archive.by_index_raw(index).map_err(|e| {
            json::field_error(
                FORMAT,
                &format!("(zip entry #{index})"),
                format!("unreadable: {e}"),
            )
        })?;
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        if file.enclosed_name().is_none() {
            return Err(IngestError::limit(format!(
                "allure: entry {} is absolute or climbs out with `..`",
                shown(&name)
            )));
        }
        Ok(EntryInfo {
            is_file: file.is_file(),
            declared_size: file.size(),
            name,
        })
    }

    fn read(
        &mut self,
        index: usize,
        cap: u64,
        too_long: TooLong,
        limits: &Limits,
    ) -> Result<Option<Vec<u8>>, IngestError> {
        let file = self.archive.by_index(index).map_err(|e| {
            json::field_error(
                FORMAT,
                &format!("(zip entry #{index})"),
                format!("unreadable: {e}"),
            )
        })?;
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        let compressed = file.compressed_size().max(1);
        let mut out = Vec::new();
        let mut limited = file.take(cap.saturating_add(1));
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = limited.read(&mut buf).map_err(|e| {
                json::field_error(FORMAT, &name, format!("the zip entry is corrupt: {e}"))
            })?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            let len = out.len() as u64;
            if len > RATIO_CHECK_AFTER && len / compressed > limits.max_compression_ratio {
                return Err(IngestError::limit(format!(
                    "allure: zip entry {} expands more than {}:1: a decompression bomb? (max_compression_ratio)",
                    shown(&name),
                    limits.max_compression_ratio
                )));
            }
            if len > cap {
                if too_long == TooLong::Cut {
                    out.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
                    break;
                }
                return Ok(None);
            }
        }
        Ok(Some(out))
    }
}

struct FileEntries {
    entries: Vec<(String, Option<Vec<u8>>)>,
}

impl Entries for FileEntries {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn info(&mut self, index: usize) -> Result<EntryInfo, IngestError> {
        let (name, bytes) = &self.entries[index];
        Ok(EntryInfo {
            name: name.clone(),
            is_file: !name.ends_with('/'),
            declared_size: bytes.as_ref().map_or(0, |b| b.len() as u64),
        })
    }

    fn read(
        &mut self,
        index: usize,
        cap: u64,
        too_long: TooLong,
        _: &Limits,
    ) -> Result<Option<Vec<u8>>, IngestError> {
        let slot = &mut self.entries[index].1;
        let len = slot.as_ref().map_or(0, Vec::len);
        if too_long == TooLong::Cut {
            // Attachments may be shared by results: copy the (short) prefix, keep the file.
            let keep = len.min(usize::try_from(cap).unwrap_or(usize::MAX));
            return Ok(Some(
                slot.as_ref()
                    .map(|b| b[..keep].to_vec())
                    .unwrap_or_default(),
            ));
        }
        if len as u64 > cap {
            return Ok(None);
        }
        // JSON files are read once: taking them avoids a copy and frees them after parsing.
        Ok(Some(slot.take().unwrap_or_default()))
    }

    fn release(&mut self, index: usize) {
        self.entries[index].1 = None;
    }
}

/// One parsed `*-result.json`, before retries are grouped.
struct Parsed {
    entry: String,
    uuid: String,
    history_id: Option<String>,
    start: Option<u64>,
    stop: Option<u64>,
    result: TestResult,
    stdout_source: Option<String>,
    stderr_source: Option<String>,
}

/// Bytes read so far against `max_decompressed_bytes`.
struct Budget {
    used: u64,
    max: u64,
}

impl Budget {
    fn cap(&self, per_entry: u64) -> u64 {
        per_entry.min(self.max.saturating_sub(self.used))
    }

    fn spend(&mut self, name: &str, n: u64) -> Result<(), IngestError> {
        self.used = self.used.saturating_add(n);
        if self.used > self.max {
            return Err(self.exceeded(name));
        }
        Ok(())
    }

    fn exceeded(&self, name: &str) -> IngestError {
        IngestError::limit(format!(
            "allure: the files add up to more than {} bytes (max_decompressed_bytes), at entry {}",
            self.max,
            shown(name)
        ))
    }
}

fn build(mut entries: impl Entries, limits: Limits) -> Result<AllureReader, IngestError> {
    let mut budget = Budget {
        used: 0,
        max: limits.max_decompressed_bytes,
    };
    let mut declared_total: u64 = 0;
    let mut infos = Vec::with_capacity(entries.len());
    for index in 0..entries.len() {
        let info = entries.info(index)?;
        check_name(&info.name)?;
        declared_total = declared_total.saturating_add(info.declared_size);
        if declared_total > limits.max_decompressed_bytes {
            return Err(IngestError::limit(format!(
                "allure: the entries add up to more than {} bytes (max_decompressed_bytes), at entry {}",
                limits.max_decompressed_bytes,
                shown(&info.name)
            )));
        }
        infos.push(info);
    }

    let mut parsed = Vec::new();
    let mut fixtures: HashMap<String, Vec<String>> = HashMap::new();
    let mut meta = ReportMeta::default();
    // Attachment files by their base name, for stdout/stderr lookups (first one wins).
    let mut by_base: HashMap<String, usize> = HashMap::new();
    // Read after the results, environment before executor, so the metadata's order does not
    // depend on the order of the files.
    let mut meta_files: Vec<(Kind, &str, Vec<u8>)> = Vec::new();
    for (index, info) in infos.iter().enumerate() {
        if !info.is_file {
            continue;
        }
        let base = base_name(&info.name);
        let kind = kind_of(base);
        if kind == Kind::Other {
            by_base.entry(base.to_string()).or_insert(index);
            continue;
        }
        let cap = budget.cap(MAX_JSON_ENTRY_BYTES);
        let Some(bytes) = entries.read(index, cap, TooLong::Refuse, &limits)? else {
            return Err(if cap < MAX_JSON_ENTRY_BYTES {
                budget.exceeded(&info.name)
            } else {
                IngestError::limit(format!(
                    "allure: entry {} is larger than {MAX_JSON_ENTRY_BYTES} bytes",
                    shown(&info.name)
                ))
            });
        };
        budget.spend(&info.name, bytes.len() as u64)?;
        match kind {
            Kind::Result => parsed.push(parse_result(&info.name, &bytes, limits)?),
            Kind::Container => parse_container(&info.name, &bytes, limits, &mut fixtures)?,
            Kind::Executor | Kind::Environment => meta_files.push((kind, &info.name, bytes)),
            Kind::Other => {}
        }
    }
    meta_files.sort_by_key(|(kind, name, _)| (*kind == Kind::Executor, *name));
    for (kind, name, bytes) in meta_files {
        if kind == Kind::Executor {
            parse_executor(name, &bytes, limits, &mut meta)?;
        } else {
            parse_environment(name, &bytes, limits, &mut meta)?;
        }
    }

    if parsed.is_empty() {
        // Most likely the wrong folder or another format zipped: say what was there.
        let sample: Vec<String> = infos
            .iter()
            .filter(|i| i.is_file)
            .take(3)
            .map(|i| shown(&i.name))
            .collect();
        return Err(IngestError::UnknownFormat(if sample.is_empty() {
            "allure: no files at all; upload the folder pytest --alluredir (or another Allure \
             adapter) wrote"
                .into()
        } else {
            format!(
                "allure: no `*-result.json` file among {} files (such as {}); upload the folder \
                 an Allure adapter wrote (e.g. pytest --alluredir)",
                infos.iter().filter(|i| i.is_file).count(),
                sample.join(", ")
            )
        }));
    }

    // Attachments no result shows as its output are not needed any more.
    let wanted: HashSet<&str> = parsed
        .iter()
        .flat_map(|p| [p.stdout_source.as_deref(), p.stderr_source.as_deref()])
        .flatten()
        .collect();
    for (base, &index) in &by_base {
        if !wanted.contains(base.as_str()) {
            entries.release(index);
        }
    }

    // Group retries: one group per historyId, results without one stand alone.
    let mut groups: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
    for p in parsed {
        let key = match &p.history_id {
            Some(h) => format!("h:{h}"),
            None => format!("e:{}", p.entry),
        };
        groups.entry(key).or_default().push(p);
    }

    let mut finals = Vec::with_capacity(groups.len());
    for (_, mut group) in groups {
        // Latest last: by stop, then start; on a tie a failure is the earlier run (a retry
        // follows a failure); then by uuid, so the order never depends on the archive's.
        group.sort_by(|a, b| {
            (
                a.stop.or(a.start),
                a.start,
                !a.result.outcome.is_failure(),
                &a.uuid,
                &a.entry,
            )
                .cmp(&(
                    b.stop.or(b.start),
                    b.start,
                    !b.result.outcome.is_failure(),
                    &b.uuid,
                    &b.entry,
                ))
        });
        let Some(mut last) = group.pop() else {
            continue;
        };
        last.result.attempts = group
            .into_iter()
            .map(|p| Attempt {
                outcome: p.result.outcome,
                duration_ms: p.result.duration_ms,
                message: p.result.message,
                trace: p.result.trace,
            })
            .collect();
        finals.push(last);
    }
    finals.sort_by(|a, b| {
        (a.start, a.result.identity.key(), &a.uuid).cmp(&(
            b.start,
            b.result.identity.key(),
            &b.uuid,
        ))
    });

    let mut results = Vec::with_capacity(finals.len());
    let mut frameworks: BTreeMap<String, usize> = BTreeMap::new();
    for mut p in finals {
        if let Some(failed) = fixtures.get(&p.uuid) {
            for f in failed {
                p.result.labels.push(("fixture.failed".into(), f.clone()));
            }
        }
        for (source, slot) in [
            (p.stdout_source.take(), &mut p.result.stdout),
            (p.stderr_source.take(), &mut p.result.stderr),
        ] {
            let Some(source) = source else { continue };
            let Some(&index) = by_base.get(&source) else {
                continue;
            };
            // One byte more than is kept, so `cut_text` sees the cut and marks it.
            let cap = budget.cap((limits.max_text_bytes as u64).saturating_add(1));
            let bytes = entries
                .read(index, cap, TooLong::Cut, &limits)?
                .unwrap_or_default();
            budget.spend(&infos[index].name, bytes.len() as u64)?;
            *slot = Some(json::cut_text(
                &String::from_utf8_lossy(&bytes),
                limits.max_text_bytes,
            ));
        }
        for (k, v) in &p.result.labels {
            if k == "framework" {
                *frameworks.entry(v.clone()).or_default() += 1;
            }
        }
        results.push(p.result);
    }
    let most_used = frameworks
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(name, _)| name);
    meta.tool = Some(most_used.unwrap_or_else(|| FORMAT.to_string()));

    Ok(AllureReader {
        meta,
        results: results.into_iter(),
    })
}

/// Maps a JSON parse or field error to the entry it came from.
fn in_entry(entry: &str, err: IngestError) -> IngestError {
    match err {
        IngestError::Field {
            format,
            field,
            message,
        } => IngestError::Field {
            format,
            field: format!("{entry}: {field}"),
            message,
        },
        IngestError::Syntax {
            format,
            line,
            column,
            message,
        } => IngestError::Syntax {
            format,
            line,
            column,
            message: format!("{entry}: {message}"),
        },
        IngestError::Limit(message) => IngestError::Limit(format!("{message} (in {entry})")),
        other => other,
    }
}

fn parse_json(entry: &str, bytes: &[u8], limits: Limits) -> Result<(JsonCtx, Value), IngestError> {
    let mut ctx = JsonCtx::new(FORMAT, limits);
    ctx.path = "(root)".into();
    let value = json::parse_slice(&mut ctx, bytes).map_err(|e| in_entry(entry, e))?;
    Ok((ctx, value))
}

fn outcome_of(ctx: &JsonCtx, status: Option<&str>, path: &str) -> Result<Outcome, IngestError> {
    Ok(match status.map(str::to_ascii_lowercase).as_deref() {
        Some("passed") => Outcome::Passed,
        Some("failed") => Outcome::Failed,
        Some("skipped") => Outcome::Skipped,
        Some("broken" | "unknown") | None => Outcome::Errored,
        Some(other) => {
            return Err(ctx.field(
                path,
                format!(
                    "expected one of passed, failed, broken, skipped, unknown; found {:?}",
                    json::cut_text(other, 60)
                ),
            ));
        }
    })
}

fn parse_result(entry: &str, bytes: &[u8], limits: Limits) -> Result<Parsed, IngestError> {
    let (ctx, value) = parse_json(entry, bytes, limits)?;
    convert_result(&ctx, entry, &value).map_err(|e| in_entry(entry, e))
}

fn convert_result(ctx: &JsonCtx, entry: &str, value: &Value) -> Result<Parsed, IngestError> {
    let obj = ctx.as_object(value, "(root)")?;
    let attr_opt = |key: &str| -> Result<Option<String>, IngestError> {
        ctx.opt_str(obj, key, "")?
            .map(|s| ctx.attr(s, key))
            .transpose()
    };

    let uuid = attr_opt("uuid")?.unwrap_or_else(|| entry.to_string());
    let history_id = attr_opt("historyId")?;
    let test_case_id = attr_opt("testCaseId")?;
    let full_name = attr_opt("fullName")?;
    let name = match attr_opt("name")? {
        Some(n) if !n.trim().is_empty() => n,
        _ => match &full_name {
            Some(f) if !f.trim().is_empty() => f.clone(),
            _ => return Err(ctx.field("name", "missing (and no fullName either)")),
        },
    };
    let outcome = outcome_of(ctx, ctx.opt_str(obj, "status", "")?, "status")?;

    // Labels: (name, value) pairs in file order.
    let mut labels: Vec<(String, String)> = Vec::new();
    if let Some(items) = ctx.opt_array(obj, "labels", "")? {
        for (i, item) in items.iter().enumerate() {
            let lp = format!("labels[{i}]");
            let item = ctx.as_object(item, &lp)?;
            let (Some(k), Some(v)) = (
                ctx.opt_str(item, "name", &lp)?,
                ctx.opt_str(item, "value", &lp)?,
            ) else {
                continue;
            };
            labels.push((
                ctx.attr(k, &format!("{lp}.name"))?,
                ctx.attr(v, &format!("{lp}.value"))?,
            ));
        }
    }
    let first = |key: &str| {
        labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };

    let suite: Vec<String> = {
        let from_suites: Vec<String> = ["parentSuite", "suite", "subSuite"]
            .iter()
            .filter_map(|k| first(k))
            .collect();
        let split = |parts: Vec<String>| -> Vec<String> {
            parts
                .iter()
                .flat_map(|p| rules::split_path(p))
                .map(str::to_string)
                .collect()
        };
        if !from_suites.is_empty() {
            split(from_suites)
        } else if first("package").is_some() || first("testClass").is_some() {
            // `testClass` is usually qualified already (`com.acme.FooTest`): then it alone is the
            // path, as a JUnit classname would be.
            let package = first("package");
            match (package, first("testClass")) {
                (Some(pkg), Some(class)) if class.starts_with(&format!("{pkg}.")) => {
                    split(vec![class])
                }
                (pkg, class) => split(pkg.into_iter().chain(class).collect()),
            }
        } else if let Some(path) = ctx.opt_array(obj, "titlePath", "")? {
            let mut parts = Vec::with_capacity(path.len());
            for (i, part) in path.iter().enumerate() {
                let tp = format!("titlePath[{i}]");
                parts.push(ctx.attr(ctx.as_str(part, &tp)?, &tp)?);
            }
            parts
        } else {
            Vec::new()
        }
    };

    // A name ending in a bracketed id (`test_x[1-2]`, pytest) is that id's test, as in JUnit;
    // otherwise the declared parameters identify the case.
    let (base, id) = rules::split_parameter(&name);
    let mut parameters = Vec::new();
    if let Some(id) = id {
        parameters.push(("id".to_string(), id.to_string()));
    }
    if let Some(items) = ctx.opt_array(obj, "parameters", "")? {
        for (i, item) in items.iter().enumerate() {
            let pp = format!("parameters[{i}]");
            let item = ctx.as_object(item, &pp)?;
            let excluded = ctx.opt_bool(item, "excluded", &pp)?.unwrap_or(false);
            let Some(k) = ctx.opt_str(item, "name", &pp)? else {
                continue;
            };
            let v = match item.get("value") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            let pair = (
                ctx.attr(k, &format!("{pp}.name"))?,
                ctx.attr(&v, &format!("{pp}.value"))?,
            );
            if excluded || id.is_some() {
                labels.push((format!("parameter.{}", pair.0), pair.1));
            } else {
                parameters.push(pair);
            }
        }
    }
    let name = base.to_string();

    let mut result = TestResult::new(TestIdentity::new(suite, name, parameters), outcome);
    let start = ctx.opt_millis(obj, "start", "")?;
    let stop = ctx.opt_millis(obj, "stop", "")?;
    result.duration_ms = match (start, stop) {
        (Some(a), Some(b)) if b >= a => Some(b - a),
        _ => None,
    };
    if let Some(details) = ctx.opt_object(obj, "statusDetails", "")? {
        result.message = ctx
            .opt_str(details, "message", "statusDetails")?
            .map(|s| ctx.text(s));
        result.trace = ctx
            .opt_str(details, "trace", "statusDetails")?
            .map(|s| ctx.text(s));
        result.marked_flaky = ctx
            .opt_bool(details, "flaky", "statusDetails")?
            .unwrap_or(false);
        for key in ["known", "muted"] {
            if ctx
                .opt_bool(details, key, "statusDetails")?
                .unwrap_or(false)
            {
                labels.push((format!("allure.{key}"), "true".into()));
            }
        }
    }

    // Identity labels are in the identity already; the ids join Allure's own history.
    labels.retain(|(k, _)| !matches!(k.as_str(), "parentSuite" | "suite" | "subSuite"));
    if let Some(h) = &history_id {
        labels.push(("allure.historyId".into(), h.clone()));
    }
    if let Some(t) = test_case_id {
        labels.push(("allure.testCaseId".into(), t));
    }
    if let Some(f) = full_name {
        labels.push(("allure.fullName".into(), f));
    }

    if let Some(steps) = ctx.opt_array(obj, "steps", "")?
        && let Some(failing) = failing_step(ctx, steps, "steps")?
    {
        if result.message.is_none() {
            result.message = failing.message;
        }
        if result.trace.is_none() {
            result.trace = failing.trace;
        }
        labels.push(("step.failed".into(), failing.path.join(" › ")));
    }

    let mut stdout_source = None;
    let mut stderr_source = None;
    if let Some(items) = ctx.opt_array(obj, "attachments", "")? {
        for (i, item) in items.iter().enumerate() {
            let ap = format!("attachments[{i}]");
            let item = ctx.as_object(item, &ap)?;
            let name = ctx.attr(
                ctx.opt_str(item, "name", &ap)?.unwrap_or(""),
                &format!("{ap}.name"),
            )?;
            let source = ctx.attr(
                ctx.opt_str(item, "source", &ap)?.unwrap_or(""),
                &format!("{ap}.source"),
            )?;
            let kind = ctx.attr(
                ctx.opt_str(item, "type", &ap)?.unwrap_or(""),
                &format!("{ap}.type"),
            )?;
            match name.as_str() {
                "stdout" if stdout_source.is_none() && !source.is_empty() => {
                    stdout_source = Some(source)
                }
                "stderr" if stderr_source.is_none() && !source.is_empty() => {
                    stderr_source = Some(source)
                }
                _ => labels.push(("attachment".into(), format!("{name}; {kind}; {source}"))),
            }
        }
    }
    if let Some(links) = ctx.opt_array(obj, "links", "")? {
        for (i, link) in links.iter().enumerate() {
            let lp = format!("links[{i}]");
            let link = ctx.as_object(link, &lp)?;
            if let Some(url) = ctx.opt_str(link, "url", &lp)? {
                let kind = ctx.opt_str(link, "type", &lp)?.unwrap_or("link");
                labels.push((
                    format!("link.{}", ctx.attr(kind, &format!("{lp}.type"))?),
                    ctx.attr(url, &format!("{lp}.url"))?,
                ));
            }
        }
    }
    result.labels = labels;

    Ok(Parsed {
        entry: entry.to_string(),
        uuid,
        history_id,
        start,
        stop,
        result,
        stdout_source,
        stderr_source,
    })
}

struct FailingStep {
    path: Vec<String>,
    message: Option<String>,
    trace: Option<String>,
}

/// The first failed or broken step, followed down to its deepest failing sub-step. Every step is
/// checked on the way (a wrong status anywhere is refused). Recursion is bounded by the JSON
/// nesting limit the file was parsed with.
fn failing_step(
    ctx: &JsonCtx,
    steps: &[Value],
    path: &str,
) -> Result<Option<FailingStep>, IngestError> {
    let mut found = None;
    for (i, step) in steps.iter().enumerate() {
        let sp = format!("{path}[{i}]");
        let step = ctx.as_object(step, &sp)?;
        let status = ctx.opt_str(step, "status", &sp)?;
        let failed =
            status.is_some() && outcome_of(ctx, status, &format!("{sp}.status"))?.is_failure();
        let name = ctx.attr(
            ctx.opt_str(step, "name", &sp)?.unwrap_or("(unnamed step)"),
            &format!("{sp}.name"),
        )?;
        let inner = match ctx.opt_array(step, "steps", &sp)? {
            Some(children) => failing_step(ctx, children, &format!("{sp}.steps"))?,
            None => None,
        };
        if found.is_some() || !failed {
            continue;
        }
        let (message, trace) = match ctx.opt_object(step, "statusDetails", &sp)? {
            Some(d) => {
                let dp = format!("{sp}.statusDetails");
                (
                    ctx.opt_str(d, "message", &dp)?.map(|s| ctx.text(s)),
                    ctx.opt_str(d, "trace", &dp)?.map(|s| ctx.text(s)),
                )
            }
            None => (None, None),
        };
        found = Some(match inner {
            Some(mut deeper) => {
                deeper.path.insert(0, name);
                deeper.message = deeper.message.or(message);
                deeper.trace = deeper.trace.or(trace);
                deeper
            }
            None => FailingStep {
                path: vec![name],
                message,
                trace,
            },
        });
    }
    Ok(found)
}

/// Records the failed befores/afters of a container against each of its children.
fn parse_container(
    entry: &str,
    bytes: &[u8],
    limits: Limits,
    fixtures: &mut HashMap<String, Vec<String>>,
) -> Result<(), IngestError> {
    let (ctx, value) = parse_json(entry, bytes, limits)?;
    let mut convert = || -> Result<(), IngestError> {
        let obj = ctx.as_object(&value, "(root)")?;
        let mut failed = Vec::new();
        for key in ["befores", "afters"] {
            let Some(items) = ctx.opt_array(obj, key, "")? else {
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let fp = format!("{key}[{i}]");
                let item = ctx.as_object(item, &fp)?;
                let status = ctx.opt_str(item, "status", &fp)?;
                if status.is_none()
                    || !outcome_of(&ctx, status, &format!("{fp}.status"))?.is_failure()
                {
                    continue;
                }
                let name = ctx.attr(
                    ctx.opt_str(item, "name", &fp)?
                        .unwrap_or("(unnamed fixture)"),
                    &format!("{fp}.name"),
                )?;
                let when = if key == "befores" { "before" } else { "after" };
                failed.push(format!("{when}: {name}"));
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if let Some(children) = ctx.opt_array(obj, "children", "")? {
            for (i, child) in children.iter().enumerate() {
                let cp = format!("children[{i}]");
                let uuid = ctx.attr(ctx.as_str(child, &cp)?, &cp)?;
                fixtures
                    .entry(uuid)
                    .or_default()
                    .extend(failed.iter().cloned());
            }
        }
        Ok(())
    };
    convert().map_err(|e| in_entry(entry, e))
}

fn parse_executor(
    entry: &str,
    bytes: &[u8],
    limits: Limits,
    meta: &mut ReportMeta,
) -> Result<(), IngestError> {
    let (ctx, value) = parse_json(entry, bytes, limits)?;
    let convert = |meta: &mut ReportMeta| -> Result<(), IngestError> {
        let obj = ctx.as_object(&value, "(root)")?;
        let get = |key: &str| -> Result<Option<String>, IngestError> {
            ctx.opt_str(obj, key, "")?
                .filter(|s| !s.is_empty())
                .map(|s| ctx.attr(s, key))
                .transpose()
        };
        if let Some(name) = get("buildName")? {
            meta.build_name = Some(name);
        }
        if let Some(url) = get("buildUrl")? {
            meta.build_url = Some(url);
        }
        if let Some(name) = get("name")? {
            meta.environment.push(("executor".into(), name));
        }
        if let Some(order) = obj
            .get("buildOrder")
            .filter(|v| v.is_number() || v.is_string())
        {
            let order = order
                .as_str()
                .map_or_else(|| order.to_string(), str::to_string);
            meta.environment
                .push(("buildOrder".into(), ctx.attr(&order, "buildOrder")?));
        }
        Ok(())
    };
    convert(meta).map_err(|e| in_entry(entry, e))
}

fn parse_environment(
    entry: &str,
    bytes: &[u8],
    limits: Limits,
    meta: &mut ReportMeta,
) -> Result<(), IngestError> {
    let text = String::from_utf8_lossy(bytes);
    for (key, value) in properties(&text) {
        for (what, len) in [("key", key.len()), ("value", value.len())] {
            if len > limits.max_attribute_bytes {
                return Err(IngestError::limit(format!(
                    "allure: a {what} in {} is longer than {} bytes (max_attribute_bytes)",
                    shown(entry),
                    limits.max_attribute_bytes
                )));
            }
        }
        if meta.environment.len() as u64 >= limits.max_elements {
            return Err(IngestError::limit(format!(
                "allure: {} has too many entries (max_elements)",
                shown(entry)
            )));
        }
        let norm = key.to_ascii_lowercase().replace(['.', '-', ' '], "_");
        match norm.as_str() {
            "branch" | "branch_name" | "branchname" | "git_branch" | "ci_commit_branch"
            | "ci_commit_ref_name" | "github_ref_name" | "branch_name_" | "bitbucket_branch"
                if meta.branch.is_none() =>
            {
                meta.branch = Some(value.clone());
            }
            "commit" | "git_commit" | "commit_sha" | "sha" | "revision" | "ci_commit_sha"
            | "github_sha" | "git_revision" | "bitbucket_commit"
                if meta.commit.is_none() =>
            {
                meta.commit = Some(value.clone());
            }
            _ => {}
        }
        meta.environment.push((key, value));
    }
    Ok(())
}

/// A Java `.properties` file (what `environment.properties` is): `key=value`, `key: value` or
/// `key value`; `#`/`!` comments; a trailing `\` continues the line; `\t \n \r \f \uXXXX` escapes.
pub fn properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // Join continued lines: an odd number of trailing backslashes continues.
        let mut logical = trimmed.to_string();
        while trailing_backslashes(&logical) % 2 == 1 {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_property(&logical);
        out.push((unescape(key), unescape(value)));
    }
    out
}

fn trailing_backslashes(s: &str) -> usize {
    s.chars().rev().take_while(|&c| c == '\\').count()
}

fn split_property(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..i], line[i + 1..].trim_start()),
            c if c.is_whitespace() => {
                let rest = line[i..].trim_start();
                let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
                return (&line[..i], rest);
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                {
                    Some(decoded) => {
                        out.push(decoded);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    None => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_follow_the_java_rules() {
        let text = "# comment\n! also\n  a=1\nb : two words \nc three\nd\\ e=\\u00e9t\\u00E9\nlong = first \\\n    second\nurl=https\\://x\nempty=\nbare\n";
        let props = properties(text);
        let get = |k: &str| {
            props
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("a"), Some("1"));
        assert_eq!(get("b"), Some("two words "));
        assert_eq!(get("c"), Some("three"));
        assert_eq!(get("d e"), Some("été"));
        assert_eq!(get("long"), Some("first second"));
        assert_eq!(get("url"), Some("https://x"));
        assert_eq!(get("empty"), Some(""));
        assert_eq!(get("bare"), Some(""));
        assert_eq!(props.len(), 8);
    }

    #[test]
    fn names_that_escape_are_refused() {
        for bad in [
            "../x-result.json",
            "a/../../x",
            "/etc/passwd",
            "\\\\server\\share",
            "C:\\x",
            "a\\..\\b",
            "nul\0",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in [
            "x-result.json",
            "allure-results/x-result.json",
            "a..b/c",
            "..hidden",
        ] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
