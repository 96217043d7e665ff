#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! `testvault import-tests` against a real server, over the scanner's fixtures for every
//! language: one case per test, idempotent on a second run, gone tests marked, sources sealed.

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use testvault_testkit::{Backend, TestApp};

fn import(dir: &Path, args: &[&str], url: &str, ca: &Path, token: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_testvault"))
        .current_dir(dir)
        .arg("import-tests")
        .args(["--project", "web", "--url", url, "--ca-cert"])
        .arg(ca)
        .args(args)
        .env("TESTVAULT_TOKEN", token)
        .env_remove("TESTVAULT_URL")
        .env_remove("TESTVAULT_CA_CERT")
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn import_tests_makes_one_case_per_test_in_every_language() {
    let app = TestApp::start(Backend::Sqlite).await;
    let owner = app.setup_owner().await;
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    let token = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ci", "project": "web", "scopes": ["cases:write", "read"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sourcescan/tests/fixtures");
    std::fs::create_dir_all(root.join("tests")).expect("mkdir");
    std::fs::create_dir_all(root.join("node_modules/dep")).expect("mkdir");
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_owned();
        std::fs::copy(&path, root.join("tests").join(&name)).expect("copy");
    }
    // Dependencies are not ours: never scanned.
    std::fs::write(
        root.join("node_modules/dep/x.test.js"),
        "it('not ours', () => {})",
    )
    .expect("write");
    let ca = root.join("ca.pem");
    std::fs::write(&ca, app.ca_pem()).expect("write");

    let (ok, dry, err) = import(root, &["--dry-run", "tests"], &app.url, &ca, &token);
    assert!(ok, "{err}");
    assert!(!dry.contains("not ours"));

    let (ok, out, err) = import(root, &["--with-source", "tests"], &app.url, &ca, &token);
    assert!(ok, "{out}{err}");
    let cases = owner.get("/api/v1/projects/web/cases").await.json()["data"].clone();
    let list = cases.as_array().expect("cases");
    let found: usize = dry
        .lines()
        .find_map(|l| l.strip_prefix("found ")?.split(' ').next()?.parse().ok())
        .expect("a summary line");
    assert_eq!(
        dry.lines().count(),
        found + 1,
        "one line per test, then the summary"
    );
    assert_eq!(list.len(), found, "one case per test found:\n{dry}");
    assert!(out.contains(&format!("{found} created")), "{out}");
    // Every language arrived, each case where its test is.
    for file in [
        "cart.test.ts",
        "api.spec.js",
        "math.test.ts",
        "login.spec.ts",
        "checkout.cy.js",
        "test_shop.py",
        "CartTest.java",
        "LegacyCartTest.java",
        "cart_test.go",
        "cart_tests.rs",
        "CartTests.cs",
        "OrderTests.cs",
        "InvoiceTests.cs",
    ] {
        let path = format!("tests/{file}");
        let of_file: Vec<&Value> = list.iter().filter(|c| c["file"] == path.as_str()).collect();
        assert!(!of_file.is_empty(), "no case from {file}");
        assert!(
            of_file
                .iter()
                .all(|c| c["line"].as_i64().is_some_and(|l| l > 0))
        );
        assert!(of_file.iter().all(|c| {
            c["suite_path"]
                .as_str()
                .is_some_and(|s| s.starts_with(&path))
        }));
    }
    let one = list[0]["key"].as_str().expect("key");
    let full = owner
        .get(&format!("/api/v1/projects/web/cases/T{one}"))
        .await
        .json()["data"]
        .clone();
    assert!(
        full["source"].as_str().is_some_and(|s| !s.is_empty()),
        "source kept: {full}"
    );

    // Again: nothing new.
    let (ok, out, err) = import(root, &["tests"], &app.url, &ca, &token);
    assert!(ok, "{err}");
    assert!(out.contains("0 created, 0 updated"), "{out}");

    // A file without its tests: its cases are marked, not deleted.
    std::fs::write(root.join("tests/cart_test.go"), "package cart\n").expect("write");
    let (ok, out, err) = import(root, &["tests"], &app.url, &ca, &token);
    assert!(ok, "{err}");
    assert!(!out.contains(" 0 marked removed"), "{out}");
    let gone = owner
        .get("/api/v1/projects/web/cases?removed=true")
        .await
        .json()["data"]
        .clone();
    assert_eq!(gone.as_array().map(Vec::len), Some(list.len()));

    // A read-only token is refused, and says so.
    let reader = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ro", "project": "web", "scopes": ["read"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let (ok, _, err) = import(root, &["tests"], &app.url, &ca, &reader);
    assert!(!ok);
    assert!(err.contains("403"), "{err}");
}
