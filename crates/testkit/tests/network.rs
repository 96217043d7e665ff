#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! IP allowlists: sign-in, sessions and tokens only from allowed ranges; self-exclusion needs a
//! confirmation; `X-Forwarded-For` counts only from trusted proxies — on SQLite and PostgreSQL.

use serde_json::json;
use testvault_testkit::{
    Backend, Client, OWNER_EMAIL, OWNER_PASSWORD, TestApp, TestDb, on_both_backends,
};

on_both_backends!(allowlist_restricts_sign_in_sessions_and_tokens);

async fn bearer(app: &TestApp, token: &str, path: &str) -> u16 {
    let c = Client::new(&app.url, app.ca_pem());
    c.send(
        c.http
            .get(c.url(path))
            .header("authorization", format!("Bearer {token}")),
    )
    .await
    .status
}

async fn allowlist_restricts_sign_in_sessions_and_tokens(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let token = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "t", "scopes": ["read"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(bearer(&app, &token, "/api/v1/projects").await, 200);

    // Shutting out one's own address needs an explicit confirmation; nothing is saved without it.
    let unconfirmed = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "ip_allowlist": ["10.0.0.0/8"], "idle_timeout_minutes": 60 }),
        )
        .await;
    assert_eq!(unconfirmed.status, 422, "{}", unconfirmed.body);
    assert_eq!(unconfirmed.json()["error"]["field"], "ip_allowlist");
    let now = owner.get("/api/v1/org/security").await.json();
    assert_eq!(now["data"]["ip_allowlist"], json!([]));
    assert_eq!(
        now["data"]["idle_timeout_minutes"], 30,
        "no half-saved settings"
    );
    let bad = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "ip_allowlist": ["10.0.0.0/99"] }),
        )
        .await;
    assert_eq!(bad.status, 422);

    // Including our own address needs no confirmation.
    let fine = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "ip_allowlist": ["127.0.0.0/8", "2001:db8::/32"] }),
        )
        .await;
    assert_eq!(fine.status, 200, "{}", fine.body);
    assert_eq!(
        fine.json()["data"]["ip_allowlist"],
        json!(["127.0.0.0/8", "2001:db8::/32"])
    );
    assert_eq!(owner.get("/api/v1/me").await.status, 200);

    let confirmed = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "ip_allowlist": ["10.0.0.0/8"], "confirm_self_exclusion": true }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    // From 127.0.0.1 now: the session, the token and a new sign-in are all refused.
    let me = owner.get("/api/v1/me").await;
    assert_eq!(me.status, 403);
    assert_eq!(me.json()["error"]["code"], "network_not_allowed");
    assert_eq!(owner.get("/projects").await.status, 403, "pages too");
    assert_eq!(bearer(&app, &token, "/api/v1/projects").await, 403);
    let sign_in = app.client().sign_in(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(sign_in.status, 403, "{}", sign_in.body);

    // The operator's way back in.
    let core = &app.server.as_ref().expect("running").core;
    let op = testvault_core::Operator::unsafe_local_admin();
    core.clear_ip_allowlist_as_operator(
        &op,
        &testvault_domain::OrgName::parse("Acme").expect("name"),
    )
    .await
    .expect("cleared");
    assert_eq!(owner.get("/api/v1/me").await.status, 200);
    assert_eq!(bearer(&app, &token, "/api/v1/projects").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_address_counts_only_from_a_trusted_proxy() {
    let db = TestDb::create(Backend::Sqlite).await;
    let app = TestApp::start_with(db, |mut l| {
        l.trusted_proxies = Some(vec!["127.0.0.1".parse().expect("ip")]);
        l
    })
    .await;
    let owner = app.setup_owner().await;
    let via = |ip: &'static str| {
        let c = &owner;
        async move {
            c.send(
                c.http
                    .get(c.url("/api/v1/me"))
                    .header("x-forwarded-for", ip),
            )
            .await
            .status
        }
    };
    let set = owner
        .send(
            owner
                .http
                .put(owner.url("/api/v1/org/security"))
                .header("content-type", "application/json")
                .header("x-forwarded-for", "203.0.113.9")
                .body(json!({ "ip_allowlist": ["203.0.113.0/24"] }).to_string()),
        )
        .await;
    assert_eq!(
        set.status, 200,
        "the proxied client's own address is inside: {}",
        set.body
    );
    assert_eq!(via("203.0.113.9").await, 200);
    assert_eq!(via("198.51.100.1").await, 403);
    assert_eq!(
        via("6.6.6.6, 203.0.113.9").await,
        200,
        "the right-most untrusted hop counts"
    );

    // Without trusted proxies the header is ignored: the socket address (127.0.0.1) counts.
    let db = TestDb::create(Backend::Sqlite).await;
    let direct = TestApp::start_on(db).await;
    let o = direct.setup_owner().await;
    let r = o
        .put_json(
            "/api/v1/org/security",
            &json!({ "ip_allowlist": ["203.0.113.0/24"], "confirm_self_exclusion": true }),
        )
        .await;
    assert_eq!(r.status, 200);
    let spoofed = o
        .send(
            o.http
                .get(o.url("/api/v1/me"))
                .header("x-forwarded-for", "203.0.113.9"),
        )
        .await;
    assert_eq!(
        spoofed.status, 403,
        "a client cannot claim an allowed address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_page_saves_networks_with_confirmation() {
    let app = TestApp::start(Backend::Sqlite).await;
    let owner = app.setup_owner().await;
    let page = owner.get("/settings/security").await;
    assert!(
        page.body
            .contains("Your current address is <code>127.0.0.1</code>"),
        "{}",
        page.body
    );
    let refused = owner
        .post_form(
            "/settings/security/network",
            &[("ip_allowlist", "10.0.0.0/8")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("shuts out your current address 127.0.0.1")
    );
    assert!(
        refused.body.contains("10.0.0.0/8"),
        "what was typed is kept"
    );
    let ok = owner
        .post_form(
            "/settings/security/network",
            &[("ip_allowlist", "127.0.0.1\n10.0.0.0/8")],
        )
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("127.0.0.1/32\n10.0.0.0/8"), "{}", ok.body);
}
