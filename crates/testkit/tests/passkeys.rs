#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Passkeys over the API with a software authenticator (real P-256 signatures, "none"
//! attestation), on both backends: registration, passwordless sign-in, a passkey as the second
//! factor of a password sign-in, and the answers a server must refuse — a replayed ceremony,
//! another origin (phishing), a changed challenge, a counter that does not move (a cloned key),
//! an unknown credential. The browser walk-through does the same with Chromium's virtual
//! authenticator.

use serde_json::{Value, json};
use testvault_testkit::authenticator::SoftAuthenticator;
use testvault_testkit::{Backend, Client, OWNER_EMAIL, OWNER_PASSWORD, TestApp, on_both_backends};

on_both_backends!(
    a_passkey_signs_in_without_a_password_and_is_a_second_factor,
    forged_and_replayed_passkey_answers_are_refused,
    removing_passkeys_follows_the_rules_and_ends_other_sessions
);

/// The authenticator for `app`: passkeys live at `localhost` (the server's address is a
/// loopback IP, which cannot be a relying party).
fn authenticator(app: &TestApp) -> SoftAuthenticator {
    SoftAuthenticator::new(
        "localhost",
        &format!("https://localhost:{}", app.addr.port()),
    )
}

async fn register(client: &Client, key: &mut SoftAuthenticator, name: &str) -> Value {
    let start = client
        .post_json("/api/v1/me/passkeys/register", &json!({}))
        .await;
    assert_eq!(start.status, 200, "{}", start.body);
    let c = start.json()["data"].clone();
    assert_eq!(
        c["options"]["authenticatorSelection"]["residentKey"], "required",
        "a passkey that signs in alone lives on the authenticator"
    );
    assert_eq!(
        c["options"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(c["options"]["rp"]["id"], "localhost");
    let answer = key.register(&c["options"]);
    let done = client
        .post_json(
            "/api/v1/me/passkeys",
            &json!({ "ceremony": c["ceremony"], "credential": answer, "name": name }),
        )
        .await;
    assert_eq!(done.status, 201, "{}", done.body);
    done.json()["data"].clone()
}

/// A passwordless sign-in: `(status, body)`.
async fn passkey_sign_in(client: &Client, key: &mut SoftAuthenticator) -> testvault_testkit::Resp {
    let start = client
        .post_json("/api/v1/auth/passkey/start", &json!({}))
        .await;
    assert_eq!(start.status, 200, "{}", start.body);
    let c = start.json()["data"].clone();
    assert!(
        c["options"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "a discoverable sign-in names no credentials: {c}"
    );
    let answer = key.assert(&c["options"]);
    client
        .post_json(
            "/api/v1/auth/passkey",
            &json!({ "ceremony": c["ceremony"], "credential": answer }),
        )
        .await
}

async fn a_passkey_signs_in_without_a_password_and_is_a_second_factor(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let elsewhere = app.client();
    assert_eq!(
        elsewhere.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await.status,
        200
    );

    let mut key = authenticator(&app);
    let added = register(&owner, &mut key, "Laptop").await;
    assert_eq!(added["name"], "Laptop");
    // Like any change of a factor, the other sessions end; this one goes on.
    assert_eq!(elsewhere.get("/api/v1/me").await.status, 401);
    assert_eq!(owner.get("/api/v1/me").await.status, 200);
    let list = owner.get("/api/v1/me/passkeys").await.json();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert!(
        !list.to_string().contains("publicKey"),
        "no key material listed"
    );

    // Passwordless: the passkey names its user; the session needs no code.
    let phone = app.client();
    let r = passkey_sign_in(&phone, &mut key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["email"], OWNER_EMAIL);
    assert_eq!(phone.get("/api/v1/me").await.status, 200);
    let listed = owner.get("/api/v1/me/passkeys").await.json();
    assert!(listed["data"][0]["last_used_at"].is_i64(), "{listed}");

    // A password now waits for the second factor, and the passkey gives it.
    let laptop = app.client();
    let r = laptop.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["waiting"], "second_factor_required");
    assert_eq!(laptop.get("/api/v1/me").await.status, 401);
    let waiting_cookie = laptop
        .cookie("__Host-tv_session")
        .expect("a waiting session");
    let start = laptop
        .post_json("/api/v1/auth/second-factor/passkey/start", &json!({}))
        .await;
    assert_eq!(start.status, 200, "{}", start.body);
    let c = start.json()["data"].clone();
    assert_eq!(
        c["options"]["allowCredentials"].as_array().map(Vec::len),
        Some(1),
        "the user's own passkeys are offered"
    );
    let answer = key.assert(&c["options"]);
    let done = laptop
        .post_json(
            "/api/v1/auth/second-factor/passkey",
            &json!({ "ceremony": c["ceremony"], "credential": answer }),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(laptop.get("/api/v1/me").await.status, 200);
    assert_ne!(
        laptop.cookie("__Host-tv_session"),
        Some(waiting_cookie),
        "the session got a new id"
    );

    let audit = owner.get("/api/v1/audit").await.body;
    assert!(audit.contains("auth.passkey_added"), "{audit}");
    assert!(audit.contains("auth.second_factor_passed"), "{audit}");

    // The pages: the sign-in page and the code page offer it; the account page lists it.
    let page = app.client().get("/sign-in").await;
    assert!(
        page.body.contains("data-passkey=\"sign-in\""),
        "{}",
        page.body
    );
    let page = owner.get("/account/passkeys").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Laptop"), "{}", page.body);
}

async fn forged_and_replayed_passkey_answers_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let mut key = authenticator(&app);
    register(&owner, &mut key, "Laptop").await;

    // A ceremony is spent once.
    let c = app.client();
    let start = c.post_json("/api/v1/auth/passkey/start", &json!({})).await;
    let ceremony = start.json()["data"].clone();
    let answer = key.assert(&ceremony["options"]);
    let body = json!({ "ceremony": ceremony["ceremony"], "credential": answer });
    assert_eq!(c.post_json("/api/v1/auth/passkey", &body).await.status, 200);
    let again = app.client().post_json("/api/v1/auth/passkey", &body).await;
    assert_eq!(again.status, 410, "{}", again.body);

    // Another origin (a look-alike site relaying the ceremony): refused.
    let mut phished = authenticator(&app);
    std::mem::swap(&mut phished, &mut key);
    phished.origin = "https://testvault.evil.example".into();
    let r = passkey_sign_in(&app.client(), &mut phished).await;
    assert_eq!(r.status, 401, "{}", r.body);
    phished.origin = format!("https://localhost:{}", app.addr.port());

    // An answer to another challenge: refused.
    let start = app
        .client()
        .post_json("/api/v1/auth/passkey/start", &json!({}))
        .await;
    let mut options = start.json()["data"]["options"].clone();
    let real = start.json()["data"]["ceremony"].clone();
    options["challenge"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let answer = phished.assert(&options);
    let r = app
        .client()
        .post_json(
            "/api/v1/auth/passkey",
            &json!({ "ceremony": real, "credential": answer }),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);

    // A counter that stands still (a cloned authenticator showing the count the server has
    // seen already): refused.
    let r = passkey_sign_in(&app.client(), &mut phished).await;
    assert_eq!(r.status, 200, "the real key works: {}", r.body);
    phished.frozen_counter = true;
    let r = passkey_sign_in(&app.client(), &mut phished).await;
    assert_eq!(r.status, 401, "{}", r.body);
    phished.frozen_counter = false;

    // A credential this server never registered.
    let mut stranger = authenticator(&app);
    stranger.user_handle = phished.user_handle.clone();
    let r = passkey_sign_in(&app.client(), &mut stranger).await;
    assert_eq!(r.status, 401, "{}", r.body);

    // Malformed answers are a clear 4xx, not a 500.
    let start = app
        .client()
        .post_json("/api/v1/auth/passkey/start", &json!({}))
        .await;
    let r = app
        .client()
        .post_json(
            "/api/v1/auth/passkey",
            &json!({ "ceremony": start.json()["data"]["ceremony"], "credential": { "id": "x" } }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Registration answers are checked as well: one for another origin is refused.
    let start = owner
        .post_json("/api/v1/me/passkeys/register", &json!({}))
        .await
        .json()["data"]
        .clone();
    let mut fake = authenticator(&app);
    fake.origin = "https://localhost.evil.example".into();
    let answer = fake.register(&start["options"]);
    let r = owner
        .post_json(
            "/api/v1/me/passkeys",
            &json!({ "ceremony": start["ceremony"], "credential": answer, "name": "Fake" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        owner.get("/api/v1/me/passkeys").await.json()["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn removing_passkeys_follows_the_rules_and_ends_other_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "max@acme.test", "member passphrase 123")
        .await;
    let mut key = authenticator(&app);
    let added = register(&member, &mut key, "Phone").await;
    let id = added["id"].as_str().expect("id").to_string();
    // The owner has a factor too, or requiring one would stop them.
    let mut owners = authenticator(&app);
    let theirs = register(&owner, &mut owners, "Owner's").await;

    // The org requires a second factor: the member's last one cannot go.
    let r = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "require_second_factor": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A passkey is a second factor: the member is not sent to set one up.
    assert_eq!(member.get("/api/v1/me").await.status, 200);
    let r = member.delete(&format!("/api/v1/me/passkeys/{id}")).await;
    assert_eq!(r.status, 409, "{}", r.body);

    // Not required any more: removed; audited; the member's other sessions end.
    let r = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "require_second_factor": false }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let other = app.client();
    let r = passkey_sign_in(&other, &mut key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = member.delete(&format!("/api/v1/me/passkeys/{id}")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(other.get("/api/v1/me").await.status, 401);
    let r = passkey_sign_in(&app.client(), &mut key).await;
    assert_eq!(
        r.status, 401,
        "a removed passkey signs nobody in: {}",
        r.body
    );
    // Someone else's passkey id is "not found".
    let r = member
        .delete(&format!(
            "/api/v1/me/passkeys/{}",
            theirs["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // An owner's reset of a lost second factor takes the passkeys too.
    let mut again = authenticator(&app);
    register(&member, &mut again, "New phone").await;
    let me = member.get("/api/v1/me").await.json();
    let user = me["data"]["user"].as_str().expect("user").to_string();
    let r = owner
        .delete(&format!("/api/v1/members/{user}/second-factor"))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = passkey_sign_in(&app.client(), &mut again).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let audit = owner.get("/api/v1/audit").await.body;
    assert!(audit.contains("auth.passkey_removed"), "{audit}");
}
