//! The HTTP edge: error shapes, limits, CSRF, security headers, operations endpoints.
//! (No storage differences here, so these run on the embedded database only.)

use serde_json::json;
use testvault_testkit::{Backend, TestApp};

async fn app() -> TestApp {
    TestApp::start(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let app = app().await;
    let c = app.client();
    for path in [
        "/sign-in",
        "/api/v1/me",
        "/nope",
        "/api/nope",
        "/healthz",
        "/static/icon.svg",
    ] {
        let r = c.get(path).await;
        assert_eq!(
            r.header("strict-transport-security").as_deref(),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.header("referrer-policy").as_deref(),
            Some("same-origin"),
            "{path}"
        );
        assert!(r.header("x-request-id").is_some(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_have_no_inline_script_or_style() {
    let app = app().await;
    let owner = app.setup_owner().await;
    for path in [
        "/projects",
        "/members",
        "/sessions",
        "/settings/security",
        "/sign-in",
        "/tokens",
    ] {
        let body = owner.get(path).await.body;
        assert!(!body.contains(" style="), "{path} has an inline style");
        assert!(!body.contains("<style"), "{path} has a style element");
        for script in body.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src="),
                "{path} has an inline script"
            );
        }
        assert!(!body.contains(" onclick="), "{path} has an inline handler");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_never_500() {
    let app = app().await;
    let owner = app.setup_owner().await;
    let http = &owner.http;
    let url = owner.url("/api/v1/projects");

    let malformed = owner
        .send(
            http.post(&url)
                .header("content-type", "application/json")
                .body("{\"slug\": "),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed JSON")
    );

    let wrong_type = owner
        .send(
            http.post(&url)
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(wrong_type.status, 415);
    assert_eq!(wrong_type.json()["error"]["code"], "unsupported_media_type");

    let huge = "x".repeat(2 * 1024 * 1024);
    let too_big = owner
        .send(
            http.post(&url)
                .header("content-type", "application/json")
                .body(format!("{{\"name\":\"{huge}\"}}")),
        )
        .await;
    assert_eq!(too_big.status, 413);
    assert_eq!(too_big.json()["error"]["code"], "payload_too_large");

    let unknown_field = owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "a1", "name": "A", "org_id": "x" }),
        )
        .await;
    assert_eq!(unknown_field.status, 400);

    let not_found = owner.get("/api/v1/nothing-here").await;
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.json()["error"]["code"], "not_found");
    let wrong_method = owner.send(http.patch(owner.url("/api/v1/projects"))).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(owner.get("/no/such/page").await.status, 404);
    assert_eq!(owner.get("/api/v1/sessions/not-a-uuid").await.status, 405);
    assert_eq!(
        owner.delete("/api/v1/sessions/not-a-uuid").await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_and_tokenless_posts_are_refused() {
    let app = app().await;
    let owner = app.setup_owner().await;
    let http = &owner.http;

    // A form post without the CSRF token (what a forging page would send) is refused.
    let no_token = owner
        .send(
            http.post(owner.url("/projects"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=Evil&slug=evil"),
        )
        .await;
    assert_eq!(no_token.status, 403);
    let wrong_token = owner
        .send(
            http.post(owner.url("/projects"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("csrf=0000&name=Evil&slug=evil"),
        )
        .await;
    assert_eq!(wrong_token.status, 403);

    // A browser-labelled cross-site request is refused even with a valid token.
    let csrf = owner.csrf().await;
    let cross = owner
        .send(
            http.post(owner.url("/projects"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", "https://evil.example")
                .body(format!("csrf={csrf}&name=Evil&slug=evil")),
        )
        .await;
    assert_eq!(cross.status, 403);
    let fetch_site = owner
        .send(
            http.post(owner.url("/api/v1/projects"))
                .header("content-type", "application/json")
                .header("sec-fetch-site", "cross-site")
                .body("{\"slug\":\"evil\",\"name\":\"Evil\"}"),
        )
        .await;
    assert_eq!(fetch_site.status, 403);
    assert_eq!(
        owner.get("/api/v1/projects").await.json()["data"],
        json!([])
    );

    // The same form with its token and our own origin works.
    let ok = owner
        .send(
            http.post(owner.url("/projects"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", app.url.clone())
                .body(format!("csrf={csrf}&name=Fine&slug=fine")),
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let app = app().await;
    let c = app.client();
    assert_eq!(c.get("/healthz").await.body, "ok\n");
    assert_eq!(c.get("/readyz").await.status, 200);
    c.get("/sign-in").await;
    let metrics = c.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    assert!(
        metrics.body.contains(
            "testvault_http_requests_total{method=\"GET\",route=\"/sign-in\",status=\"200\"} 1"
        ),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("testvault_http_request_duration_seconds_bucket{method=\"GET\",route=\"/sign-in\",le=\"+Inf\"} 1"));
    // Secrets in paths never become metric labels.
    if let Some(link) = &app.setup_link {
        c.get(link.trim_start_matches(&app.url)).await;
        let m = c.get("/metrics").await.body;
        let token = link.rsplit('/').next().unwrap_or_default();
        assert!(!m.contains(token));
        assert!(m.contains("route=\"/setup/{token}\""));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_pages_redirect_to_sign_in_and_home_explains_setup() {
    let app = app().await;
    let c = app.client();
    let home = c.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("setup link"), "{}", home.body);
    let projects = c.get("/projects").await;
    assert_eq!(projects.status, 303);
    assert_eq!(projects.header("location").as_deref(), Some("/sign-in"));
    app.setup_owner().await;
    assert_eq!(
        app.client().get("/").await.header("location").as_deref(),
        Some("/sign-in")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_page_flow_shows_the_link_to_the_inviter() {
    let app = app().await;
    let owner = app.setup_owner().await;
    let page = owner
        .post_form(
            "/members/invitations",
            &[("email", "new@acme.test"), ("role", "viewer")],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/invite/"), "the inviter sees the link");
    assert!(page.body.contains("new@acme.test"));
    let bad = owner
        .post_form(
            "/members/invitations",
            &[("email", "not-an-email"), ("role", "viewer")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Email: must be an email address"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_origin_counts_as_ours_behind_a_proxy() {
    let db = testvault_testkit::TestDb::create(Backend::Sqlite).await;
    let app = TestApp::start_with(db, |mut l| {
        l.public_url = Some("https://testvault.example.com/".into());
        l
    })
    .await;
    let owner = app.setup_owner().await;
    let csrf = owner.csrf().await;
    let form = |origin: &'static str| {
        owner
            .http
            .post(owner.url("/projects"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(format!("csrf={csrf}&name=Web&slug=web"))
    };
    assert_eq!(
        owner
            .send(form("https://testvault.example.com"))
            .await
            .status,
        303
    );
    assert_eq!(
        owner.send(form("https://evil.example.com")).await.status,
        403
    );
}
