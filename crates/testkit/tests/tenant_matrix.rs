#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Tenant isolation, route by route: every route the router serves is called as org A's session
//! and org A's admin token with org B's ids. Routes that take an id answer 404 — never 403, never
//! success — and no response anywhere carries B's data. The route list is read from the router's
//! source, so a new route that is not covered here fails this test. On SQLite and PostgreSQL.

use serde_json::json;
use std::collections::BTreeSet;
use testvault_testkit::{Backend, Client, Resp, TestApp, on_both_backends};

on_both_backends!(org_a_cannot_reach_org_b_through_any_route);

/// How a route is exercised.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Takes an id; with B's id it must answer 404.
    OthersId,
    /// Takes an id, and only a browser session may call it: tokens get 403 before any lookup
    /// (so the answer cannot depend on B's id); sessions get 404 for B's id.
    OthersIdSessionOnly,
    /// Takes no id: whatever it answers must not contain B's data.
    NoId,
    /// Not org-scoped by design (bearer links, health, sign-in); still must not leak B's data.
    Public,
    /// A single sign-on start link: it tells whoever holds it (an unguessable id) which org
    /// and connection it signs in to — B's name and the connection's name, and nothing else.
    SignInLink,
}

/// Every route, with how it is tested. Paths as written in the router.
const ROUTES: &[(&str, &str, Kind)] = &[
    // JSON API
    ("POST", "/api/v1/auth/sign-in", Kind::Public),
    ("POST", "/api/v1/auth/sign-out", Kind::Public),
    ("GET", "/api/v1/audit", Kind::NoId),
    ("GET", "/api/v1/me", Kind::NoId),
    ("POST", "/api/v1/auth/second-factor", Kind::Public),
    ("POST", "/api/v1/auth/sign-in-link", Kind::Public),
    ("POST", "/api/v1/auth/passkey/start", Kind::Public),
    ("POST", "/api/v1/auth/passkey", Kind::Public),
    (
        "POST",
        "/api/v1/auth/second-factor/passkey/start",
        Kind::Public,
    ),
    ("POST", "/api/v1/auth/second-factor/passkey", Kind::Public),
    ("GET", "/api/v1/me/passkeys", Kind::NoId),
    ("POST", "/api/v1/me/passkeys", Kind::NoId),
    ("POST", "/api/v1/me/passkeys/register", Kind::NoId),
    ("DELETE", "/api/v1/me/passkeys/{id}", Kind::OthersId),
    ("GET", "/api/v1/me/second-factor", Kind::NoId),
    ("POST", "/api/v1/me/second-factor", Kind::NoId),
    ("POST", "/api/v1/me/second-factor/confirm", Kind::NoId),
    ("POST", "/api/v1/me/second-factor/disable", Kind::NoId),
    (
        "POST",
        "/api/v1/me/second-factor/recovery-codes",
        Kind::NoId,
    ),
    ("GET", "/api/v1/orgs", Kind::NoId),
    ("GET", "/api/v1/org/security", Kind::NoId),
    ("PUT", "/api/v1/org/security", Kind::NoId),
    ("GET", "/api/v1/org/sessions", Kind::NoId),
    ("GET", "/api/v1/org/sso/connections", Kind::NoId),
    ("POST", "/api/v1/org/sso/connections", Kind::NoId),
    ("PUT", "/api/v1/org/sso/connections/{id}", Kind::OthersId),
    ("DELETE", "/api/v1/org/sso/connections/{id}", Kind::OthersId),
    ("GET", "/api/v1/me/sso", Kind::NoId),
    ("POST", "/api/v1/me/sso/unlink", Kind::NoId),
    ("DELETE", "/api/v1/org/sessions/{id}", Kind::OthersId),
    ("GET", "/api/v1/projects", Kind::NoId),
    ("POST", "/api/v1/projects", Kind::NoId),
    ("GET", "/api/v1/projects/{slug}", Kind::OthersId),
    ("GET", "/api/v1/projects/{slug}/access", Kind::OthersId),
    ("GET", "/api/v1/projects/{slug}/runs", Kind::OthersId),
    ("POST", "/api/v1/projects/{slug}/runs", Kind::OthersId),
    ("GET", "/api/v1/projects/{slug}/runs/{run}", Kind::OthersId),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/files",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/files/{file}",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/results",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/runs/{run}/results",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/runs/{run}/finish",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/compare",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/tests/{test}",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/projects/{slug}/flaky", Kind::OthersId),
    ("GET", "/api/v1/projects/{slug}/dashboard", Kind::OthersId),
    ("GET", "/api/v1/projects/{slug}/heatmap", Kind::OthersId),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/suites",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/errors",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/results/{result}",
        Kind::OthersId,
    ),
    (
        "PUT",
        "/api/v1/projects/{slug}/tests/{test}/quarantine",
        Kind::OthersId,
    ),
    (
        "DELETE",
        "/api/v1/projects/{slug}/tests/{test}/quarantine",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/projects/{slug}/clusters", Kind::OthersId),
    (
        "PUT",
        "/api/v1/projects/{slug}/clusters/{signature}/label",
        Kind::OthersId,
    ),
    (
        "DELETE",
        "/api/v1/projects/{slug}/clusters/{signature}/label",
        Kind::OthersId,
    ),
    ("POST", "/api/v1/projects/{slug}/uploads", Kind::OthersId),
    (
        "GET",
        "/api/v1/projects/{slug}/results/search",
        Kind::OthersId,
    ),
    (
        "PUT",
        "/api/v1/projects/{slug}/access/{user}",
        Kind::OthersId,
    ),
    (
        "DELETE",
        "/api/v1/projects/{slug}/access/{user}",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/permissions", Kind::NoId),
    ("GET", "/api/v1/roles", Kind::NoId),
    ("POST", "/api/v1/roles", Kind::NoId),
    ("PUT", "/api/v1/roles/{role}", Kind::OthersId),
    ("DELETE", "/api/v1/roles/{role}", Kind::OthersId),
    ("GET", "/api/v1/members", Kind::NoId),
    ("PUT", "/api/v1/members/{user}/role", Kind::OthersId),
    ("DELETE", "/api/v1/members/{user}/sessions", Kind::OthersId),
    (
        "DELETE",
        "/api/v1/members/{user}/second-factor",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/invitations", Kind::NoId),
    ("POST", "/api/v1/invitations", Kind::NoId),
    ("DELETE", "/api/v1/invitations/{id}", Kind::OthersId),
    ("GET", "/api/v1/sessions", Kind::NoId),
    ("DELETE", "/api/v1/sessions/{id}", Kind::OthersIdSessionOnly),
    ("GET", "/api/v1/tokens", Kind::NoId),
    ("POST", "/api/v1/tokens", Kind::NoId),
    (
        "DELETE",
        "/api/v1/tokens/{prefix}",
        Kind::OthersIdSessionOnly,
    ),
    // Pages
    ("GET", "/", Kind::Public),
    ("GET", "/sign-in", Kind::Public),
    ("GET", "/altcha/challenge", Kind::Public),
    ("POST", "/sign-in", Kind::Public),
    ("GET", "/sign-in/link", Kind::Public),
    ("POST", "/sign-in/link", Kind::Public),
    ("GET", "/sign-in/link/{token}", Kind::Public),
    ("POST", "/sign-in/link/{token}", Kind::Public),
    ("GET", "/sign-in/code", Kind::Public),
    ("POST", "/sign-in/code", Kind::Public),
    ("GET", "/account/two-factor", Kind::NoId),
    ("POST", "/account/two-factor/start", Kind::NoId),
    ("POST", "/account/two-factor/confirm", Kind::NoId),
    ("POST", "/account/two-factor/recovery-codes", Kind::NoId),
    ("POST", "/account/two-factor/disable", Kind::NoId),
    ("POST", "/sign-out", Kind::Public),
    ("GET", "/setup/{token}", Kind::Public),
    ("POST", "/setup/{token}", Kind::Public),
    ("GET", "/invite/{token}", Kind::Public),
    ("POST", "/invite/{token}", Kind::Public),
    ("POST", "/orgs/switch", Kind::OthersId),
    ("GET", "/projects", Kind::NoId),
    ("POST", "/projects", Kind::NoId),
    ("GET", "/projects/{slug}", Kind::OthersId),
    ("GET", "/projects/{slug}/runs/{number}", Kind::OthersId),
    ("GET", "/projects/{slug}/tests/{test}", Kind::OthersId),
    ("GET", "/projects/{slug}/flaky", Kind::OthersId),
    ("GET", "/projects/{slug}/dashboard", Kind::OthersId),
    ("GET", "/projects/{slug}/heatmap", Kind::OthersId),
    (
        "POST",
        "/projects/{slug}/tests/{test}/quarantine",
        Kind::OthersId,
    ),
    (
        "POST",
        "/projects/{slug}/tests/{test}/release",
        Kind::OthersId,
    ),
    ("GET", "/projects/{slug}/clusters", Kind::OthersId),
    (
        "POST",
        "/projects/{slug}/clusters/{signature}/label",
        Kind::OthersId,
    ),
    (
        "GET",
        "/projects/{slug}/runs/{number}/compare",
        Kind::OthersId,
    ),
    ("GET", "/members", Kind::NoId),
    ("POST", "/members/invitations", Kind::NoId),
    ("POST", "/members/{user}/role", Kind::OthersId),
    ("GET", "/roles", Kind::NoId),
    ("POST", "/roles", Kind::NoId),
    ("POST", "/roles/{role}", Kind::OthersId),
    ("POST", "/roles/{role}/delete", Kind::OthersId),
    ("POST", "/projects/{slug}/access", Kind::OthersId),
    (
        "POST",
        "/projects/{slug}/access/{user}/revoke",
        Kind::OthersId,
    ),
    ("POST", "/members/invitations/{id}/revoke", Kind::OthersId),
    ("POST", "/members/{user}/sessions/revoke", Kind::OthersId),
    (
        "POST",
        "/members/{user}/second-factor/reset",
        Kind::OthersId,
    ),
    ("GET", "/sessions", Kind::NoId),
    ("POST", "/sessions/{id}/revoke", Kind::OthersId),
    ("POST", "/org/sessions/{id}/revoke", Kind::OthersId),
    ("GET", "/settings/security", Kind::NoId),
    ("POST", "/settings/security", Kind::NoId),
    ("POST", "/settings/security/network", Kind::NoId),
    ("POST", "/settings/security/audit", Kind::NoId),
    ("POST", "/settings/security/two-factor", Kind::NoId),
    // Single sign-on: starting, answering and SP metadata are public by design (a shared
    // link, the IdP's answer); everything an org manages is its own.
    ("GET", "/sign-in/sso", Kind::Public),
    ("POST", "/sign-in/sso", Kind::Public),
    ("GET", "/sso/{id}/start", Kind::SignInLink),
    ("POST", "/sso/{id}/start", Kind::Public),
    ("GET", "/sso/oidc/callback", Kind::Public),
    ("POST", "/sso/oidc/callback", Kind::Public),
    ("GET", "/sso/saml/{id}/metadata", Kind::Public),
    ("POST", "/sso/saml/{id}/acs", Kind::Public),
    ("GET", "/account/passkeys", Kind::NoId),
    ("POST", "/account/passkeys/{id}/delete", Kind::OthersId),
    ("GET", "/account/sso", Kind::NoId),
    ("POST", "/account/sso/{id}/link", Kind::OthersId),
    ("POST", "/account/sso/unlink", Kind::NoId),
    ("GET", "/settings/sso", Kind::NoId),
    ("POST", "/settings/sso", Kind::NoId),
    ("POST", "/settings/sso/required", Kind::NoId),
    ("POST", "/settings/sso/{id}", Kind::OthersId),
    ("POST", "/settings/sso/{id}/delete", Kind::OthersId),
    ("GET", "/tokens", Kind::NoId),
    ("POST", "/tokens", Kind::NoId),
    ("POST", "/tokens/{prefix}/revoke", Kind::OthersId),
    ("GET", "/audit", Kind::NoId),
    // Operations
    ("GET", "/api/v1/projects/{slug}/suites", Kind::OthersId),
    ("POST", "/api/v1/projects/{slug}/suites", Kind::OthersId),
    (
        "PATCH",
        "/api/v1/projects/{slug}/suites/{suite}",
        Kind::OthersId,
    ),
    (
        "DELETE",
        "/api/v1/projects/{slug}/suites/{suite}",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/projects/{slug}/cases", Kind::OthersId),
    ("POST", "/api/v1/projects/{slug}/cases", Kind::OthersId),
    ("POST", "/api/v1/projects/{slug}/cases/bulk", Kind::OthersId),
    (
        "POST",
        "/api/v1/projects/{slug}/cases/import",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/cases/import-tests",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/cases/from-tests",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/projects/{slug}/cases/{key}", Kind::OthersId),
    (
        "PATCH",
        "/api/v1/projects/{slug}/cases/{key}",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/cases/{key}/place",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/cases/{key}/versions",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/cases/{key}/diff",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/cases/{key}/versions/{version}/restore",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/cases/{key}/automation",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/cases/{key}/automation",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/tests/{test}/case",
        Kind::OthersId,
    ),
    (
        "DELETE",
        "/api/v1/projects/{slug}/tests/{test}/case",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/unlinked-tests",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/projects/{slug}/fields", Kind::OthersId),
    ("POST", "/api/v1/projects/{slug}/fields", Kind::OthersId),
    (
        "PATCH",
        "/api/v1/projects/{slug}/fields/{field}",
        Kind::OthersId,
    ),
    (
        "DELETE",
        "/api/v1/projects/{slug}/fields/{field}",
        Kind::OthersId,
    ),
    ("GET", "/projects/{slug}/cases", Kind::OthersId),
    ("POST", "/projects/{slug}/cases", Kind::OthersId),
    ("GET", "/projects/{slug}/cases/new", Kind::OthersId),
    ("POST", "/projects/{slug}/cases/bulk", Kind::OthersId),
    ("POST", "/projects/{slug}/cases/import", Kind::OthersId),
    ("POST", "/projects/{slug}/cases/from-tests", Kind::OthersId),
    ("GET", "/projects/{slug}/cases/{key}", Kind::OthersId),
    ("POST", "/projects/{slug}/cases/{key}", Kind::OthersId),
    ("GET", "/projects/{slug}/cases/{key}/edit", Kind::OthersId),
    ("POST", "/projects/{slug}/cases/{key}/place", Kind::OthersId),
    (
        "GET",
        "/projects/{slug}/cases/{key}/history",
        Kind::OthersId,
    ),
    (
        "POST",
        "/projects/{slug}/cases/{key}/versions/{version}/restore",
        Kind::OthersId,
    ),
    ("POST", "/projects/{slug}/suites", Kind::OthersId),
    ("POST", "/projects/{slug}/suites/{suite}", Kind::OthersId),
    (
        "POST",
        "/projects/{slug}/suites/{suite}/delete",
        Kind::OthersId,
    ),
    ("GET", "/projects/{slug}/fields", Kind::OthersId),
    ("POST", "/projects/{slug}/fields", Kind::OthersId),
    (
        "POST",
        "/projects/{slug}/fields/{field}/delete",
        Kind::OthersId,
    ),
    ("GET", "/projects/{slug}/unlinked", Kind::OthersId),
    ("POST", "/projects/{slug}/tests/{test}/case", Kind::OthersId),
    ("GET", "/api/v1/projects/{slug}/milestones", Kind::OthersId),
    ("POST", "/api/v1/projects/{slug}/milestones", Kind::OthersId),
    (
        "PATCH",
        "/api/v1/projects/{slug}/milestones/{id}",
        Kind::OthersId,
    ),
    ("GET", "/api/v1/projects/{slug}/plans", Kind::OthersId),
    ("POST", "/api/v1/projects/{slug}/plans", Kind::OthersId),
    (
        "POST",
        "/api/v1/projects/{slug}/manual-runs",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/runs/{run}/manual",
        Kind::OthersId,
    ),
    (
        "PUT",
        "/api/v1/projects/{slug}/runs/{run}/manual/{key}",
        Kind::OthersId,
    ),
    (
        "PUT",
        "/api/v1/projects/{slug}/runs/{run}/manual/{key}/assignee",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/runs/{run}/complete",
        Kind::OthersId,
    ),
    ("GET", "/projects/{slug}/plans", Kind::OthersId),
    ("POST", "/projects/{slug}/plans", Kind::OthersId),
    ("POST", "/projects/{slug}/milestones", Kind::OthersId),
    (
        "POST",
        "/projects/{slug}/milestones/{id}/status",
        Kind::OthersId,
    ),
    ("POST", "/projects/{slug}/manual-runs", Kind::OthersId),
    (
        "GET",
        "/projects/{slug}/runs/{number}/execute",
        Kind::OthersId,
    ),
    (
        "POST",
        "/projects/{slug}/runs/{number}/execute/{key}",
        Kind::OthersId,
    ),
    (
        "POST",
        "/projects/{slug}/runs/{number}/complete",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/cases/{key}/attachments",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/cases/{key}/attachments",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/cases/{key}/attachments/{id}",
        Kind::OthersId,
    ),
    (
        "DELETE",
        "/api/v1/projects/{slug}/cases/{key}/attachments/{id}",
        Kind::OthersId,
    ),
    (
        "POST",
        "/projects/{slug}/cases/{key}/attachments",
        Kind::OthersId,
    ),
    (
        "GET",
        "/projects/{slug}/cases/{key}/attachments/{id}",
        Kind::OthersId,
    ),
    (
        "POST",
        "/projects/{slug}/cases/{key}/attachments/{id}/delete",
        Kind::OthersId,
    ),
    (
        "GET",
        "/api/v1/projects/{slug}/shared-steps",
        Kind::OthersId,
    ),
    (
        "POST",
        "/api/v1/projects/{slug}/shared-steps",
        Kind::OthersId,
    ),
    (
        "PATCH",
        "/api/v1/projects/{slug}/shared-steps/{id}",
        Kind::OthersId,
    ),
    ("GET", "/projects/{slug}/shared-steps", Kind::OthersId),
    ("POST", "/projects/{slug}/shared-steps", Kind::OthersId),
    ("POST", "/projects/{slug}/shared-steps/{id}", Kind::OthersId),
    (
        "POST",
        "/api/v1/projects/{slug}/runs/{run}/manual/{key}/files",
        Kind::OthersId,
    ),
    (
        "POST",
        "/projects/{slug}/runs/{number}/execute/{key}/files",
        Kind::OthersId,
    ),
    ("GET", "/healthz", Kind::Public),
    ("GET", "/readyz", Kind::Public),
    ("GET", "/metrics", Kind::Public),
];

/// `(METHOD, path)` of every `.route(…)` in a router source file.
fn routes_in(file: &str, prefix: &str) -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../web/src")
            .join(file),
    )
    .expect("router source");
    let mut out = BTreeSet::new();
    for (start, _) in src.match_indices(".route(") {
        let rest = &src[start + ".route(".len()..];
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find_map(|(i, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                (depth == 0).then_some(i)
            })
            .expect("balanced route call");
        let call = &rest[..end];
        let path = call.split('"').nth(1).expect("a path literal").to_string();
        for method in ["get", "post", "put", "delete", "patch"] {
            let needle = format!("{method}(");
            let found = call.match_indices(&needle).any(|(i, _)| {
                i == 0
                    || !call[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if found {
                out.insert((method.to_uppercase(), format!("{prefix}{path}")));
            }
        }
    }
    out
}

#[test]
fn every_route_is_in_the_matrix() {
    let mut served = routes_in("api/v1/mod.rs", "/api/v1");
    served.extend(routes_in("ui/mod.rs", ""));
    served.extend(routes_in("ops.rs", ""));
    let covered: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = served.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes not covered by the tenant matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "matrix entries for routes that no longer exist: {stale:?}"
    );
}

struct OrgB {
    org: String,
    user: String,
    session: String,
    invitation: String,
    prefix: String,
    token: String,
    role: String,
    run: String,
    suite: String,
    case: String,
    field: String,
    sso: String,
    canaries: Vec<String>,
}

async fn make_org_b(app: &TestApp) -> (Client, OrgB) {
    let core = &app.server.as_ref().expect("running").core;
    let op = testvault_core::Operator::unsafe_local_admin();
    let created = core
        .create_org(
            &op,
            testvault_domain::OrgName::parse("Globex").expect("name"),
            testvault_domain::Email::parse("hank@globex.test").expect("email"),
            Some(testvault_domain::PersonName::parse("Hank Scorpio").expect("name")),
            Some(
                testvault_domain::NewPassword::parse("globex owner passphrase").expect("password"),
            ),
        )
        .await
        .expect("org B");
    let hank = app.client();
    assert_eq!(
        hank.sign_in("hank@globex.test", "globex owner passphrase")
            .await
            .status,
        200
    );
    hank.post_json("/api/v1/projects", &json!({ "slug": "globex-secret", "name": "Doomsday device", "description": "GLOBEX-CANARY" }))
        .await;
    let inv = hank
        .post_json(
            "/api/v1/invitations",
            &json!({ "email": "zed@globex.test" }),
        )
        .await
        .json();
    let tok = hank
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "globex ci", "scopes": ["admin"] }),
        )
        .await
        .json();
    let role = hank
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "Globex overlord", "permissions": ["read_projects", "read_audit"] }),
        )
        .await
        .json();
    let run = hank
        .post_json(
            "/api/v1/projects/globex-secret/runs",
            &json!({ "title": "GLOBEX-RUN-CANARY", "branch": "globex-branch" }),
        )
        .await
        .json();
    let suite = hank
        .post_json(
            "/api/v1/projects/globex-secret/suites",
            &json!({ "name": "GLOBEX-SUITE-CANARY" }),
        )
        .await
        .json();
    let case = hank
        .post_json(
            "/api/v1/projects/globex-secret/cases",
            &json!({ "title": "GLOBEX-CASE-CANARY", "steps": [{ "action": "GLOBEX-STEP-CANARY" }] }),
        )
        .await
        .json();
    let field = hank
        .post_json(
            "/api/v1/projects/globex-secret/fields",
            &json!({ "name": "GLOBEX-FIELD-CANARY" }),
        )
        .await
        .json();
    // A SAML connection from pasted metadata: no provider needs to be reachable.
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.globex.test/GLOBEX-IDP-CANARY"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.globex.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        "R0xPQkVY"
    );
    let sso = hank
        .post_json(
            "/api/v1/org/sso/connections",
            &json!({ "preset": "saml", "name": "GLOBEX-SSO-CANARY", "idp_metadata_xml": metadata }),
        )
        .await;
    assert_eq!(sso.status, 201, "B's connection: {}", sso.body);
    let sso = sso.json();
    let me = hank.get("/api/v1/me").await.json();
    let b = OrgB {
        org: created.org.to_string(),
        user: me["data"]["user"].as_str().expect("user").to_string(),
        session: me["data"]["session"].as_str().expect("session").to_string(),
        invitation: inv["data"]["id"].as_str().expect("invitation").to_string(),
        prefix: tok["data"]["prefix"].as_str().expect("prefix").to_string(),
        token: tok["data"]["token"].as_str().expect("token").to_string(),
        role: role["data"]["id"].as_str().expect("role").to_string(),
        run: run["data"]["id"].as_str().expect("run").to_string(),
        suite: suite["data"]["id"].as_str().expect("suite").to_string(),
        case: case["data"]["key"].as_str().expect("case").to_string(),
        field: field["data"]["id"].as_str().expect("field").to_string(),
        sso: sso["data"]["id"].as_str().expect("connection").to_string(),
        canaries: vec![],
    };
    let canaries = vec![
        "Globex".into(),
        "globex-secret".into(),
        "Doomsday".into(),
        "GLOBEX-CANARY".into(),
        "hank@globex.test".into(),
        "zed@globex.test".into(),
        b.user.clone(),
        b.session.clone(),
        b.invitation.clone(),
        b.prefix.clone(),
        b.role.clone(),
        "overlord".into(),
        b.run.clone(),
        "GLOBEX-RUN-CANARY".into(),
        "globex-branch".into(),
        b.suite.clone(),
        b.case.clone(),
        "GLOBEX-SUITE-CANARY".into(),
        "GLOBEX-CASE-CANARY".into(),
        "GLOBEX-STEP-CANARY".into(),
        "GLOBEX-FIELD-CANARY".into(),
        "GLOBEX-SSO-CANARY".into(),
        "GLOBEX-IDP-CANARY".into(),
    ];
    (hank, OrgB { canaries, ..b })
}

fn fill(path: &str, b: &OrgB) -> String {
    let id = if path.contains("invitations") {
        &b.invitation
    } else if path.contains("/sso/") {
        &b.sso
    } else {
        &b.session
    };
    path.replace("{slug}", "globex-secret")
        .replace("{user}", &b.user)
        .replace("{prefix}", &b.prefix)
        .replace("{role}", &b.role)
        .replace("{run}", &b.run)
        .replace("{suite}", &b.suite)
        .replace("{key}", &format!("T{}", b.case))
        .replace("{field}", &b.field)
        .replace("{file}", "00000000-0000-4000-8000-000000000000")
        .replace("{version}", "1")
        .replace("{number}", "1")
        .replace("{test}", "1")
        .replace("{result}", "1")
        .replace("{signature}", "00000000000000ff")
        .replace("{id}", id)
        .replace("{token}", &"ab".repeat(32))
}

async fn call(c: &Client, method: &str, path: &str, b: &OrgB, bearer: Option<&str>) -> Resp {
    let url = c.url(path);
    let mut req = match method {
        "GET" => c.http.get(&url),
        "POST" => c.http.post(&url),
        "PUT" => c.http.put(&url),
        "DELETE" => c.http.delete(&url),
        "PATCH" => c.http.patch(&url),
        other => panic!("method {other}"),
    };
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if method == "POST" || method == "PUT" || method == "PATCH" {
        if path.starts_with("/api/") {
            // A body naming B wherever a body can name anything.
            let body = if path.ends_with("/results") {
                json!({ "results": [ { "name": "from A", "outcome": "passed" } ] })
            } else if path.ends_with("/runs") || path.ends_with("/finish") {
                json!({})
            } else if method == "PUT" && path.contains("/roles/") {
                json!({ "name": "From A", "permissions": ["read_projects"] })
            } else if path.contains("/manual")
                || path.ends_with("/complete")
                || path.contains("/milestones")
                || path.ends_with("/plans")
            {
                json!({ "name": "From A", "status": "closed", "outcome": "passed", "keys": [format!("T{}", b.case)], "selection": { "keys": [format!("T{}", b.case)] } })
            } else if path.contains("/sso/connections") {
                json!({ "preset": "generic", "name": "From A", "issuer": "https://idp.acme.test", "client_id": "a" })
            } else if path.contains("/shared-steps") {
                json!({ "title": "From A", "steps": [{ "action": "x" }] })
            } else if path.ends_with("/import-tests") {
                json!({ "files": [], "tests": [] })
            } else if path.contains("/cases")
                || path.contains("/suites")
                || path.contains("/fields")
            {
                json!({ "title": "From A", "name": "From A", "keys": [format!("T{}", b.case)], "tests": [1], "test": 1,
                        "files": [], "suite": b.suite, "parent": b.suite, "position": 1 })
            } else if method == "PUT" && path.contains("/role") || path.contains("/access/") {
                json!({ "role": "viewer" })
            } else {
                json!({ "slug": "from-a", "name": "From A", "email": "x@acme.test", "scopes": ["read"], "org": b.org, "idle_timeout_minutes": 30, "reason": "from A", "label": "test_bug" })
            };
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        } else {
            let csrf = c.csrf().await;
            let body = format!(
                "csrf={csrf}&org={}&name=From+A&slug=from-a&email=x%40acme.test&expires_in_days=30&scope_read=on&idle_timeout_minutes=30&absolute_timeout_hours=12&ip_allowlist=&role=viewer&permissions=read_projects&reason=from+A&label=test_bug&user={}",
                b.org, b.user
            );
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
    }
    c.send(req).await
}

async fn org_a_cannot_reach_org_b_through_any_route(backend: Backend) {
    let app = TestApp::start(backend).await;
    let a = app.setup_owner().await;
    let (hank, b) = make_org_b(&app).await;
    let a_token = a
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "a admin", "scopes": ["admin"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();

    let mut failures = Vec::new();
    // The audit trail first: later it rightly records A's own attempts (whose paths carry the ids
    // A sent), which are A's data, not B's. Sign-out routes last: they end A's session.
    let mut routes: Vec<_> = ROUTES.to_vec();
    routes.sort_by_key(|(_, p, _)| match *p {
        p if p.ends_with("/audit") => 0,
        p if p.contains("sign-out") => 2,
        _ => 1,
    });
    for (method, path, kind) in routes {
        let filled = fill(path, &b);
        let api = path.starts_with("/api/");
        let mut as_whom: Vec<(&str, Option<&str>)> = vec![("A's session", None)];
        if api {
            as_whom.push(("A's admin token", Some(a_token.as_str())));
        }
        for (who, bearer) in as_whom {
            let resp = call(&a, method, &filled, &b, bearer).await;
            let expected = match (kind, bearer) {
                (Kind::OthersId, _) | (Kind::OthersIdSessionOnly, None) => Some(404),
                (Kind::OthersIdSessionOnly, Some(_)) => Some(403),
                _ => None,
            };
            if expected.is_some_and(|e| e != resp.status) {
                failures.push(format!(
                    "{method} {filled} as {who}: {} (expected {expected:?})",
                    resp.status
                ));
            }
            for canary in &b.canaries {
                let named_by_design = kind == Kind::SignInLink
                    && (canary == "Globex" || canary == "GLOBEX-SSO-CANARY");
                if !named_by_design && resp.body.contains(canary.as_str()) {
                    failures.push(format!(
                        "{method} {filled} as {who}: body contains B's `{canary}`"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "tenant isolation failures:\n{}",
        failures.join("\n")
    );

    // And B is untouched.
    assert_eq!(
        hank.get("/api/v1/me").await.status,
        200,
        "B's session survived"
    );
    let c = Client::new(&app.url, app.ca_pem());
    let by_token = c
        .send(
            c.http
                .get(c.url("/api/v1/projects"))
                .header("authorization", format!("Bearer {}", b.token)),
        )
        .await;
    assert_eq!(by_token.status, 200, "B's token survived");
    assert!(by_token.body.contains("globex-secret"));
    assert_eq!(
        hank.get("/api/v1/invitations").await.json()["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
