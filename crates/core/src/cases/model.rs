//! What a case holds and the rules its values obey. The content is what versions keep; suite,
//! order and links are organisation around it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use testvault_domain::DomainError;

pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "critical"];
pub const KINDS: [&str; 3] = ["manual", "automated", "both"];
pub const STATUSES: [&str; 3] = ["draft", "ready", "deprecated"];

const MAX_TITLE: usize = 300;
const MAX_TEXT: usize = 20_000;
const MAX_STEPS: usize = 200;
const MAX_STEP_TEXT: usize = 5_000;
const MAX_TAGS: usize = 30;
const MAX_TAG: usize = 50;
pub(crate) const MAX_SUITE_NAME: usize = 200;

/// One step of a case: what to do, and what should happen — or a reference to shared steps
/// (then `action` and `expected` are empty and the shared sequence stands in its place).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub expected: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<uuid::Uuid>,
}

impl Step {
    pub fn new(action: impl Into<String>, expected: impl Into<String>) -> Self {
        Step {
            action: action.into(),
            expected: expected.into(),
            shared: None,
        }
    }
}

/// A case's content: what every version records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseContent {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub preconditions: String,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub priority: String,
    pub kind: String,
    pub status: String,
    /// The owner's email (a member of the org), if any.
    #[serde(default)]
    pub owner: Option<String>,
    /// Custom field values, keyed by field id.
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl CaseContent {
    pub(crate) fn new(title: String) -> Self {
        CaseContent {
            title,
            description: String::new(),
            preconditions: String::new(),
            steps: Vec::new(),
            tags: Vec::new(),
            priority: "normal".into(),
            kind: "manual".into(),
            status: "draft".into(),
            owner: None,
            fields: BTreeMap::new(),
        }
    }

    /// Trims and checks every built-in value (custom fields are checked against their
    /// definitions separately); tags are lowercased, de-duplicated and sorted.
    pub(crate) fn normalise(mut self) -> Result<Self, DomainError> {
        self.title = one_line(&self.title);
        if self.title.is_empty() {
            return Err(DomainError::new("title", "must not be empty"));
        }
        too_long("title", &self.title, MAX_TITLE)?;
        self.description = self.description.trim_end().to_string();
        too_long("description", &self.description, MAX_TEXT)?;
        self.preconditions = self.preconditions.trim_end().to_string();
        too_long("preconditions", &self.preconditions, MAX_TEXT)?;
        if self.steps.len() > MAX_STEPS {
            return Err(DomainError::new(
                "steps",
                format!("at most {MAX_STEPS} steps"),
            ));
        }
        for step in &mut self.steps {
            if step.shared.is_some() {
                step.action.clear();
                step.expected.clear();
            }
            step.action = step.action.trim().to_string();
            step.expected = step.expected.trim().to_string();
            too_long("steps", &step.action, MAX_STEP_TEXT)?;
            too_long("steps", &step.expected, MAX_STEP_TEXT)?;
        }
        self.steps
            .retain(|s| s.shared.is_some() || !s.action.is_empty() || !s.expected.is_empty());
        self.tags = normalise_tags(&self.tags)?;
        one_of("priority", &self.priority, &PRIORITIES)?;
        one_of("kind", &self.kind, &KINDS)?;
        one_of("status", &self.status, &STATUSES)?;
        self.owner = self
            .owner
            .map(|o| o.trim().to_lowercase())
            .filter(|o| !o.is_empty());
        Ok(self)
    }

    /// Lowercase text that search matches: title, text, steps, tags.
    pub(crate) fn search_text(&self, key: &str) -> String {
        let mut out = String::with_capacity(256);
        for part in [key, &self.title, &self.description, &self.preconditions] {
            out.push_str(part);
            out.push('\n');
        }
        for s in &self.steps {
            out.push_str(&s.action);
            out.push('\n');
            out.push_str(&s.expected);
            out.push('\n');
        }
        out.push_str(&self.tags.join(" "));
        out.to_lowercase()
    }
}

/// Tags: lowercase words of letters, digits and `-_.:/`, at most 30 of 50 characters each.
pub(crate) fn normalise_tags(tags: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = tags
        .iter()
        .flat_map(|t| t.split([',', ' ']))
        .map(|t| t.trim().trim_start_matches('@').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    out.sort();
    out.dedup();
    if out.len() > MAX_TAGS {
        return Err(DomainError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    for t in &out {
        if t.chars().count() > MAX_TAG
            || !t
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.:/".contains(c))
        {
            return Err(DomainError::new(
                "tags",
                format!(
                    "\"{t}\": a tag is one word of letters, digits and - _ . : / (at most {MAX_TAG} characters)"
                ),
            ));
        }
    }
    Ok(out)
}

/// Tags as stored: ` a b ` (a space on each side, so `LIKE '% a %'` matches whole tags).
pub(crate) fn stored_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(" {} ", tags.join(" "))
    }
}

pub(crate) fn parse_stored_tags(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_string).collect()
}

/// Collapses whitespace (titles and names are one line).
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn too_long(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.chars().count() > max {
        return Err(DomainError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn one_of(
    field: &'static str,
    value: &str,
    allowed: &[&str],
) -> Result<(), DomainError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(DomainError::new(
            field,
            format!("must be one of {}", allowed.join(", ")),
        ))
    }
}

/// A case key: 8 lowercase hex digits, optionally written `@T…` or `T…`.
pub fn parse_case_key(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix('@').unwrap_or(raw);
    let raw = raw
        .strip_prefix('T')
        .or_else(|| raw.strip_prefix('t'))
        .unwrap_or(raw);
    (raw.len() == 8 && raw.chars().all(|c| c.is_ascii_hexdigit())).then(|| raw.to_lowercase())
}

/// The first `@T` + 8 hex digits in a test's name, as Testomat.io's tools write them.
pub fn case_key_in_name(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut i = 0;
    while let Some(at) = name[i..].find('@') {
        let start = i + at;
        let id = name.get(start + 1..start + 10).and_then(parse_case_key);
        let ends = bytes
            .get(start + 10)
            .is_none_or(|b| !b.is_ascii_alphanumeric());
        if let (Some(id), true) = (id, ends)
            && matches!(bytes.get(start + 1), Some(b'T' | b't'))
        {
            return Some(id);
        }
        i = start + 1;
    }
    None
}

/// A case key named by a result's property, as reporters write it: a property called `test_id`,
/// `testomatio`, `case`, `case_id`, `tms` or anything ending in `id`, whose value is `@T…`, `T…`
/// or the bare 8 hex digits.
pub fn case_key_in_labels(labels: &[(String, String)]) -> Option<String> {
    // Runs for every reported result with labels: no allocation unless a key is found.
    labels.iter().find_map(|(name, value)| {
        let name = name.trim();
        let names_a_case = ["testomatio", "case", "tms", "testcase"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
            || name
                .get(name.len().saturating_sub(2)..)
                .is_some_and(|end| end.eq_ignore_ascii_case("id"));
        names_a_case.then(|| parse_case_key(value)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_case_id_in_a_test_name() {
        assert_eq!(
            case_key_in_name("logs in @T1a2b3c4d"),
            Some("1a2b3c4d".into())
        );
        assert_eq!(
            case_key_in_name("@TABCDEF01 works"),
            Some("abcdef01".into())
        );
        assert_eq!(case_key_in_name("x @T1a2b3c4d5 y"), None);
        assert_eq!(case_key_in_name("mail@Tx1234567"), None);
        assert_eq!(case_key_in_name("no id"), None);
        assert_eq!(case_key_in_name("é@T1a2b3c4é"), None);
    }

    #[test]
    fn finds_the_case_id_in_a_property() {
        let l = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert_eq!(
            case_key_in_labels(&l("test_id", "@T1a2b3c4d")),
            Some("1a2b3c4d".into())
        );
        assert_eq!(
            case_key_in_labels(&l("testomatio", "T1A2B3C4D")),
            Some("1a2b3c4d".into())
        );
        assert_eq!(case_key_in_labels(&l("owner", "@T1a2b3c4d")), None);
        assert_eq!(case_key_in_labels(&l("test_id", "12345")), None);
    }

    #[test]
    fn tags_are_words() {
        assert_eq!(
            normalise_tags(&["Smoke, @login".into(), "smoke".into()]).ok(),
            Some(vec!["login".to_string(), "smoke".to_string()])
        );
        assert!(normalise_tags(&["<script>".into()]).is_err());
    }
}
