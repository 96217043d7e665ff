#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! A real headless Chromium (Debian's `chromium`, driven by playwright-core from `e2e/`) walks
//! setup → projects → create project → invite → sign out → accept invitation → sign in →
//! sessions against the real binary, and saves screenshots in `target/e2e-screenshots/`.
//!
//! Needs Node.js and `/usr/bin/chromium` (Debian's `chromium`); it runs `npm ci --prefix e2e`
//! itself when the driver is missing. Without them the test is skipped with a loud message
//! locally, and fails in CI (`CI` set).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn missing_prerequisite() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !repo_root()
        .join("e2e/node_modules/playwright-core")
        .exists()
    {
        // Install the pinned driver from the lockfile (no browser download: we use Debian's).
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(repo_root().join("e2e"))
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return Some("playwright-core could not be installed (npm ci --prefix e2e)".into());
        }
    }
    None
}

/// Whether `test` must be skipped (loudly) for want of Chromium, node or the driver; in CI a
/// missing prerequisite fails instead.
fn cannot_run(test: &str) -> bool {
    let Some(why) = missing_prerequisite() else {
        return false;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "browser test cannot run in CI: {why}"
    );
    eprintln!("\n!!!!! SKIPPING {test}: {why}. In CI this fails. !!!!!\n");
    true
}

/// Starts `testvault serve` on a fresh data directory; its URL and setup link.
fn serve(data: &Path, env: &[(&str, &Path)]) -> (std::process::Child, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testvault"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env_remove("TESTVAULT_DATABASE_URL")
        .env_remove("TESTVAULT_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut server = cmd.spawn().expect("server starts");
    let stdout = server.stdout.take().expect("stdout");
    let mut url = String::new();
    let mut setup_link = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let t = line.trim();
        if let Some(u) = t.strip_prefix("URL:") {
            url = u.trim().to_string();
        } else if t.starts_with("https://") && t.contains("/setup/") {
            setup_link = t.to_string();
            break;
        }
    }
    (server, url, setup_link)
}

#[test]
fn browser_walkthrough_setup_invite_sign_in_sessions() {
    if cannot_run("the browser walk-through") {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let (mut server, url, setup_link) = serve(&data, &[]);
    let shots = repo_root().join("target/e2e-screenshots");
    let out = Command::new("node")
        .arg(repo_root().join("e2e/walkthrough.mjs"))
        .env("TV_URL", &url)
        .env("TV_SETUP_LINK", &setup_link)
        .env("TV_CERT", data.join("tls/cert.pem"))
        .env("TV_SCREENSHOTS", &shots)
        .output()
        .expect("node runs");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walk-through failed:\n{stdout}\n{stderr}"
    );
    let count = std::fs::read_dir(&shots).map(|d| d.count()).unwrap_or(0);
    assert!(count >= 9, "screenshots saved in {}", shots.display());
}

/// Single sign-on through a real OpenID provider and a real SAML IdP, and passkeys through
/// Chromium's virtual authenticator, in the browser (`e2e/sign_in_methods.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_single_sign_on_and_passkeys() {
    if cannot_run("the sign-in methods walk-through") {
        return;
    }
    let tls = testvault_testkit::idp::TlsFiles::new();
    let saml_tls = testvault_testkit::idp::TlsFiles::new();
    let idp_cert = tls.cert_path.clone();
    let saml_cert = saml_tls.cert_path.clone();
    let dir = tempfile::tempdir().expect("dir");
    // Testvault trusts both providers' certificates (one PEM file may hold several).
    let trusted = dir.path().join("providers.pem");
    let mut both = tls.cert_pem.clone();
    both.extend_from_slice(&saml_tls.cert_pem);
    std::fs::write(&trusted, both).expect("write CA file");
    let data = dir.path().join("data");
    let (mut server, url, setup_link) =
        serve(&data, &[("TESTVAULT_TRUSTED_CA_FILE", trusted.as_path())]);
    let test = "browser_single_sign_on_and_passkeys";
    let idp =
        testvault_testkit::idp::OidcProvider::start(test, tls, &format!("{url}/sso/oidc/callback"))
            .await;
    let saml = testvault_testkit::idp::SamlIdp::start(test, saml_tls).await;
    let (Some(idp), Some(saml)) = (idp, saml) else {
        let _ = server.kill();
        return;
    };
    let shots = repo_root().join("target/e2e-screenshots/sign-in-methods");
    let out = Command::new("node")
        .arg(repo_root().join("e2e/sign_in_methods.mjs"))
        .env("TV_URL", &url)
        .env("TV_SETUP_LINK", &setup_link)
        .env("TV_CERT", data.join("tls/cert.pem"))
        .env("IDP_CERT", &idp_cert)
        .env("IDP_ISSUER", idp.issuer("a"))
        .env("IDP_CLIENT_ID", idp.client_id())
        .env("IDP_CLIENT_SECRET", idp.client_secret())
        .env("SAML_CERT", &saml_cert)
        .env("SAML_IDP", saml.browser.base.as_str())
        .env("TV_SCREENSHOTS", &shots)
        .output()
        .expect("node runs");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sign-in methods walk-through failed:\n{stdout}\n{stderr}"
    );
}
