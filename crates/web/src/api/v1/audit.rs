//! The audit trail, filtered, as JSON or CSV (formula-injection safe).

use super::csv::csv_response;
use super::data;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Query, State};
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
        Some("csv") => csv_response(
            "testvault-audit.csv",
            "seq,at,actor_type,actor_id,actor,action,target_type,target_id,before,after,ip,user_agent,request_id",
            &csv_rows(&events),
        ),
        _ => data(events).into_response(),
    })
}

fn csv_rows(events: &[AuditView]) -> Vec<Vec<String>> {
    let json =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    events
        .iter()
        .map(|e| {
            vec![
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
            ]
        })
        .collect()
}
