#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Invitations by email through a real SMTP server (aiosmtpd on loopback), on SQLite and
//! PostgreSQL; and nothing half-stored when the mail server is down.

use serde_json::json;
use testvault_testkit::{Backend, SmtpServer, TestApp, TestDb, on_both_backends};

on_both_backends!(
    invitation_is_emailed_and_its_link_works,
    unreachable_mail_server_stores_no_invitation
);

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
