//! The audit trail page: filters, a before/after view per event, export links.

use super::PageCsrf;
use super::pages::{self, Chrome, render, when};
use crate::AppState;
use crate::extract::PageAuth;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use testvault_core::AuditView;
use testvault_core::store::AuditFilter;
use testvault_domain::{Permission, time};

pub struct FieldChange {
    field: String,
    before: String,
    after: String,
    changed: bool,
}

pub struct EventItem {
    seq: i64,
    when: String,
    actor: String,
    actor_type: String,
    action: String,
    target: String,
    ip: String,
    user_agent: String,
    request_id: String,
    changes: Vec<FieldChange>,
}

/// Field-by-field before/after of an event (objects by key; anything else as one value).
fn changes(
    before: &Option<serde_json::Value>,
    after: &Option<serde_json::Value>,
) -> Vec<FieldChange> {
    use serde_json::Value;
    let show = |v: Option<&Value>| {
        v.map_or_else(
            || "—".to_string(),
            |v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        )
    };
    match (before, after) {
        (None, None) => vec![],
        (b, a) => {
            let bo = b.as_ref().and_then(Value::as_object);
            let ao = a.as_ref().and_then(Value::as_object);
            if bo.is_none() && ao.is_none() {
                return vec![FieldChange {
                    field: "value".into(),
                    before: show(b.as_ref()),
                    after: show(a.as_ref()),
                    changed: b != a,
                }];
            }
            let mut keys: Vec<&String> = bo.into_iter().chain(ao).flat_map(|o| o.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .map(|k| {
                    let bv = bo.and_then(|o| o.get(k));
                    let av = ao.and_then(|o| o.get(k));
                    FieldChange {
                        field: k.clone(),
                        before: show(bv),
                        after: show(av),
                        changed: bv != av,
                    }
                })
                .collect()
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    org_name: String,
    events: Vec<EventItem>,
    error: Option<String>,
    f_actor: String,
    f_action: String,
    f_target: String,
    f_since: String,
    f_until: String,
    export_query: String,
    export_query_json: String,
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

pub async fn list(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Query(q): Query<AuditQuery>,
) -> Response {
    let since = time::parse_date(&q.since);
    let until = time::parse_date(&q.until).map(|t| t + 86_399);
    let bad_date =
        (!q.since.is_empty() && since.is_none()) || (!q.until.is_empty() && until.is_none());
    let filter = AuditFilter {
        actor: Some(q.actor.trim().to_string()).filter(|s| !s.is_empty()),
        action: Some(q.action.trim().to_string()).filter(|s| !s.is_empty()),
        target: Some(q.target.trim().to_string()).filter(|s| !s.is_empty()),
        since,
        until,
        limit: 500,
    };
    let mut params = Vec::new();
    for (k, v) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("target", &filter.target),
    ] {
        if let Some(v) = v {
            params.push(format!("{k}={}", pages::url_encode(v)));
        }
    }
    for (k, v) in [("since", since), ("until", until)] {
        if let Some(v) = v {
            params.push(format!("{k}={v}"));
        }
    }
    let loaded = async {
        let events = state
            .core
            .audit_events(p.allow(Permission::ReadAudit)?, filter)
            .await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, testvault_core::CoreError>((events, orgs))
    }
    .await;
    let (events, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let export_query_json = params.join("&");
    render(
        StatusCode::OK,
        &AuditPage {
            chrome: Chrome::app("Audit trail", "audit", &csrf, &p, orgs),
            org_name: p.org_name.clone(),
            events: events
                .into_iter()
                .map(|e: AuditView| EventItem {
                    changes: changes(&e.before, &e.after),
                    seq: e.seq,
                    when: when(e.at),
                    actor: if e.actor.is_empty() {
                        e.actor_id.clone()
                    } else {
                        e.actor
                    },
                    actor_type: e.actor_type,
                    action: e.action,
                    target: format!("{} {}", e.target_type, e.target_id),
                    ip: e.ip,
                    user_agent: e.user_agent,
                    request_id: e.request_id,
                })
                .collect(),
            error: bad_date.then(|| "Dates must look like 2026-11-22.".to_string()),
            f_actor: q.actor,
            f_action: q.action,
            f_target: q.target,
            f_since: q.since,
            f_until: q.until,
            export_query: params.iter().map(|p| format!("&{p}")).collect(),
            export_query_json,
        },
    )
}
