#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Transport: TLS 1.2 and 1.3 accepted, TLS 1.1 refused, plain HTTP only redirects; and two
//! stateless instances sharing one PostgreSQL database serve the same users and sessions.

use std::sync::Arc;
use testvault_testkit::{Backend, Client, OWNER_EMAIL, OWNER_PASSWORD, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn client_config(
    app: &TestApp,
    version: &'static rustls::SupportedProtocolVersion,
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(app.ca_pem()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    rustls::ClientConfig::builder_with_protocol_versions(&[version])
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn handshake(
    app: &TestApp,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<rustls::ProtocolVersion, String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(app, version)));
    let tcp = TcpStream::connect(app.addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    tls.read_to_string(&mut out)
        .await
        .map_err(|e| e.to_string())?;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    tls.get_ref()
        .1
        .protocol_version()
        .ok_or_else(|| "no version".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_12_and_13_are_accepted() {
    let app = TestApp::start(Backend::Sqlite).await;
    assert_eq!(
        handshake(&app, &rustls::version::TLS13).await,
        Ok(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(
        handshake(&app, &rustls::version::TLS12).await,
        Ok(rustls::ProtocolVersion::TLSv1_2)
    );
}

/// A TLS 1.1 ClientHello (no supported_versions extension, legacy version 3.2), as an old
/// client sends it. rustls cannot speak TLS 1.1, so we write the bytes ourselves.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    let suites: [u16; 4] = [0xc013, 0xc014, 0x002f, 0x0035]; // ECDHE-RSA-AES, RSA-AES (CBC)
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_11_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await;
    let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
    tcp.write_all(&tls11_client_hello())
        .await
        .expect("send hello");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut reply),
    )
    .await;
    // Either an alert record (content type 21), or the connection closed: never a ServerHello (22).
    assert_ne!(
        reply.first(),
        Some(&0x16),
        "server answered a TLS 1.1 hello with a handshake: {reply:?}"
    );
    if let Some(first) = reply.first() {
        assert_eq!(*first, 0x15, "expected an alert: {reply:?}");
        // alert description: protocol_version (70) or handshake_failure (40)
        assert!(matches!(reply.get(6), Some(70) | Some(40)), "{reply:?}");
    }
    // And the same server still talks TLS 1.2 afterwards.
    assert!(handshake(&app, &rustls::version::TLS12).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_only_redirects() {
    let db = testvault_testkit::TestDb::create(Backend::Sqlite).await;
    let app = TestApp::start_with(db, |mut l| {
        l.http_redirect_listen = Some("127.0.0.1:0".parse().expect("addr"));
        l
    })
    .await;
    let plain = app
        .server
        .as_ref()
        .and_then(|s| s.redirect_addr)
        .expect("redirect listener");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = http
        .post(format!("http://{plain}/api/v1/projects?x=1"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 308);
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        location,
        format!("https://127.0.0.1:{}/api/v1/projects?x=1", app.addr.port())
    );
    assert_eq!(
        resp.text().await.unwrap_or_default(),
        "",
        "nothing is served over plain HTTP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_share_users_and_sessions() {
    if !Backend::postgres_available("two_instances_on_one_postgres_share_users_and_sessions").await
    {
        return;
    }
    let app = TestApp::start(Backend::Postgres).await;
    let owner = app.setup_owner().await;
    owner
        .post_json(
            "/api/v1/projects",
            &serde_json::json!({ "slug": "web", "name": "Web" }),
        )
        .await;
    let (second, url, ca) = app.another_instance().await;
    assert!(
        second.setup_link.is_none(),
        "already set up: no new setup link"
    );

    // The session cookie from instance 1 works on instance 2.
    let on_two = Client::new(&url, &ca);
    on_two.set_cookie_value(
        "__Host-tv_session",
        &owner.cookie("__Host-tv_session").unwrap_or_default(),
    );
    let me = on_two.get("/api/v1/projects").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["data"][0]["slug"], "web");

    // Signing in on instance 2, revoking from instance 1.
    let fresh = Client::new(&url, &ca);
    assert_eq!(fresh.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await.status, 200);
    let sessions = owner.get("/api/v1/sessions").await.json();
    assert_eq!(sessions["data"].as_array().map(Vec::len), Some(2));
    let fresh_id = fresh.get("/api/v1/me").await.json()["data"]["session"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        owner
            .delete(&format!("/api/v1/sessions/{fresh_id}"))
            .await
            .status,
        204
    );
    assert_eq!(fresh.get("/api/v1/me").await.status, 401);
    second.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_certificate_files_are_used() {
    // Another app's certificate stands in for one an operator brings.
    let issuer = TestApp::start(Backend::Sqlite).await;
    let tls_dir = issuer.data_dir.path().join("tls");
    let db = testvault_testkit::TestDb::create(Backend::Sqlite).await;
    let app = TestApp::start_with(db, |mut l| {
        l.tls_cert_file = Some(tls_dir.join("cert.pem"));
        l.tls_key_file = Some(tls_dir.join("key.pem"));
        l
    })
    .await;
    let server = app.server.as_ref().expect("running");
    assert_eq!(server.cert_path, tls_dir.join("cert.pem"));
    assert!(
        !app.data_dir.path().join("tls").exists(),
        "no self-signed certificate is made"
    );
    let client = Client::new(&app.url, issuer.ca_pem());
    assert_eq!(client.get("/healthz").await.status, 200);
}
