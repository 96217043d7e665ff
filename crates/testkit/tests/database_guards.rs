#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! What the database itself guarantees, beneath the application's checks.
//!
//! PostgreSQL: the application acts as `testvault_app`, which has no BYPASSRLS and no UPDATE or
//! DELETE on audit rows; every tenant table has forced row-level security, so a query that forgets
//! its org filter still sees only the org set for its transaction. Both backends: audit retention
//! purges only expired events, and the chain stays verifiable from the purge's anchor.

use serde_json::json;
use sqlx::{Connection, Row};
use testvault_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(retention_purges_expired_events_and_the_chain_still_verifies);

/// Every table that holds an org's rows (all of them have an `org_id`, or are `orgs` itself).
const TENANT_TABLES: &[&str] = &[
    "orgs",
    "org_keys",
    "members",
    "projects",
    "invitations",
    "sessions",
    "api_tokens",
    "audit_events",
    "audit_anchors",
    "org_roles",
    "project_grants",
    "runs",
    "run_shards",
    "tests",
    "results",
    "result_terms",
    "ingest_batches",
    "cluster_labels",
    "run_suites",
    "case_suites",
    "cases",
    "case_versions",
    "custom_fields",
    "case_attachments",
    "case_links",
    "milestones",
    "plans",
    "manual_results",
    "shared_steps",
    "reporter_items",
    "reporter_logs",
    "result_files",
    "sso_connections",
    "sso_identities",
];

async fn pg_app(test: &str) -> Option<TestApp> {
    if !Backend::postgres_available(test).await {
        return None;
    }
    Some(TestApp::start(Backend::Postgres).await)
}

async fn second_org(app: &TestApp) -> testvault_domain::OrgId {
    let core = &app.server.as_ref().expect("running").core;
    let op = testvault_core::Operator::unsafe_local_admin();
    let b = core
        .create_org(
            &op,
            testvault_domain::OrgName::parse("Globex").expect("name"),
            testvault_domain::Email::parse("hank@globex.test").expect("email"),
            None,
            Some(testvault_domain::NewPassword::parse("globex owner passphrase").expect("pw")),
        )
        .await
        .expect("org B");
    core.create_project_as_operator(
        &op,
        &testvault_domain::OrgName::parse("Globex").expect("name"),
        testvault_domain::ProjectSlug::parse("globex-secret").expect("slug"),
        testvault_domain::ProjectName::parse("Doomsday").expect("name"),
        testvault_domain::ProjectDescription::parse("").expect("description"),
    )
    .await
    .expect("project B");
    b.org
}

#[tokio::test(flavor = "multi_thread")]
async fn the_application_acts_as_a_role_without_bypass_or_audit_rewrites() {
    let Some(app) = pg_app("the_application_acts_as_a_role_without_bypass_or_audit_rewrites").await
    else {
        return;
    };
    let owner = app.setup_owner().await;
    assert_eq!(
        owner
            .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
            .await
            .status,
        201
    );
    let core = &app.server.as_ref().expect("running").core;
    assert_eq!(
        core.database_role().await.expect("role").as_deref(),
        Some(testvault_store::APP_ROLE),
        "every application connection switches to the restricted role"
    );

    let mut admin = app.pg_conn().await;
    let (superuser, bypass): (bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'testvault_app'",
    )
    .fetch_one(&mut admin)
    .await
    .expect("role exists");
    assert!(
        !superuser && !bypass,
        "the application role must not bypass row security"
    );

    // As the application role, with its own org in scope: audit rows can be read and added to,
    // never changed or removed — not even expired ones (retention goes through audit_purge).
    let mut tx = admin.begin().await.expect("begin");
    sqlx::raw_sql("SET LOCAL ROLE testvault_app; SELECT set_config('app.all_orgs', 'on', true)")
        .execute(&mut *tx)
        .await
        .expect("become the application");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(&mut *tx)
        .await
        .expect("read");
    assert!(n > 0);
    for statement in [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
        "UPDATE audit_anchors SET seq = 0",
        "DELETE FROM schema_migrations",
    ] {
        let mut sp = tx.begin().await.expect("savepoint");
        let err = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *sp)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("permission denied"),
            "{statement}: {err}"
        );
        drop(sp);
    }
    drop(tx);
    let _ = admin.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_that_forgets_its_org_filter_sees_only_its_org() {
    let Some(app) = pg_app("a_query_that_forgets_its_org_filter_sees_only_its_org").await else {
        return;
    };
    let owner = app.setup_owner().await;
    assert_eq!(
        owner
            .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
            .await
            .status,
        201
    );
    let org_a = owner.get("/api/v1/me").await.json()["data"]["org"]
        .as_str()
        .expect("org")
        .to_string();
    let org_b = second_org(&app).await.to_string();
    let mut admin = app.pg_conn().await;

    // Every tenant table has forced row security, and every table with an org_id is listed
    // here: a new tenant table without a policy fails this test.
    let with_org: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_name = 'org_id' ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .expect("columns");
    for table in &with_org {
        assert!(
            TENANT_TABLES.contains(&table.as_str()),
            "{table} holds org rows but is not covered"
        );
    }
    for table in TENANT_TABLES {
        let (on, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1 AND relkind = 'r'",
        )
        .bind(table)
        .fetch_one(&mut admin)
        .await
        .expect(table);
        assert!(
            on && forced,
            "{table}: row-level security must be enabled and forced"
        );
    }

    // As the application, with org A set for the transaction: unfiltered queries see only A.
    for (scope, expect_slugs) in [
        (Some(org_a.as_str()), vec!["web"]),
        (Some(org_b.as_str()), vec!["globex-secret"]),
        (None, vec![]),
    ] {
        let mut tx = admin.begin().await.expect("begin");
        sqlx::query("SET LOCAL ROLE testvault_app")
            .execute(&mut *tx)
            .await
            .expect("role");
        if let Some(org) = scope {
            sqlx::query("SELECT set_config('app.org_id', $1, true)")
                .bind(org)
                .execute(&mut *tx)
                .await
                .expect("scope");
        }
        let slugs: Vec<String> = sqlx::query_scalar("SELECT slug FROM projects ORDER BY slug")
            .fetch_all(&mut *tx)
            .await
            .expect("projects");
        assert_eq!(slugs, expect_slugs, "projects visible with scope {scope:?}");
        for table in TENANT_TABLES {
            let column = if *table == "orgs" { "id" } else { "org_id" };
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {column}::TEXT AS org FROM {table}"
            )))
            .fetch_all(&mut *tx)
            .await
            .expect(table);
            for r in rows {
                let org: String = r.get("org");
                assert_eq!(
                    Some(org.as_str()),
                    scope,
                    "{table} leaked a row of another org"
                );
            }
        }
        // Writing into another org is refused by the policy's check.
        let forged = sqlx::query("UPDATE projects SET name = 'pwned' WHERE slug = 'globex-secret'")
            .execute(&mut *tx)
            .await
            .expect("update runs");
        if scope != Some(org_b.as_str()) {
            assert_eq!(forged.rows_affected(), 0);
        }
        drop(tx);
    }
    // With org A in scope, a row written for org B is refused by the policies' check (they read
    // their settings once per statement): a new row in the hot ingest tables, or a row moved.
    let forgeries = [
        format!(
            "INSERT INTO results (org_id, run_id, test_id, outcome, flaky, attempts) VALUES ('{org_b}', gen_random_uuid(), 1, 0, false, 1)"
        ),
        format!(
            "INSERT INTO result_terms (org_id, term, run_id, test_id) VALUES ('{org_b}', '\\x00', gen_random_uuid(), 1)"
        ),
        format!(
            "INSERT INTO tests (org_id, project_id, identity_key, identity_hash, suite, name, created_at) VALUES ('{org_b}', gen_random_uuid(), 'k', 1, 's', 'n', 0)"
        ),
        format!("UPDATE projects SET org_id = '{org_b}' WHERE slug = 'web'"),
    ];
    for forged in forgeries {
        let mut tx = admin.begin().await.expect("begin");
        sqlx::query("SET LOCAL ROLE testvault_app")
            .execute(&mut *tx)
            .await
            .expect("role");
        sqlx::query("SELECT set_config('app.org_id', $1, true)")
            .bind(&org_a)
            .execute(&mut *tx)
            .await
            .expect("scope");
        let refused = sqlx::query(sqlx::AssertSqlSafe(forged.clone()))
            .execute(&mut *tx)
            .await
            .expect_err(&forged);
        assert!(
            refused.to_string().contains("row-level security"),
            "{forged}: {refused}"
        );
        drop(tx);
    }
    // And a pooled connection never carries a scope from one transaction to the next.
    let leftover: Option<String> =
        sqlx::query_scalar("SELECT NULLIF(current_setting('app.org_id', true), '')")
            .fetch_one(&mut admin)
            .await
            .expect("setting");
    assert_eq!(leftover, None);
    let _ = admin.close().await;

    // Through the application, everything still works for both orgs.
    assert_eq!(owner.get("/api/v1/projects/web").await.status, 200);
    assert_eq!(
        owner.get("/api/v1/projects/globex-secret").await.status,
        404
    );
}

async fn retention_purges_expired_events_and_the_chain_still_verifies(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    for slug in ["one", "two", "three"] {
        owner
            .post_json("/api/v1/projects", &json!({ "slug": slug, "name": slug }))
            .await;
    }
    let core = &app.server.as_ref().expect("running").core;
    let org = testvault_domain::OrgName::parse("Acme").expect("org");
    let op = testvault_core::Operator::unsafe_local_admin();
    let verify = || async {
        core.verify_audit_as_operator(&op, &org)
            .await
            .expect("verify")
    };
    let before = verify().await;
    assert!(before.first_broken.is_none() && before.events >= 4);

    // Fresh events cannot be deleted, by anyone.
    let fresh = app.try_sql("DELETE FROM audit_events WHERE seq = 1").await;
    assert!(fresh.is_err_and(|e| e.contains("append-only")));
    // Nothing is old enough yet: the job removes nothing.
    assert_eq!(core.purge_expired_audit().await.expect("purge"), 0);

    // Age the first two events past the one-year default (bypassing the guard as a DBA would).
    let age = "UPDATE audit_events SET at = at - 400 * 86400 WHERE seq <= 2";
    match backend {
        Backend::Postgres => {
            app.sql(&format!("SET session_replication_role = replica; {age}"))
                .await
        }
        Backend::Sqlite => {
            app.sql(&format!(
                "DROP TRIGGER audit_events_no_update; {age}; \
                 CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
            ))
            .await
        }
    }
    assert_eq!(core.purge_expired_audit().await.expect("purge"), 2);
    let after = verify().await;
    assert!(after.first_broken.is_none(), "{:?}", after.first_broken);
    assert_eq!(
        after.events,
        before.events - 2 + 1,
        "two purged, one `audit.purged` added"
    );
    let trail = owner.get("/api/v1/audit?limit=5").await.json();
    assert_eq!(trail["data"][0]["action"], "audit.purged");
    assert_eq!(trail["data"][0]["after"]["events_removed"], 2);

    // Moving the anchor (or deleting more without it) is caught.
    app.sql("UPDATE audit_anchors SET seq = 1").await;
    let tampered = verify().await;
    assert!(tampered.first_broken.is_some());
    app.sql("UPDATE audit_anchors SET seq = 2").await;
    assert!(verify().await.first_broken.is_none());

    // Retention is a security setting: validated, audited.
    let bad = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "audit_retention_days": 7 }),
        )
        .await;
    assert_eq!(bad.status, 422);
    let ok = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "audit_retention_days": 90 }),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["data"]["audit_retention_days"], 90);
    let page = owner.get("/settings/security").await;
    assert!(page.body.contains("value=\"90\""));
    let form = owner
        .post_form(
            "/settings/security/audit",
            &[("audit_retention_days", "45")],
        )
        .await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"45\""));
    let trail = owner
        .get("/api/v1/audit?action=security.audit_retention_changed")
        .await
        .json();
    assert_eq!(trail["data"].as_array().map(Vec::len), Some(2));
}

/// PostgreSQL keeps no foreign keys on results, result_terms and tests (a per-row check cost more
/// than the insert); statement triggers do what ON DELETE CASCADE did.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_runs_and_projects_takes_their_results_and_tests_along() {
    let Some(app) = pg_app("deleting_runs_and_projects_takes_their_results_and_tests_along").await
    else {
        return;
    };
    let owner = app.setup_owner().await;
    assert_eq!(
        owner
            .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
            .await
            .status,
        201
    );
    let report = json!({"reportFormat": "CTRF", "specVersion": "0.0.0", "results": {
        "tool": {"name": "jest"},
        "summary": {"tests": 2, "passed": 1, "failed": 1, "pending": 0, "skipped": 0, "other": 0, "start": 1, "stop": 2},
        "tests": [{"name": "renders", "status": "passed", "duration": 1, "suite": "Cart"},
                  {"name": "totals", "status": "failed", "duration": 1, "suite": "Cart", "message": "expected three received four"}]}});
    let r = owner
        .post_json("/api/v1/projects/web/uploads", &report)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let mut admin = app.pg_conn().await;
    let count = |table: &'static str| {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
    };
    for table in ["results", "result_terms", "tests"] {
        assert!(
            count(table).fetch_one(&mut admin).await.expect("count") > 0,
            "{table}"
        );
    }
    sqlx::query("DELETE FROM runs")
        .execute(&mut admin)
        .await
        .expect("delete runs");
    for table in ["results", "result_terms"] {
        assert_eq!(
            count(table).fetch_one(&mut admin).await.expect("count"),
            0,
            "{table}"
        );
    }
    assert_eq!(
        count("tests").fetch_one(&mut admin).await.expect("count"),
        2
    );
    sqlx::query("DELETE FROM projects")
        .execute(&mut admin)
        .await
        .expect("delete projects");
    assert_eq!(
        count("tests").fetch_one(&mut admin).await.expect("count"),
        0
    );
    let _ = admin.close().await;
}

/// Report queries need planner statistics and visibility maps; autovacuum may be off (it is
/// on the reference machine), so a large enough ingest makes Testvault vacuum and analyze the
/// result tables itself.
#[tokio::test(flavor = "multi_thread")]
async fn large_ingests_keep_statistics_fresh_without_autovacuum() {
    let Some(app) = pg_app("large_ingests_keep_statistics_fresh_without_autovacuum").await else {
        return;
    };
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut conn = app.pg_conn().await;
    let stats = "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL \
                 FROM pg_stat_user_tables WHERE relname = 'results'";
    let fresh: bool = sqlx::query_scalar(stats)
        .fetch_one(&mut conn)
        .await
        .expect("stats");
    assert!(!fresh, "a new database has not been vacuumed yet");

    let tests: Vec<serde_json::Value> = (0..12_000)
        .map(|i| json!({ "name": format!("case_{i}"), "status": "passed", "duration": 1 }))
        .collect();
    let body = json!({ "reportFormat": "CTRF", "results": { "tool": { "name": "jest" }, "tests": tests } });
    let r = owner.post_json("/api/v1/projects/web/uploads", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    for _ in 0..100 {
        let fresh: bool = sqlx::query_scalar(stats)
            .fetch_one(&mut conn)
            .await
            .expect("stats");
        if fresh {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the results table was not vacuumed and analyzed within 10 s of a 12,000-result upload");
}
