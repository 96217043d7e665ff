//! `check-tests`, Testomat.io's static test importer: `POST /api/load` sends the tests it found
//! in source (in chunks for big projects), and `GET /api/test_data` answers the ids that its
//! `--update-ids` writes into the source (`@T` + a case key after a test's title, `@S` + a
//! suite id after a suite's). Both map onto `import-tests`, so the cases are the same whichever
//! tool found them.

use super::text::{normalise_path, without_ids};
use crate::cases::source::{ImportReport, ImportRequest, ImportedTest};
use crate::{Allowed, Core, CoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use testvault_domain::{DomainError, Permission};
use testvault_store::CaseFilter;
use uuid::Uuid;

/// One test as `check-tests` found it.
#[derive(Debug, Default, Deserialize)]
pub struct FoundTest {
    #[serde(default)]
    pub name: Option<String>,
    /// Outermost first.
    #[serde(default)]
    pub suites: Vec<Value>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub line: Option<Value>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub tags: Vec<Value>,
    #[serde(default)]
    pub skipped: Option<bool>,
}

/// `POST /api/load`.
#[derive(Debug, Default, Deserialize)]
pub struct Load {
    #[serde(default)]
    pub tests: Vec<Value>,
    #[serde(default)]
    pub framework: Option<String>,
    /// Present on every request of a chunked upload.
    #[serde(default)]
    pub chunk_upload: Option<bool>,
    /// Given back by the first chunk; later chunks send it.
    #[serde(default)]
    pub import_id: Option<String>,
    /// `--no-detach`: keep cases whose tests were not found.
    #[serde(default, rename = "no-detach")]
    pub no_detach: Option<bool>,
    /// `TESTOMATIO_PREPEND_DIR`: a folder put before every file.
    #[serde(default)]
    pub dir: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Loaded {
    pub import_id: String,
    #[serde(flatten)]
    pub report: ImportReport,
}

/// `GET /api/test_data`: the ids by the keys `--update-ids` looks them up by.
#[derive(Debug, Default, Serialize)]
pub struct TestData {
    /// `file#suite#name`, `suite#name` (with and without tags) and `name` → `@T…`.
    pub tests: BTreeMap<String, String>,
    /// `file#suite` and `suite` → `@S…`.
    pub suites: BTreeMap<String, String>,
}

/// `@smoke` words removed too (how `check-tests` compares names "without tags").
fn without_tags(title: &str) -> String {
    title
        .split_whitespace()
        .filter(|w| !w.starts_with('@'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Testomat id of a suite: `@S` + the first 8 hex digits of its id.
fn suite_id(id: Uuid) -> String {
    format!("@S{}", &id.simple().to_string()[..8])
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl FoundTest {
    fn into_imported(
        self,
        at: usize,
        dir: Option<&str>,
        framework: Option<&str>,
    ) -> Result<ImportedTest, DomainError> {
        let refuse = |why: &str| DomainError::new("tests", format!("test {}: {why}", at + 1));
        let raw = self.name.as_deref().unwrap_or_default();
        let case_id = crate::cases::case_key_in_name(raw);
        let name = without_ids(raw);
        if name.is_empty() {
            return Err(refuse("the test has no name"));
        }
        let file = self
            .file
            .as_deref()
            .and_then(normalise_path)
            .ok_or_else(|| refuse("the test has no file"))?;
        let file = match dir.map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => format!("{}/{file}", d.trim_matches('/')),
            None => file,
        };
        let suite: Vec<String> = self
            .suites
            .iter()
            .filter(|s| !s.is_null())
            .map(|s| without_ids(&text_of(s)))
            .filter(|s| !s.is_empty())
            .collect();
        // Tags as the tool lists them, and as `@tag` words in the name (mocha lists none).
        let mut tags: Vec<String> = self
            .tags
            .iter()
            .map(text_of)
            .chain(
                name.split_whitespace()
                    .filter(|w| w.len() > 1 && w.starts_with('@'))
                    .map(String::from),
            )
            .map(|t| t.trim_start_matches('@').to_string())
            .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
            .collect();
        tags.sort();
        tags.dedup();
        tags.truncate(20);
        let title = without_tags(&name);
        Ok(ImportedTest {
            file,
            suite,
            title: (!title.is_empty() && title != name).then_some(title),
            name,
            line: match &self.line {
                Some(Value::Number(n)) => n.as_u64().and_then(|l| u32::try_from(l).ok()),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            },
            source: self.code.filter(|c| !c.trim().is_empty()),
            case_id,
            tags,
            skipped: self.skipped.unwrap_or(false),
            framework: framework.map(String::from),
        })
    }
}

impl Core {
    /// Creates or updates the cases of the tests `check-tests` found. One request is one
    /// import; a single (unchunked) import also marks the cases of tests gone from its files,
    /// unless `--no-detach`. Needs `write_cases`.
    pub async fn testomatio_load(
        &self,
        allowed: Allowed<'_>,
        load: Load,
    ) -> Result<Loaded, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let (project, slug) = self.key_project(p).await?;
        allowed.in_project(project)?;
        let framework = load.framework.as_deref().map(|f| f.trim().to_lowercase());
        let mut tests = Vec::with_capacity(load.tests.len());
        for (i, raw) in load.tests.into_iter().enumerate() {
            let found: FoundTest = serde_json::from_value(raw)
                .map_err(|e| DomainError::new("tests", format!("test {}: {e}", i + 1)))?;
            tests.push(found.into_imported(i, load.dir.as_deref(), framework.as_deref())?);
        }
        // A chunk holds only part of the project: what it lacks is not gone.
        let detach = !load.chunk_upload.unwrap_or(false) && !load.no_detach.unwrap_or(false);
        let mut files: Vec<String> = if detach {
            tests.iter().map(|t| t.file.clone()).collect()
        } else {
            Vec::new()
        };
        files.sort();
        files.dedup();
        let report = self
            .import_tests(
                allowed,
                &slug,
                ImportRequest {
                    files,
                    tests,
                    with_source: true,
                },
            )
            .await?;
        let import_id = load
            .import_id
            .filter(|id| Uuid::parse_str(id).is_ok())
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        Ok(Loaded { import_id, report })
    }

    /// The ids of the project's cases imported from code, keyed as `--update-ids` looks them
    /// up. Needs `read_projects`.
    pub async fn testomatio_test_data(&self, allowed: Allowed<'_>) -> Result<TestData, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let (project, _) = self.key_project(p).await?;
        allowed.in_project(project)?;
        let cases = self
            .store()
            .list_cases(
                p.org,
                project,
                &CaseFilter {
                    from_code: true,
                    ..CaseFilter::default()
                },
                i64::MAX,
            )
            .await?;
        let nodes = crate::cases::suites::tree(self.store().list_suites(p.org, project).await?);
        let by_name: HashMap<(Option<Uuid>, &str), Uuid> = nodes
            .iter()
            .map(|n| ((n.parent, n.name.as_str()), n.id))
            .collect();
        let mut data = TestData::default();
        for case in &cases {
            let Some(code_ref) = case.write.code_ref.as_deref() else {
                continue;
            };
            let parts: Vec<&str> = code_ref.split(" › ").collect();
            let [file, suites @ .., name] = parts.as_slice() else {
                continue;
            };
            let id = format!("@T{}", case.key);
            // The suites on the case's path, each under its parent (the file's suite first).
            let mut parent = by_name.get(&(None, *file)).copied();
            for s in suites.iter() {
                parent = parent.and_then(|up| by_name.get(&(Some(up), *s)).copied());
                if let Some(node) = parent {
                    let sid = suite_id(node);
                    data.suites.insert(format!("{file}#{s}"), sid.clone());
                    data.suites.entry((*s).to_string()).or_insert(sid.clone());
                    data.suites.entry(without_tags(s)).or_insert(sid);
                }
            }
            let first = suites.first().copied().unwrap_or_default();
            let base = file.rsplit('/').next().unwrap_or(file);
            data.tests
                .insert(format!("{file}#{first}#{name}"), id.clone());
            // pytestomatio reads only `file#suite#title` keys with a suite, and titles without
            // tags; a test outside a class has its file name as its suite there.
            let py_suite = if first.is_empty() { base } else { first };
            data.tests
                .entry(format!("{base}#{py_suite}#{}", without_tags(name)))
                .or_insert(id.clone());
            data.tests
                .entry(format!("{first}#{name}"))
                .or_insert(id.clone());
            data.tests
                .entry(format!("{}#{}", without_tags(first), without_tags(name)))
                .or_insert(id.clone());
            data.tests.entry((*name).to_string()).or_insert(id);
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_words_after_an_at() {
        assert_eq!(without_tags("logs in @smoke"), "logs in");
    }

    #[test]
    fn found_tests_become_imported_tests() -> Result<(), DomainError> {
        let t: FoundTest = serde_json::from_value(serde_json::json!({
            "name": "logs in @T1a2b3c4d @smoke", "suites": ["Auth @S0a1b2c3d", "form"],
            "file": "test/auth.test.js", "line": 7, "code": "it('logs in', ...)", "tags": ["smoke"],
            "skipped": false, "updatePoint": {"line": 7, "column": 20}
        }))
        .map_err(|e| DomainError::new("t", e.to_string()))?;
        let i = t.into_imported(0, Some("web"), Some("mocha"))?;
        assert_eq!(i.file, "web/test/auth.test.js");
        assert_eq!(i.suite, vec!["Auth".to_string(), "form".to_string()]);
        assert_eq!(i.name, "logs in @smoke");
        assert_eq!(i.title.as_deref(), Some("logs in"));
        assert_eq!(i.case_id.as_deref(), Some("1a2b3c4d"));
        assert_eq!(i.line, Some(7));
        Ok(())
    }
}
