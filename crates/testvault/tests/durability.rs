#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! An acknowledged result is never lost: the server process is killed with SIGKILL while clients
//! stream result batches into a run; after a restart on the same data, every batch the server
//! acknowledged is there, exactly once, and the run's counts match its results. On SQLite and
//! PostgreSQL.

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testvault_testkit::{Backend, TestDb};

fn admin(data: &Path, db_url: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testvault"));
    cmd.arg("--data-dir").arg(data).args(args);
    cmd.env_remove("TESTVAULT_DATABASE_URL")
        .env_remove("TESTVAULT_MASTER_KEY");
    if let Some(url) = db_url {
        cmd.env("TESTVAULT_DATABASE_URL", url);
    }
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn serve(data: &Path, db_url: Option<&str>) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testvault"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log-level",
        "error",
        "--data-dir",
    ])
    .arg(data)
    .env_remove("TESTVAULT_DATABASE_URL")
    .env_remove("TESTVAULT_MASTER_KEY")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if let Some(url) = db_url {
        cmd.env("TESTVAULT_DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut url = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(u) = line.trim().strip_prefix("URL:") {
            url = u.trim().to_string();
            break;
        }
    }
    assert!(url.starts_with("https://"), "server banner");
    (child, url)
}

fn client(data: &Path) -> reqwest::Client {
    let pem = std::fs::read(data.join("tls/cert.pem")).expect("cert");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn batch(i: usize) -> serde_json::Value {
    let results: Vec<_> = (0..50)
        .map(|j| json!({ "suite": ["durability"], "name": format!("batch {i} test {j}"), "outcome": if j % 10 == 0 { "failed" } else { "passed" }, "message": "boom" }))
        .collect();
    json!({ "results": results })
}

async fn acknowledged_batches_survive_a_kill(backend: Backend) {
    testvault::tls::install_crypto_provider();
    let db = TestDb::create(backend).await;
    let db_url = db.postgres_url();
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "durability owner passphrase\n").expect("pw");
    let url_ref = db_url.as_deref();
    admin(
        &data,
        url_ref,
        &[
            "admin",
            "create-org",
            "--name",
            "Acme",
            "--owner-email",
            "o@acme.test",
            "--password-file",
            pw.to_str().expect("path"),
        ],
    );
    admin(
        &data,
        url_ref,
        &[
            "admin",
            "create-project",
            "--org",
            "Acme",
            "--slug",
            "web",
            "--name",
            "Web",
        ],
    );
    let token = admin(
        &data,
        url_ref,
        &[
            "token",
            "create",
            "--org",
            "Acme",
            "--project",
            "web",
            "--scope",
            "results:write",
            "--scope",
            "read",
        ],
    );

    let (mut server, url) = serve(&data, url_ref);
    let http = client(&data);
    let run: serde_json::Value = http
        .post(format!("{url}/api/v1/projects/web/runs"))
        .bearer_auth(&token)
        .json(&json!({ "title": "durability" }))
        .send()
        .await
        .expect("create run")
        .json()
        .await
        .expect("json");
    let run = run["data"]["id"].as_str().expect("run").to_string();

    // Four clients stream batches; the server dies under them.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for worker in 0..4 {
        let (http, url, token, run, acked) = (
            http.clone(),
            url.clone(),
            token.clone(),
            run.clone(),
            acked.clone(),
        );
        clients.push(tokio::spawn(async move {
            for k in 0..10_000 {
                let i = worker * 100_000 + k;
                let sent = http
                    .post(format!("{url}/api/v1/projects/web/runs/{run}/results"))
                    .bearer_auth(&token)
                    .header("idempotency-key", format!("batch-{i}"))
                    .json(&batch(i))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().as_u16() == 201 => acked.lock().expect("lock").push(i),
                    _ => return,
                }
            }
        }));
    }
    // Let a good number of batches through, then SIGKILL mid-stream.
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().expect("lock").len() >= 40 {
            break;
        }
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    for c in clients {
        let _ = c.await;
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 40,
        "only {} batches were acknowledged before the kill",
        acked.len()
    );

    // Restart on the same data: every acknowledged batch is there once; counts add up.
    let (mut server, url) = serve(&data, url_ref);
    let results: serde_json::Value = http
        .get(format!(
            "{url}/api/v1/projects/web/runs/{run}/results?limit=10000"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("results")
        .json()
        .await
        .expect("json");
    let names: std::collections::HashSet<String> = results["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect();
    for i in &acked {
        for j in 0..50 {
            assert!(
                names.contains(&format!("batch {i} test {j}")),
                "acknowledged batch {i} lost"
            );
        }
    }
    let stored = results["data"].as_array().map_or(0, Vec::len);
    assert_eq!(stored % 50, 0, "batches are whole: {stored} results");
    let run_view: serde_json::Value = http
        .get(format!("{url}/api/v1/projects/web/runs/{run}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    assert_eq!(
        run_view["data"]["counts"]["total"].as_u64(),
        Some(stored as u64),
        "counts match the stored results"
    );
    // A client retrying an acknowledged batch after the restart stores nothing twice.
    let again = http
        .post(format!("{url}/api/v1/projects/web/runs/{run}/results"))
        .bearer_auth(&token)
        .header("idempotency-key", format!("batch-{}", acked[0]))
        .json(&batch(acked[0]))
        .send()
        .await
        .expect("retry");
    assert_eq!(again.status().as_u16(), 200);
    server.kill().expect("stop");
    let _ = server.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_batches_survive_a_kill_on_sqlite() {
    acknowledged_batches_survive_a_kill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_batches_survive_a_kill_on_postgres() {
    if !Backend::postgres_available("acknowledged_batches_survive_a_kill_on_postgres").await {
        return;
    }
    acknowledged_batches_survive_a_kill(Backend::Postgres).await;
}
