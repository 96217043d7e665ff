//! A browser-like HTTPS client for tests: trusts the test server's certificate, keeps cookies,
//! follows no redirects, and fills in the CSRF token for forms.

use reqwest::header::{HeaderMap, SET_COOKIE};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    cookies: Mutex<BTreeMap<String, String>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The `Set-Cookie` header for `name`, whole.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }
}

/// A reqwest client trusting exactly `ca_pem`.
pub fn http_client(ca_pem: &[u8]) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("PEM certificate")).expect("add root");
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        // A stuck request fails its test instead of hanging the whole run.
        .timeout(std::time::Duration::from_secs(300))
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) testkit Firefox/140.0")
        .build()
        .expect("HTTP client")
}

impl Client {
    pub fn new(base: &str, ca_pem: &[u8]) -> Client {
        Client {
            http: http_client(ca_pem),
            base: base.to_string(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().ok()?.get(name).cloned()
    }

    pub fn set_cookie_value(&self, name: &str, value: &str) {
        if let Ok(mut c) = self.cookies.lock() {
            c.insert(name.to_string(), value.to_string());
        }
    }

    pub fn forget_cookie(&self, name: &str) {
        if let Ok(mut c) = self.cookies.lock() {
            c.remove(name);
        }
    }

    /// The CSRF token (fetching a page first if this client has none yet).
    pub async fn csrf(&self) -> String {
        if let Some(t) = self.cookie("__Host-tv_csrf") {
            return t;
        }
        self.get("/sign-in").await;
        self.cookie("__Host-tv_csrf")
            .expect("the server sets a CSRF cookie")
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// Sends a request built on this client, with its cookies, and records new cookies.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let cookies = self.cookie_header();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("cookie", cookies)
        };
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for sc in headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let Some((name, rest)) = sc.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or("");
            let expired = sc.contains("Max-Age=0");
            if let Ok(mut c) = self.cookies.lock() {
                if expired || value.is_empty() {
                    c.remove(name);
                } else {
                    c.insert(name.to_string(), value.to_string());
                }
            }
        }
        let body = resp.text().await.unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(self.url(path))).await
    }

    /// A form post with this client's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        all.extend_from_slice(fields);
        let body = serde_urlencoded_pairs(&all);
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// A form post as another site's page sends it (an IdP's auto-posted form): no CSRF token.
    pub async fn post_form_plain(&self, path: &str, fields: &[(String, String)]) -> Resp {
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.post_body(
            path,
            "application/x-www-form-urlencoded",
            serde_urlencoded_pairs(&pairs),
        )
        .await
    }

    /// A form another site's page posts here, with the headers a browser adds to it (`Origin`
    /// of that site, `Sec-Fetch-Site: cross-site`): an identity provider's answer.
    pub async fn post_form_from(
        &self,
        origin: &str,
        path: &str,
        fields: &[(String, String)],
    ) -> Resp {
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", origin.trim_end_matches('/'))
                .header("sec-fetch-site", "cross-site")
                .body(serde_urlencoded_pairs(&pairs)),
        )
        .await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn patch_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.send(
            self.http
                .patch(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// A post of `body` as it is, with this content type.
    pub async fn post_body(&self, path: &str, content_type: &str, body: String) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.send(
            self.http
                .put(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Signs in over the API with email and password.
    /// Solves a proof-of-work challenge the way the page script does, for a public form's
    /// `altcha` field.
    pub async fn altcha(&self) -> String {
        let c = self.get("/altcha/challenge").await.json();
        let text = |k: &str| c[k].as_str().expect("challenge field").to_string();
        testvault_core::altcha::solve(&testvault_core::altcha::Challenge {
            algorithm: "SHA-256",
            challenge: text("challenge"),
            maxnumber: c["maxnumber"].as_u64().expect("maxnumber"),
            salt: text("salt"),
            signature: text("signature"),
        })
        .expect("solvable")
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Resp {
        self.post_json(
            "/api/v1/auth/sign-in",
            &serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }
}

/// `a=1&b=2`, percent-encoding what forms encode.
pub fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}
