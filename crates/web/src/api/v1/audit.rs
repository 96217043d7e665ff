//! The audit trail, filtered, as JSON or CSV (formula-injection safe).

use super::data;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testvault_core::AuditView;
use testvault_core::store::AuditFilter;
use testvault_domain::Permission;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    limit: Option<i64>,
    format: Option<String>,
}

pub async fn list_audit(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = AuditFilter {
        actor: q.actor.filter(|s| !s.is_empty()),
        action: q.action.filter(|s| !s.is_empty()),
        target: q.target.filter(|s| !s.is_empty()),
        since: q.since,
        until: q.until,
        limit: q.limit.unwrap_or(500),
    };
    let events = state
        .core
        .audit_events(p.allow(Permission::ReadAudit)?, filter)
        .await?;
    Ok(match q.format.as_deref() {
        Some("csv") => {
            let mut resp = to_csv(&events).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"testvault-audit.csv\""),
            );
            resp
        }
        _ => data(events).into_response(),
    })
}

/// One CSV cell: quoted, and a leading `= + - @` (or tab/CR) defused with `'` so spreadsheets
/// never run it as a formula.
pub fn csv_cell(raw: &str) -> String {
    let defused = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_string()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

fn to_csv(events: &[AuditView]) -> String {
    let mut out = String::from(
        "seq,at,actor_type,actor_id,actor,action,target_type,target_id,before,after,ip,user_agent,request_id\n",
    );
    for e in events {
        let json =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        let cells = [
            e.seq.to_string(),
            testvault_domain::time::format_utc(e.at),
            e.actor_type.clone(),
            e.actor_id.clone(),
            e.actor.clone(),
            e.action.clone(),
            e.target_type.clone(),
            e.target_id.clone(),
            json(&e.before),
            json(&e.after),
            e.ip.clone(),
            e.user_agent.clone(),
            e.request_id.clone(),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(super::csv_cell("plain"), "\"plain\"");
        assert_eq!(
            super::csv_cell("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(super::csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(super::csv_cell("-1+2"), "\"'-1+2\"");
    }
}
