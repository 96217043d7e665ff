#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Invitations by email through a real SMTP server (aiosmtpd on loopback), on SQLite and
//! PostgreSQL; and nothing half-stored when the mail server is down.

use serde_json::json;
use testvault_testkit::{Backend, SmtpServer, TestApp, TestDb, on_both_backends};

on_both_backends!(
    invitation_is_emailed_and_its_link_works,
    unreachable_mail_server_stores_no_invitation,
    sign_in_links_are_emailed_single_use_and_bound_to_the_browser
);

/// The next mail the server delivers (one not in `seen`, which it joins), waiting up to 10 s.
/// The maildir lists messages in no particular order.
async fn next_mail(smtp: &SmtpServer, seen: &mut Vec<String>) -> String {
    for _ in 0..100 {
        if let Some(m) = smtp.messages().into_iter().find(|m| !seen.contains(m)) {
            seen.push(m.clone());
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no new mail arrived");
}

/// The path of the sign-in link in a mail.
fn link_in(app: &TestApp, mail: &str) -> String {
    let mail = mail.replace("=\r\n", "").replace("=\n", "");
    let start = mail
        .find(&format!("{}/sign-in/link/", app.url))
        .expect("link in the mail");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    link.trim_start_matches(&app.url).to_string()
}

async fn sign_in_links_are_emailed_single_use_and_bound_to_the_browser(backend: Backend) {
    let Some(smtp) =
        SmtpServer::start("sign_in_links_are_emailed_single_use_and_bound_to_the_browser").await
    else {
        return;
    };
    let app = app_with_smtp(backend, smtp.url()).await;
    let _owner = app.setup_owner().await;
    let browser = app.client();
    let asked = browser
        .post_form(
            "/sign-in/link",
            &[
                ("email", testvault_testkit::OWNER_EMAIL),
                ("altcha", &browser.altcha().await),
            ],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(asked.body.contains("a sign-in link is on its way"));
    assert!(browser.cookie("__Host-tv_link").is_some());
    // An address without an account gets the same answer, and no mail.
    let stranger = app.client();
    let other = stranger
        .post_form(
            "/sign-in/link",
            &[
                ("email", "nobody@acme.test"),
                ("altcha", &stranger.altcha().await),
            ],
        )
        .await;
    assert_eq!(other.status, 200);
    assert!(other.body.contains("a sign-in link is on its way"));
    let mut seen = Vec::new();
    let first = next_mail(&smtp, &mut seen).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        smtp.messages().len(),
        1,
        "one mail, to the account that exists"
    );
    assert!(
        first.contains("Subject: Your Testvault sign-in link"),
        "{first}"
    );
    let path = link_in(&app, &first);

    // Opening it shows a button (a mail scanner's GET spends nothing)…
    assert_eq!(stranger.get(&path).await.status, 200);
    // …and only the browser that asked can use it.
    let elsewhere = stranger.post_form(&path, &[]).await;
    assert_eq!(elsewhere.status, 410, "{}", elsewhere.body);
    assert_eq!(browser.get(&path).await.status, 200);
    let used = browser.post_form(&path, &[]).await;
    assert_eq!(used.status, 303, "{}", used.body);
    assert_eq!(used.header("location").as_deref(), Some("/projects"));
    assert_eq!(browser.get("/projects").await.status, 200);
    // Once.
    let again = browser.post_form(&path, &[]).await;
    assert_eq!(again.status, 410, "{}", again.body);
    let stored = app
        .sql_bytes("SELECT token_hash FROM sign_in_links")
        .await
        .expect("a link row");
    assert_eq!(stored.len(), 32, "only a hash is kept");

    // A link does not skip the second factor.
    let totp = browser
        .post_json("/api/v1/me/second-factor", &json!({}))
        .await;
    let secret_text = totp.json()["data"]["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let secret = testvault_crypto::totp::TotpSecret::from_base32(&secret_text).expect("secret");
    let now = testvault_crypto::totp::step_of(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs(),
        )
        .expect("time"),
    );
    let confirmed = browser
        .post_json(
            "/api/v1/me/second-factor/confirm",
            &json!({ "code": testvault_crypto::totp::code_at(&secret, now) }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let b2 = app.client();
    let asked = b2
        .post_form(
            "/sign-in/link",
            &[
                ("email", testvault_testkit::OWNER_EMAIL),
                ("altcha", &b2.altcha().await),
            ],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(b2.cookie("__Host-tv_link").is_some());
    let second = next_mail(&smtp, &mut seen).await;
    let path = link_in(&app, &second);
    let opened = b2.post_form(&path, &[]).await;
    assert_eq!(
        opened.header("location").as_deref(),
        Some("/sign-in/code"),
        "{} {} {path} {}",
        opened.status,
        opened.body.split("alert-error").nth(1).unwrap_or_default(),
        second
    );
    assert_eq!(b2.get("/api/v1/me").await.status, 401);

    // An expired link does nothing.
    let b3 = app.client();
    b3.post_form(
        "/sign-in/link",
        &[
            ("email", testvault_testkit::OWNER_EMAIL),
            ("altcha", &b3.altcha().await),
        ],
    )
    .await;
    let third = next_mail(&smtp, &mut seen).await;
    let path = link_in(&app, &third);
    app.sql("UPDATE sign_in_links SET expires_at = 0 WHERE used_at IS NULL")
        .await;
    assert_eq!(b3.post_form(&path, &[]).await.status, 410);

    // One address per request: a repeated field or an array is refused, nothing is sent.
    let twice = app
        .client()
        .post_form(
            "/sign-in/link",
            &[
                ("email", "a@acme.test"),
                ("email", testvault_testkit::OWNER_EMAIL),
            ],
        )
        .await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    let array = app
        .client()
        .post_json(
            "/api/v1/auth/sign-in-link",
            &json!({ "email": ["a@acme.test", testvault_testkit::OWNER_EMAIL] }),
        )
        .await;
    assert_eq!(array.status, 400, "{}", array.body);
    assert_eq!(array.json()["error"]["field"], "email");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 3);

    // Rate-limited per address (whether or not it has an account).
    let mut limited = None;
    for _ in 0..6 {
        let c = app.client();
        let pow = c.altcha().await;
        let r = c
            .post_json(
                "/api/v1/auth/sign-in-link",
                &json!({ "email": "flood@acme.test", "altcha": pow }),
            )
            .await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 202, "{}", r.body);
    }
    assert!(
        limited.expect("limited").header("retry-after").is_some(),
        "429 with Retry-After"
    );
}

async fn app_with_smtp(backend: Backend, url: String) -> TestApp {
    let db = TestDb::create(backend).await;
    TestApp::start_with(db, move |mut l| {
        l.smtp_url = Some(url);
        l.mail_from = Some("Testvault <testvault@acme.test>".into());
        l
    })
    .await
}

async fn invitation_is_emailed_and_its_link_works(backend: Backend) {
    let Some(smtp) = SmtpServer::start("invitation_is_emailed_and_its_link_works").await else {
        return;
    };
    let app = app_with_smtp(backend, smtp.url()).await;
    let owner = app.setup_owner().await;
    let resp = owner
        .post_json("/api/v1/invitations", &json!({ "email": "max@acme.test" }))
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let data = &resp.json()["data"];
    assert_eq!(data["emailed"], true);
    assert!(
        data["link"].is_null(),
        "the inviter does not get the secret when it was emailed"
    );

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    // Undo quoted-printable soft line breaks, as a mail client would.
    let mail = &messages[0].replace("=\r\n", "").replace("=\n", "");
    assert!(mail.contains("To: max@acme.test"), "{mail}");
    assert!(
        mail.contains("From: Testvault <testvault@acme.test>"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: You are invited to join Acme on Testvault"),
        "{mail}"
    );
    let start = mail
        .find(&format!("{}/invite/", app.url))
        .expect("link in the mail");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let path = link.trim_start_matches(&app.url).to_string();
    let member = app.client();
    assert_eq!(member.get(&path).await.status, 200);
    let accepted = member
        .post_form(
            &path,
            &[
                ("display_name", "Max"),
                ("password", "a long and unusual passphrase"),
            ],
        )
        .await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(
        member.get("/api/v1/me").await.json()["data"]["email"],
        "max@acme.test"
    );

    // The page says it was emailed, and shows no link.
    let page = owner
        .post_form(
            "/members/invitations",
            &[("email", "mia@acme.test"), ("role", "viewer")],
        )
        .await;
    assert!(page.body.contains("Invitation emailed to mia@acme.test"));
    assert!(!page.body.contains("/invite/"));
}

async fn unreachable_mail_server_stores_no_invitation(backend: Backend) {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let app = app_with_smtp(backend, "smtp://127.0.0.1:1".to_string()).await;
    let owner = app.setup_owner().await;
    let resp = owner
        .post_json("/api/v1/invitations", &json!({ "email": "max@acme.test" }))
        .await;
    assert_eq!(resp.status, 503, "{}", resp.body);
    assert_eq!(resp.json()["error"]["code"], "unavailable");
    assert_eq!(
        owner.get("/api/v1/invitations").await.json()["data"],
        json!([])
    );
}
