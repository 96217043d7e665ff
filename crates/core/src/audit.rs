//! Audit events: who did what to which target, with before/after, from where. Use cases build an
//! entry here and hand it to the store, which appends it in the same transaction as the change.

use crate::principal::Credential;
use crate::{Allowed, Core, CoreError, Operator, Principal};
use serde::Serialize;
use std::borrow::Cow;
use testvault_domain::{OrgId, OrgName, Permission, time};
use testvault_store::{AuditEntry, AuditFilter, AuditRow};

/// Where a request came from: recorded with every event it causes.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
}

impl ClientMeta {
    /// For changes made on the server itself (`testvault admin …`).
    pub fn local() -> Self {
        Self {
            ip: "local".into(),
            user_agent: "testvault-cli".into(),
            request_id: String::new(),
        }
    }
}

/// What changed, for an event: a target and optional before/after JSON (never secrets).
pub(crate) struct Change {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Change {
    pub fn new(action: &'static str, target_type: &'static str, target_id: impl ToString) -> Self {
        Self {
            action,
            target_type,
            target_id: target_id.to_string(),
            before: None,
            after: None,
        }
    }

    pub fn before(mut self, v: serde_json::Value) -> Self {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: serde_json::Value) -> Self {
        self.after = Some(v);
        self
    }
}

fn entry(
    org: OrgId,
    actor: (&'static str, String, String),
    client: &ClientMeta,
    c: Change,
) -> AuditEntry {
    AuditEntry {
        org,
        at: time::now(),
        actor_type: Cow::Borrowed(actor.0),
        actor_id: actor.1,
        actor_label: actor.2,
        action: Cow::Borrowed(c.action),
        target_type: Cow::Borrowed(c.target_type),
        target_id: c.target_id,
        before: c.before.map(|v| v.to_string()),
        after: c.after.map(|v| v.to_string()),
        ip: client.ip.chars().take(64).collect(),
        user_agent: client.user_agent.chars().take(300).collect(),
        request_id: client.request_id.chars().take(64).collect(),
    }
}

/// An event caused by `p` in its org.
pub(crate) fn by(p: &Principal, c: Change) -> AuditEntry {
    let actor = match &p.credential {
        Credential::Session(_) => ("user", p.user.to_string(), p.email.clone()),
        Credential::PersonalToken { prefix, .. } | Credential::ProjectToken { prefix, .. } => {
            ("token", format!("tvt_{prefix}"), p.display_name.clone())
        }
    };
    entry(p.org, actor, &p.client, c)
}

/// An event caused by a known user outside any session (sign-in, accepting an invitation).
pub(crate) fn by_user(
    org: OrgId,
    user: testvault_domain::UserId,
    email: &str,
    client: &ClientMeta,
    c: Change,
) -> AuditEntry {
    entry(
        org,
        ("user", user.to_string(), email.to_string()),
        client,
        c,
    )
}

/// An event caused by the local operator.
pub(crate) fn by_operator(org: OrgId, c: Change) -> AuditEntry {
    entry(
        org,
        ("operator", "cli".into(), "server operator".into()),
        &ClientMeta::local(),
        c,
    )
}

/// An event with no authenticated actor (a failed attempt); `label` says what was tried.
/// An event by Testvault itself (background jobs).
pub(crate) fn by_system(org: OrgId, c: Change) -> AuditEntry {
    entry(
        org,
        ("system", "retention".into(), "retention job".into()),
        &ClientMeta::local(),
        c,
    )
}

pub(crate) fn by_anonymous(org: OrgId, label: &str, client: &ClientMeta, c: Change) -> AuditEntry {
    entry(
        org,
        ("anonymous", String::new(), label.to_string()),
        client,
        c,
    )
}

/// An event as the audit API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub seq: i64,
    pub at: i64,
    pub actor_type: String,
    pub actor_id: String,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
}

impl From<AuditRow> for AuditView {
    fn from(r: AuditRow) -> Self {
        let json = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
        let e = r.entry;
        Self {
            seq: r.seq,
            at: e.at,
            actor_type: e.actor_type.into_owned(),
            actor_id: e.actor_id,
            actor: e.actor_label,
            action: e.action.into_owned(),
            target_type: e.target_type.into_owned(),
            target_id: e.target_id,
            before: json(e.before),
            after: json(e.after),
            ip: e.ip,
            user_agent: e.user_agent,
            request_id: e.request_id,
        }
    }
}

/// The outcome of checking an org's chain.
#[derive(Debug, Clone, Serialize)]
pub struct AuditVerification {
    pub events: usize,
    /// The first event whose link is broken, and why; `None` when the chain is intact.
    pub first_broken: Option<(i64, &'static str)>,
}

/// Walks a chain: numbering without gaps from the anchor (1 and the genesis hash when nothing
/// was purged), each `prev_hash` equal to the previous `hash`, each `hash` recomputed from the
/// event's fields.
pub fn verify_chain(rows: &[AuditRow], anchor: Option<(i64, Vec<u8>)>) -> AuditVerification {
    let (start, mut prev) = match anchor {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, testvault_crypto::audit::GENESIS.to_vec()),
    };
    for (i, row) in rows.iter().enumerate() {
        let expected_seq = start + i as i64;
        let broken = if row.seq != expected_seq {
            Some("an event is missing or was inserted before this one")
        } else if row.prev_hash != prev {
            Some("it does not link to the event before it (deleted, inserted or reordered)")
        } else if row.hash != row.entry.chain_hash(row.seq, &row.prev_hash) {
            Some("its content was changed after it was written")
        } else {
            None
        };
        if let Some(why) = broken {
            return AuditVerification {
                events: rows.len(),
                first_broken: Some((row.seq, why)),
            };
        }
        prev = row.hash.clone();
    }
    AuditVerification {
        events: rows.len(),
        first_broken: None,
    }
}

impl Core {
    /// Records that `p` was refused `what` (`POST /api/v1/projects`) for lack of permission.
    pub async fn record_denial(&self, p: &Principal, what: &str) -> Result<(), CoreError> {
        let what: String = what.chars().take(200).collect();
        let event = by(p, Change::new("permission.denied", "route", what));
        Ok(self.store().record_audit(&event).await?)
    }

    /// The org's audit events, newest first.
    pub async fn audit_events(
        &self,
        allowed: Allowed<'_>,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditView>, CoreError> {
        let p = allowed.require(Permission::ReadAudit)?;
        filter.limit = filter.limit.clamp(1, 10_000);
        let rows = self.store().list_audit(p.org, &filter).await?;
        Ok(rows.into_iter().map(AuditView::from).collect())
    }

    /// `testvault admin verify-audit --org X`.
    pub async fn verify_audit_as_operator(
        &self,
        _op: &Operator,
        org: &OrgName,
    ) -> Result<AuditVerification, CoreError> {
        let row = self
            .store()
            .find_org_by_name(org.as_str())
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        let chain = self.store().audit_chain(row.id).await?;
        let anchor = self.store().audit_anchor(row.id).await?;
        Ok(verify_chain(&chain, anchor))
    }

    /// The retention job: in every org, deletes the events older than its retention (the chain
    /// stays verifiable from the last deleted event's hash) and records that it did.
    pub async fn purge_expired_audit(&self) -> Result<u64, CoreError> {
        let mut total = 0;
        for org in self.store().all_org_ids().await? {
            let removed = self.store().purge_audit(org).await?;
            if removed > 0 {
                let event = by_system(
                    org,
                    Change::new("audit.purged", "org", org)
                        .after(serde_json::json!({ "events_removed": removed })),
                );
                self.store().record_audit(&event).await?;
                tracing::info!(org.id = %org, removed, "expired audit events purged");
            }
            total += removed;
        }
        Ok(total)
    }
}

/// Who causes an event, for use cases shared by a principal and the local operator.
#[derive(Clone, Copy)]
pub(crate) enum Actor<'a> {
    Principal(&'a Principal),
    Operator,
}

impl Actor<'_> {
    pub(crate) fn event(&self, org: OrgId, c: Change) -> AuditEntry {
        match self {
            Actor::Principal(p) => by(p, c),
            Actor::Operator => by_operator(org, c),
        }
    }
}
