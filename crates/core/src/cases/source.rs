//! `import-tests`: cases from the tests a static scan of source code found. Idempotent: a test is
//! found again by the `@T` id in its title or by its file, suite path and name; its case is
//! updated, not duplicated. A test no longer found in a scanned file marks its case removed
//! (never deleted); found again, the mark goes. Afterwards, automated tests with the same name
//! and no case yet are linked to the imported cases.

use super::edit::{Checker, Code, Draft, new_key};
use super::model::{CaseContent, normalise_tags, one_line, parse_case_key};
use super::{content_of, suites};
use crate::audit::Change;
use crate::{Allowed, Core, CoreError, Principal};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use testvault_domain::{DomainError, Permission, ProjectId, time};
use testvault_store::{CaseCode, CaseFilter, CaseRow};
use uuid::Uuid;

/// One test a scan found (the CLI fills this from `testvault-sourcescan`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ImportedTest {
    /// The file, relative to where the scan started, with `/` separators.
    pub file: String,
    #[serde(default)]
    pub suite: Vec<String>,
    pub name: String,
    /// The title people read (`name` without ids and tags), when it differs.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub source: Option<String>,
    /// `@T` id written in the test (`1a2b3c4d`).
    #[serde(default)]
    pub case_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub skipped: bool,
    #[serde(default)]
    pub framework: Option<String>,
}

/// A scan's findings: every file scanned (so tests gone from them are noticed) and its tests.
#[derive(Debug, Clone, Deserialize)]
pub struct ImportRequest {
    pub files: Vec<String>,
    pub tests: Vec<ImportedTest>,
    /// Keep each test's source (sealed with the org's key) on its case.
    #[serde(default)]
    pub with_source: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Marked removed: no longer found in a scanned file.
    pub removed: usize,
    /// Found again after being marked removed.
    pub restored: usize,
    /// Automated tests linked to an imported case by name.
    pub linked: usize,
}

const MAX_FILES: usize = 50_000;
const MAX_TESTS: usize = 100_000;
const MAX_PATH: usize = 500;
const MAX_SOURCE: usize = 64 * 1024;
const TABLE: &str = "cases";
const SOURCE: &str = "source";

/// What `import-tests` finds a test again by.
fn code_ref(t: &ImportedTest) -> String {
    let mut parts = vec![t.file.clone()];
    parts.extend(t.suite.iter().cloned());
    parts.push(t.name.clone());
    parts.join(" › ")
}

fn checked(req: &ImportRequest) -> Result<(), DomainError> {
    if req.files.len() > MAX_FILES {
        return Err(DomainError::new(
            "files",
            "at most 50000 files in one import",
        ));
    }
    if req.tests.len() > MAX_TESTS {
        return Err(DomainError::new(
            "tests",
            "at most 100000 tests in one import",
        ));
    }
    for t in &req.tests {
        let at = format!("{}:{}", t.file, t.line.unwrap_or(0));
        if t.file.trim().is_empty() || t.file.chars().count() > MAX_PATH {
            return Err(DomainError::new(
                "tests",
                format!("{at}: the file path must have 1 to 500 characters"),
            ));
        }
        if one_line(&t.name).is_empty() {
            return Err(DomainError::new(
                "tests",
                format!("{at}: a test needs a name"),
            ));
        }
        if t.source.as_ref().is_some_and(|s| s.len() > MAX_SOURCE) {
            return Err(DomainError::new(
                "tests",
                format!("{at}: the source is over 64 KiB"),
            ));
        }
    }
    Ok(())
}

impl Core {
    /// Creates or updates one case per test found in code. Needs `write_cases`; audited.
    pub async fn import_tests(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        req: ImportRequest,
    ) -> Result<ImportReport, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        checked(&req)?;
        let existing = self
            .store()
            .list_cases(
                p.org,
                project,
                &CaseFilter {
                    from_code: true,
                    include_removed: true,
                    ..CaseFilter::default()
                },
                i64::MAX,
            )
            .await?;
        let by_ref: HashMap<String, &CaseRow> = existing
            .iter()
            .filter_map(|r| r.write.code_ref.clone().map(|c| (c, r)))
            .collect();
        let checker = Checker::load(self, p.org, project).await?;
        let mut nodes = suites::tree(self.store().list_suites(p.org, project).await?);
        let now = time::now();
        let mut report = ImportReport::default();
        let mut seen: HashSet<Uuid> = HashSet::new();
        let mut drafts = Vec::new();
        let mut edits = Vec::new();
        let mut code_changes = Vec::new();
        let mut imported: Vec<(Uuid, ImportedTest)> = Vec::new();
        let mut refs_in_import: HashSet<String> = HashSet::new();
        for t in req.tests {
            let cref = code_ref(&t);
            if !refs_in_import.insert(cref.clone()) {
                continue; // the same test twice (a scan of overlapping paths)
            }
            let title: String = one_line(t.title.as_deref().unwrap_or(&t.name))
                .chars()
                .take(300)
                .collect();
            let tags = normalise_tags(&t.tags).unwrap_or_default();
            let key_in_code = t.case_id.as_deref().and_then(parse_case_key);
            // The test's own case first; else the case its `@T` id names, when no other test
            // of the code claims that case.
            let found = match (by_ref.get(&cref), &key_in_code) {
                (Some(row), _) => Some((*row).clone()),
                (None, Some(k)) => self
                    .store()
                    .get_case(p.org, project, k)
                    .await?
                    .filter(|row| row.write.code_ref.is_none() && !seen.contains(&row.id)),
                (None, None) => None,
            };
            let line = t.line.map(i64::from);
            match found {
                Some(row) => {
                    seen.insert(row.id);
                    let sealed = match (&t.source, req.with_source) {
                        (Some(src), true) => Some(
                            self.keyring()
                                .seal(self.store(), p.org, TABLE, SOURCE, &row.id.to_string(), src)
                                .await?,
                        ),
                        _ => None,
                    };
                    let before = content_of(&row)?;
                    let mut after = before.clone();
                    after.title = title;
                    after.tags.extend(tags);
                    if after.kind == "manual" {
                        after.kind = "both".into();
                    }
                    let after = checker.check(after)?;
                    let moved = row.write.file.as_deref() != Some(t.file.as_str())
                        || row.write.line != line
                        || row.write.removed_at.is_some()
                        || (req.with_source && sealed.is_some());
                    if row.write.removed_at.is_some() {
                        report.restored += 1;
                    }
                    if moved {
                        code_changes.push(CaseCode {
                            id: row.id,
                            file: Some(t.file.clone()),
                            line,
                            source_sealed: if req.with_source {
                                sealed
                            } else {
                                row.write.source_sealed.clone()
                            },
                            removed_at: None,
                        });
                    }
                    if after != before {
                        report.updated += 1;
                        let suite = row.write.suite;
                        edits.push((row.clone(), after, suite, "updated from code".to_string()));
                    } else if !moved {
                        report.unchanged += 1;
                    }
                    imported.push((row.id, t));
                }
                None => {
                    let mut path = vec![t.file.clone()];
                    path.extend(t.suite.iter().cloned());
                    let suite = self
                        .ensure_suite_path(p, p.org, project, &mut nodes, &path)
                        .await?;
                    let mut content = CaseContent::new(title);
                    content.kind = "automated".into();
                    content.status = "ready".into();
                    content.tags = tags;
                    // The id written in the code becomes the key, unless a case has it already.
                    let free = match &key_in_code {
                        Some(k) if !drafts.iter().any(|d: &Draft| d.key == *k) => {
                            self.store().get_case(p.org, project, k).await?.is_none()
                        }
                        _ => false,
                    };
                    let key = match &key_in_code {
                        Some(k) if free => k.clone(),
                        _ => new_key(),
                    };
                    let mut draft = Draft::new(key, checker.check(content)?, suite);
                    draft.code = Code {
                        code_ref: Some(cref),
                        file: Some(t.file.clone()),
                        line,
                        source_sealed: match (&t.source, req.with_source) {
                            (Some(src), true) => Some(
                                self.keyring()
                                    .seal(
                                        self.store(),
                                        p.org,
                                        TABLE,
                                        SOURCE,
                                        &draft.id.to_string(),
                                        src,
                                    )
                                    .await?,
                            ),
                            _ => None,
                        },
                    };
                    report.created += 1;
                    imported.push((draft.id, t));
                    drafts.push(draft);
                }
            }
        }
        // Tests gone from the files this scan read.
        let scanned: HashSet<&str> = req.files.iter().map(String::as_str).collect();
        for row in &existing {
            let in_scanned_file = row
                .write
                .file
                .as_deref()
                .is_some_and(|f| scanned.contains(f));
            if in_scanned_file && !seen.contains(&row.id) && row.write.removed_at.is_none() {
                report.removed += 1;
                code_changes.push(CaseCode {
                    id: row.id,
                    file: row.write.file.clone(),
                    line: row.write.line,
                    source_sealed: row.write.source_sealed.clone(),
                    removed_at: Some(now),
                });
            }
        }
        if !drafts.is_empty() {
            self.insert_cases(p, project, drafts, "imported from code")
                .await?;
        }
        if !edits.is_empty() {
            self.write_versions(p, project, &checker, edits).await?;
        }
        if !code_changes.is_empty() {
            let event = crate::audit::by(
                p,
                Change::new("cases.code_updated", "project", project).after(serde_json::json!({
                    "moved_or_restored": code_changes.iter().filter(|c| c.removed_at.is_none()).count(),
                    "removed": report.removed,
                })),
            );
            self.store()
                .update_case_code(p.org, project, &code_changes, &event)
                .await?;
        }
        report.linked = self.link_by_name(p, project, &imported).await?;
        tracing::info!(org.id = %p.org, project.id = %project, created = report.created, updated = report.updated, removed = report.removed, "tests imported from code");
        Ok(report)
    }

    /// Links each automated test that no case covers yet to the one imported case with its name
    /// (and, when the case has a suite, a suite naming its innermost part). Ambiguous names are
    /// left alone.
    async fn link_by_name(
        &self,
        p: &Principal,
        project: ProjectId,
        imported: &[(Uuid, ImportedTest)],
    ) -> Result<usize, CoreError> {
        if imported.is_empty() {
            return Ok(0);
        }
        let mut by_name: HashMap<&str, Vec<&(Uuid, ImportedTest)>> = HashMap::new();
        for entry in imported {
            by_name
                .entry(entry.1.name.as_str())
                .or_default()
                .push(entry);
        }
        let unlinked = self.store().unlinked_tests(p.org, project, 100_000).await?;
        let mut links = Vec::new();
        for t in &unlinked {
            // Frameworks report a method as `name`, `Class.name`, `module::name`, `name()`.
            let bare = t.name.trim_end_matches("()");
            let bare = bare.rsplit(['.', ':', ' ']).next().unwrap_or(bare);
            let Some(candidates) = by_name.get(bare).or_else(|| by_name.get(t.name.as_str()))
            else {
                continue;
            };
            let matching: Vec<&&(Uuid, ImportedTest)> = candidates
                .iter()
                .filter(|(_, it)| {
                    let file_matches = t
                        .file
                        .as_deref()
                        .is_some_and(|f| f.ends_with(&it.file) || it.file.ends_with(f));
                    let suite_matches = it.suite.last().is_none_or(|s| {
                        t.suite.contains(s.as_str()) || t.name.contains(s.as_str())
                    });
                    file_matches || suite_matches
                })
                .collect();
            if let [only] = matching.as_slice() {
                links.push((only.0, t.id));
            }
        }
        if links.is_empty() {
            return Ok(0);
        }
        let event = crate::audit::by(
            p,
            Change::new("case.linked", "project", project)
                .after(serde_json::json!({ "links": links.len(), "by": "name" })),
        );
        self.store()
            .link_tests(project, &links, time::now(), &event)
            .await?;
        Ok(links.len())
    }
}
