#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Projects, sealed descriptions and tenant isolation — on SQLite and PostgreSQL.

use serde_json::json;
use testvault_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(
    owner_creates_and_lists_projects,
    project_description_is_sealed_and_bound_to_its_row,
    one_org_never_sees_another_orgs_projects,
    refuses_a_schema_newer_than_the_binary,
);

async fn owner_creates_and_lists_projects(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    assert_eq!(
        owner.get("/api/v1/projects").await.json()["data"],
        json!([])
    );
    let page = owner.get("/projects").await;
    assert!(
        page.body.contains("No projects yet"),
        "empty state tells what to do next"
    );

    let resp = owner
        .post_form(
            "/projects",
            &[("name", "Web shop"), ("slug", "web"), ("description", "")],
        )
        .await;
    assert_eq!(resp.status, 303);
    assert_eq!(resp.header("location").as_deref(), Some("/projects/web"));
    let shown = owner.get("/projects/web").await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Web shop"));

    let dup = owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "web", "name": "Again" }),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    let bad = owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "Web Shop!", "name": "x" }),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["error"]["field"], "slug");
    let missing = owner
        .post_json("/api/v1/projects", &json!({ "name": "x" }))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"]["field"], "slug");
    assert_eq!(owner.get("/api/v1/projects/nope").await.status, 404);

    // The form shows a readable error and keeps what was typed.
    let form_err = owner
        .post_form(
            "/projects",
            &[
                ("name", "API"),
                ("slug", "-bad"),
                ("description", "kept text"),
            ],
        )
        .await;
    assert_eq!(form_err.status, 422);
    assert!(form_err.body.contains("Slug: must be"));
    assert!(form_err.body.contains("kept text"));
}

async fn project_description_is_sealed_and_bound_to_its_row(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let canary = "CANARY-DESCRIPTION-7f3a";
    owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "web", "name": "Web", "description": canary }),
        )
        .await;
    owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "api", "name": "API", "description": "other text" }),
        )
        .await;
    assert_eq!(
        owner.get("/api/v1/projects/web").await.json()["data"]["description"],
        canary
    );

    let sealed = app
        .sql_bytes("SELECT description_sealed FROM projects WHERE slug = 'web'")
        .await
        .unwrap_or_default();
    assert!(!sealed.is_empty());
    assert!(
        !String::from_utf8_lossy(&sealed).contains("CANARY"),
        "stored sealed, not in clear"
    );

    // Moving the ciphertext to another row makes it fail to open (bound to org/table/column/row),
    // and the client sees a generic 500, never the cause.
    app.sql(
        "UPDATE projects SET description_sealed = (SELECT description_sealed FROM projects WHERE slug = 'web') WHERE slug = 'api'",
    )
    .await;
    let moved = owner.get("/api/v1/projects/api").await;
    assert_eq!(moved.status, 500);
    assert_eq!(moved.json()["error"]["code"], "internal");
    assert!(
        !moved.body.to_lowercase().contains("seal"),
        "no internals: {}",
        moved.body
    );
    assert_eq!(owner.get("/api/v1/projects/web").await.status, 200);
}

async fn one_org_never_sees_another_orgs_projects(backend: Backend) {
    let app = TestApp::start(backend).await;
    let acme = app.setup_owner().await;
    acme.post_json(
        "/api/v1/projects",
        &json!({ "slug": "secret", "name": "Acme secret" }),
    )
    .await;

    // A second org, made by the operator, with its own owner.
    let core = &app.server.as_ref().expect("running").core;
    let op = testvault_core::Operator::unsafe_local_admin();
    core.create_org(
        &op,
        testvault_domain::OrgName::parse("Globex").expect("name"),
        testvault_domain::Email::parse("hank@globex.test").expect("email"),
        None,
        Some(testvault_domain::NewPassword::parse("globex owner passphrase").expect("password")),
    )
    .await
    .expect("second org");
    let globex = app.client();
    assert_eq!(
        globex
            .sign_in("hank@globex.test", "globex owner passphrase")
            .await
            .status,
        200
    );
    globex
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "secret", "name": "Globex's own" }),
        )
        .await;

    let list = globex.get("/api/v1/projects").await.json();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["data"][0]["name"], "Globex's own");
    assert_eq!(
        acme.get("/api/v1/projects/secret").await.json()["data"]["name"],
        "Acme secret"
    );
    let members = globex.get("/api/v1/members").await.json();
    assert_eq!(members["data"].as_array().map(Vec::len), Some(1));
    let sessions = globex.get("/api/v1/org/sessions").await.json();
    assert!(
        sessions["data"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|s| s["user_email"] == "hank@globex.test")
    );
    // Ending a session of another org by its id is "not found".
    let acme_session = acme.get("/api/v1/sessions").await.json()["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        globex
            .delete(&format!("/api/v1/org/sessions/{acme_session}"))
            .await
            .status,
        404
    );
    assert_eq!(acme.get("/api/v1/me").await.status, 200);
}

async fn refuses_a_schema_newer_than_the_binary(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    app.sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_from_the_future', 0)").await;
    app.stop().await;
    let target = match backend {
        Backend::Sqlite => testvault_store::DatabaseTarget::Sqlite {
            path: app.data_dir.path().join("testvault.db"),
            key: testvault_store::Secret::new(app.db.sqlcipher_key()),
        },
        Backend::Postgres => testvault_store::DatabaseTarget::Postgres {
            url: testvault_store::Secret::new(app.db.postgres_url().unwrap_or_default()),
        },
    };
    let err = testvault_store::Store::connect(&target)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("newer than this binary"), "{err}");
}
