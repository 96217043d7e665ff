#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! The audit trail: every change writes an event with actor, target, before/after, IP, user agent
//! and request id; the per-org hash chain detects edits, deletions, insertions and reordering;
//! the table is append-only — on SQLite and PostgreSQL.

use serde_json::json;
use testvault_testkit::{Backend, OWNER_EMAIL, TestApp, on_both_backends};

on_both_backends!(
    changes_and_sign_ins_are_recorded_with_who_what_and_where,
    the_chain_detects_edits_deletions_and_reordering,
    audit_rows_cannot_be_changed_or_removed_by_the_application,
    concurrent_changes_keep_one_unbroken_chain,
    permission_denials_are_recorded,
);

async fn verify(app: &TestApp) -> testvault_core::AuditVerification {
    let core = &app.server.as_ref().expect("running").core;
    let op = testvault_core::Operator::unsafe_local_admin();
    core.verify_audit_as_operator(
        &op,
        &testvault_domain::OrgName::parse("Acme").expect("name"),
    )
    .await
    .expect("verification runs")
}

async fn changes_and_sign_ins_are_recorded_with_who_what_and_where(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "idle_timeout_minutes": 45 }),
        )
        .await;
    let token = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ci", "scopes": ["read"] }),
        )
        .await
        .json();
    let prefix = token["data"]["prefix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    owner.delete(&format!("/api/v1/tokens/{prefix}")).await;
    app.client()
        .sign_in(OWNER_EMAIL, "not the right password")
        .await;
    let member = app
        .add_member(&owner, "max@acme.test", "a long and unusual passphrase")
        .await;

    let events = owner.get("/api/v1/audit").await;
    assert_eq!(events.status, 200, "{}", events.body);
    let list = events.json()["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let actions: Vec<&str> = list.iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in [
        "org.created",
        "auth.signed_in",
        "project.created",
        "security.session_policy_changed",
        "token.created",
        "token.revoked",
        "auth.sign_in_failed",
        "invitation.created",
        "invitation.accepted",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let policy = list
        .iter()
        .find(|e| e["action"] == "security.session_policy_changed")
        .cloned()
        .unwrap_or_default();
    assert_eq!(policy["before"]["idle_secs"], 1800);
    assert_eq!(policy["after"]["idle_secs"], 2700);
    assert_eq!(policy["actor"], OWNER_EMAIL);
    assert_eq!(policy["ip"], "127.0.0.1");
    assert!(
        policy["user_agent"]
            .as_str()
            .unwrap_or_default()
            .contains("Firefox")
    );
    assert_eq!(
        policy["request_id"].as_str().map(str::len),
        Some(36),
        "the request id is recorded"
    );
    let failed = list
        .iter()
        .find(|e| e["action"] == "auth.sign_in_failed")
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed["actor_type"], "anonymous");
    // Newest first, numbered without gaps.
    let seqs: Vec<i64> = list.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).rev().collect::<Vec<_>>());

    // Filters and CSV export.
    let only = owner
        .get("/api/v1/audit?action=project.created")
        .await
        .json();
    assert_eq!(only["data"].as_array().map(Vec::len), Some(1));
    let csv = owner.get("/api/v1/audit?format=csv").await;
    assert!(
        csv.header("content-type")
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert!(csv.body.starts_with("seq,at,actor_type"));
    // Only owners read the trail.
    assert_eq!(member.get("/api/v1/audit").await.status, 403);
    // And the chain is intact.
    assert!(verify(&app).await.first_broken.is_none());
}

/// An attacker with database access first removes the append-only guard.
async fn tamper(app: &TestApp, backend: Backend, statements: &str) {
    let unguard = match backend {
        Backend::Sqlite => {
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
        }
        Backend::Postgres => "ALTER TABLE audit_events DISABLE TRIGGER USER;",
    };
    app.sql(&format!("{unguard} {statements}")).await;
}

async fn four_events(backend: Backend) -> TestApp {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await; // org.created, auth.signed_in
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "a1", "name": "A" }))
        .await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "b2", "name": "B" }))
        .await;
    let report = verify(&app).await;
    assert_eq!((report.events, report.first_broken), (4, None));
    app
}

async fn the_chain_detects_edits_deletions_and_reordering(backend: Backend) {
    let edited = four_events(backend).await;
    tamper(
        &edited,
        backend,
        "UPDATE audit_events SET after_json = '{\"slug\":\"zz\"}' WHERE seq = 3;",
    )
    .await;
    assert_eq!(verify(&edited).await.first_broken.map(|b| b.0), Some(3));

    let deleted = four_events(backend).await;
    tamper(&deleted, backend, "DELETE FROM audit_events WHERE seq = 2;").await;
    assert_eq!(verify(&deleted).await.first_broken.map(|b| b.0), Some(3));

    let last_removed = four_events(backend).await;
    tamper(
        &last_removed,
        backend,
        "DELETE FROM audit_events WHERE seq = 1;",
    )
    .await;
    assert_eq!(
        verify(&last_removed).await.first_broken.map(|b| b.0),
        Some(2)
    );

    let reordered = four_events(backend).await;
    tamper(
        &reordered,
        backend,
        "UPDATE audit_events SET seq = 100 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 4; UPDATE audit_events SET seq = 4 WHERE seq = 100;",
    )
    .await;
    assert_eq!(verify(&reordered).await.first_broken.map(|b| b.0), Some(3));

    let inserted = four_events(backend).await;
    tamper(
        &inserted,
        backend,
        "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3; UPDATE audit_events SET seq = seq - 99 WHERE seq >= 100; \
         INSERT INTO audit_events (org_id, seq, at, actor_type, actor_id, actor_label, action, target_type, target_id, before_json, after_json, ip, user_agent, request_id, prev_hash, hash) \
         SELECT org_id, 3, at, actor_type, actor_id, actor_label, 'project.deleted', target_type, target_id, before_json, after_json, ip, user_agent, request_id, prev_hash, hash FROM audit_events WHERE seq = 2;",
    )
    .await;
    assert_eq!(verify(&inserted).await.first_broken.map(|b| b.0), Some(3));
}

async fn audit_rows_cannot_be_changed_or_removed_by_the_application(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.setup_owner().await;
    let update = app
        .try_sql("UPDATE audit_events SET action = 'nothing.happened'")
        .await;
    assert!(update.is_err_and(|e| e.contains("append-only")));
    let delete = app.try_sql("DELETE FROM audit_events").await;
    assert!(delete.is_err_and(|e| e.contains("append-only")));
    assert!(verify(&app).await.first_broken.is_none());
}

async fn concurrent_changes_keep_one_unbroken_chain(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = std::sync::Arc::new(app.setup_owner().await);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let owner = owner.clone();
        tasks.push(tokio::spawn(async move {
            owner
                .post_json(
                    "/api/v1/projects",
                    &json!({ "slug": format!("p{i}"), "name": format!("P{i}") }),
                )
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 201);
    }
    let report = verify(&app).await;
    assert_eq!((report.events, report.first_broken), (18, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_page_filters_and_shows_changes() {
    let app = TestApp::start(Backend::Sqlite).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "idle_timeout_minutes": 45 }),
        )
        .await;
    let page = owner.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("project.created")
            && page.body.contains("security.session_policy_changed")
    );
    assert!(
        page.body.contains("class=\"changed\""),
        "the before/after view marks changed fields"
    );
    assert!(!page.body.contains(" style="), "no inline style");
    let filtered = owner.get("/audit?action=project.created").await;
    assert!(filtered.body.contains("project.created"));
    assert!(!filtered.body.contains("security.session_policy_changed"));
    assert!(
        filtered
            .body
            .contains("/api/v1/audit?format=csv&#38;action=project.created"),
        "export keeps the filter: {}",
        filtered
            .body
            .lines()
            .filter(|l| l.contains("Export"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let bad = owner.get("/audit?since=yesterday").await;
    assert!(bad.body.contains("Dates must look like"));
    let member = app
        .add_member(&owner, "max@acme.test", "a long and unusual passphrase")
        .await;
    assert_eq!(member.get("/audit").await.status, 403);
}

async fn permission_denials_are_recorded(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "max@acme.test", "a long and unusual passphrase")
        .await;
    assert_eq!(
        member
            .post_json("/api/v1/projects", &json!({ "slug": "x1", "name": "X" }))
            .await
            .status,
        403
    );
    assert_eq!(member.get("/members").await.status, 403);
    let denials = owner
        .get("/api/v1/audit?action=permission.denied")
        .await
        .json();
    let list = denials["data"].as_array().cloned().unwrap_or_default();
    let targets: Vec<&str> = list
        .iter()
        .filter_map(|e| e["target_id"].as_str())
        .collect();
    assert_eq!(
        targets,
        vec!["GET /members", "POST /api/v1/projects"],
        "{denials}"
    );
    assert!(list.iter().all(|e| e["actor"] == "max@acme.test"));
    assert!(verify(&app).await.first_broken.is_none());
}
