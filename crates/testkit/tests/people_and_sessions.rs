//! Setup, sign-in, invitations, sessions and their timeouts — on SQLite and PostgreSQL.

use serde_json::json;
use testvault_testkit::{Backend, OWNER_EMAIL, OWNER_PASSWORD, TestApp, on_both_backends};

on_both_backends!(
    setup_link_creates_the_first_org_once,
    sign_in_errors_do_not_reveal_whether_the_account_exists,
    failed_sign_ins_are_throttled_with_retry_after,
    parallel_wrong_passwords_cannot_pass_the_limit,
    session_cookie_is_host_only_secure_and_rotated_at_sign_in,
    invitation_is_single_use_and_expires,
    members_see_projects_but_cannot_manage,
    everyone_can_list_and_revoke_their_own_sessions,
    owner_can_revoke_a_members_sessions,
    sessions_end_after_idle_and_absolute_timeouts,
    new_member_role_cannot_exceed_the_inviters,
);

async fn setup_link_creates_the_first_org_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let me = owner.get("/api/v1/me").await.json();
    assert_eq!(me["data"]["org_name"], "Acme");
    assert_eq!(me["data"]["role"], "owner");

    // The link is spent: the page says so and a second post stores nothing.
    let link = app.setup_link.clone().unwrap_or_default();
    let path = link.trim_start_matches(&app.url).to_string();
    let again = app.client();
    assert_eq!(again.get(&path).await.status, 410);
    let resp = again
        .post_form(
            &path,
            &[
                ("org_name", "Evil"),
                ("display_name", "E"),
                ("email", "e@evil.test"),
                ("password", OWNER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status, 410);
    assert_eq!(
        owner.get("/api/v1/orgs").await.json()["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn sign_in_errors_do_not_reveal_whether_the_account_exists(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.setup_owner().await;
    let c = app.client();
    let wrong_password = c
        .sign_in(OWNER_EMAIL, "not the right password at all")
        .await;
    let unknown_user = c
        .sign_in("nobody@acme.test", "not the right password at all")
        .await;
    assert_eq!(wrong_password.status, 401);
    assert_eq!(unknown_user.status, 401);
    assert_eq!(wrong_password.body, unknown_user.body);
    assert!(wrong_password.body.contains("wrong email or password"));
}

/// The instance's `rate_limits` setting moves where the lock-outs start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockouts_start_where_the_configured_limit_says() {
    let db = testvault_testkit::TestDb::create(Backend::Sqlite).await;
    let app = TestApp::start_with(db, |mut l| {
        l.rate_limits = Some("sign_in_per_account=1".into());
        l
    })
    .await;
    app.setup_owner().await;
    let c = app.client();
    for _ in 0..2 {
        assert_eq!(
            c.sign_in(OWNER_EMAIL, "wrong password number one")
                .await
                .status,
            401
        );
    }
    assert_eq!(c.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await.status, 429);
}

async fn failed_sign_ins_are_throttled_with_retry_after(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.setup_owner().await;
    let c = app.client();
    for _ in 0..5 {
        assert_eq!(
            c.sign_in(OWNER_EMAIL, "wrong password number one")
                .await
                .status,
            401
        );
    }
    // The sixth failure starts a lock; the next attempt — even with the right password — waits.
    assert_eq!(
        c.sign_in(OWNER_EMAIL, "wrong password number one")
            .await
            .status,
        401
    );
    let locked = c.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    let retry: i64 = locked
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(retry >= 1, "Retry-After: {retry}");
    assert_eq!(locked.json()["error"]["code"], "throttled");
}

/// Each attempt is counted before its password is checked: twenty guesses sent at once still
/// get at most the five free ones and the one that starts the lock-out checked.
async fn parallel_wrong_passwords_cannot_pass_the_limit(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.setup_owner().await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..20 {
        let c = app.client();
        burst.spawn(async move {
            c.sign_in(OWNER_EMAIL, &format!("wrong password number {i}"))
                .await
                .status
        });
    }
    let statuses: Vec<u16> = burst.join_all().await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(checked <= 6, "at most 6 passwords checked: {statuses:?}");
    assert_eq!(checked + throttled, 20, "{statuses:?}");
    let locked = app.client().sign_in(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
}

async fn session_cookie_is_host_only_secure_and_rotated_at_sign_in(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let first = owner.cookie("__Host-tv_session").unwrap_or_default();
    assert_eq!(first.len(), 64, "256-bit random id in hex");

    let resp = owner.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(resp.status, 200);
    let set = resp.set_cookie("__Host-tv_session").unwrap_or_default();
    for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(set.contains(attr), "{attr} missing in {set}");
    }
    assert!(!set.to_lowercase().contains("domain="));
    let second = owner.cookie("__Host-tv_session").unwrap_or_default();
    assert_ne!(first, second, "signing in issues a new session id");

    // The session id from before signing in no longer works.
    let stale = app.client();
    stale.set_cookie_value("__Host-tv_session", &first);
    assert_eq!(stale.get("/api/v1/me").await.status, 401);

    // Only the SHA-256 of the id is stored.
    let stored = app
        .sql_bytes("SELECT id_hash FROM sessions LIMIT 1")
        .await
        .unwrap_or_default();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&second));
}

async fn invitation_is_single_use_and_expires(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    // Throwaway addresses (the vendored list, subdomains too) are refused, and nothing is kept.
    for email in ["max@mailinator.com", "max@eu.mailinator.com"] {
        let r = owner
            .post_json("/api/v1/invitations", &json!({ "email": email }))
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.json()["error"]["field"], "email", "{}", r.body);
    }
    assert_eq!(
        owner.get("/api/v1/invitations").await.json()["data"],
        json!([])
    );
    let inv = owner
        .post_json("/api/v1/invitations", &json!({ "email": "max@acme.test" }))
        .await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    let link = inv.json()["data"]["link"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(link.starts_with(&format!("{}/invite/", app.url)));
    assert_eq!(
        inv.json()["data"]["role"],
        "viewer",
        "new members get level 1 by default"
    );
    let path = link.trim_start_matches(&app.url).to_string();

    let member = app.client();
    let ok = member
        .post_form(
            &path,
            &[
                ("display_name", "Max"),
                ("password", "a long and unusual passphrase"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    // Used once: the link is dead for everyone, including the same person.
    let reuse = app.client();
    assert_eq!(reuse.get(&path).await.status, 410);
    let again = reuse
        .post_form(
            &path,
            &[
                ("display_name", "Mallory"),
                ("password", "another long passphrase"),
            ],
        )
        .await;
    assert_eq!(again.status, 410);

    // An expired invitation cannot be used.
    let late = owner
        .post_json("/api/v1/invitations", &json!({ "email": "late@acme.test" }))
        .await;
    let late_path = late.json()["data"]["link"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches(&app.url)
        .to_string();
    app.sql("UPDATE invitations SET expires_at = expires_at - 8 * 24 * 3600 WHERE email = 'late@acme.test'").await;
    assert_eq!(app.client().get(&late_path).await.status, 410);

    // Only the hash of the token is stored.
    let token = path.trim_start_matches("/invite/");
    let stored = app
        .sql_bytes("SELECT token_hash FROM invitations WHERE email = 'max@acme.test'")
        .await
        .unwrap_or_default();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(token));
}

async fn members_see_projects_but_cannot_manage(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let created = owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "web", "name": "Web", "description": "the shop" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let member = app
        .add_member(&owner, "max@acme.test", "a long and unusual passphrase")
        .await;
    // A viewer reaches a project once granted it (levels below manager do not cover all).
    let max = member.get("/api/v1/me").await.json()["data"]["user"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let granted = owner
        .put_json(
            &format!("/api/v1/projects/web/access/{max}"),
            &json!({ "role": "viewer" }),
        )
        .await;
    assert_eq!(granted.status, 204, "{}", granted.body);
    let list = member.get("/api/v1/projects").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["data"][0]["slug"], "web");
    assert_eq!(list.json()["data"][0]["description"], "the shop");
    let denied = member
        .post_json("/api/v1/projects", &json!({ "slug": "api", "name": "API" }))
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["error"]["code"], "forbidden");
    assert_eq!(member.get("/api/v1/members").await.status, 403);
    assert_eq!(
        member
            .post_json("/api/v1/invitations", &json!({ "email": "x@acme.test" }))
            .await
            .status,
        403
    );
    assert_eq!(member.get("/api/v1/org/security").await.status, 403);
    // The UI hides what the role cannot do.
    let page = member.get("/projects").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("New project"));
    assert!(!page.body.contains("href=\"/members\""));
}

async fn everyone_can_list_and_revoke_their_own_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let laptop = app.setup_owner().await;
    let phone = app.client();
    assert_eq!(phone.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await.status, 200);

    let sessions = laptop.get("/api/v1/sessions").await.json();
    let list = sessions["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2);
    let other = list
        .iter()
        .find(|s| s["current"] == false)
        .cloned()
        .unwrap_or_default();
    let other_id = other["id"].as_str().unwrap_or_default();

    // The sessions page lists them; ending the phone's session signs the phone out.
    let page = laptop.get("/sessions").await;
    assert!(page.body.contains("this session"));
    let ended = laptop
        .post_form(&format!("/sessions/{other_id}/revoke"), &[])
        .await;
    assert_eq!(ended.status, 303);
    assert_eq!(phone.get("/api/v1/me").await.status, 401);
    assert_eq!(laptop.get("/api/v1/me").await.status, 200);

    // Sign out ends the current one.
    let out = laptop.post_form("/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(laptop.get("/api/v1/me").await.status, 401);
}

async fn owner_can_revoke_a_members_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "max@acme.test", "a long and unusual passphrase")
        .await;
    let me = member.get("/api/v1/me").await.json();
    let member_id = me["data"]["user"].as_str().unwrap_or_default().to_string();

    // A member cannot end someone else's session.
    let owner_sessions = owner.get("/api/v1/sessions").await.json();
    let owner_session = owner_sessions["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        member
            .delete(&format!("/api/v1/sessions/{owner_session}"))
            .await
            .status,
        404
    );
    assert_eq!(
        member
            .delete(&format!("/api/v1/org/sessions/{owner_session}"))
            .await
            .status,
        403
    );

    let all = owner.get("/api/v1/org/sessions").await.json();
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    let revoked = owner
        .delete(&format!("/api/v1/members/{member_id}/sessions"))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["data"]["revoked_sessions"], 1);
    assert_eq!(member.get("/api/v1/me").await.status, 401);
    assert_eq!(owner.get("/api/v1/me").await.status, 200);
}

async fn sessions_end_after_idle_and_absolute_timeouts(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let policy = owner.get("/api/v1/org/security").await.json();
    assert_eq!(
        policy["data"]["idle_timeout_minutes"], 30,
        "default idle timeout"
    );
    assert_eq!(
        policy["data"]["absolute_timeout_hours"], 12,
        "default absolute lifetime"
    );

    // Idle: 31 minutes without a request ends the session.
    app.sql("UPDATE sessions SET last_seen_at = last_seen_at - 31 * 60")
        .await;
    assert_eq!(owner.get("/api/v1/me").await.status, 401);

    // Absolute: active, but begun 13 hours ago.
    assert_eq!(owner.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await.status, 200);
    app.sql("UPDATE sessions SET created_at = created_at - 13 * 3600")
        .await;
    assert_eq!(owner.get("/api/v1/me").await.status, 401);

    // The org shortens the idle timeout: existing sessions follow on their next request.
    assert_eq!(owner.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await.status, 200);
    let set = owner
        .put_json(
            "/api/v1/org/security",
            &json!({ "idle_timeout_minutes": 5, "absolute_timeout_hours": 1 }),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    app.sql("UPDATE sessions SET last_seen_at = last_seen_at - 6 * 60")
        .await;
    assert_eq!(owner.get("/api/v1/me").await.status, 401);

    let bad = app.client();
    bad.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await;
    let invalid = bad
        .put_json(
            "/api/v1/org/security",
            &json!({ "idle_timeout_minutes": 1, "absolute_timeout_hours": 1 }),
        )
        .await;
    assert_eq!(invalid.status, 422);
    assert_eq!(invalid.json()["error"]["field"], "idle_timeout_minutes");
}

async fn new_member_role_cannot_exceed_the_inviters(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let manager_inv = owner
        .post_json(
            "/api/v1/invitations",
            &json!({ "email": "mia@acme.test", "role": "manager" }),
        )
        .await;
    assert_eq!(manager_inv.status, 201);
    let path = manager_inv.json()["data"]["link"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches(&app.url)
        .to_string();
    let manager = app.client();
    manager
        .post_form(
            &path,
            &[
                ("display_name", "Mia"),
                ("password", "a long and unusual passphrase"),
            ],
        )
        .await;
    assert_eq!(
        manager.get("/api/v1/me").await.json()["data"]["role"],
        "manager"
    );
    let too_high = manager
        .post_json(
            "/api/v1/invitations",
            &json!({ "email": "o2@acme.test", "role": "owner" }),
        )
        .await;
    assert_eq!(too_high.status, 422);
    assert_eq!(too_high.json()["error"]["field"], "role");
    let fine = manager
        .post_json(
            "/api/v1/invitations",
            &json!({ "email": "v@acme.test", "role": "engineer" }),
        )
        .await;
    assert_eq!(fine.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ip_guessing_many_accounts_is_throttled() {
    let app = TestApp::start(Backend::Sqlite).await;
    app.setup_owner().await;
    let c = app.client();
    let mut statuses = Vec::new();
    for i in 0..22 {
        statuses.push(
            c.sign_in(&format!("user{i}@acme.test"), "some wrong password here")
                .await
                .status,
        );
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[21], 429, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_an_invitation_with_an_existing_account_is_throttled_like_sign_in() {
    let app = TestApp::start(Backend::Sqlite).await;
    app.setup_owner().await;
    let core = &app
        .server
        .as_ref()
        .map(|s| s.core.clone())
        .unwrap_or_else(|| unreachable!());
    let op = testvault_core::Operator::unsafe_local_admin();
    core.create_org(
        &op,
        testvault_domain::OrgName::parse("Globex").expect("valid"),
        testvault_domain::Email::parse("hank@globex.test").expect("valid"),
        None,
        Some(testvault_domain::NewPassword::parse("globex owner passphrase").expect("valid")),
    )
    .await
    .expect("second org");
    let hank = app.client();
    hank.sign_in("hank@globex.test", "globex owner passphrase")
        .await;
    let inv = hank
        .post_json("/api/v1/invitations", &json!({ "email": OWNER_EMAIL }))
        .await;
    let path = inv.json()["data"]["link"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches(&app.url)
        .to_string();

    let guesser = app.client();
    assert!(
        guesser
            .get(&path)
            .await
            .body
            .contains("You already have a Testvault account")
    );
    for _ in 0..6 {
        let r = guesser
            .post_form(&path, &[("password", "a wrong guess for owner")])
            .await;
        assert_eq!(r.status, 422);
    }
    let locked = guesser
        .post_form(&path, &[("password", OWNER_PASSWORD)])
        .await;
    assert!(
        locked.body.contains("too many failed attempts"),
        "{}",
        locked.body
    );
    // Sign-in for that account is locked out too: it is the same throttle.
    assert_eq!(
        app.client()
            .sign_in(OWNER_EMAIL, OWNER_PASSWORD)
            .await
            .status,
        429
    );
}
