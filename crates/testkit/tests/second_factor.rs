#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! TOTP two-factor authentication on both backends, with codes computed the way an
//! authenticator app does (RFC 6238) from the secret the server hands out: enrolment, sign-in
//! with a code or a recovery code, replay and lock-out, other sessions ended, org enforcement,
//! the pages, and the secret sealed at rest.

use serde_json::{Value, json};
use testvault_crypto::totp::{self, TotpSecret};
use testvault_testkit::{Backend, Client, OWNER_EMAIL, OWNER_PASSWORD, TestApp, on_both_backends};

on_both_backends!(
    codes_finish_sign_ins_once_each_and_wrong_ones_lock_out,
    an_org_can_require_members_to_set_a_second_factor_up,
    the_pages_set_the_factor_up_and_ask_for_the_code
);

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("time")
}

/// The code an authenticator shows `offset` steps from now.
fn code(secret: &TotpSecret, offset: i64) -> String {
    let step = totp::step_of(now()) as i64 + offset;
    totp::code_at(secret, u64::try_from(step).expect("step"))
}

/// Sets up the factor for the signed-in `client`; returns the secret, the recovery codes and
/// the code that confirmed it (spent: its time step never works again).
async fn enrol(client: &Client) -> (TotpSecret, Vec<String>, String) {
    let started = client
        .post_json("/api/v1/me/second-factor", &json!({}))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let data = started.json()["data"].clone();
    let secret_text = data["secret"].as_str().expect("secret").to_string();
    let uri = data["uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/Testvault:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret_text}")), "{uri}");
    let secret = TotpSecret::from_base32(&secret_text).expect("base32");
    let wrong = client
        .post_json(
            "/api/v1/me/second-factor/confirm",
            &json!({ "code": "000000" }),
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    let confirming = code(&secret, 0);
    let confirmed = client
        .post_json(
            "/api/v1/me/second-factor/confirm",
            &json!({ "code": confirming }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let codes: Vec<String> = confirmed.json()["data"]["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes, confirming)
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> (Client, Value) {
    let c = app.client();
    let r = c.sign_in(email, password).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let waiting = r.json()["waiting"].clone();
    (c, waiting)
}

async fn codes_finish_sign_ins_once_each_and_wrong_ones_lock_out(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let (elsewhere, waiting) = sign_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(waiting, Value::Null, "no factor yet: a whole session");
    let status = owner.get("/api/v1/me/second-factor").await.json()["data"].clone();
    assert_eq!(status["enabled"], false, "{status}");

    let (secret, recovery, spent) = enrol(&owner).await;
    // Turning the factor on ends the user's other sessions, not this one.
    assert_eq!(elsewhere.get("/api/v1/me").await.status, 401);
    assert_eq!(owner.get("/api/v1/me").await.status, 200);
    let status = owner.get("/api/v1/me/second-factor").await.json()["data"].clone();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["recovery_codes_left"], 10);
    // A second enrolment is refused while one is on.
    assert_eq!(
        owner
            .post_json("/api/v1/me/second-factor", &json!({}))
            .await
            .status,
        409
    );

    // The password alone opens a session that does nothing but wait for the code.
    let (c, waiting) = sign_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(waiting, "second_factor_required");
    let me = c.get("/api/v1/me").await;
    assert_eq!(me.status, 401, "{}", me.body);
    assert_eq!(me.json()["error"]["code"], "second_factor_required");
    assert_eq!(c.get("/api/v1/projects").await.status, 401);
    // The code that confirmed the enrolment is spent: its step never works again (that very
    // code, not the current step's: a 30 s step may have ended since).
    let replay = c
        .post_json("/api/v1/auth/second-factor", &json!({ "code": spent }))
        .await;
    assert_eq!(replay.status, 422, "{}", replay.body);
    let next = code(&secret, 1);
    let waiting_cookie = c.cookie("__Host-tv_session").expect("a session cookie");
    let ok = c
        .post_json("/api/v1/auth/second-factor", &json!({ "code": next }))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(c.get("/api/v1/me").await.status, 200);
    // The session got a new id: the one that waited for the code is dead.
    assert_ne!(c.cookie("__Host-tv_session"), Some(waiting_cookie.clone()));
    let stale = app.client();
    stale.set_cookie_value("__Host-tv_session", &waiting_cookie);
    assert_eq!(stale.get("/api/v1/me").await.status, 401);
    // A session waiting for its code lives ten minutes.
    let (slow, _) = sign_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    app.sql("UPDATE sessions SET created_at = created_at - 601 WHERE stage = 'second_factor'")
        .await;
    let r = slow
        .post_json(
            "/api/v1/auth/second-factor",
            &json!({ "code": code(&secret, 1) }),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    // Recovery codes are kept as keyed hashes, not as plain SHA-256 of the code.
    let plain = testvault_crypto::TokenHash::of(&totp::normalise_recovery_code(&recovery[0])).0;
    let stored = app
        .sql_bytes("SELECT code_hash FROM recovery_codes")
        .await
        .expect("codes");
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, plain);
    // The same code on another sign-in: refused.
    let (c2, _) = sign_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let again = c2
        .post_json("/api/v1/auth/second-factor", &json!({ "code": next }))
        .await;
    assert_eq!(again.status, 422, "{}", again.body);

    // A recovery code works once, however it is typed.
    let typed = recovery[0].to_uppercase().replace('-', " ");
    let r = c2
        .post_json("/api/v1/auth/second-factor", &json!({ "code": typed }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (c3, _) = sign_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let r = c3
        .post_json(
            "/api/v1/auth/second-factor",
            &json!({ "code": recovery[0] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        c2.get("/api/v1/me/second-factor").await.json()["data"]["recovery_codes_left"],
        9
    );

    // New recovery codes need a current code; turning the factor off needs the password and
    // ends the other sessions.
    let r = c2
        .post_json(
            "/api/v1/me/second-factor/recovery-codes",
            &json!({ "code": code(&secret, -1) }),
        )
        .await;
    assert!(r.status == 200 || r.status == 422, "{}", r.body);
    let r = c
        .post_json(
            "/api/v1/me/second-factor/disable",
            &json!({ "password": "wrong password!" }),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = c
        .post_json(
            "/api/v1/me/second-factor/disable",
            &json!({ "password": OWNER_PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        c2.get("/api/v1/me").await.status,
        401,
        "other sessions ended"
    );
    let (d, waiting) = sign_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(waiting, Value::Null);
    assert!(
        d.get("/api/v1/audit?limit=200")
            .await
            .body
            .contains("auth.second_factor_disabled")
    );

    // On again with a new secret, for the lock-out.
    let (secret, _, _) = enrol(&d).await;
    let (c3, _) = sign_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    // A burst of parallel guesses: at most five are checked, the rest wait (the attempt is
    // reserved atomically before its code is looked at).
    let pending = c3.cookie("__Host-tv_session").expect("a session cookie");
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..20 {
        let guesser = app.client();
        guesser.set_cookie_value("__Host-tv_session", &pending);
        let csrf = c3.cookie("__Host-tv_csrf");
        if let Some(t) = csrf {
            guesser.set_cookie_value("__Host-tv_csrf", &t);
        }
        burst.spawn(async move {
            guesser
                .post_json(
                    "/api/v1/auth/second-factor",
                    &json!({ "code": format!("{:06}", 100_000 + i) }),
                )
                .await
                .status
        });
    }
    let statuses: Vec<u16> = burst.join_all().await;
    let checked = statuses.iter().filter(|s| **s == 422).count();
    assert!(checked <= 5, "{checked} guesses were checked: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 422 || *s == 429),
        "{statuses:?}"
    );
    // Wait the lock-out out (2 s), then the single-request path below.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // Wrong codes: five are free, then growing lock-outs (429 with Retry-After).
    let mut locked = None;
    for _ in 0..8 {
        let r = c3
            .post_json("/api/v1/auth/second-factor", &json!({ "code": "123456" }))
            .await;
        if r.status == 429 {
            locked = Some(r);
            break;
        }
        assert_eq!(r.status, 422, "{}", r.body);
    }
    let locked = locked.expect("locked out after repeated wrong codes");
    assert!(locked.header("retry-after").is_some());
    // Locked out, even the right code waits.
    let r = c3
        .post_json(
            "/api/v1/auth/second-factor",
            &json!({ "code": code(&secret, 0) }),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);

    // The secret is sealed at rest.
    let stored = app
        .sql_bytes("SELECT secret FROM user_factors")
        .await
        .expect("a factor");
    assert!(
        !stored
            .windows(secret.as_bytes().len())
            .any(|w| w == secret.as_bytes())
    );
    assert!(!String::from_utf8_lossy(&stored).contains(secret.to_base32().as_str()));

    let audit = d.get("/api/v1/audit?limit=200").await.body;
    for action in [
        "auth.second_factor_enabled",
        "auth.second_factor_passed",
        "auth.recovery_code_used",
        "auth.second_factor_failed",
    ] {
        assert!(audit.contains(action), "{action} is audited");
    }
}

async fn an_org_can_require_members_to_set_a_second_factor_up(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "max@acme.test", "max's long passphrase")
        .await;
    // A personal token the member made before the requirement.
    let token = member
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "laptop", "scopes": ["read"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    // The owner enrols, then requires it of everyone.
    enrol(&owner).await;
    let r = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "require_second_factor": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["require_second_factor"], true);
    assert!(
        owner
            .get("/api/v1/audit")
            .await
            .body
            .contains("security.second_factor_requirement_changed")
    );

    // The member's live session now does nothing but set a factor up.
    let me = member.get("/api/v1/me").await;
    assert_eq!(me.status, 403, "{}", me.body);
    assert_eq!(
        me.json()["error"]["code"],
        "second_factor_enrolment_required"
    );
    let by_token = app
        .client()
        .send(
            testvault_testkit::http_client(app.ca_pem())
                .get(app.client().url("/api/v1/projects"))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(by_token.status, 403, "{}", by_token.body);
    let page = member.get("/projects").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("location").as_deref(),
        Some("/account/two-factor")
    );
    assert_eq!(member.get("/account/two-factor").await.status, 200);
    let (secret, _, _) = enrol(&member).await;
    assert_eq!(member.get("/api/v1/me").await.status, 200);
    // Nobody turns it off while it is required.
    let r = member
        .post_json(
            "/api/v1/me/second-factor/disable",
            &json!({ "password": "max's long passphrase" }),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // A new sign-in asks for the code.
    let (c, waiting) = sign_in(&app, "max@acme.test", "max's long passphrase").await;
    assert_eq!(waiting, "second_factor_required");
    let r = c
        .post_json(
            "/api/v1/auth/second-factor",
            &json!({ "code": code(&secret, 1) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A lost phone: an owner resets the member's factor; every session of theirs ends, and
    // the next sign-in must set one up again (the org requires it).
    let max = member.get("/api/v1/me").await.json()["data"]["user"]
        .as_str()
        .expect("user")
        .to_string();
    let by_member = c
        .delete(&format!("/api/v1/members/{max}/second-factor"))
        .await;
    assert_eq!(by_member.status, 403, "a member cannot reset factors");
    let owner_id = owner.get("/api/v1/me").await.json()["data"]["user"]
        .as_str()
        .expect("user")
        .to_string();
    let own = owner
        .delete(&format!("/api/v1/members/{owner_id}/second-factor"))
        .await;
    assert_eq!(
        own.status, 409,
        "one's own factor goes off with the password: {}",
        own.body
    );
    let reset = owner
        .delete(&format!("/api/v1/members/{max}/second-factor"))
        .await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    assert_eq!(
        c.get("/api/v1/me").await.status,
        401,
        "the member's sessions ended"
    );
    let (again, waiting) = sign_in(&app, "max@acme.test", "max's long passphrase").await;
    assert_eq!(waiting, "second_factor_enrolment_required");
    assert_eq!(again.get("/api/v1/me").await.status, 403);
    assert!(
        owner
            .get("/api/v1/audit")
            .await
            .body
            .contains("auth.second_factor_reset")
    );
}

async fn the_pages_set_the_factor_up_and_ask_for_the_code(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let page = owner.get("/account/two-factor").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Set up two-factor authentication"));
    let started = owner.post_form("/account/two-factor/start", &[]).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert!(
        started.body.contains("<svg"),
        "a QR code drawn by the server"
    );
    let key = started
        .body
        .split("Key: <code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the key as text")
        .to_string();
    assert!(
        !started.body.contains("otpauth://"),
        "the QR code holds the address; the page does not print it"
    );
    let secret = TotpSecret::from_base32(&key).expect("base32");
    let confirmed = owner
        .post_form(
            "/account/two-factor/confirm",
            &[("code", &code(&secret, 0))],
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(confirmed.body.contains("Your recovery codes"));

    // Signing in on the page goes on to the code, and the code to the projects.
    let browser = app.client();
    // The form needs its proof of work (the page script solves it): without one, refused.
    let r = browser
        .post_form(
            "/sign-in",
            &[("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let pow = browser.altcha().await;
    let r = browser
        .post_form(
            "/sign-in",
            &[
                ("email", OWNER_EMAIL),
                ("password", OWNER_PASSWORD),
                ("altcha", &pow),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    // A solution works once.
    let replayed = app
        .client()
        .post_form(
            "/sign-in",
            &[
                ("email", OWNER_EMAIL),
                ("password", OWNER_PASSWORD),
                ("altcha", &pow),
            ],
        )
        .await;
    assert_eq!(replayed.status, 422, "{}", replayed.body);
    assert_eq!(r.header("location").as_deref(), Some("/sign-in/code"));
    let projects = browser.get("/projects").await;
    assert_eq!(
        projects.header("location").as_deref(),
        Some("/sign-in/code")
    );
    assert_eq!(browser.get("/sign-in/code").await.status, 200);
    let wrong = browser
        .post_form("/sign-in/code", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, 422);
    let r = browser
        .post_form("/sign-in/code", &[("code", &code(&secret, 1))])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/projects"));
    assert_eq!(browser.get("/projects").await.status, 200);

    // The Security page requires it of every member.
    let r = owner
        .post_form(
            "/settings/security/two-factor",
            &[("require_second_factor", "on")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("checked"), "{}", r.body);
}
