#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! OpenID Connect single sign-on against a real provider (npm `oidc-provider`, several issuers,
//! over HTTPS on loopback), on both backends: just-in-time membership, identities keyed by
//! issuer and subject (never joined by email), linking from a signed-in account, allowed
//! domains, the "single sign-on required" policy, the Microsoft and Apple presets, and every
//! forgery the provider can be made to send — each refused with nothing stored.

use serde_json::{Value, json};
use testvault::config::Layer;
use testvault_testkit::idp::{OidcProvider, TlsFiles, follow, sso_round_trip, start_at_provider};
use testvault_testkit::{
    Backend, Client, OWNER_EMAIL, OWNER_PASSWORD, TestApp, TestDb, on_both_backends,
};

on_both_backends!(
    a_first_sign_in_makes_a_viewer_and_later_ones_sign_in_again,
    identities_are_never_joined_by_email_and_link_only_when_signed_in,
    forged_or_replayed_answers_are_refused_and_store_nothing,
    domains_and_the_sso_requirement_limit_who_gets_in,
    microsoft_multi_tenant_and_apple_presets_sign_in,
    connection_secrets_are_sealed_and_never_shown,
    another_orgs_connection_to_the_same_issuer_never_reaches_an_identity,
    single_sign_on_does_not_carry_into_an_org_that_requires_its_own,
    provider_hosts_can_be_limited
);

/// A server that trusts the provider's certificate, the provider, and the owner's client.
async fn start(backend: Backend, test: &str) -> Option<(TestApp, OidcProvider, Client)> {
    let tls = TlsFiles::new();
    let ca = tls.cert_path.clone();
    let db = TestDb::create(backend).await;
    let app = TestApp::start_with(db, |l| Layer {
        trusted_ca_file: Some(ca),
        ..l
    })
    .await;
    let idp = OidcProvider::start(test, tls, &format!("{}/sso/oidc/callback", app.url)).await?;
    let owner = app.setup_owner().await;
    Some((app, idp, owner))
}

async fn connect(owner: &Client, body: Value) -> String {
    let r = owner.post_json("/api/v1/org/sso/connections", &body).await;
    assert_eq!(r.status, 201, "create connection: {}", r.body);
    r.json()["data"]["id"].as_str().expect("id").to_string()
}

async fn generic(owner: &Client, idp: &OidcProvider, issuer: &str, extra: Value) -> String {
    let mut body = json!({
        "preset": "generic",
        "name": format!("Issuer {issuer}"),
        "issuer": idp.issuer(issuer),
        "client_id": idp.client_id(),
        "client_secret": idp.client_secret(),
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    connect(owner, body).await
}

fn location(r: &testvault_testkit::Resp) -> String {
    r.header("location").unwrap_or_default()
}

async fn me(client: &Client) -> Value {
    let r = client.get("/api/v1/me").await;
    assert_eq!(r.status, 200, "me: {}", r.body);
    r.json()["data"].clone()
}

async fn user_count(app: &TestApp) -> i64 {
    app.sql_i64("SELECT COUNT(*) FROM users").await
}

async fn a_first_sign_in_makes_a_viewer_and_later_ones_sign_in_again(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_first_sign_in").await else {
        return;
    };
    let id = generic(&owner, &idp, "a", json!({})).await;

    // The sign-in page finds no connection for a domain nobody configured, and the start
    // link goes to the provider with PKCE (S256), a state and a nonce.
    let alice = app.client();
    let r = sso_round_trip(&alice, &idp.browser, &format!("POST /sso/{id}/start")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(location(&r), "/projects");
    let auth = idp.last_authorization().await["params"].clone();
    assert_eq!(auth["code_challenge_method"], "S256");
    assert_eq!(auth["code_challenge"].as_str().map(str::len), Some(43));
    assert!(auth["nonce"].as_str().is_some_and(|n| n.len() >= 32));
    assert!(auth["state"].as_str().is_some_and(|n| n.len() >= 32));
    assert_eq!(
        auth["redirect_uri"],
        format!("{}/sso/oidc/callback", app.url)
    );
    let token = idp.last_token_request().await;
    assert!(
        token["headers"]["authorization"]
            .as_str()
            .is_some_and(|a| a.starts_with("Basic ")),
        "client_secret_basic: {token}"
    );
    assert!(
        token["form"]["code_verifier"]
            .as_str()
            .is_some_and(|v| v.len() >= 43)
    );
    assert!(
        token["form"]["client_secret"].is_null(),
        "the secret is not in the body"
    );

    let who = me(&alice).await;
    assert_eq!(who["email"], "alice@example.test");
    assert_eq!(who["display_name"], "Alice Example");
    assert_eq!(
        who["role"], "viewer",
        "just-in-time members get the least role"
    );
    assert_eq!(user_count(&app).await, 2);

    // The account has no password: signing in with any password fails like a wrong one.
    let pw = app
        .client()
        .sign_in("alice@example.test", "any password at all")
        .await;
    assert_eq!(pw.status, 401, "{}", pw.body);

    // Signing in again finds the same identity: same user, no second membership.
    let again = app.client();
    let r = sso_round_trip(&again, &idp.browser, &format!("POST /sso/{id}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    assert_eq!(me(&again).await["user"], who["user"]);
    assert_eq!(user_count(&app).await, 2);

    // Audited: the membership made by single sign-on, and the sign-ins.
    let audit = owner.get("/api/v1/audit").await.body;
    assert!(audit.contains("member.joined_through_sso"), "{audit}");
    assert!(audit.contains("sso.connection_created"), "{audit}");

    // The sign-in page finds the connection by the address's domain only when one lists it.
    let finder = app.client();
    let page = finder
        .post_form("/sign-in/sso", &[("email", "someone@example.test")])
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("No single sign-on is set up"),
        "{}",
        page.body
    );
    let r = owner
        .put_json(
            &format!("/api/v1/org/sso/connections/{id}"),
            &json!({ "preset": "generic", "name": "Acme IdP", "issuer": idp.issuer("a"),
                     "client_id": idp.client_id(), "allowed_domains": "example.test" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found = finder
        .post_form("/sign-in/sso", &[("email", "someone@example.test")])
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(
        found.body.contains(&format!("action=\"/sso/{id}/start\"")),
        "the connection is offered: {}",
        found.body
    );
    assert!(
        found.body.contains("(Acme)"),
        "with its org: {}",
        found.body
    );
    assert!(
        !found.body.contains("data-autofollow"),
        "a domain proves nothing: the person chooses"
    );
}

async fn identities_are_never_joined_by_email_and_link_only_when_signed_in(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_linking").await else {
        return;
    };
    let a = generic(&owner, &idp, "a", json!({})).await;
    let b = generic(&owner, &idp, "b", json!({})).await;

    // The provider vouches for the owner's address, but the account is never taken over by it.
    idp.set_user(json!({ "sub": "olive-at-a", "email": OWNER_EMAIL, "email_verified": true, "name": "Olive" }))
        .await;
    let stranger = app.client();
    let r = sso_round_trip(&stranger, &idp.browser, &format!("POST /sso/{a}/start")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("exists already"), "{}", r.body);
    assert!(stranger.cookie("__Host-tv_session").is_none());

    // Signed in, the owner links the identity; from then on it signs them in.
    let r = sso_round_trip(&owner, &idp.browser, &format!("POST /account/sso/{a}/link")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(location(&r), "/account/sso?linked=1");
    let fresh = app.client();
    let r = sso_round_trip(&fresh, &idp.browser, &format!("POST /sso/{a}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    assert_eq!(me(&fresh).await["email"], OWNER_EMAIL);
    assert_eq!(me(&fresh).await["role"], "owner");

    // The same subject at another issuer is another identity.
    let other = app.client();
    let r = sso_round_trip(&other, &idp.browser, &format!("POST /sso/{b}/start")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("exists already"), "{}", r.body);

    // A linked identity cannot be linked to a second account.
    let member = app
        .add_member(&owner, "max@acme.test", "member passphrase 123")
        .await;
    let r = sso_round_trip(
        &member,
        &idp.browser,
        &format!("POST /account/sso/{a}/link"),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // Listed, and unlinked (the owner keeps a password, so it is not their only way in).
    let mine = owner.get("/api/v1/me/sso").await.json();
    let ids = mine["data"]["identities"].as_array().expect("identities");
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["issuer"], idp.issuer("a"));
    let r = owner
        .post_json(
            "/api/v1/me/sso/unlink",
            &json!({ "issuer": idp.issuer("a"), "subject": "olive-at-a" }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let audit = owner.get("/api/v1/audit").await.body;
    assert!(audit.contains("sso.identity_linked"), "{audit}");
    assert!(audit.contains("sso.identity_unlinked"), "{audit}");

    // An account made by single sign-on cannot unlink its only way in.
    idp.set_user(json!({ "sub": "carol", "email": "carol@example.test", "email_verified": true }))
        .await;
    let carol = app.client();
    let r = sso_round_trip(&carol, &idp.browser, &format!("POST /sso/{a}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    let r = carol
        .post_json(
            "/api/v1/me/sso/unlink",
            &json!({ "issuer": idp.issuer("a"), "subject": "carol" }),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
}

async fn forged_or_replayed_answers_are_refused_and_store_nothing(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_forgeries").await else {
        return;
    };
    let id = generic(&owner, &idp, "a", json!({})).await;
    // One good sign-in first, so `replay_previous` has a token to replay.
    let first = app.client();
    let r = sso_round_trip(&first, &idp.browser, &format!("POST /sso/{id}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    idp.set_user(
        json!({ "sub": "mallory", "email": "mallory@example.test", "email_verified": true }),
    )
    .await;
    let users = user_count(&app).await;

    for (mode, says) in [
        ("wrong_iss", "issuer"),
        ("wrong_aud", "not meant for this client"),
        ("alg_none", "`none` is not accepted"),
        ("hs256_public_key", "`HS256` is not accepted"),
        ("expired", "expired"),
        ("wrong_nonce", "nonce"),
        ("missing_nonce", "nonce"),
        ("bad_signature", "does not verify"),
        ("unknown_kid", "no published key"),
        ("replay_previous", "nonce"),
    ] {
        idp.tamper(mode).await;
        let c = app.client();
        let r = sso_round_trip(&c, &idp.browser, &format!("POST /sso/{id}/start")).await;
        assert_eq!(r.status, 400, "{mode}: {}", r.body);
        assert!(
            r.body.contains(says),
            "{mode}: expected “{says}” in {}",
            r.body
        );
        assert!(
            c.cookie("__Host-tv_session").is_none(),
            "{mode}: no session"
        );
        assert_eq!(user_count(&app).await, users, "{mode}: nobody was made");
    }

    // The callback itself: a missing or made-up state, a replayed callback, another browser.
    let c = app.client();
    assert_eq!(c.get("/sso/oidc/callback?code=x").await.status, 410);
    assert_eq!(
        c.get("/sso/oidc/callback?code=x&state=made-up")
            .await
            .status,
        410
    );
    // The shared link asks first: no attempt and no cookie until its button is pressed.
    let page = c.get(&format!("/sso/{id}/start")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Acme"), "names the org: {}", page.body);
    assert!(page.set_cookie("__Host-tv_sso").is_none());
    let forged = c
        .post_body(
            &format!("/sso/{id}/start"),
            "application/x-www-form-urlencoded",
            String::new(),
        )
        .await;
    assert_eq!(forged.status, 403, "no CSRF token: {}", forged.body);
    let started = c.post_form(&format!("/sso/{id}/start"), &[]).await;
    assert_eq!(started.status, 200);
    // The binding cookie: host-only, HTTPS only, out of scripts' reach, 10 minutes; sent on the
    // providers' cross-site POSTs (SameSite=None), useless without the attempt's state.
    let binding = started
        .set_cookie("__Host-tv_sso")
        .expect("a binding cookie");
    for attr in [
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "Max-Age=600",
    ] {
        assert!(binding.contains(attr), "{attr} missing in {binding}");
    }
    assert!(!binding.to_lowercase().contains("domain="), "{binding}");
    let at_idp = follow(&c, &idp.browser, started).await;
    // `follow` finished the sign-in; the callback's URL is gone from history, so walk again
    // by hand and stop just before Testvault's callback.
    assert_eq!(location(&at_idp), "/projects", "{}", at_idp.body);
    let other_browser = app.client();
    let mut loc = start_at_provider(&c, &id).await;
    let mut callback = String::new();
    for _ in 0..10 {
        if let Some(path) = loc.strip_prefix(&app.url) {
            callback = path.to_string();
            break;
        }
        let path = loc
            .strip_prefix(&idp.browser.base)
            .map(str::to_string)
            .unwrap_or(loc);
        loc = location(&idp.browser.get(&path).await);
    }
    assert!(callback.starts_with("/sso/oidc/callback?"), "{callback}");
    let elsewhere = other_browser.get(&callback).await;
    assert_eq!(elsewhere.status, 410, "another browser: {}", elsewhere.body);
    let here = c.get(&callback).await;
    assert_eq!(
        here.status, 303,
        "the browser that started it: {}",
        here.body
    );
    let replayed = c.get(&callback).await;
    assert_eq!(
        replayed.status, 410,
        "a callback works once: {}",
        replayed.body
    );
}

async fn domains_and_the_sso_requirement_limit_who_gets_in(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_domains_required").await else {
        return;
    };
    // Requiring single sign-on without a connection would lock members out: refused.
    let r = owner
        .put_json("/api/v1/org/security", &json!({ "sso_required": true }))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    let id = generic(&owner, &idp, "a", json!({ "allowed_domains": "acme.test" })).await;
    let outsider = app.client();
    let r = sso_round_trip(&outsider, &idp.browser, &format!("POST /sso/{id}/start")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not an address"), "{}", r.body);

    // An unverified address is not one of the domain's either.
    idp.set_user(json!({ "sub": "eve", "email": "eve@acme.test", "email_verified": false }))
        .await;
    let r = sso_round_trip(
        &app.client(),
        &idp.browser,
        &format!("POST /sso/{id}/start"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    idp.set_user(
        json!({ "sub": "bob", "email": "bob@acme.test", "email_verified": true, "name": "Bob" }),
    )
    .await;
    let bob = app.client();
    let r = sso_round_trip(&bob, &idp.browser, &format!("POST /sso/{id}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);

    // A member with a password, signed in before the policy.
    let member = app
        .add_member(&owner, "max@acme.test", "member passphrase 123")
        .await;
    assert_eq!(member.get("/api/v1/me").await.status, 200);

    let r = owner
        .put_json("/api/v1/org/security", &json!({ "sso_required": true }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["sso_required"], true);

    // The member's password session ends at its next request; a new password sign-in is
    // refused; the single sign-on session goes on; owners keep their password.
    let r = member.get("/api/v1/me").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "sso_required");
    let r = app
        .client()
        .sign_in("max@acme.test", "member passphrase 123")
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(bob.get("/api/v1/me").await.status, 200);
    assert_eq!(owner.get("/api/v1/me").await.status, 200);
    assert_eq!(
        app.client()
            .sign_in(OWNER_EMAIL, OWNER_PASSWORD)
            .await
            .status,
        200
    );
    let page = app.client();
    let r = page
        .post_form(
            "/sign-in",
            &[
                ("email", "max@acme.test"),
                ("password", "member passphrase 123"),
                ("altcha", &page.altcha().await),
            ],
        )
        .await;
    assert!(r.body.contains("requires single sign-on"), "{}", r.body);

    // A disabled connection signs nobody in.
    let r = owner
        .put_json(
            &format!("/api/v1/org/sso/connections/{id}"),
            &json!({ "preset": "generic", "name": "Off", "enabled": false, "issuer": idp.issuer("a"),
                     "client_id": idp.client_id() }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.client().get(&format!("/sso/{id}/start")).await.status,
        404
    );
}

async fn microsoft_multi_tenant_and_apple_presets_sign_in(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_presets").await else {
        return;
    };
    let tenant = idp.info["ms_tenant_id"]
        .as_str()
        .expect("tenant")
        .to_string();
    // Microsoft's multi-tenant issuer: the token's issuer is checked against its tenant.
    let ms = connect(
        &owner,
        json!({ "preset": "microsoft", "name": "Microsoft", "issuer": idp.issuer("ms_common"),
                "client_id": idp.client_id(), "client_secret": idp.client_secret(),
                "tenants": tenant }),
    )
    .await;
    idp.set_user(json!({ "sub": "ms-user", "email": "meg@example.test", "email_verified": true, "name": "Meg" }))
        .await;
    let meg = app.client();
    let r = sso_round_trip(&meg, &idp.browser, &format!("POST /sso/{ms}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    let ids = meg.get("/api/v1/me/sso").await.json();
    assert_eq!(
        ids["data"]["identities"][0]["issuer"],
        idp.issuer("ms_tenant"),
        "the identity's issuer is the tenant's, not the template"
    );
    // Another tenant list: this tenant is not allowed.
    let r = owner
        .put_json(
            &format!("/api/v1/org/sso/connections/{ms}"),
            &json!({ "preset": "microsoft", "name": "Microsoft", "issuer": idp.issuer("ms_common"),
                     "client_id": idp.client_id(), "tenants": "00000000-0000-0000-0000-000000000000" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = sso_round_trip(
        &app.client(),
        &idp.browser,
        &format!("POST /sso/{ms}/start"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tenant"), "{}", r.body);

    // Apple: a client secret signed with the team's key, answers by form_post, booleans as
    // strings.
    let apple = &idp.info["apple"];
    let ap = connect(
        &owner,
        json!({ "preset": "apple", "name": "Apple", "issuer": idp.issuer("apple"),
                "client_id": apple["client_id"], "team_id": apple["team_id"], "key_id": apple["key_id"],
                "private_key": apple["private_key_pem"] }),
    )
    .await;
    idp.set_user(
        json!({ "sub": "apple-user", "email": "ann@example.test", "email_verified": true }),
    )
    .await;
    let ann = app.client();
    let r = sso_round_trip(&ann, &idp.browser, &format!("POST /sso/{ap}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    assert_eq!(me(&ann).await["email"], "ann@example.test");
    let auth = idp.last_authorization().await["params"].clone();
    assert_eq!(auth["response_mode"], "form_post");
    let token = idp.last_token_request().await;
    let secret = token["form"]["client_secret"]
        .as_str()
        .expect("a JWT secret");
    assert_eq!(secret.split('.').count(), 3, "{secret}");
    assert_eq!(token["form"]["client_id"], apple["client_id"]);

    // A key that is not a P-256 private key is refused when the connection is saved.
    let r = owner
        .post_json(
            "/api/v1/org/sso/connections",
            &json!({ "preset": "apple", "name": "Bad", "issuer": idp.issuer("apple"),
                     "client_id": "x", "team_id": "T", "key_id": "K", "private_key": "nope" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "private_key");
}

async fn connection_secrets_are_sealed_and_never_shown(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_secrets").await else {
        return;
    };
    let secret = idp.client_secret();
    let id = generic(&owner, &idp, "a", json!({})).await;
    let list = owner.get("/api/v1/org/sso/connections").await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains(&secret), "{}", list.body);
    assert_eq!(list.json()["data"][0]["has_secret"], true);
    let sealed = app
        .sql_bytes("SELECT secret_sealed FROM sso_connections WHERE name = 'Issuer a'")
        .await
        .expect("sealed secret");
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the client secret is sealed at rest"
    );
    let audit = owner.get("/api/v1/audit").await.body;
    assert!(!audit.contains(&secret), "the audit trail never holds it");
    let page = owner.get("/settings/sso").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("/sso/oidc/callback"),
        "shows the redirect URI"
    );
    assert!(!page.body.contains(&secret));

    // A wrong issuer is caught when the connection is saved, not at someone's sign-in.
    let r = owner
        .post_json(
            "/api/v1/org/sso/connections",
            &json!({ "preset": "generic", "name": "Typo", "issuer": format!("{}/nope", idp.issuer("a")),
                     "client_id": "x", "client_secret": "y" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "issuer");
    let r = owner
        .post_json(
            "/api/v1/org/sso/connections",
            &json!({ "preset": "generic", "name": "Clear", "issuer": "http://127.0.0.1:1",
                     "client_id": "x", "client_secret": "y" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Other members cannot see or change connections.
    let member = app
        .add_member(&owner, "max@acme.test", "member passphrase 123")
        .await;
    assert_eq!(member.get("/api/v1/org/sso/connections").await.status, 403);
    assert_eq!(
        member
            .delete(&format!("/api/v1/org/sso/connections/{id}"))
            .await
            .status,
        403
    );
    assert_eq!(
        owner
            .delete(&format!("/api/v1/org/sso/connections/{id}"))
            .await
            .status,
        204
    );
}

/// A second org, made by the operator, with its owner signed in.
async fn globex(app: &TestApp) -> (Client, String) {
    let core = &app.server.as_ref().expect("running").core;
    let created = core
        .create_org(
            &testvault_core::Operator::unsafe_local_admin(),
            testvault_domain::OrgName::parse("Globex").expect("name"),
            testvault_domain::Email::parse("hank@globex.test").expect("email"),
            Some(testvault_domain::PersonName::parse("Hank").expect("name")),
            Some(testvault_domain::NewPassword::parse("globex owner passphrase").expect("pw")),
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
    (hank, created.org.to_string())
}

/// Any org's owner may name any issuer (and could run a look-alike one): an identity met
/// through one org's connection signs in to that org only.
async fn another_orgs_connection_to_the_same_issuer_never_reaches_an_identity(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_cross_org").await else {
        return;
    };
    let a = generic(&owner, &idp, "a", json!({})).await;
    let alice = app.client();
    let r = sso_round_trip(&alice, &idp.browser, &format!("POST /sso/{a}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);

    let (hank, _) = globex(&app).await;
    let g = generic(&hank, &idp, "a", json!({})).await;
    let through_globex = app.client();
    let r = sso_round_trip(
        &through_globex,
        &idp.browser,
        &format!("POST /sso/{g}/start"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(through_globex.cookie("__Host-tv_session").is_none());
    let members = hank.get("/api/v1/members").await.json();
    assert_eq!(
        members["data"].as_array().map(Vec::len),
        Some(1),
        "Alice did not join Globex: {members}"
    );
    // Her identity still signs her in to Acme.
    let again = app.client();
    let r = sso_round_trip(&again, &idp.browser, &format!("POST /sso/{a}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    assert_eq!(me(&again).await["org_name"], "Acme");
}

/// A session made by one org's single sign-on, switched into an org that requires single
/// sign-on, is not that org's: the switch is refused.
async fn single_sign_on_does_not_carry_into_an_org_that_requires_its_own(backend: Backend) {
    let Some((app, idp, owner)) = start(backend, "oidc_switch_org").await else {
        return;
    };
    let a = generic(&owner, &idp, "a", json!({})).await;
    let (hank, globex_id) = globex(&app).await;
    // Olive (Acme's owner) joins Globex as a viewer with her existing account.
    let inv = hank
        .post_json("/api/v1/invitations", &json!({ "email": OWNER_EMAIL }))
        .await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    let link = inv.json()["data"]["link"]
        .as_str()
        .expect("link")
        .to_string();
    let path = link.trim_start_matches(&app.url).to_string();
    let accept = app.client();
    assert_eq!(accept.get(&path).await.status, 200);
    let r = accept
        .post_form(&path, &[("password", OWNER_PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let g = generic(&hank, &idp, "b", json!({})).await;
    let r = hank
        .put_json("/api/v1/org/security", &json!({ "sso_required": true }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!g.is_empty());

    // Olive links her identity at issuer a in Acme, then signs in to Acme through it.
    idp.set_user(json!({ "sub": "olive", "email": OWNER_EMAIL, "email_verified": true }))
        .await;
    let r = sso_round_trip(&owner, &idp.browser, &format!("POST /account/sso/{a}/link")).await;
    assert_eq!(location(&r), "/account/sso?linked=1", "{}", r.body);
    let c = app.client();
    let r = sso_round_trip(&c, &idp.browser, &format!("POST /sso/{a}/start")).await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    assert_eq!(me(&c).await["org_name"], "Acme");

    let r = c.post_form("/orgs/switch", &[("org", &globex_id)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("requires single sign-on"), "{}", r.body);
    assert_eq!(me(&c).await["org_name"], "Acme", "still in Acme");
}

/// `sso_provider_hosts` keeps owners from pointing the server's fetches anywhere else.
async fn provider_hosts_can_be_limited(backend: Backend) {
    let tls = TlsFiles::new();
    let ca = tls.cert_path.clone();
    let db = TestDb::create(backend).await;
    let app = TestApp::start_with(db, |l| Layer {
        trusted_ca_file: Some(ca),
        sso_provider_hosts: Some(vec!["login.example.com".into(), "*.okta.example".into()]),
        ..l
    })
    .await;
    let Some(idp) = OidcProvider::start(
        "oidc_provider_hosts",
        tls,
        &format!("{}/sso/oidc/callback", app.url),
    )
    .await
    else {
        return;
    };
    let owner = app.setup_owner().await;
    let r = owner
        .post_json(
            "/api/v1/org/sso/connections",
            &json!({ "preset": "generic", "name": "Internal", "issuer": idp.issuer("a"),
                     "client_id": idp.client_id(), "client_secret": idp.client_secret() }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("sso_provider_hosts"), "{}", r.body);
}
