//! Custom fields: a project defines them (text, number, single and multi select, date, user,
//! URL); cases carry values that are checked against the definition on every write.

use super::model::{one_line, one_of, too_long};
use crate::audit::Change;
use crate::{Allowed, Core, CoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use testvault_domain::{DomainError, OrgId, Permission, ProjectId, time};
use testvault_store::FieldRow;
use uuid::Uuid;

pub const FIELD_KINDS: [&str; 7] = [
    "text",
    "number",
    "select",
    "multiselect",
    "date",
    "user",
    "url",
];
const MAX_FIELDS: usize = 50;
const MAX_OPTIONS: usize = 100;
const MAX_VALUE: usize = 2_000;

#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub options: Vec<String>,
}

impl FieldView {
    fn from_row(row: FieldRow) -> Self {
        FieldView {
            id: row.id,
            name: row.name,
            kind: row.kind,
            options: serde_json::from_str(&row.options).unwrap_or_default(),
        }
    }

    /// Whether a request names this field (by name, any letter case, or by id).
    pub(crate) fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name) || self.id.to_string() == name
    }

    /// Checks and normalises one value for this field; `None` when the value clears it.
    pub(crate) fn check(
        &self,
        value: &Value,
        members: &[String],
    ) -> Result<Option<Value>, DomainError> {
        let bad = |why: &str| DomainError::new("fields", format!("{}: {why}", self.name));
        if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) {
            return Ok(None);
        }
        let text = || -> Result<String, DomainError> {
            match value {
                Value::String(s) => Ok(s.trim().to_string()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(bad("must be text")),
            }
        };
        let checked = match self.kind.as_str() {
            "text" => {
                let t = text()?;
                if t.chars().count() > MAX_VALUE {
                    return Err(bad("is too long (at most 2000 characters)"));
                }
                Value::String(t)
            }
            "number" => {
                let n = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad("must be a number"))?;
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| bad("must be a number"))?
            }
            "select" => {
                let t = text()?;
                if !self.options.contains(&t) {
                    return Err(bad(&format!("must be one of {}", self.options.join(", "))));
                }
                Value::String(t)
            }
            "multiselect" => {
                let items: Vec<String> = match value {
                    Value::Array(a) => a
                        .iter()
                        .map(|v| v.as_str().map(|s| s.trim().to_string()))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("must be a list of choices"))?,
                    Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
                    _ => return Err(bad("must be a list of choices")),
                };
                let mut items: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).collect();
                items.dedup();
                if let Some(wrong) = items.iter().find(|i| !self.options.contains(i)) {
                    return Err(bad(&format!(
                        "\"{wrong}\" is not one of {}",
                        self.options.join(", ")
                    )));
                }
                if items.is_empty() {
                    return Ok(None);
                }
                Value::Array(items.into_iter().map(Value::String).collect())
            }
            "date" => {
                let t = text()?;
                if !is_date(&t) {
                    return Err(bad("must be a date written YYYY-MM-DD"));
                }
                Value::String(t)
            }
            "user" => {
                let t = text()?.to_lowercase();
                if !members.contains(&t) {
                    return Err(bad("must be the email of a member of the organisation"));
                }
                Value::String(t)
            }
            "url" => {
                let t = text()?;
                let lower = t.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://"))
                    || t.chars().count() > MAX_VALUE
                    || t.chars().any(char::is_whitespace)
                {
                    return Err(bad("must be an http(s) address"));
                }
                Value::String(t)
            }
            _ => return Err(bad("has an unknown kind")),
        };
        Ok(Some(checked))
    }

    /// A value as text (lists joined by `, `).
    pub fn display(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// `YYYY-MM-DD` with a real month and day.
pub(crate) fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    s.len() == 10 && (1000..=9999).contains(&y) && (1..=days).contains(&d)
}

/// A field's definition as a request gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

fn checked_spec(spec: &FieldSpec, kind: &str) -> Result<(String, Vec<String>), DomainError> {
    let name = one_line(&spec.name);
    if name.is_empty() {
        return Err(DomainError::new("name", "must not be empty"));
    }
    too_long("name", &name, 100)?;
    one_of("kind", kind, &FIELD_KINDS)?;
    let mut options: Vec<String> = spec
        .options
        .iter()
        .map(|o| one_line(o))
        .filter(|o| !o.is_empty())
        .collect();
    options.dedup();
    let choices = matches!(kind, "select" | "multiselect");
    if choices && options.is_empty() {
        return Err(DomainError::new(
            "options",
            "a select field needs its choices",
        ));
    }
    if !choices {
        options.clear();
    }
    if options.len() > MAX_OPTIONS
        || options
            .iter()
            .any(|o| o.chars().count() > 200 || o.contains(','))
    {
        return Err(DomainError::new(
            "options",
            "at most 100 choices of at most 200 characters, without commas",
        ));
    }
    Ok((name, options))
}

impl Core {
    pub async fn list_fields(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<FieldView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.fields_of(p.org, project).await
    }

    pub(crate) async fn fields_of(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<FieldView>, CoreError> {
        Ok(self
            .store()
            .list_fields(org, project)
            .await?
            .into_iter()
            .map(FieldView::from_row)
            .collect())
    }

    /// Defines a custom field. Needs `write_cases`; audited.
    pub async fn create_field(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        spec: FieldSpec,
    ) -> Result<FieldView, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let kind = spec.kind.clone().unwrap_or_else(|| "text".into());
        let (name, options) = checked_spec(&spec, &kind)?;
        if self.store().list_fields(p.org, project).await?.len() >= MAX_FIELDS {
            return Err(CoreError::Refused("a project has at most 50 custom fields"));
        }
        let row = FieldRow {
            id: Uuid::new_v4(),
            name,
            kind,
            options: serde_json::to_string(&options)
                .map_err(|e| CoreError::internal(e.to_string()))?,
            position: 0,
        };
        let event = crate::audit::by(
            p,
            Change::new("field.created", "custom_field", row.id).after(serde_json::json!({
                "project": slug, "name": row.name, "kind": row.kind, "options": options,
            })),
        );
        self.store()
            .create_field(project, &row, time::now(), &event)
            .await?;
        Ok(FieldView::from_row(row))
    }

    /// Renames a field or changes its choices. Its kind cannot change.
    pub async fn update_field(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        field: Uuid,
        spec: FieldSpec,
    ) -> Result<FieldView, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let current = self
            .fields_of(p.org, project)
            .await?
            .into_iter()
            .find(|f| f.id == field)
            .ok_or(CoreError::NotFound("custom field"))?;
        if spec.kind.as_deref().is_some_and(|k| k != current.kind) {
            return Err(
                DomainError::new("kind", "a field's kind cannot change; add a new field").into(),
            );
        }
        let (name, options) = checked_spec(&spec, &current.kind)?;
        let event = crate::audit::by(
            p,
            Change::new("field.updated", "custom_field", field)
                .before(serde_json::json!({ "name": current.name, "options": current.options }))
                .after(serde_json::json!({ "name": name, "options": options })),
        );
        let stored =
            serde_json::to_string(&options).map_err(|e| CoreError::internal(e.to_string()))?;
        if !self
            .store()
            .update_field(project, field, &name, &stored, &event)
            .await?
        {
            return Err(CoreError::NotFound("custom field"));
        }
        Ok(FieldView {
            id: field,
            name,
            kind: current.kind,
            options,
        })
    }

    pub async fn delete_field(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        field: Uuid,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let event = crate::audit::by(
            p,
            Change::new("field.deleted", "custom_field", field)
                .after(serde_json::json!({ "project": slug })),
        );
        if !self.store().delete_field(project, field, &event).await? {
            return Err(CoreError::NotFound("custom field"));
        }
        Ok(())
    }
}

/// Checks `values` (keyed by field name or id) against the definitions; the result is keyed by
/// field id. Unknown names are refused.
pub(crate) fn check_values(
    fields: &[FieldView],
    values: &BTreeMap<String, Value>,
    members: &[String],
) -> Result<BTreeMap<String, Value>, DomainError> {
    let mut out = BTreeMap::new();
    for (name, value) in values {
        let field = fields
            .iter()
            .find(|f| f.is_named(name))
            .ok_or_else(|| DomainError::new("fields", format!("{name}: no such custom field")))?;
        if let Some(v) = field.check(value, members)? {
            out.insert(field.id.to_string(), v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_real() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2024-13-01"));
        assert!(!is_date("24-01-01"));
    }
}
