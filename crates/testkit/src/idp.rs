//! Real identity providers for the single sign-on tests, as child processes on 127.0.0.1:
//! `oidc-provider` (npm, `e2e/idp/oidc.mjs`) and `pysaml2` with `xmlsec1` (`e2e/idp/saml_idp.py`),
//! each over HTTPS with a certificate made here; and `sso_round_trip`, which walks a sign-in the
//! way a browser does (redirects, cookies, auto-posted forms).
//!
//! Missing tools skip the test with a loud message locally and fail it in CI (`CI` set).

use crate::client::{Client, Resp, serde_urlencoded_pairs};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Says loudly that `test` is skipped (`None` for the caller to return); in CI it fails.
fn skip<T>(test: &str, why: &str) -> Option<T> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} cannot run in CI: {why}"
    );
    eprintln!("\n!!!!! SKIPPING `{test}`: {why}. In CI this fails. !!!!!\n");
    None
}

/// A certificate for 127.0.0.1 and localhost, and its key, in a temporary folder.
pub struct TlsFiles {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub cert_pem: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl TlsFiles {
    pub fn new() -> TlsFiles {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .expect("certificate");
        let cert_pem = cert.cert.pem().into_bytes();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, &cert_pem).expect("write cert");
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
        TlsFiles {
            cert_path,
            key_path,
            cert_pem,
            _dir: dir,
        }
    }
}

impl Default for TlsFiles {
    fn default() -> Self {
        Self::new()
    }
}

/// How long a provider may take to say it is ready.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts the command `make` builds, which prints one JSON line when it is ready. A process that
/// says nothing within `READY_WITHIN` (seen once, under a full parallel test run, with the
/// provider listening and silent) is killed and started once more; its log (kept in a file)
/// goes into the failure message.
async fn spawn_json(make: impl Fn() -> Command, what: &str) -> (Child, Value) {
    let mut last_log = String::new();
    for _ in 0..2 {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut child = make()
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TESTKIT_IDP_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::from(log.reopen().expect("log file"))
            })
            .spawn()
            .unwrap_or_else(|e| panic!("{what} starts: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let reading = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            line
        });
        match tokio::time::timeout(READY_WITHIN, reading).await {
            Ok(line) => {
                let line = line.expect("read the ready line");
                let log_text = std::fs::read_to_string(log.path()).unwrap_or_default();
                let info: Value = serde_json::from_str(line.trim()).unwrap_or_else(|_| {
                    panic!("{what} did not report ready: {line:?}\n{log_text}")
                });
                return (child, info);
            }
            Err(_) => {
                // Killing it closes its stdout, which ends the blocked read.
                let _ = child.kill();
                let _ = child.wait();
                last_log = std::fs::read_to_string(log.path()).unwrap_or_default();
                eprintln!("{what} said nothing within {READY_WITHIN:?}; starting it again");
            }
        }
    }
    panic!("{what} never reported ready:\n{last_log}")
}

/// The npm OpenID provider from `e2e/` (four issuers; see `e2e/idp/oidc.mjs`).
pub struct OidcProvider {
    pub info: Value,
    pub tls: TlsFiles,
    /// A browser-like client of the provider (its own cookies).
    pub browser: Client,
    child: Child,
}

impl OidcProvider {
    /// Serves HTTPS with `tls` (Testvault trusts its certificate through `trusted_ca_file`);
    /// `redirect_uri` is Testvault's callback, the one address the client may use.
    pub async fn start(test: &str, tls: TlsFiles, redirect_uri: &str) -> Option<OidcProvider> {
        let e2e = repo_root().join("e2e");
        if Command::new("node").arg("--version").output().is_err() {
            return skip(test, "node is not installed");
        }
        if !e2e.join("node_modules/oidc-provider").exists() {
            let installed = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(&e2e)
                .status()
                .is_ok_and(|s| s.success());
            if !installed {
                return skip(
                    test,
                    "oidc-provider could not be installed (npm ci --prefix e2e)",
                );
            }
        }
        let make = || {
            let mut cmd = Command::new("node");
            cmd.arg(e2e.join("idp/oidc.mjs"))
                .env("IDP_CERT", &tls.cert_path)
                .env("IDP_KEY", &tls.key_path)
                .env("IDP_REDIRECT_URIS", redirect_uri);
            cmd
        };
        let (child, info) = spawn_json(make, "the OpenID provider").await;
        let base = info["base"].as_str().expect("base").to_string();
        testvault::tls::install_crypto_provider();
        let browser = Client::new(&base, &tls.cert_pem);
        Some(OidcProvider {
            info,
            tls,
            browser,
            child,
        })
    }

    /// The issuer URL of `a`, `b`, `apple`, `ms_common` or `ms_tenant`.
    pub fn issuer(&self, name: &str) -> String {
        self.info["issuers"][name]
            .as_str()
            .expect("issuer")
            .to_string()
    }

    pub fn client_id(&self) -> String {
        self.info["client_id"].as_str().expect("client id").into()
    }

    pub fn client_secret(&self) -> String {
        self.info["client_secret"]
            .as_str()
            .expect("client secret")
            .into()
    }

    /// Who the next authorization signs in: `{sub, email, email_verified, name, hd?}`.
    pub async fn set_user(&self, user: Value) {
        let r = self.browser.post_json("/__test/user", &user).await;
        assert_eq!(r.status, 200, "set user: {}", r.body);
    }

    /// Makes the next ID token a forgery of kind `mode` (see `e2e/idp/oidc.mjs`).
    pub async fn tamper(&self, mode: &str) {
        let r = self
            .browser
            .post_json("/__test/tamper", &serde_json::json!({ "mode": mode }))
            .await;
        assert_eq!(r.status, 200, "tamper: {}", r.body);
    }

    pub async fn last_authorization(&self) -> Value {
        self.browser.get("/__test/last_authorization").await.json()
    }

    pub async fn last_token_request(&self) -> Value {
        self.browser.get("/__test/last_token_request").await.json()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// pysaml2 wants some service provider at start.
const PLACEHOLDER_SP: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://placeholder.invalid/sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://placeholder.invalid/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#;

/// The pysaml2 identity provider (`e2e/idp/saml_idp.py`), over HTTPS.
pub struct SamlIdp {
    pub info: Value,
    pub tls: TlsFiles,
    pub browser: Client,
    child: Child,
    _sp_metadata: tempfile::NamedTempFile,
}

impl SamlIdp {
    /// Starts the IdP (HTTPS with `tls`); the service providers it serves are added with
    /// `add_service_provider` once their metadata exists.
    pub async fn start(test: &str, tls: TlsFiles) -> Option<SamlIdp> {
        let ready = Command::new("python3")
            .args(["-c", "import saml2"])
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("xmlsec1").arg("--version").output().is_ok();
        if !ready {
            return skip(
                test,
                "pysaml2 or xmlsec1 is missing (pip install -r e2e/idp/requirements.txt; apt-get install xmlsec1)",
            );
        }
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), PLACEHOLDER_SP).expect("write SP metadata");
        let make = || {
            let mut cmd = Command::new("python3");
            cmd.arg(repo_root().join("e2e/idp/saml_idp.py"))
                .env("IDP_SP_METADATA", file.path())
                .env("IDP_CERT", &tls.cert_path)
                .env("IDP_KEY", &tls.key_path);
            cmd
        };
        let (child, info) = spawn_json(make, "the SAML IdP").await;
        let base = info["base"].as_str().expect("base").to_string();
        testvault::tls::install_crypto_provider();
        let browser = Client::new(&base, &tls.cert_pem);
        Some(SamlIdp {
            info,
            tls,
            browser,
            child,
            _sp_metadata: file,
        })
    }

    /// Lets the IdP answer the service provider described by `metadata`.
    pub async fn add_service_provider(&self, metadata: &str) {
        let r = self
            .browser
            .post_json(
                "/__test/sp_metadata",
                &serde_json::json!({ "xml": metadata }),
            )
            .await;
        assert_eq!(r.status, 200, "SP metadata: {}", r.body);
    }

    pub fn metadata_url(&self) -> String {
        self.info["metadata_url"].as_str().expect("url").into()
    }

    pub async fn metadata(&self) -> String {
        let r = self.browser.get("/metadata").await;
        assert_eq!(r.status, 200);
        r.body
    }

    /// `{name_id, name_id_format, email, name}`.
    pub async fn set_user(&self, user: Value) {
        let r = self.browser.post_json("/__test/user", &user).await;
        assert_eq!(r.status, 200, "set user: {}", r.body);
    }

    /// Shapes the next response (`unsigned`, `xsw`, `expired`, …; see the script).
    pub async fn mode(&self, mode: &str) {
        let r = self
            .browser
            .post_json("/__test/mode", &serde_json::json!({ "mode": mode }))
            .await;
        assert_eq!(r.status, 200, "mode: {}", r.body);
    }

    /// An unsolicited (IdP-initiated) response for `acs`, as `(action, fields)`.
    pub async fn idp_initiated(
        &self,
        acs: &str,
        audience: &str,
    ) -> (String, Vec<(String, String)>) {
        let q = serde_urlencoded_pairs(&[("acs", acs), ("audience", audience)]);
        let r = self.browser.get(&format!("/idp-initiated?{q}")).await;
        assert_eq!(r.status, 200, "idp-initiated: {}", r.body);
        auto_post_form(&r.body).expect("a form")
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HTML character references as askama, oidc-provider and pysaml2 write them.
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first `<form method="post" action="…">` in `html` and its hidden inputs (`name` before
/// `value`), as a browser would post it.
pub fn auto_post_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = html.find("<form")?;
    let form = &html[start..];
    let end = form.find("</form>").unwrap_or(form.len());
    let form = &form[..end];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let i = tag.find(&key)? + key.len();
        let j = tag[i..].find('"')? + i;
        Some(unescape(&tag[i..j]))
    };
    let head_end = form.find('>')?;
    let action = attr(&form[..head_end], "action")?;
    let mut fields = Vec::new();
    for part in form.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((n, v));
        }
    }
    Some((action, fields))
}

/// Starts a sign-in through `connection` as its start page's button does, and returns where the
/// page sends the browser (the provider's address).
pub async fn start_at_provider(tv: &Client, connection: &str) -> String {
    let r = tv.post_form(&format!("/sso/{connection}/start"), &[]).await;
    assert_eq!(r.status, 200, "start: {}", r.body);
    autofollow(&r.body).unwrap_or_else(|| panic!("no way on to the provider: {}", r.body))
}

/// The one `<a … data-autofollow>` link of a page (followed by the page script), if any.
pub fn autofollow(html: &str) -> Option<String> {
    let at = html.find(" data-autofollow")?;
    let tag_start = html[..at].rfind("<a ")?;
    let tag = &html[tag_start..at];
    let i = tag.find("href=\"")? + "href=\"".len();
    let j = tag[i..].find('"')? + i;
    (html.matches(" data-autofollow").count() == 1).then(|| unescape(&tag[i..j]))
}

/// Walks a single sign-on the way a browser does: from `start_path` on Testvault through the
/// provider's redirects and auto-posted forms, back to Testvault. Returns Testvault's answer
/// to the provider's callback (a redirect when signed in, an error page otherwise).
pub async fn sso_round_trip(tv: &Client, idp: &Client, start_path: &str) -> Resp {
    let start = if start_path.starts_with("POST ") {
        tv.post_form(start_path.trim_start_matches("POST "), &[])
            .await
    } else {
        tv.get(start_path).await
    };
    follow(tv, idp, start).await
}

/// Follows `resp` (from either side) until Testvault answers the provider's callback.
pub async fn follow(tv: &Client, idp: &Client, mut resp: Resp) -> Resp {
    let mut at_provider = false;
    for _ in 0..20 {
        if resp.status == 200
            && !at_provider
            && let Some(href) = autofollow(&resp.body)
        {
            // Testvault's page whose script goes on to the provider (or to the start link).
            if let Some(path) = href.strip_prefix(&tv.base) {
                resp = tv.get(path).await;
                continue;
            }
            if href.starts_with('/') {
                resp = tv.get(&href).await;
                continue;
            }
            at_provider = true;
            let path = href
                .strip_prefix(&idp.base)
                .map(str::to_string)
                .unwrap_or(href);
            resp = idp.get(&path).await;
            continue;
        }
        if resp.status == 303 || resp.status == 302 {
            let location = resp.header("location").expect("a redirect has a location");
            if let Some(path) = location.strip_prefix(&tv.base) {
                if !at_provider {
                    return resp; // Testvault answered without going to the provider.
                }
                return tv.get(path).await;
            }
            if location.starts_with('/') && !at_provider {
                return resp;
            }
            at_provider = true;
            let path = location
                .strip_prefix(&idp.base)
                .map(str::to_string)
                .unwrap_or(location);
            resp = idp.get(&path).await;
            continue;
        }
        if resp.status == 200 && at_provider {
            let (action, fields) = auto_post_form(&resp.body).unwrap_or_else(|| {
                panic!("the provider showed a page without a form: {}", resp.body)
            });
            if let Some(path) = action.strip_prefix(&tv.base) {
                // Posted by the provider's page, from its site, as a browser sends it.
                return tv.post_form_from(&idp.base, path, &fields).await;
            }
            let path = action
                .strip_prefix(&idp.base)
                .map(str::to_string)
                .unwrap_or(action);
            resp = idp.post_form_plain(&path, &fields).await;
            continue;
        }
        return resp;
    }
    panic!("single sign-on did not come back to Testvault within 20 steps")
}
