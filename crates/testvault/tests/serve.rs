#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! `testvault serve` as a process: first run prints the URL, fingerprint and setup link; JSON logs
//! carry request ids; SIGTERM lets an in-flight request finish; and no canary secret (password,
//! session id, sealed value) is found in the database file, its WAL, or the logs.

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use testvault_testkit::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CANARY_PASSWORD: &str = "Canary-Password-a8f3e1 violet lamp";
const CANARY_DESCRIPTION: &str = "Canary-Sealed-Description-5b2c";

struct Banner {
    url: String,
    setup_link: String,
    fingerprint: String,
}

fn read_banner(stdout: std::process::ChildStdout) -> Banner {
    let mut url = String::new();
    let mut fingerprint = String::new();
    let mut setup_link = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stdout line");
        let t = line.trim();
        if let Some(u) = t.strip_prefix("URL:") {
            url = u.trim().to_string();
        } else if let Some(f) = t.strip_prefix("Certificate:  SHA-256") {
            fingerprint = f.trim().to_string();
        } else if t.starts_with("https://") && t.contains("/setup/") {
            setup_link = t.to_string();
            break;
        }
    }
    Banner {
        url,
        setup_link,
        fingerprint,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_canaries_json_logs_and_graceful_shutdown() {
    testvault::tls::install_crypto_provider();
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let log_path = dir.path().join("testvault.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_testvault"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("TESTVAULT_DATABASE_URL")
        .env_remove("TESTVAULT_MASTER_KEY")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let banner = tokio::task::spawn_blocking(move || read_banner(stdout))
        .await
        .expect("banner");
    assert!(
        banner.url.starts_with("https://127.0.0.1:"),
        "URL printed: {}",
        banner.url
    );
    assert_eq!(
        banner.fingerprint.len(),
        32 * 3 - 1,
        "SHA-256 fingerprint printed"
    );
    assert!(
        banner
            .setup_link
            .starts_with(&format!("{}/setup/", banner.url))
    );

    // Data directory: database, key (0600), self-signed certificate.
    use std::os::unix::fs::PermissionsExt;
    let key_mode = std::fs::metadata(data.join("master.key"))
        .expect("key")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(key_mode, 0o600);
    let ca = std::fs::read(data.join("tls/cert.pem")).expect("certificate");
    let fp = testvault::tls::fingerprint(
        rustls::pki_types::pem::PemObject::from_pem_slice(&ca)
            .map(|c: rustls::pki_types::CertificateDer| c.to_vec())
            .expect("pem")
            .as_slice(),
    );
    assert_eq!(fp, banner.fingerprint);

    // Set up through the page, sign in with the canary password, store a sealed canary.
    let owner = Client::new(&banner.url, &ca);
    let setup_path = banner
        .setup_link
        .trim_start_matches(&banner.url)
        .to_string();
    assert_eq!(owner.get(&setup_path).await.status, 200);
    let done = owner
        .post_form(
            &setup_path,
            &[
                ("org_name", "Acme"),
                ("display_name", "Olive"),
                ("email", "owner@acme.test"),
                ("password", CANARY_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        owner
            .sign_in("owner@acme.test", CANARY_PASSWORD)
            .await
            .status,
        200
    );
    let session_id = owner.cookie("__Host-tv_session").expect("session cookie");
    let created = owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "web", "name": "Web", "description": CANARY_DESCRIPTION }),
        )
        .await;
    assert_eq!(created.status, 201);

    // An in-flight request: headers and half the body sent before SIGTERM, the rest after.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let addr = banner.url.trim_start_matches("https://").to_string();
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .expect("tls");
    let body = json!({ "slug": "late", "name": "Arrived during shutdown" }).to_string();
    let (first, rest) = body.split_at(10);
    let head = format!(
        "POST /api/v1/projects HTTP/1.1\r\nHost: {addr}\r\nCookie: __Host-tv_session={session_id}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream
        .write_all(rest.as_bytes())
        .await
        .expect("send rest of body");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "in-flight request finished: {response}"
    );

    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("exit status");
    assert!(status.success(), "graceful exit: {status:?}");

    // No canary anywhere on disk or in the logs.
    let logs = std::fs::read(&log_path).expect("logs");
    let mut files = vec![("log".to_string(), logs.clone())];
    for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
        let path = entry.path();
        if path.is_file() {
            files.push((
                path.display().to_string(),
                std::fs::read(&path).expect("read"),
            ));
        }
    }
    assert!(files.iter().any(|(n, _)| n.ends_with("testvault.db")));
    for (name, bytes) in &files {
        for canary in [
            CANARY_PASSWORD,
            session_id.as_str(),
            CANARY_DESCRIPTION,
            "Canary",
        ] {
            assert!(
                !contains(bytes, canary.as_bytes()),
                "{canary} found in {name}"
            );
        }
    }
    // Even a database file that was copied elsewhere is unreadable without the key: SQLCipher.
    let db = std::fs::read(data.join("testvault.db")).expect("db");
    assert!(
        !db.starts_with(b"SQLite format 3"),
        "database file is encrypted"
    );

    // JSON logs, one object per line, with request ids; the stop was graceful.
    let text = String::from_utf8_lossy(&logs);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !lines.is_empty() && lines.len() == text.lines().count(),
        "every log line is JSON"
    );
    assert!(text.contains("\"request.id\""), "request ids in logs");
    assert!(
        text.contains("stop signal received") && text.contains("\"stopped\""),
        "graceful stop logged"
    );
}
