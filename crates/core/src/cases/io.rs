//! Cases in and out as CSV and Markdown, round-trip safe: an export imports back to the same
//! cases. A row or section with the key of an existing case updates it (a new version when
//! something changed); one without a key, or with an unknown one, creates a case. Every row is
//! checked before anything is written: a file with one bad row stores nothing.
//!
//! CSV: `key, suite, title, priority, type, status, tags, owner, preconditions, description`,
//! one `field: <name>` column per custom field, then `step 1, expected 1, step 2, …`.
//! Suites are paths joined by ` / `; cells are defused against formulas (see `crate::csv`).
//!
//! Markdown: `# Suite / Sub` headings, `## Title @T1a2b3c4d` per case, a bullet list of
//! `- Name: value` properties, then `### Preconditions`, `### Description` and `### Steps`
//! (`1. action` with `   Expected: result`, continuation lines indented three spaces). Lines
//! of text that would read as structure get a `\` in front on export; import takes one off.

use super::edit::{CasePatch, Checker, Draft, new_key};
use super::model::{CaseContent, Step, parse_case_key};
use super::shared::EXPORT_PREFIX;
use super::{CaseQuery, CaseView, FieldView, SharedStepsView, content_of, suites};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use std::collections::BTreeMap;
use testvault_domain::{DomainError, Permission};

/// A case as an import reads it, before checks.
#[derive(Debug, Clone, Default)]
struct Parsed {
    /// Where it came from, for errors: `line 12`.
    at: String,
    key: Option<String>,
    suite: Vec<String>,
    patch: CasePatch,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CaseImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

const MAX_IMPORT: usize = 10_000;
const BASE_COLUMNS: [&str; 10] = [
    "key",
    "suite",
    "title",
    "priority",
    "type",
    "status",
    "tags",
    "owner",
    "preconditions",
    "description",
];

fn suite_parts(path: &str) -> Vec<String> {
    path.split(" / ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The cases as CSV (header and rows).
pub fn to_csv(cases: &[CaseView], fields: &[FieldView], shared: &[SharedStepsView]) -> String {
    let steps = cases.iter().map(|c| c.steps.len()).max().unwrap_or(0);
    let mut header: Vec<String> = BASE_COLUMNS.iter().map(|s| s.to_string()).collect();
    header.extend(fields.iter().map(|f| format!("field: {}", f.name)));
    for i in 1..=steps {
        header.push(format!("step {i}"));
        header.push(format!("expected {i}"));
    }
    let mut out = line(&header);
    for c in cases {
        let mut row = vec![
            format!("T{}", c.key),
            c.suite_path.clone(),
            c.title.clone(),
            c.priority.clone(),
            c.kind.clone(),
            c.status.clone(),
            c.tags.join(", "),
            c.owner.clone().unwrap_or_default(),
            c.preconditions.clone(),
            c.description.clone(),
        ];
        for f in fields {
            row.push(
                c.fields
                    .iter()
                    .find(|v| v.field == f.id)
                    .map(|v| v.text.clone())
                    .unwrap_or_default(),
            );
        }
        for i in 0..steps {
            let s = c.steps.get(i);
            row.push(s.map(|s| action_text(s, shared)).unwrap_or_default());
            row.push(s.map(|s| s.expected.clone()).unwrap_or_default());
        }
        out.push_str(&line(&row));
    }
    out
}

/// A step's action as exported: its text, or `[shared] Title` for a shared reference.
fn action_text(s: &Step, shared: &[SharedStepsView]) -> String {
    match s.shared {
        None => s.action.clone(),
        Some(id) => format!(
            "{EXPORT_PREFIX}{}",
            shared
                .iter()
                .find(|x| x.id == id)
                .map_or("(deleted)", |x| x.title.as_str())
        ),
    }
}

/// Steps read back from a file: `[shared] Title` (with no expected result) names shared steps.
fn resolve_shared(
    steps: &mut [Step],
    shared: &[SharedStepsView],
    at: &str,
) -> Result<(), DomainError> {
    for s in steps.iter_mut() {
        let Some(title) = s.action.strip_prefix(EXPORT_PREFIX) else {
            continue;
        };
        if !s.expected.is_empty() {
            continue;
        }
        let seq = shared
            .iter()
            .find(|x| x.title == title.trim())
            .ok_or_else(|| {
                DomainError::new(
                    "steps",
                    format!("{at}: no shared steps titled \"{}\"", title.trim()),
                )
            })?;
        *s = Step {
            shared: Some(seq.id),
            ..Step::new("", "")
        };
    }
    Ok(())
}

fn line(cells: &[String]) -> String {
    let mut l = cells
        .iter()
        .map(|c| crate::csv::cell(c))
        .collect::<Vec<_>>()
        .join(",");
    l.push_str("\r\n");
    l
}

fn from_csv(text: &str, fields: &[FieldView]) -> Result<Vec<Parsed>, DomainError> {
    let rows = crate::csv::parse(text).map_err(|e| DomainError::new("file", e.to_string()))?;
    let mut rows = rows.into_iter();
    let header: Vec<String> = rows
        .next()
        .ok_or_else(|| DomainError::new("file", "is empty"))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    if col("title").is_none() {
        return Err(DomainError::new("file", "line 1: needs a title column"));
    }
    for h in &header {
        let known = BASE_COLUMNS.contains(&h.as_str())
            || h.starts_with("step ")
            || h.starts_with("expected ")
            || h.strip_prefix("field: ")
                .is_some_and(|n| fields.iter().any(|f| f.name.to_lowercase() == n));
        if !known {
            return Err(DomainError::new(
                "file",
                format!("line 1: unknown column \"{h}\""),
            ));
        }
    }
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        let at = format!("line {}", i + 2);
        let get = |name: &str| -> Option<String> {
            col(name)
                .and_then(|c| row.get(c))
                .map(|v| crate::csv::undefuse(v).to_string())
        };
        let text = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut steps = Vec::new();
        for n in 1.. {
            let (a, e) = (col(&format!("step {n}")), col(&format!("expected {n}")));
            if a.is_none() && e.is_none() {
                break;
            }
            let action = get(&format!("step {n}")).unwrap_or_default();
            let expected = get(&format!("expected {n}")).unwrap_or_default();
            if !action.trim().is_empty() || !expected.trim().is_empty() {
                steps.push(Step::new(action, expected));
            }
        }
        let mut values = BTreeMap::new();
        for f in fields {
            if let Some(c) = header
                .iter()
                .position(|h| *h == format!("field: {}", f.name.to_lowercase()))
            {
                let v = row
                    .get(c)
                    .map(|v| crate::csv::undefuse(v).to_string())
                    .unwrap_or_default();
                values.insert(f.name.clone(), serde_json::Value::String(v));
            }
        }
        out.push(Parsed {
            at,
            key: text("key"),
            suite: get("suite").map(|s| suite_parts(&s)).unwrap_or_default(),
            patch: CasePatch {
                title: get("title"),
                description: get("description"),
                preconditions: get("preconditions"),
                steps: Some(steps),
                tags: get("tags").map(|t| vec![t]),
                priority: text("priority"),
                kind: text("type"),
                status: text("status"),
                owner: get("owner"),
                fields: Some(values),
                ..CasePatch::default()
            },
        });
    }
    Ok(out)
}

/// Escapes lines of a text block that would read as structure (`#` headings; in steps, also
/// numbered items and `Expected:`), by one more leading backslash.
fn escape(text: &str, in_steps: bool) -> Vec<String> {
    text.lines()
        .map(|l| {
            if is_structure(l.trim_start_matches('\\'), in_steps) && !l.trim().is_empty() {
                format!("\\{l}")
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn unescape(line: &str, in_steps: bool) -> String {
    match line.strip_prefix('\\') {
        Some(rest) if is_structure(rest.trim_start_matches('\\'), in_steps) => rest.to_string(),
        _ => line.to_string(),
    }
}

fn is_structure(l: &str, in_steps: bool) -> bool {
    l.starts_with('#')
        || l.starts_with("- ")
        || (in_steps && (numbered(l).is_some() || l.trim_start().starts_with("Expected:")))
}

/// `12. rest` → `rest`.
fn numbered(l: &str) -> Option<&str> {
    let digits = l.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    l[digits..]
        .strip_prefix(". ")
        .or_else(|| (l[digits..] == *".").then_some(""))
}

/// The cases as Markdown, grouped by suite.
pub fn to_markdown(cases: &[CaseView], fields: &[FieldView], shared: &[SharedStepsView]) -> String {
    let mut out = String::new();
    let mut suite: Option<&str> = None;
    for c in cases {
        if suite != Some(c.suite_path.as_str()) {
            if !c.suite_path.is_empty() {
                out.push_str(&format!("# {}\n\n", c.suite_path));
            } else if suite.is_some() {
                out.push_str("# (no suite)\n\n");
            }
            suite = Some(&c.suite_path);
        }
        out.push_str(&format!("## {} @T{}\n\n", c.title, c.key));
        out.push_str(&format!(
            "- Priority: {}\n- Type: {}\n- Status: {}\n",
            c.priority, c.kind, c.status
        ));
        if !c.tags.is_empty() {
            out.push_str(&format!("- Tags: {}\n", c.tags.join(", ")));
        }
        if let Some(o) = &c.owner {
            out.push_str(&format!("- Owner: {o}\n"));
        }
        for f in fields {
            if let Some(v) = c.fields.iter().find(|v| v.field == f.id) {
                out.push_str(&format!("- {}: {}\n", f.name, v.text.replace('\n', " ")));
            }
        }
        out.push('\n');
        for (label, text) in [
            ("Preconditions", &c.preconditions),
            ("Description", &c.description),
        ] {
            if !text.is_empty() {
                out.push_str(&format!("### {label}\n\n"));
                for l in escape(text, false) {
                    out.push_str(&l);
                    out.push('\n');
                }
                out.push('\n');
            }
        }
        if !c.steps.is_empty() {
            out.push_str("### Steps\n\n");
            for (i, s) in c.steps.iter().enumerate() {
                let action = escape(&action_text(s, shared), true);
                let first = action.first().cloned().unwrap_or_default();
                out.push_str(&format!("{}. {first}\n", i + 1));
                for l in action.iter().skip(1) {
                    out.push_str(&format!("   {l}\n"));
                }
                let expected = escape(&s.expected, true);
                if let Some(first) = expected.first() {
                    out.push_str(&format!("   Expected: {first}\n"));
                    for l in expected.iter().skip(1) {
                        out.push_str(&format!("   {l}\n"));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

fn from_markdown(text: &str, fields: &[FieldView]) -> Result<Vec<Parsed>, DomainError> {
    #[derive(PartialEq)]
    enum Block {
        Props,
        Text(&'static str),
        Steps,
    }
    let mut out: Vec<Parsed> = Vec::new();
    let mut suite: Vec<String> = Vec::new();
    let mut block = Block::Props;
    // Steps being read: (action lines, expected lines, reading expected?).
    let mut steps: Vec<(Vec<String>, Vec<String>, bool)> = Vec::new();
    let mut texts: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    // Whether the last case still takes text (a suite heading or the next case closes it).
    let mut open = false;
    let finish = |open: &mut bool,
                  out: &mut Vec<Parsed>,
                  steps: &mut Vec<(Vec<String>, Vec<String>, bool)>,
                  texts: &mut BTreeMap<&'static str, Vec<String>>| {
        if let Some(case) = out.last_mut().filter(|_| std::mem::take(open)) {
            let join = |lines: &[String]| lines.join("\n").trim_matches('\n').to_string();
            case.patch.preconditions =
                Some(join(texts.get("preconditions").map_or(&[][..], |v| v)));
            case.patch.description = Some(join(texts.get("description").map_or(&[][..], |v| v)));
            case.patch.steps = Some(
                steps
                    .drain(..)
                    .map(|(a, e, _)| Step::new(join(&a), join(&e)))
                    .collect(),
            );
        }
        texts.clear();
    };
    for (n, raw) in text.lines().enumerate() {
        let at = format!("line {}", n + 1);
        let line = raw.trim_end();
        if let Some(path) = line.strip_prefix("# ") {
            finish(&mut open, &mut out, &mut steps, &mut texts);
            suite = if path.trim() == "(no suite)" {
                Vec::new()
            } else {
                suite_parts(path)
            };
            block = Block::Props;
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            finish(&mut open, &mut out, &mut steps, &mut texts);
            let title = title.trim();
            let (title, key) = match title.rsplit_once(" @T") {
                Some((t, k)) if parse_case_key(k).is_some() => (t.to_string(), Some(k.to_string())),
                _ => (title.to_string(), None),
            };
            out.push(Parsed {
                at,
                key,
                suite: suite.clone(),
                patch: CasePatch {
                    title: Some(title),
                    fields: Some(BTreeMap::new()),
                    tags: Some(Vec::new()),
                    ..CasePatch::default()
                },
            });
            open = true;
            block = Block::Props;
            continue;
        }
        let Some(case) = out.last_mut() else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(DomainError::new(
                "file",
                format!("{at}: text before the first \"## \" case title"),
            ));
        };
        if let Some(heading) = line.strip_prefix("### ") {
            block = match heading.trim().to_lowercase().as_str() {
                "preconditions" => Block::Text("preconditions"),
                "description" => Block::Text("description"),
                "steps" => Block::Steps,
                other => {
                    return Err(DomainError::new(
                        "file",
                        format!(
                            "{at}: unknown section \"{other}\" (Preconditions, Description or Steps)"
                        ),
                    ));
                }
            };
            continue;
        }
        match block {
            Block::Props => {
                if line.trim().is_empty() {
                    continue;
                }
                let Some((name, value)) = line.strip_prefix("- ").and_then(|l| l.split_once(':'))
                else {
                    return Err(DomainError::new(
                        "file",
                        format!("{at}: expected \"- Name: value\" or a ### section"),
                    ));
                };
                let value = value.trim().to_string();
                let p = &mut case.patch;
                match name.trim().to_lowercase().as_str() {
                    "priority" => p.priority = Some(value),
                    "type" => p.kind = Some(value),
                    "status" => p.status = Some(value),
                    "tags" => p.tags = Some(vec![value]),
                    "owner" => p.owner = Some(value),
                    other => {
                        let field = fields
                            .iter()
                            .find(|f| f.name.to_lowercase() == other)
                            .ok_or_else(|| {
                                DomainError::new(
                                    "file",
                                    format!("{at}: unknown property \"{}\"", name.trim()),
                                )
                            })?;
                        if let Some(values) = p.fields.as_mut() {
                            values.insert(field.name.clone(), serde_json::Value::String(value));
                        }
                    }
                }
            }
            Block::Text(which) => texts.entry(which).or_default().push(unescape(line, false)),
            Block::Steps => {
                if let Some(rest) = numbered(line) {
                    steps.push((vec![unescape(rest, true)], Vec::new(), false));
                    continue;
                }
                let Some(step) = steps.last_mut() else {
                    if line.trim().is_empty() {
                        continue;
                    }
                    return Err(DomainError::new(
                        "file",
                        format!("{at}: a step starts with \"1. \""),
                    ));
                };
                let inner = line.strip_prefix("   ").unwrap_or(line.trim_start());
                if let Some(expected) = inner.strip_prefix("Expected:") {
                    step.2 = true;
                    step.1.push(unescape(
                        expected.strip_prefix(' ').unwrap_or(expected),
                        true,
                    ));
                } else if step.2 {
                    step.1.push(unescape(inner, true));
                } else {
                    step.0.push(unescape(inner, true));
                }
            }
        }
    }
    finish(&mut open, &mut out, &mut steps, &mut texts);
    Ok(out)
}

impl Core {
    /// The cases `query` selects, as CSV (`markdown: false`) or Markdown.
    pub async fn export_cases(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        query: &CaseQuery,
        markdown: bool,
    ) -> Result<String, CoreError> {
        let cases = self.list_cases(allowed, slug, query).await?;
        let fields = self.list_fields(allowed, slug).await?;
        let shared = self.list_shared_steps(allowed, slug).await?;
        Ok(if markdown {
            to_markdown(&cases, &fields, &shared)
        } else {
            to_csv(&cases, &fields, &shared)
        })
    }

    /// Imports cases from a CSV or Markdown text. Needs `write_cases`; all or nothing.
    pub async fn import_cases(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        text: &str,
        markdown: bool,
    ) -> Result<CaseImportReport, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let checker = Checker::load(self, p.org, project).await?;
        let fields = self.fields_of(p.org, project).await?;
        let parsed = if markdown {
            from_markdown(text, &fields)?
        } else {
            from_csv(text, &fields)?
        };
        if parsed.len() > MAX_IMPORT {
            return Err(DomainError::new("file", "at most 10000 cases in one import").into());
        }
        // Check every case before writing anything.
        let mut plan = Vec::with_capacity(parsed.len());
        let shared = self.shared_of(p.org, project).await?;
        for mut item in parsed {
            if let Some(steps) = item.patch.steps.as_mut() {
                resolve_shared(steps, &shared, &item.at)?;
            }
            let key = item.key.as_deref().and_then(parse_case_key);
            let existing = match &key {
                Some(k) => self.store().get_case(p.org, project, k).await?,
                None => None,
            };
            let base = match &existing {
                Some(row) => content_of(row)?,
                None => CaseContent::new(String::new()),
            };
            let content = checker.apply(base, &item.patch).map_err(|e| match e {
                CoreError::Invalid(d) => CoreError::Invalid(DomainError::new(
                    d.field,
                    format!("{}: {}", item.at, d.message),
                )),
                other => other,
            })?;
            for part in &item.suite {
                super::model::too_long("suite", part, super::model::MAX_SUITE_NAME)?;
            }
            plan.push((key, existing, content, item.suite));
        }
        let mut nodes = suites::tree(self.store().list_suites(p.org, project).await?);
        let mut report = CaseImportReport::default();
        let mut drafts: Vec<Draft> = Vec::new();
        let mut edits = Vec::new();
        for (key, existing, content, path) in plan {
            let suite = self
                .ensure_suite_path(p, p.org, project, &mut nodes, &path)
                .await?;
            match existing {
                Some(row) => {
                    if content == content_of(&row)? && suite == row.write.suite {
                        report.unchanged += 1;
                        continue;
                    }
                    report.updated += 1;
                    let summary = super::edit::summary(&content_of(&row)?, &content);
                    edits.push((row, content, suite, format!("import: {summary}")));
                }
                None => {
                    report.created += 1;
                    let key = match key {
                        Some(k) if !drafts.iter().any(|d| d.key == k) => k,
                        _ => new_key(),
                    };
                    drafts.push(Draft::new(key, content, suite));
                }
            }
        }
        if !drafts.is_empty() {
            self.insert_cases(p, project, drafts, "imported").await?;
        }
        if !edits.is_empty() {
            self.write_versions(p, project, &checker, edits).await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(title: &str, steps: Vec<Step>, description: &str) -> CaseView {
        CaseView {
            key: "1a2b3c4d".into(),
            suite: None,
            suite_path: "Checkout / Payments".into(),
            position: 1,
            title: title.into(),
            description: description.into(),
            preconditions: "- signed in\n# not a heading".into(),
            expanded: Vec::new(),
            steps,
            tags: vec!["smoke".into()],
            priority: "high".into(),
            kind: "manual".into(),
            status: "ready".into(),
            owner: None,
            fields: Vec::new(),
            version: 1,
            file: None,
            line: None,
            source: None,
            removed_at: None,
            created_by: String::new(),
            created_at: 0,
            updated_by: String::new(),
            updated_at: 0,
        }
    }

    #[test]
    fn markdown_reads_back_what_it_wrote() {
        let steps = vec![
            Step::new(
                "Open the cart\n2. not a step\nExpected: not either",
                "It opens\n\\# literal",
            ),
            Step::new("Pay", ""),
        ];
        let case = view(
            "Pay @home =1+1",
            steps.clone(),
            "## heading inside\n\nplain\n\\\\#two",
        );
        let md = to_markdown(std::slice::from_ref(&case), &[], &[]);
        let back = from_markdown(&md, &[]).expect("parses");
        assert_eq!(back.len(), 1, "{md}");
        let p = &back[0].patch;
        assert_eq!(back[0].key.as_deref(), Some("1a2b3c4d"));
        assert_eq!(back[0].suite, ["Checkout", "Payments"]);
        assert_eq!(p.title.as_deref(), Some("Pay @home =1+1"));
        assert_eq!(
            p.description.as_deref(),
            Some(case.description.as_str()),
            "{md}"
        );
        assert_eq!(
            p.preconditions.as_deref(),
            Some(case.preconditions.as_str())
        );
        assert_eq!(p.steps.as_ref(), Some(&steps), "{md}");
        assert_eq!(p.priority.as_deref(), Some("high"));
    }

    #[test]
    fn csv_reads_back_what_it_wrote() {
        let steps = vec![Step::new("=cmd|' /C calc'!A0", "line\nbreak, \"quoted\"")];
        let case = view("'quoted title", steps.clone(), "-negative");
        let csv = to_csv(std::slice::from_ref(&case), &[], &[]);
        assert!(csv.contains("\"'=cmd"), "formula defused: {csv}");
        let back = from_csv(&csv, &[]).expect("parses");
        let p = &back[0].patch;
        assert_eq!(p.title.as_deref(), Some("'quoted title"));
        assert_eq!(p.description.as_deref(), Some("-negative"));
        assert_eq!(p.steps.as_ref(), Some(&steps));
        assert_eq!(back[0].key.as_deref(), Some("T1a2b3c4d"));
    }

    #[test]
    fn unknown_columns_and_sections_are_named() {
        let e = from_csv("title,colour\nx,red\n", &[])
            .err()
            .map(|e| e.message);
        assert_eq!(e.as_deref(), Some("line 1: unknown column \"colour\""));
        let e = from_markdown("## A\n\n### Notes\n", &[])
            .err()
            .map(|e| e.message);
        assert!(e.is_some_and(|m| m.starts_with("line 3")));
    }
}
