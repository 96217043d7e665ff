//! API tokens: format, scopes, project binding, revocation and expiry on the next request,
//! throttling of failed attempts — on SQLite and PostgreSQL.

use serde_json::json;
use testvault_testkit::{Backend, Client, TestApp, on_both_backends};

on_both_backends!(
    personal_token_acts_as_its_user_within_its_scopes,
    project_token_sees_only_its_project,
    revoked_and_expired_tokens_get_401_on_the_next_request,
    personal_token_follows_its_users_current_role,
    tokens_cannot_mint_tokens_and_members_cannot_make_project_tokens,
);

/// Sends `method path` with a bearer token and no cookies.
async fn with_token(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> testvault_testkit::Resp {
    let c = Client::new(&app.url, app.ca_pem());
    let mut req = c
        .http
        .request(method, c.url(path))
        .header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    c.send(req).await
}

async fn create(owner: &Client, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = owner.post_json("/api/v1/tokens", &body).await;
    (r.status, r.json())
}

async fn personal_token_acts_as_its_user_within_its_scopes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    let (status, body) = create(&owner, json!({ "name": "laptop", "scopes": ["read"] })).await;
    assert_eq!(status, 201, "{body}");
    let token = body["data"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let prefix = body["data"]["prefix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        token.starts_with(&format!("tvt_{prefix}_")) && token.len() == 77,
        "{token}"
    );
    let days =
        (body["data"]["expires_at"].as_i64().unwrap_or(0) - testvault_domain::time::now()) / 86_400;
    assert!((89..=90).contains(&days), "default expiry 90 days: {days}");

    let get = reqwest::Method::GET;
    let list = with_token(&app, &token, get.clone(), "/api/v1/projects", None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["data"][0]["slug"], "web");
    // The owner could, but the token's `read` scope cannot.
    let write = with_token(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/projects",
        Some(json!({ "slug": "x1", "name": "X" })),
    )
    .await;
    assert_eq!(write.status, 403, "{}", write.body);

    // Listed with last use, never with the secret; only the prefix and a hash are stored.
    let listed = owner.get("/api/v1/tokens").await;
    assert!(!listed.body.contains(&token[13..]));
    assert_eq!(listed.json()["data"][0]["last_used_ip"], "127.0.0.1");
    assert!(listed.json()["data"][0]["last_used_at"].as_i64().is_some());
    let stored = app
        .sql_bytes(&format!(
            "SELECT secret_hash FROM api_tokens WHERE prefix = '{prefix}'"
        ))
        .await
        .unwrap_or_default();
    assert_eq!(stored.len(), 32);

    // A token that does not exist, or a tampered secret: 401, one message.
    // Change the last hex digit to a different one (never the same: that would be the token).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let bad = with_token(&app, &forged, get.clone(), "/api/v1/projects", None).await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.json()["error"]["message"],
        "invalid, revoked or expired API token"
    );
}

async fn project_token_sees_only_its_project(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "api", "name": "API" }))
        .await;
    let (status, body) = create(&owner, json!({ "name": "CI", "scopes": ["read", "results:write"], "project": "web", "expires_in_days": 30 })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["kind"], "project");
    let token = body["data"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let list = with_token(&app, &token, reqwest::Method::GET, "/api/v1/projects", None).await;
    let slugs: Vec<_> = list.json()["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["slug"].clone())
        .collect();
    assert_eq!(
        slugs,
        vec![json!("web")],
        "listing never reveals other projects"
    );
    assert_eq!(
        with_token(
            &app,
            &token,
            reqwest::Method::GET,
            "/api/v1/projects/api",
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        with_token(
            &app,
            &token,
            reqwest::Method::GET,
            "/api/v1/projects/web",
            None
        )
        .await
        .status,
        200
    );
    // Project tokens do no org administration, whatever their creator may do.
    assert_eq!(
        with_token(&app, &token, reqwest::Method::GET, "/api/v1/members", None)
            .await
            .status,
        403
    );
    assert_eq!(
        with_token(&app, &token, reqwest::Method::GET, "/api/v1/sessions", None)
            .await
            .status,
        403
    );

    let (status, body) = create(
        &owner,
        json!({ "name": "CI", "scopes": ["admin"], "project": "web" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = create(
        &owner,
        json!({ "name": "CI", "scopes": ["read"], "project": "nope" }),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = create(
        &owner,
        json!({ "name": "CI", "scopes": ["read"], "expires_in_days": 5000 }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("expires_in_days"))
    );
}

async fn revoked_and_expired_tokens_get_401_on_the_next_request(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let (_, a) = create(&owner, json!({ "name": "a", "scopes": ["read"] })).await;
    let (_, b) = create(&owner, json!({ "name": "b", "scopes": ["read"] })).await;
    let token_a = a["data"]["token"].as_str().unwrap_or_default().to_string();
    let token_b = b["data"]["token"].as_str().unwrap_or_default().to_string();
    let get = reqwest::Method::GET;
    assert_eq!(
        with_token(&app, &token_a, get.clone(), "/api/v1/projects", None)
            .await
            .status,
        200
    );

    let prefix_a = a["data"]["prefix"].as_str().unwrap_or_default();
    assert_eq!(
        owner
            .delete(&format!("/api/v1/tokens/{prefix_a}"))
            .await
            .status,
        204
    );
    assert_eq!(
        with_token(&app, &token_a, get.clone(), "/api/v1/projects", None)
            .await
            .status,
        401
    );

    let prefix_b = b["data"]["prefix"].as_str().unwrap_or_default();
    app.sql(&format!(
        "UPDATE api_tokens SET expires_at = 1 WHERE prefix = '{prefix_b}'"
    ))
    .await;
    assert_eq!(
        with_token(&app, &token_b, get.clone(), "/api/v1/projects", None)
            .await
            .status,
        401
    );
    assert_eq!(
        owner.get("/api/v1/tokens").await.json()["data"],
        json!([]),
        "revoked and expired tokens are not listed"
    );
}

async fn personal_token_follows_its_users_current_role(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let (_, body) = create(
        &owner,
        json!({ "name": "admin token", "scopes": ["admin"] }),
    )
    .await;
    let token = body["data"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let post = reqwest::Method::POST;
    let ok = with_token(
        &app,
        &token,
        post.clone(),
        "/api/v1/projects",
        Some(json!({ "slug": "one", "name": "One" })),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    // The owner is demoted to viewer: the token loses the power on its next request.
    app.sql("UPDATE members SET role_level = 1").await;
    let denied = with_token(
        &app,
        &token,
        post.clone(),
        "/api/v1/projects",
        Some(json!({ "slug": "two", "name": "Two" })),
    )
    .await;
    assert_eq!(denied.status, 403);
    // Removed from the org: the token no longer works at all.
    app.sql("DELETE FROM members").await;
    assert_eq!(
        with_token(&app, &token, reqwest::Method::GET, "/api/v1/projects", None)
            .await
            .status,
        401
    );
}

async fn tokens_cannot_mint_tokens_and_members_cannot_make_project_tokens(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    let (_, body) = create(
        &owner,
        json!({ "name": "admin token", "scopes": ["admin"] }),
    )
    .await;
    let token = body["data"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let minted = with_token(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/tokens",
        Some(json!({ "name": "x", "scopes": ["admin"] })),
    )
    .await;
    assert_eq!(minted.status, 403, "{}", minted.body);

    let member = app
        .add_member(&owner, "max@acme.test", "a long and unusual passphrase")
        .await;
    let (status, _) = create(
        &member,
        json!({ "name": "ci", "scopes": ["read"], "project": "web" }),
    )
    .await;
    assert_eq!(status, 403);
    // A member's own token, and the owner sees it (and can revoke it).
    let (status, mine) = create(&member, json!({ "name": "mine", "scopes": ["read"] })).await;
    assert_eq!(status, 201);
    let prefix = mine["data"]["prefix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        member.get("/api/v1/tokens").await.json()["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        owner.get("/api/v1/tokens").await.json()["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let owner_prefix = body["data"]["prefix"].as_str().unwrap_or_default();
    assert_eq!(
        member
            .delete(&format!("/api/v1/tokens/{owner_prefix}"))
            .await
            .status,
        404,
        "not another's token"
    );
    assert_eq!(
        owner
            .delete(&format!("/api/v1/tokens/{prefix}"))
            .await
            .status,
        204
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_token_attempts_are_throttled_per_ip() {
    let app = TestApp::start(Backend::Sqlite).await;
    app.setup_owner().await;
    let fake = format!("tvt_abcdefgh_{}", "0".repeat(64));
    let mut statuses = Vec::new();
    for _ in 0..22 {
        statuses
            .push(with_token(&app, &fake, reqwest::Method::GET, "/api/v1/projects", None).await);
    }
    assert!(statuses[..20].iter().all(|r| r.status == 401));
    let last = &statuses[21];
    assert_eq!(last.status, 429, "{}", last.body);
    assert!(last.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_page_creates_shows_once_and_revokes() {
    let app = TestApp::start(Backend::Sqlite).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    let empty = owner.get("/tokens").await;
    assert!(empty.body.contains("No tokens yet"));
    let created = owner
        .post_form(
            "/tokens",
            &[
                ("name", "GitHub Actions"),
                ("project", "web"),
                ("scope_read", "on"),
                ("scope_results_write", "on"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let start = created.body.find("value=\"tvt_").expect("token shown once") + 7;
    let token: String = created.body[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    assert_eq!(token.len(), 77);
    let again = owner.get("/tokens").await;
    assert!(!again.body.contains(&token), "never shown again");
    assert!(again.body.contains(&format!("tvt_{}_", &token[4..12])));
    assert!(again.body.contains("project web"));

    let none = owner
        .post_form("/tokens", &[("name", "x"), ("expires_in_days", "30")])
        .await;
    assert_eq!(none.status, 422);
    assert!(
        none.body.contains("Scopes: give at least one scope"),
        "{}",
        none.body
    );

    let revoked = owner
        .post_form(&format!("/tokens/{}/revoke", &token[4..12]), &[])
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(
        with_token(&app, &token, reqwest::Method::GET, "/api/v1/projects", None)
            .await
            .status,
        401
    );
}
