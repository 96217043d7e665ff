#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! `testvault upload` against a real server: globs, formats, gzip on the wire, the summary and
//! the exit status, and the refusal to talk to a server it cannot verify.

use serde_json::json;
use std::process::{Command, Output};
use testvault_testkit::{Backend, TestApp};

const PASSING: &str = r#"<testsuite name="unit"><testcase classname="a.B" name="one" time="0.1"/><testcase classname="a.B" name="two"/></testsuite>"#;
const FAILING: &str = r#"<testsuite name="it"><testcase classname="a.C" name="three"><failure message="boom">trace</failure></testcase></testsuite>"#;
const CTRF: &str = r#"{"reportFormat":"CTRF","results":{"tool":{"name":"vitest"},"tests":[{"name":"four","status":"passed","duration":3}]}}"#;

fn upload(args: &[&str], token: &str) -> (Output, String, String) {
    cli("upload", args, token)
}

fn cli(command: &str, args: &[&str], token: &str) -> (Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_testvault"))
        .arg(command)
        .args(args)
        .env("TESTVAULT_TOKEN", token)
        .env_remove("TESTVAULT_URL")
        .env_remove("TESTVAULT_CA_CERT")
        .env_remove("GITHUB_SHA")
        .env("GITHUB_REF_NAME", "feature/x")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_sends_every_matching_report_and_summarises_the_run() {
    let app = TestApp::start(Backend::Sqlite).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    let token = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ci", "project": "web", "scopes": ["results:write", "read"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("results/unit")).expect("mkdir");
    std::fs::write(root.join("results/unit/TEST-a.xml"), PASSING).expect("write");
    std::fs::write(root.join("results/it.xml"), FAILING).expect("write");
    // Already compressed: sent as it is (the others are gzipped on the way, streamed).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, CTRF.as_bytes()).expect("gzip");
    std::fs::write(
        root.join("results/ctrf.json.gz"),
        gz.finish().expect("gzip"),
    )
    .expect("write");
    let ca = root.join("ca.pem");
    std::fs::write(&ca, app.ca_pem()).expect("write");
    let pattern = format!("{}/results/**/*.xml", root.display());
    let ctrf = format!("{}/results/ctrf.json.gz", root.display());
    let base = [
        "--project",
        "web",
        "--url",
        app.url.as_str(),
        "--ca-cert",
        ca.to_str().expect("path"),
    ];

    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain([pattern.as_str(), ctrf.as_str(), "--tag", "nightly"])
        .collect();
    let (out, stdout, stderr) = upload(&args, &token);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("Run #1 (finished): 4 results — 3 passed, 1 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{}/projects/web/runs/1", app.url)),
        "{stdout}"
    );
    assert!(
        stderr.contains("uploaded 3/3"),
        "plain progress lines off a terminal: {stderr}"
    );
    assert!(!stdout.contains(&token) && !stderr.contains(&token));
    let run = owner.get("/api/v1/projects/web/runs").await.json();
    assert_eq!(
        run["data"][0]["branch"], "feature/x",
        "branch from the CI environment"
    );
    assert_eq!(run["data"][0]["tags"], json!(["nightly"]));

    // An Allure results directory is zipped and sent as one report.
    let allure = root.join("allure-results");
    std::fs::create_dir_all(&allure).expect("mkdir");
    std::fs::write(
        allure.join("5f1c-result.json"),
        r#"{"uuid":"5f1c","historyId":"h1","name":"five","status":"passed","start":1,"stop":2,"labels":[{"name":"suite","value":"allure"}]}"#,
    )
    .expect("write");
    std::fs::write(allure.join("5f1c-attachment.txt"), "log").expect("write");
    let dir_arg = allure.to_str().expect("path").to_string();
    let args: Vec<&str> = base.iter().copied().chain([dir_arg.as_str()]).collect();
    let (out, stdout, stderr) = upload(&args, &token);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("1 results — 1 passed"), "{stdout}");
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let empty_arg = empty.to_str().expect("path").to_string();
    let args: Vec<&str> = base.iter().copied().chain([empty_arg.as_str()]).collect();
    let (out, _, stderr) = upload(&args, &token);
    assert!(
        !out.status.success() && stderr.contains("no *-result.json"),
        "{stderr}"
    );

    // --fail-on-failures: exit status 1 when tests failed.
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain([pattern.as_str(), "--fail-on-failures"])
        .collect();
    let (out, stdout, stderr) = upload(&args, &token);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("Run #3"));

    // No --ca-cert: the self-signed server is not trusted, and nothing is sent.
    let args = [
        "--project",
        "web",
        "--url",
        app.url.as_str(),
        pattern.as_str(),
    ];
    let (out, _, stderr) = upload(&args, &token);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("cannot reach") || stderr.contains("certificate"),
        "{stderr}"
    );
    // A pattern matching nothing, or no token: clear errors.
    let args: Vec<&str> = base.iter().copied().chain(["nothing/*.xml"]).collect();
    let (out, _, stderr) = upload(&args, &token);
    assert!(
        !out.status.success() && stderr.contains("no file matches"),
        "{stderr}"
    );
    let (out, _, stderr) = upload(&args, "");
    assert!(
        !out.status.success() && stderr.contains("TESTVAULT_TOKEN") || stderr.contains("tvt_"),
        "{stderr}"
    );
    // `compare` is the quality gate: run 3 has the failure run 1 had (still failing: status 0);
    // against the Allure run, run 1's failure is new (status 1); no run on main yet (status 2).
    let gate = |run: &'static str, with: &'static str| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--run", run, "--base", with]);
        args
    };
    let (out, stdout, stderr) = cli("compare", &gate("3", "1"), &token);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("Run #3 vs #1: 0 new failures"), "{stdout}");
    assert!(
        stdout.contains("/projects/web/runs/3/compare?base=1"),
        "{stdout}"
    );
    let (out, stdout, stderr) = cli("compare", &gate("1", "2"), &token);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("New failures:") && stdout.contains("three"),
        "{stdout}"
    );
    assert!(stderr.contains("quality gate: 1 new failures"), "{stderr}");
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--run", "3"]);
    let (out, _, stderr) = cli("compare", &args, &token);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("base branch"), "{stderr}");

    // Refusals before any upload create no run: runs 1–3 only.
    assert_eq!(
        owner.get("/api/v1/projects/web/runs").await.json()["data"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

/// The benchmark command keeps working (its figures are for release builds on the reference
/// machine; here only that it runs end to end and reports every result).
#[test]
fn bench_ingest_runs_end_to_end() {
    let out = Command::new(env!("CARGO_BIN_EXE_testvault"))
        .args(["bench", "ingest", "--cases", "500"])
        .env_remove("TESTVAULT_DATABASE_URL")
        .env_remove("TESTVAULT_MASTER_KEY")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("parse only:   500 results"), "{stdout}");
    assert!(
        stdout.contains("end to end, new tests:   500 results"),
        "{stdout}"
    );
    assert!(
        stdout.contains("end to end, known tests: 500 results"),
        "{stdout}"
    );
    assert!(stdout.contains("server peak RSS"), "{stdout}");
}
