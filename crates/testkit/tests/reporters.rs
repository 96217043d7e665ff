#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! The real, unmodified reporter clients from npm and PyPI (pinned in `reporters/`) report into
//! Testvault over HTTPS on loopback: `@testomatio/reporter` from mocha and jest, `check-tests`
//! (import and `--update-ids`), `pytestomatio`, and `@reportportal/agent-js-jest`. Everything
//! is then read back through Testvault's own API: every test once, with its status, duration,
//! error and retries. `.ci/run` installs the clients (`npm ci --prefix reporters`, `pip install
//! -r reporters/pytest/requirements.txt`).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use testvault_testkit::{Backend, Client, TestApp, on_both_backends};

on_both_backends!(
    testomatio_reporter_from_mocha_and_jest_reports_every_test_once,
    check_tests_imports_cases_and_writes_their_ids_into_the_source,
    reportportal_jest_agent_reports_its_tree_retries_logs_and_files,
    pytestomatio_syncs_ids_into_the_source_and_reports_a_run,
    reporter_keys_reach_only_their_project_and_what_they_send_is_sealed
);

/// The Python that has `pytestomatio` (`TESTVAULT_PYTHON`, else `python3`).
fn python() -> String {
    std::env::var("TESTVAULT_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn reporters_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reporters");
    assert!(
        dir.join("node_modules/@testomatio/reporter").is_dir(),
        "the reporter clients are not installed: run `npm ci --prefix reporters`"
    );
    dir
}

/// Runs a client; returns its exit status and everything it printed.
async fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, String)]) -> (i32, String) {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).args(args);
    // Nothing from this machine's environment decides where the clients report.
    for (k, _) in std::env::vars() {
        if k.starts_with("TESTOMATIO") || k.starts_with("RP_") {
            cmd.env_remove(k);
        }
    }
    // Each run its own temporary folder: the Testomat.io reporter keeps its last run id and an
    // artifact folder there, and clears that folder when it starts — shared between the tests
    // running in parallel, one run would clear or reuse another's.
    let tmp = tempfile::tempdir().expect("tmp");
    cmd.env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .env("REPORTPORTAL_CLIENT_JS_NO_ANALYTICS", "true")
        .env("TMPDIR", tmp.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::null());
    // A client that hangs fails the test after two minutes instead of holding CI.
    let out = tokio::task::spawn_blocking(move || {
        let child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let id = child.id();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if wait
                .recv_timeout(std::time::Duration::from_secs(120))
                .is_err()
            {
                let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            }
        });
        let out = child.wait_with_output();
        let _ = done.send(());
        let _ = watchdog.join();
        out
    })
    .await
    .expect("joins")
    .expect("the client starts");
    drop(tmp);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

struct Setup {
    app: TestApp,
    owner: Client,
    key: String,
    ca: PathBuf,
    _tmp: tempfile::TempDir,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "reporters", "project": "web", "format": "testomatio",
                     "scopes": ["results:write", "cases:write", "read"] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let key = r.json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert!(key.starts_with("tstmt_"), "{key}");
    let tmp = tempfile::tempdir().expect("tmp");
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, app.ca_pem()).expect("ca");
    Setup {
        app,
        owner,
        key,
        ca,
        _tmp: tmp,
    }
}

impl Setup {
    fn testomatio_env(&self, title: &str) -> Vec<(&'static str, String)> {
        vec![
            ("TESTOMATIO", self.key.clone()),
            ("TESTOMATIO_URL", self.app.url.clone()),
            ("TESTOMATIO_TITLE", title.to_string()),
            ("NODE_EXTRA_CA_CERTS", self.ca.display().to_string()),
        ]
    }

    async fn run_titled(&self, title: &str) -> Value {
        let runs = self.owner.get("/api/v1/projects/web/runs").await.json()["data"].clone();
        let found: Vec<Value> = runs
            .as_array()
            .expect("runs")
            .iter()
            .filter(|r| r["title"] == title)
            .cloned()
            .collect();
        assert_eq!(found.len(), 1, "one run titled {title}: {runs}");
        found[0].clone()
    }

    async fn results(&self, run: &Value) -> Vec<Value> {
        let id = run["id"].as_str().expect("id");
        self.owner
            .get(&format!("/api/v1/projects/web/runs/{id}/results?limit=500"))
            .await
            .json()["data"]
            .as_array()
            .expect("results")
            .clone()
    }
}

/// The result named `name` (exactly one of them).
fn one<'a>(results: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = results.iter().filter(|r| r["name"] == name).collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one result named {name}: {results:#?}"
    );
    found[0]
}

async fn testomatio_reporter_from_mocha_and_jest_reports_every_test_once(backend: Backend) {
    let s = setup(backend).await;
    let dir = reporters_dir();

    // mocha: the failing test makes it exit 1, as it would without a reporter.
    let (code, out) = run(
        &dir,
        "node",
        &[
            "node_modules/mocha/bin/mocha.js",
            "--reporter",
            "@testomatio/reporter/mocha",
            "mocha/*.spec.js",
        ],
        &s.testomatio_env("mocha run"),
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("Request to Testomat.io failed"), "{out}");
    let run_ = s.run_titled("mocha run").await;
    assert_eq!(run_["status"], "finished", "{run_}");
    let c = &run_["counts"];
    assert_eq!(
        (
            c["total"].as_i64(),
            c["passed"].as_i64(),
            c["failed"].as_i64(),
            c["skipped"].as_i64()
        ),
        (Some(7), Some(4), Some(1), Some(2)),
        "{run_}"
    );
    let results = s.results(&run_).await;
    assert_eq!(results.len(), 7);
    let failed = one(&results, "rejects an expired card");
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["suite"], "Checkout");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(message.contains("deep-equal"), "{failed}");
    assert!(
        !message.contains('\u{1b}'),
        "terminal colours are removed: {message}"
    );
    // The `@T` id leaves the name (it is written into the source later) and links by label.
    let linked = one(&results, "computes the total");
    assert!(
        linked["labels"]
            .as_array()
            .is_some_and(|l| l.contains(&json!(["test_id", "@T1a2b3c4d"]))),
        "{linked}"
    );
    let meta = one(&results, "adds an item to the cart");
    assert_eq!(meta["outcome"], "passed");
    assert_eq!(meta["file"], "mocha/cart.spec.js", "{meta}");
    let labels = meta["labels"].as_array().expect("labels");
    assert!(labels.contains(&json!(["browser", "chrome"])), "{meta}");
    // A local absolute path never reaches the store.
    let stored = serde_json::to_string(&results).expect("json");
    assert!(
        !stored.contains(dir.to_str().unwrap_or("/work")),
        "{stored}"
    );
    assert_eq!(
        one(&results, "checks the warehouse stock")["outcome"],
        "skipped"
    );

    // jest (jest-circus retries): the flaky test is one passed result, `todo` is skipped.
    let (code, out) = run(
        &dir,
        "node",
        &["node_modules/jest/bin/jest.js", "-c", "jest/jest.config.js"],
        &s.testomatio_env("jest run"),
    )
    .await;
    assert_eq!(code, 1, "{out}");
    let run_ = s.run_titled("jest run").await;
    let results = s.results(&run_).await;
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(results.len(), 8, "{names:?}");
    assert_eq!(
        one(&results, "retries the payment gateway")["outcome"],
        "passed"
    );
    assert_eq!(
        one(&results, "rejects an expired card")["outcome"],
        "failed"
    );
    assert_eq!(one(&results, "supports gift cards")["outcome"], "skipped");
    assert!(
        results
            .iter()
            .filter(|r| r["outcome"] != "skipped")
            .all(|r| r["duration_ms"].as_i64().is_some_and(|d| d >= 0)),
        "{results:#?}"
    );

    // A shared run: two processes with the same title fill one run; each finishes its part.
    let mut env = s.testomatio_env("shared run");
    env.push(("TESTOMATIO_SHARED_RUN", "1".into()));
    for spec in ["mocha/cart.spec.js", "mocha/checkout.spec.js"] {
        run(
            &dir,
            "node",
            &[
                "node_modules/mocha/bin/mocha.js",
                "--reporter",
                "@testomatio/reporter/mocha",
                spec,
            ],
            &env,
        )
        .await;
    }
    let shared = s.run_titled("shared run").await;
    assert_eq!(shared["counts"]["total"], 7, "{shared}");

    // A key that is not ours: the client prints our message and stops reporting; the test
    // command's own exit code is untouched.
    let mut env = s.testomatio_env("refused run");
    env[0].1 = format!("tstmt_{}_{}", "abcdefgh", "0".repeat(64));
    let (_, out) = run(
        &dir,
        "node",
        &[
            "node_modules/mocha/bin/mocha.js",
            "--reporter",
            "@testomatio/reporter/mocha",
            "mocha/cart.spec.js",
        ],
        &env,
    )
    .await;
    assert!(out.contains("403"), "{out}");
    assert!(
        out.contains("invalid, revoked or expired API token"),
        "{out}"
    );
    let runs = s.owner.get("/api/v1/projects/web/runs").await.json()["data"].clone();
    assert!(
        !runs
            .as_array()
            .expect("runs")
            .iter()
            .any(|r| r["title"] == "refused run"),
        "{runs}"
    );
}

async fn check_tests_imports_cases_and_writes_their_ids_into_the_source(backend: Backend) {
    let s = setup(backend).await;
    let dir = reporters_dir();
    // `--update-ids` rewrites the files: work on a copy.
    let work = tempfile::tempdir().expect("work");
    for name in ["cart.spec.js", "checkout.spec.js"] {
        std::fs::copy(dir.join("mocha").join(name), work.path().join(name)).expect("copy");
    }
    let check_tests = dir.join("node_modules/check-tests/bin/check.js");
    let check_tests = check_tests.to_str().expect("path");
    let mut env = s.testomatio_env("unused");
    env.push(("TESTOMATIO_WORKDIR", work.path().display().to_string()));
    let work_dir = work.path().to_str().expect("path");
    let (code, out) = run(
        &dir,
        "node",
        &[check_tests, "mocha", "**/*.spec.js", "-d", work_dir],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let cases = s.owner.get("/api/v1/projects/web/cases").await.json()["data"].clone();
    let titles: Vec<&str> = cases
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["title"].as_str())
        .collect();
    assert_eq!(cases.as_array().map(Vec::len), Some(7), "{titles:?}");
    assert!(titles.contains(&"accepts a valid card"), "{titles:?}");
    let smoke = cases
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["title"] == "accepts a valid card")
        .expect("case");
    assert!(
        smoke["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("smoke"))),
        "{smoke}"
    );

    let (code, out) = run(
        &dir,
        "node",
        &[
            check_tests,
            "mocha",
            "**/*.spec.js",
            "-d",
            work_dir,
            "--update-ids",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let source = std::fs::read_to_string(work.path().join("checkout.spec.js")).expect("read");
    let key = smoke["key"].as_str().expect("key");
    assert!(
        source.contains(&format!("accepts a valid card @smoke @T{key}")),
        "{source}"
    );
    assert!(source.contains("describe('Checkout @S"), "{source}");
    // Importing the rewritten source again changes nothing: the same cases, found by id.
    let (code, out) = run(
        &dir,
        "node",
        &[check_tests, "mocha", "**/*.spec.js", "-d", work_dir],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let again = s.owner.get("/api/v1/projects/web/cases").await.json()["data"].clone();
    assert_eq!(again.as_array().map(Vec::len), Some(7), "{again}");

    // Results reported from the rewritten source keep their names and link to their cases.
    let (_, out) = run(
        work.path(),
        "node",
        &[
            dir.join("node_modules/mocha/bin/mocha.js")
                .to_str()
                .expect("path"),
            "--reporter",
            dir.join("node_modules/@testomatio/reporter/lib/adapter/mocha.js")
                .to_str()
                .expect("path"),
            "checkout.spec.js",
        ],
        &[
            s.testomatio_env("after ids"),
            vec![("NODE_PATH", dir.join("node_modules").display().to_string())],
        ]
        .concat(),
    )
    .await;
    let run_ = s.run_titled("after ids").await;
    let results = s.results(&run_).await;
    let accepted = one(&results, "accepts a valid card @smoke");
    assert_eq!(accepted["suite"], "Checkout", "{out}");
    let linked = s
        .owner
        .get(&format!("/api/v1/projects/web/cases/{key}/automation"))
        .await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert!(
        linked.body.contains("accepts a valid card @smoke"),
        "{}",
        linked.body
    );

    // The `tag-name` filter the reporter's `run --filter` asks for.
    let r = s
        .app
        .client()
        .get(&format!(
            "/api/test_grep?type=tag&id=smoke&api_key={}",
            s.key
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["tests"], json!([format!("@T{key}")]));
}

async fn reportportal_jest_agent_reports_its_tree_retries_logs_and_files(backend: Backend) {
    let s = setup(backend).await;
    let dir = reporters_dir();
    let env = vec![
        ("RP_ENDPOINT", format!("{}/api/v1", s.app.url)),
        ("RP_API_KEY", s.key.clone()),
        ("RP_PROJECT_NAME", "web".to_string()),
        ("RP_LAUNCH", "rp launch".to_string()),
        ("NODE_EXTRA_CA_CERTS", s.ca.display().to_string()),
    ];
    let (code, out) = run(
        &dir,
        "node",
        &[
            "node_modules/jest/bin/jest.js",
            "-c",
            "rp-jest/jest.config.js",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 1, "{out}");
    let run_ = s.run_titled("rp launch").await;
    assert_eq!(run_["status"], "finished", "{run_}");
    assert_eq!(run_["environment"]["suite"], "rp-jest", "{run_}");
    let results = s.results(&run_).await;
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    // `test.todo` is never sent by the agent; every other test arrives once.
    assert_eq!(results.len(), 7, "{names:?}\n{out}");
    let flaky = one(&results, "retries the payment gateway");
    assert_eq!(flaky["outcome"], "passed", "{flaky}");
    assert_eq!(flaky["flaky"], true, "{flaky}");
    assert_eq!(flaky["tries"], 2, "{flaky}");
    assert_eq!(flaky["suite"], "Checkout › Payment", "{flaky}");
    let failed = one(&results, "rejects an expired card");
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["tries"], 2, "{failed}");
    assert!(
        failed["trace"]
            .as_str()
            .is_some_and(|t| t.contains("expired card")),
        "{failed}"
    );
    assert_eq!(one(&results, "applies a coupon code")["outcome"], "skipped");
    assert_eq!(run_["counts"]["total"], 7);
    // The file sent with a log is stored with its test, sealed.
    let id = run_["id"].as_str().expect("id");
    let files = s
        .owner
        .get(&format!("/api/v1/projects/web/runs/{id}/files"))
        .await;
    assert_eq!(files.status, 200, "{}", files.body);
    let list = files.json()["data"].clone();
    assert_eq!(list[0]["name"], "stock.json", "{list}");
    assert_eq!(
        list[0]["test"], "Cart › Stock › checks the warehouse stock",
        "{list}"
    );
    let file_id = list[0]["id"].as_str().expect("id");
    let got = s
        .owner
        .get(&format!("/api/v1/projects/web/runs/{id}/files/{file_id}"))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "{\"left\":3}");
    // The run page's result drawer offers it.
    let stock = one(&results, "checks the warehouse stock")["id"].clone();
    let number = run_["number"].clone();
    let page = s
        .owner
        .get(&format!("/projects/web/runs/{number}?result={stock}"))
        .await;
    assert!(
        page.body
            .contains(&format!("/runs/{id}/files/{file_id}\">stock.json</a>")),
        "{}",
        page.body
    );
    // The launch lookups and the server info the clients use.
    let r = s
        .app
        .client()
        .send(
            testvault_testkit::http_client(s.app.ca_pem())
                .get(
                    s.app
                        .client()
                        .url("/api/v1/web/launch?page.page=1&page.size=1"),
                )
                .bearer_auth(&s.key),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["content"][0]["uuid"], id);
    let info = s.app.client().get("/api/info").await;
    assert_eq!(info.status, 200);
    // A wrong key: ReportPortal's error shape.
    let r = s
        .app
        .client()
        .send(
            testvault_testkit::http_client(s.app.ca_pem())
                .post(s.app.client().url("/api/v1/web/launch"))
                .bearer_auth("rp_wrong")
                .json(&json!({ "name": "x", "startTime": 1 })),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.json()["errorCode"].is_number(), "{}", r.body);
}

async fn pytestomatio_syncs_ids_into_the_source_and_reports_a_run(backend: Backend) {
    let s = setup(backend).await;
    let dir = reporters_dir();
    // `sync` rewrites the test files: work on a copy.
    let work = tempfile::tempdir().expect("work");
    for name in ["pytest.ini", "test_cart.py", "test_checkout.py"] {
        std::fs::copy(dir.join("pytest").join(name), work.path().join(name)).expect("copy");
    }
    let mut env = s.testomatio_env("pytest run");
    env.extend([
        ("REQUESTS_CA_BUNDLE", s.ca.display().to_string()),
        // pytestomatio asks api.ipify.org for the machine's address before every request; an
        // unreachable proxy makes that fail at once (loopback is never proxied).
        ("HTTP_PROXY", "http://127.0.0.1:9".to_string()),
        ("HTTPS_PROXY", "http://127.0.0.1:9".to_string()),
        ("NO_PROXY", "127.0.0.1,localhost".to_string()),
        ("PYTHONDONTWRITEBYTECODE", "1".to_string()),
    ]);
    let py = python();
    let (code, out) = run(
        work.path(),
        &py,
        &[
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--testomatio",
            "sync",
        ],
        &env,
    )
    .await;
    assert!(
        !out.contains("No module named"),
        "pytestomatio is not installed: pip install -r reporters/pytest/requirements.txt\n{out}"
    );
    assert_eq!(code, 2, "sync stops before running tests: {out}");
    let cases = s.owner.get("/api/v1/projects/web/cases").await.json()["data"].clone();
    let adds = cases
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["title"] == "Adds an item to the cart")
        .unwrap_or_else(|| panic!("a case per test: {cases}"))
        .clone();
    let key = adds["key"].as_str().expect("key");
    let source = std::fs::read_to_string(work.path().join("test_cart.py")).expect("read");
    assert!(
        source.contains(&format!("@pytest.mark.testomatio(\"@T{key}\")")),
        "{out}\n{source}"
    );

    let (code, out) = run(
        work.path(),
        &py,
        &[
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--testomatio",
            "report",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 1, "the failing test fails the session: {out}");
    let run_ = s.run_titled("pytest run").await;
    assert_eq!(run_["status"], "finished", "{run_}");
    let results = s.results(&run_).await;
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    let c = &run_["counts"];
    assert_eq!(
        (
            c["total"].as_i64(),
            c["failed"].as_i64(),
            c["skipped"].as_i64()
        ),
        (Some(8), Some(1), Some(2)),
        "{names:?}"
    );
    let failed = one(&results, "Rejects an expired card");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("card was not approved"))
            || failed["trace"]
                .as_str()
                .is_some_and(|m| m.contains("card was not approved")),
        "{failed}"
    );
    // pytestomatio measures in seconds: stored as milliseconds, not as hours.
    assert!(
        results
            .iter()
            .all(|r| r["duration_ms"].as_i64().is_none_or(|d| d < 60_000)),
        "{results:#?}"
    );
    // The id `sync` wrote links the result to its case.
    let linked = s
        .owner
        .get(&format!("/api/v1/projects/web/cases/{key}/automation"))
        .await;
    assert!(
        linked.body.contains("Adds an item to the cart"),
        "{}",
        linked.body
    );
}

/// A request with a JSON body and a key in the `Authorization` header.
async fn send(
    s: &Setup,
    method: &str,
    path: &str,
    key: &str,
    body: Value,
) -> testvault_testkit::Resp {
    let http = testvault_testkit::http_client(s.app.ca_pem());
    let url = s.app.client().url(path);
    let req = match method {
        "PUT" => http.put(url),
        "GET" => http.get(url),
        _ => http.post(url),
    };
    s.app.client().send(req.bearer_auth(key).json(&body)).await
}

async fn reporter_keys_reach_only_their_project_and_what_they_send_is_sealed(backend: Backend) {
    let s = setup(backend).await;
    // A second project of the same org, with its own key.
    let r = s
        .owner
        .post_json("/api/v1/projects", &json!({ "slug": "api", "name": "API" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let other = s
        .owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "api ci", "project": "api", "scopes": ["results:write", "cases:write", "read"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();

    // The project page says how to connect each reporter to this server and project.
    let page = s.owner.get("/projects/web").await;
    assert!(
        page.body.contains(&format!(
            "RP_ENDPOINT={}/api/v1 RP_PROJECT_NAME=web",
            s.app.url
        )) || page.body.contains("RP_PROJECT_NAME=web"),
        "{}",
        page.body
    );
    assert!(page.body.contains("TESTOMATIO_URL="), "{}", page.body);

    // The Tokens page writes a project key in Testomat.io's form; a personal one cannot be.
    let page = s
        .owner
        .post_form(
            "/tokens",
            &[
                ("name", "ci"),
                ("project", "web"),
                ("scope_results_write", "on"),
                ("format", "testomatio"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("tstmt_"), "{}", page.body);
    let personal = s
        .owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "me", "scopes": ["read"], "format": "testomatio" }),
        )
        .await;
    assert_eq!(personal.status, 422, "{}", personal.body);

    // Testomat.io: web's run, reported into with web's key (in the body, as the JS client does).
    let started = s
        .app
        .client()
        .post_json(
            "/api/reporter",
            &json!({ "api_key": s.key, "title": "web run" }),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let uid = started.json()["uid"].as_str().expect("uid").to_string();
    assert!(
        started.json()["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://") && u.ends_with("/projects/web/runs/1")),
        "{}",
        started.body
    );
    let test = json!({ "api_key": s.key, "status": "failed", "title": "t", "message": "REPORTER-MESSAGE-CANARY",
                       "stack": "REPORTER-STACK-CANARY", "run_time": 5 });
    let r = s
        .app
        .client()
        .post_json(&format!("/api/reporter/{uid}/testrun"), &test)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The other project's key: the run is not found, in either place the key may travel.
    let mut foreign = test.clone();
    foreign["api_key"] = json!(other);
    let r = s
        .app
        .client()
        .post_json(&format!("/api/reporter/{uid}/testrun"), &foreign)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["message"].is_string(), "{}", r.body);
    let r = send(
        &s,
        "PUT",
        &format!("/api/reporter/{uid}?api_key={other}"),
        &other,
        json!({ "status_event": "finish" }),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // No key, a wrong key, a personal session: refused in Testomat.io's shape.
    let r = s
        .app
        .client()
        .post_json("/api/reporter", &json!({ "title": "x" }))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.json()["message"].is_string(), "{}", r.body);
    let r = s
        .owner
        .post_json("/api/reporter", &json!({ "title": "x" }))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A bad test names itself; nothing of the request is stored.
    let bad = json!({ "api_key": s.key, "tests": [
        { "status": "passed", "title": "good" }, { "status": "exploded", "title": "bad" } ] });
    let r = s
        .app
        .client()
        .post_json(&format!("/api/reporter/{uid}/testrun"), &bad)
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("test 2") && r.body.contains("exploded"),
        "{}",
        r.body
    );
    let run_ = s.run_titled("web run").await;
    assert_eq!(run_["counts"]["total"], 1, "{run_}");

    // A test reported again and again is one result that keeps its latest 20 earlier tries.
    let again: Vec<Value> = (0..25)
        .map(|i| json!({ "status": if i % 2 == 0 { "failed" } else { "passed" }, "title": "again", "run_time": 1 }))
        .collect();
    let r = s
        .app
        .client()
        .post_json(
            &format!("/api/reporter/{uid}/testrun"),
            &json!({ "api_key": s.key, "tests": again }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = s.results(&run_).await;
    assert_eq!(one(&results, "again")["tries"], 21);

    // Finished: late results still land for an hour, then the run's history stays as it was.
    let r = send(
        &s,
        "PUT",
        &format!("/api/reporter/{uid}"),
        &s.key,
        json!({ "status_event": "finish" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let late = json!({ "api_key": s.key, "status": "passed", "title": "late", "run_time": 1 });
    let r = s
        .app
        .client()
        .post_json(&format!("/api/reporter/{uid}/testrun"), &late)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.app
        .sql("UPDATE runs SET finished_at = finished_at - 7200 WHERE title = 'web run'")
        .await;
    let r = s
        .app
        .client()
        .post_json(&format!("/api/reporter/{uid}/testrun"), &late)
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // ReportPortal: web's launch, item and log; the other key reaches none of them.
    let r = send(
        &s,
        "POST",
        "/api/v1/web/launch",
        &s.key,
        json!({ "name": "rp", "startTime": 1 }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let launch = r.json()["id"].as_str().expect("id").to_string();
    let r = send(
        &s,
        "POST",
        "/api/v2/web/item",
        &s.key,
        json!({ "name": "case", "type": "STEP", "launchUuid": launch, "startTime": 10 }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let item = r.json()["id"].as_str().expect("id").to_string();
    for (path, body) in [
        (
            format!("/api/v1/web/item/{item}"),
            json!({ "status": "passed" }),
        ),
        (
            format!("/api/v1/api/item/{item}"),
            json!({ "status": "passed" }),
        ),
    ] {
        let r = send(&s, "PUT", &path, &other, body).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(r.json()["errorCode"].is_number(), "{}", r.body);
    }
    let r = send(&s, "POST", "/api/v1/api/log", &other,
        json!({ "itemUuid": item, "launchUuid": launch, "message": "x", "level": "error", "time": 11 })).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = send(
        &s,
        "POST",
        &format!("/api/v1/api/launch/{launch}/finish"),
        &other,
        json!({}),
    )
    .await;
    assert!(r.status == 404 || r.status == 405, "{}", r.body);

    // A log and a file, sealed at rest; the file comes back intact, as a download.
    let boundary = "XyZ123";
    let entry = json!([{ "itemUuid": item, "launchUuid": launch, "time": 12, "level": "error",
                         "message": "REPORTER-LOG-CANARY", "file": { "name": "evidence.html" } }]);
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"json_request_part\"\r\nContent-Type: application/json\r\n\r\n{entry}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"evidence.html\"\r\nContent-Type: text/html\r\n\r\n\
         <script>REPORTER-FILE-CANARY</script>\r\n--{boundary}--\r\n"
    );
    let http = testvault_testkit::http_client(s.app.ca_pem());
    let r = s
        .app
        .client()
        .send(
            http.post(s.app.client().url("/api/v1/web/log"))
                .bearer_auth(&s.key)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(form),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = send(
        &s,
        "PUT",
        &format!("/api/v1/web/item/{item}"),
        &s.key,
        json!({ "status": "failed", "endTime": 40, "description": "REPORTER-DESCRIPTION-CANARY" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        &s,
        "PUT",
        &format!("/api/v1/web/launch/{launch}/finish"),
        &s.key,
        json!({ "endTime": 50 }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["link"]
            .as_str()
            .is_some_and(|l| l.ends_with("/projects/web/runs/2")),
        "{}",
        r.body
    );
    let rp_run = s.run_titled("rp").await;
    let results = s.results(&rp_run).await;
    let case = one(&results, "case");
    assert_eq!(case["outcome"], "failed");
    assert_eq!(case["duration_ms"], 30);
    assert_eq!(case["message"], "REPORTER-LOG-CANARY", "{case}");
    let run_id = rp_run["id"].as_str().expect("id");
    let files = s
        .owner
        .get(&format!("/api/v1/projects/web/runs/{run_id}/files"))
        .await
        .json()["data"]
        .clone();
    let file = files[0]["id"].as_str().expect("file");
    let got = s
        .owner
        .get(&format!(
            "/api/v1/projects/web/runs/{run_id}/files/{file}?inline=1"
        ))
        .await;
    assert_eq!(got.body, "<script>REPORTER-FILE-CANARY</script>");
    assert!(
        got.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment")),
        "an HTML file is never shown in place"
    );
    assert_ne!(got.header("content-type").as_deref(), Some("text/html"));
    for query in [
        "SELECT message FROM reporter_logs",
        "SELECT content FROM result_files",
        "SELECT description FROM reporter_items WHERE description IS NOT NULL",
        "SELECT details FROM results WHERE details IS NOT NULL",
    ] {
        let stored = s.app.sql_bytes(query).await.expect("a row");
        let text = String::from_utf8_lossy(&stored);
        assert!(!text.contains("CANARY"), "{query} holds clear text");
    }
}
