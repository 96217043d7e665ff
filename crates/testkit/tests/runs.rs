#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Reporting results over the API, on SQLite and PostgreSQL: the run lifecycle with JSON batches
//! and report files, one-shot uploads in every format, idempotent retries, sharded runs, refusals
//! that store nothing, and free text sealed at rest.

use serde_json::{Value, json};
use std::io::Write;
use testvault_testkit::{Backend, Client, Resp, TestApp, on_both_backends};

on_both_backends!(
    a_run_takes_json_batches_once_each_and_finishes,
    one_shot_uploads_accept_junit_ctrf_and_compressed_reports,
    refused_reports_store_nothing,
    sharded_runs_finish_when_every_shard_has,
    failure_text_is_sealed_and_tokens_are_bounded_by_project_and_scope,
    identities_join_across_uploads_and_a_hash_collision_is_refused,
    a_suite_known_in_part_joins_and_keys_are_stored_only_where_needed,
    allure_results_arrive_as_a_form_of_files,
    uploads_leave_every_connection_checking_foreign_keys
);

const JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="checkout" tests="4" failures="1" skipped="1">
    <testcase classname="shop.CheckoutTest" name="pays_with_card" time="0.120"/>
    <testcase classname="shop.CheckoutTest" name="refuses_expired_card" time="0.045">
      <failure message="expected 402 but got 200" type="AssertionError">AssertionError: expected 402 but got 200
    at shop.CheckoutTest.refuses_expired_card(CheckoutTest.java:42) SECRET-TRACE-CANARY</failure>
    </testcase>
    <testcase classname="shop.CheckoutTest" name="applies_coupon" time="0.010"><skipped message="coupon service down"/></testcase>
    <testcase classname="shop.CartTest" name="adds_item" time="1,234.5"/>
  </testsuite>
</testsuites>"#;

const CTRF: &str = r#"{"reportFormat":"CTRF","specVersion":"0.0.0","results":{"tool":{"name":"jest"},
 "summary":{"tests":2,"passed":1,"failed":1,"pending":0,"skipped":0,"other":0,"start":1,"stop":2},
 "tests":[{"name":"renders the cart","status":"passed","duration":12,"suite":"Cart"},
          {"name":"totals","status":"failed","duration":7,"suite":"Cart","message":"Expected 3 received 4","trace":"at totals (cart.test.js:9:5)"}],
 "environment":{"branchName":"main","commit":"abc123"}}}"#;

async fn token_for(owner: &Client, project: &str, scopes: &[&str]) -> String {
    let r = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ci", "project": project, "scopes": scopes }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

async fn setup(app: &TestApp) -> (Client, String) {
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201);
    let token = token_for(&owner, "web", &["results:write", "read"]).await;
    (owner, token)
}

/// Posts a report (a one-shot upload or a run's file) with the token.
async fn post_report(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Resp {
    call(app, token, "POST", path, Some((content_type, body)), &[]).await
}

/// A request with a bearer token, a body and optional headers.
async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> Resp {
    let c = app.client();
    let url = c.url(path);
    let mut req = match method {
        "GET" => c.http.get(&url),
        _ => c.http.post(&url),
    }
    .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some((ctype, bytes)) = body {
        req = req.header("content-type", ctype).body(bytes);
    }
    c.send(req).await
}

fn json_body(v: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", v.to_string().into_bytes()))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

async fn a_run_takes_json_batches_once_each_and_finishes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_owner, token) = setup(&app).await;
    let created = call(
        &app,
        &token,
        "POST",
        "/api/v1/projects/web/runs",
        json_body(&json!({ "title": "nightly", "branch": "main", "commit": "deadbeef", "build_url": "https://ci.example/1", "tags": ["nightly"], "environment": { "os": "linux" } })),
        &[],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let run = created.json()["data"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(created.json()["data"]["number"], 1);
    assert_eq!(created.json()["data"]["status"], "running");

    let batch = json!({ "results": [
        { "suite": ["api", "users"], "name": "creates", "outcome": "passed", "duration_ms": 5 },
        { "suite": ["api", "users"], "name": "deletes", "outcome": "failed", "message": "expected 204 got 500", "trace": "at users.rs:10" },
        { "suite": ["api"], "name": "lists", "outcome": "skipped" },
        { "suite": ["api"], "name": "pages", "parameters": { "size": "10" }, "outcome": "passed",
          "attempts": [ { "outcome": "failed", "message": "timeout" } ] }
    ]});
    let path = format!("/api/v1/projects/web/runs/{run}/results");
    let first = call(
        &app,
        &token,
        "POST",
        &path,
        json_body(&batch),
        &[("idempotency-key", "batch-1")],
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["data"]["stored"]["total"], 4);
    // The same batch again (a client retry): acknowledged, stored once.
    let again = call(
        &app,
        &token,
        "POST",
        &path,
        json_body(&batch),
        &[("idempotency-key", "batch-1")],
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["data"]["duplicate"], true);
    assert_eq!(again.json()["data"]["run"]["counts"]["total"], 4);

    let counts = &again.json()["data"]["run"]["counts"];
    assert_eq!(
        (
            counts["passed"].clone(),
            counts["failed"].clone(),
            counts["skipped"].clone(),
            counts["flaky"].clone()
        ),
        (json!(2), json!(1), json!(1), json!(1))
    );

    // Results: failures first, details opened.
    let results = call(&app, &token, "GET", &path, None, &[]).await.json();
    let first = &results["data"][0];
    assert_eq!(first["name"], "deletes");
    assert_eq!(first["suite"], "api › users");
    assert_eq!(first["message"], "expected 204 got 500");
    assert_eq!(first["trace"], "at users.rs:10");
    assert!(first["signature"].as_str().is_some_and(|s| s.len() == 16));
    let flaky: Vec<&Value> = results["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["flaky"] == true)
        .collect();
    assert_eq!(flaky.len(), 1);
    assert_eq!(flaky[0]["tries"], 2);
    assert_eq!(flaky[0]["attempts"][0]["message"], "timeout");
    let failed_only = call(
        &app,
        &token,
        "GET",
        &format!("{path}?outcome=failed"),
        None,
        &[],
    )
    .await
    .json();
    assert_eq!(failed_only["data"].as_array().map(Vec::len), Some(1));

    // Bad batches: clear 4xx, nothing stored.
    let bad = call(
        &app,
        &token,
        "POST",
        &path,
        json_body(&json!({ "results": [ { "name": "x", "outcome": "exploded" } ] })),
        &[],
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let unnamed = call(
        &app,
        &token,
        "POST",
        &path,
        json_body(&json!({ "results": [ { "name": " ", "outcome": "passed" } ] })),
        &[],
    )
    .await;
    assert_eq!(unnamed.status, 422);

    let finished = call(
        &app,
        &token,
        "POST",
        &format!("/api/v1/projects/web/runs/{run}/finish"),
        json_body(&json!({})),
        &[],
    )
    .await;
    assert_eq!(finished.status, 200, "{}", finished.body);
    assert_eq!(finished.json()["data"]["status"], "finished");
    let late = call(
        &app,
        &token,
        "POST",
        &path,
        json_body(&batch),
        &[("idempotency-key", "batch-2")],
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.body);

    let runs = call(&app, &token, "GET", "/api/v1/projects/web/runs", None, &[])
        .await
        .json();
    assert_eq!(runs["data"][0]["title"], "nightly");
    assert_eq!(runs["data"][0]["environment"]["os"], "linux");
}

async fn one_shot_uploads_accept_junit_ctrf_and_compressed_reports(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (owner, token) = setup(&app).await;
    let upload = "/api/v1/projects/web/uploads?branch=main&commit=abc&title=CI";
    let junit = post_report(
        &app,
        &token,
        upload,
        "application/xml",
        JUNIT.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(junit.status, 201, "{}", junit.body);
    let d = &junit.json()["data"];
    assert_eq!(d["stored"]["total"], 4);
    assert_eq!(d["stored"]["failed"], 1);
    assert_eq!(d["stored"]["skipped"], 1);
    assert_eq!(d["run"]["status"], "finished");
    assert_eq!(d["run"]["branch"], "main");
    // Thousands separators in `time`.
    assert!(
        d["stored"]["duration_ms"]
            .as_i64()
            .is_some_and(|ms| ms >= 1_234_500)
    );

    let ctrf = post_report(
        &app,
        &token,
        "/api/v1/projects/web/uploads",
        "application/json+ctrf",
        CTRF.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(ctrf.status, 201, "{}", ctrf.body);
    assert_eq!(ctrf.json()["data"]["stored"]["total"], 2);
    assert_eq!(ctrf.json()["data"]["tool"], "jest");

    // gzip on the wire, format stated.
    let gz = post_report(
        &app,
        &token,
        "/api/v1/projects/web/uploads?format=junit",
        "application/octet-stream",
        gzip(JUNIT.as_bytes()),
    )
    .await;
    assert_eq!(gz.status, 201, "{}", gz.body);
    assert_eq!(gz.json()["data"]["run"]["number"], 3);

    // The pages: the project lists its runs, a run page shows failures first with their text.
    let project = owner.get("/projects/web").await;
    assert!(
        project.body.contains("href=\"/projects/web/runs/1\""),
        "{}",
        project.body
    );
    let page = owner.get("/projects/web/runs/1").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("refuses_expired_card")
            && page.body.contains("expected 402 but got 200")
    );
    assert_eq!(owner.get("/projects/web/runs/99").await.status, 404);
    assert_eq!(owner.get("/projects/web/runs/x").await.status, 404);

    // A session works as well as a token.
    let runs = owner.get("/api/v1/projects/web/runs").await.json();
    assert_eq!(runs["data"].as_array().map(Vec::len), Some(3));
    // The same test keeps one identity across runs.
    let run = runs["data"][0]["id"].as_str().expect("id");
    let results = owner
        .get(&format!("/api/v1/projects/web/runs/{run}/results"))
        .await
        .json();
    let key = results["data"][0]["key"].as_str().expect("key");
    let earlier = runs["data"][2]["id"].as_str().expect("id");
    let earlier_results = owner
        .get(&format!("/api/v1/projects/web/runs/{earlier}/results"))
        .await
        .json();
    assert!(
        earlier_results["data"]
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["key"] == key && r["test_id"] == results["data"][0]["test_id"])
    );
}

async fn refused_reports_store_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_owner, token) = setup(&app).await;
    let upload = "/api/v1/projects/web/uploads";
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&x;"/></testsuite>"#;
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">]><testsuite><testcase name="&b;"/></testsuite>"#;
    let truncated_gzip = {
        let g = gzip(JUNIT.as_bytes());
        g[..g.len() / 2].to_vec()
    };
    let mut half = JUNIT.as_bytes().to_vec();
    half.truncate(JUNIT.len() - 40);
    for (what, body) in [
        ("xxe", xxe.as_bytes().to_vec()),
        ("billion laughs", laughs.as_bytes().to_vec()),
        ("truncated gzip", truncated_gzip),
        ("truncated xml", half),
        ("not a report", b"hello".to_vec()),
        (
            "invalid utf-8",
            b"<testsuite><testcase name=\"\xff\xfe\"/></testsuite>".to_vec(),
        ),
    ] {
        let r = post_report(&app, &token, upload, "application/octet-stream", body).await;
        assert!(
            (400..500).contains(&r.status),
            "{what}: {} {}",
            r.status,
            r.body
        );
        assert!(!r.body.contains("root:"), "{what} leaked a file");
    }
    let runs = call(&app, &token, "GET", "/api/v1/projects/web/runs", None, &[])
        .await
        .json();
    assert_eq!(
        runs["data"],
        json!([]),
        "refused one-shot uploads leave no run"
    );

    // A refused file into an open run leaves the run as it was.
    let run = call(
        &app,
        &token,
        "POST",
        "/api/v1/projects/web/runs",
        json_body(&json!({})),
        &[],
    )
    .await
    .json()["data"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut broken = JUNIT.replace("</testsuites>", "");
    broken.push_str("<oops>");
    let r = post_report(
        &app,
        &token,
        &format!("/api/v1/projects/web/runs/{run}/results"),
        "application/xml",
        broken.into_bytes(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("line"), "names the place: {}", r.body);
    let now = call(
        &app,
        &token,
        "GET",
        &format!("/api/v1/projects/web/runs/{run}"),
        None,
        &[],
    )
    .await
    .json();
    assert_eq!(now["data"]["counts"]["total"], 0);
}

async fn sharded_runs_finish_when_every_shard_has(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_owner, token) = setup(&app).await;
    let run = call(
        &app,
        &token,
        "POST",
        "/api/v1/projects/web/runs",
        json_body(&json!({ "shards": 2 })),
        &[],
    )
    .await
    .json()["data"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let results = format!("/api/v1/projects/web/runs/{run}/results");
    let finish = format!("/api/v1/projects/web/runs/{run}/finish");
    for shard in ["1", "2"] {
        let batch = json!({ "results": [ { "name": format!("shard {shard} test"), "outcome": "passed" } ] });
        assert_eq!(
            call(&app, &token, "POST", &results, json_body(&batch), &[])
                .await
                .status,
            201
        );
    }
    let one = call(
        &app,
        &token,
        "POST",
        &finish,
        json_body(&json!({ "shard": "1" })),
        &[],
    )
    .await
    .json();
    assert_eq!(one["data"]["status"], "running");
    assert_eq!(one["data"]["shards_finished"], 1);
    let again = call(
        &app,
        &token,
        "POST",
        &finish,
        json_body(&json!({ "shard": "1" })),
        &[],
    )
    .await
    .json();
    assert_eq!(
        again["data"]["status"], "running",
        "the same shard twice is still one shard"
    );
    let two = call(
        &app,
        &token,
        "POST",
        &finish,
        json_body(&json!({ "shard": "2" })),
        &[],
    )
    .await
    .json();
    assert_eq!(two["data"]["status"], "finished");
    assert_eq!(two["data"]["counts"]["total"], 2);
}

async fn failure_text_is_sealed_and_tokens_are_bounded_by_project_and_scope(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (owner, token) = setup(&app).await;
    let upload = || {
        post_report(
            &app,
            &token,
            "/api/v1/projects/web/uploads",
            "application/xml",
            JUNIT.as_bytes().to_vec(),
        )
    };
    assert_eq!(upload().await.status, 201);
    // The trace is stored only sealed: no row carries it in clear.
    let details = app
        .sql_bytes("SELECT details FROM results WHERE details IS NOT NULL AND outcome = 1")
        .await
        .expect("details");
    assert!(!String::from_utf8_lossy(&details).contains("SECRET-TRACE-CANARY"));
    assert!(!String::from_utf8_lossy(&details).contains("expected 402"));

    // Search by error text finds it through the blind index, case-insensitively, all words.
    let hits = call(
        &app,
        &token,
        "GET",
        "/api/v1/projects/web/results/search?q=Expected+402",
        None,
        &[],
    )
    .await;
    assert_eq!(hits.status, 200, "{}", hits.body);
    assert_eq!(
        hits.json()["data"][0]["result"]["name"],
        "refuses_expired_card"
    );
    assert_eq!(hits.json()["data"][0]["run_number"], 1);
    // The search walks the project's runs newest first, a window at a time: a hit a thousand
    // runs older than the newest (several windows away) is found, in order, and a limit the
    // newest window fills reads no further.
    app.sql("UPDATE runs SET number = 1000").await;
    assert_eq!(upload().await.status, 201);
    app.sql("UPDATE runs SET number = 1 WHERE number = 1000")
        .await;
    let search = |limit: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            let path = format!("/api/v1/projects/web/results/search?q=expected+402{limit}");
            let r = call(app, token, "GET", &path, None, &[]).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["data"]
                .as_array()
                .map(|hits| {
                    hits.iter()
                        .map(|h| h["run_number"].as_i64().unwrap_or(0))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    assert_eq!(search("").await, vec![1001, 1]);
    assert_eq!(search("&limit=1").await, vec![1001]);
    let none = call(
        &app,
        &token,
        "GET",
        "/api/v1/projects/web/results/search?q=expected+teapot",
        None,
        &[],
    )
    .await;
    assert_eq!(none.json()["data"], json!([]));
    let short = call(
        &app,
        &token,
        "GET",
        "/api/v1/projects/web/results/search?q=a",
        None,
        &[],
    )
    .await;
    assert_eq!(short.status, 422);
    // The index holds keyed hashes, never the words.
    let term = app
        .sql_bytes("SELECT term FROM result_terms LIMIT 1")
        .await
        .expect("a term");
    assert_eq!(term.len(), 16);

    // Read-only tokens cannot report; tokens of another project cannot see this one.
    owner
        .post_json("/api/v1/projects", &json!({ "slug": "api", "name": "API" }))
        .await;
    let reader = token_for(&owner, "web", &["read"]).await;
    let other = token_for(&owner, "api", &["results:write", "read"]).await;
    let upload = "/api/v1/projects/web/uploads";
    assert_eq!(
        post_report(
            &app,
            &reader,
            upload,
            "application/xml",
            JUNIT.as_bytes().to_vec()
        )
        .await
        .status,
        403
    );
    assert_eq!(
        post_report(
            &app,
            &other,
            upload,
            "application/xml",
            JUNIT.as_bytes().to_vec()
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(&app, &other, "GET", "/api/v1/projects/web/runs", None, &[])
            .await
            .status,
        404
    );
    assert_eq!(
        call(&app, &reader, "GET", "/api/v1/projects/web/runs", None, &[])
            .await
            .status,
        200
    );
    // Audit: the upload is recorded with the token as actor.
    let audit = owner
        .get("/api/v1/audit?action=run.results_reported")
        .await
        .json();
    assert!(
        audit["data"][0]["actor_id"]
            .as_str()
            .is_some_and(|a| a.starts_with("tvt_"))
    );
}

/// A JUnit report of `n` passing cases in one suite.
fn junit_of(n: usize) -> String {
    let mut xml = String::from("<testsuite name=\"big\">");
    for i in 0..n {
        xml.push_str(&format!(
            "<testcase classname=\"big.Suite\" name=\"case_{i}\"/>"
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

/// A run's results as the API lists them (up to 10,000).
async fn listed_results(app: &TestApp, token: &str, run: &str) -> Vec<Value> {
    let r = call(
        app,
        token,
        "GET",
        &format!("/api/v1/projects/web/runs/{run}/results?limit=10000"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["data"].as_array().expect("results").clone()
}

/// The test ids a run's results point at.
async fn test_ids_of(app: &TestApp, token: &str, run: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = listed_results(app, token, run)
        .await
        .iter()
        .map(|x| x["test_id"].as_i64().expect("test_id"))
        .collect();
    ids.sort_unstable();
    ids
}

async fn identities_join_across_uploads_and_a_hash_collision_is_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_owner, token) = setup(&app).await;
    let upload = |body: String| {
        let app = &app;
        let token = &token;
        async move {
            post_report(
                app,
                token,
                "/api/v1/projects/web/uploads",
                "application/xml",
                body.into_bytes(),
            )
            .await
        }
    };
    // Big enough that the second upload loads the project's identities in one scan instead of
    // looking them up batch by batch: both ways must find the same tests.
    let mut runs = Vec::new();
    for _ in 0..2 {
        let r = upload(junit_of(1_200)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        runs.push(
            r.json()["data"]["run"]["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let first = test_ids_of(&app, &token, &runs[0]).await;
    assert_eq!(first.len(), 1_200);
    assert_eq!(first, test_ids_of(&app, &token, &runs[1]).await);
    // A small upload looks each identity up.
    let r = upload(junit_of(3)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let run = r.json()["data"]["run"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(test_ids_of(&app, &token, &run).await, first[..3].to_vec());

    // A stored test whose key differs from an incoming one with the same hash (what a 64-bit
    // collision would look like): refused, not merged, and nothing is stored.
    app.sql("UPDATE tests SET identity_key = 'another test' WHERE name = 'case_1'")
        .await;
    let r = upload(junit_of(3)).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("identity hash"), "{}", r.body);
    let listed = call(&app, &token, "GET", "/api/v1/projects/web/runs", None, &[])
        .await
        .json();
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(3));
}

/// A JUnit report of the named cases (`(classname, name)`), all passing.
fn junit_named(cases: &[(String, String)]) -> String {
    let mut xml = String::from("<testsuite name=\"mixed\">");
    for (class, name) in cases {
        xml.push_str(&format!(
            "<testcase classname=\"{class}\" name=\"{name}\"/>"
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

/// `(test id, key)` of a run's results, by key.
async fn keys_of(app: &TestApp, token: &str, run: &str) -> std::collections::BTreeMap<String, i64> {
    listed_results(app, token, run)
        .await
        .iter()
        .map(|x| {
            (
                x["key"].as_str().expect("key").to_string(),
                x["test_id"].as_i64().expect("test_id"),
            )
        })
        .collect()
}

/// The store inserts a batch of tests it expects to be new without looking them up first (and
/// on SQLite gives them their ids itself): a batch that turns out to hold known tests must still
/// join them, never duplicate them. And a test's key is stored only when it is not just
/// `suite › name`; every key reads back whole.
async fn a_suite_known_in_part_joins_and_keys_are_stored_only_where_needed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_owner, token) = setup(&app).await;
    let upload = |cases: Vec<(String, String)>| {
        let app = &app;
        let token = &token;
        async move {
            let r = post_report(
                app,
                token,
                "/api/v1/projects/web/uploads",
                "application/xml",
                junit_named(&cases).into_bytes(),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.json()["data"]["run"]["id"]
                .as_str()
                .expect("id")
                .to_string()
        }
    };
    let case = |class: &str, name: String| (class.to_string(), name);
    // Known first: plain keys, and keys that need storing (a separator inside a name).
    let mut known: Vec<(String, String)> = (0..50)
        .map(|i| case("old.Suite", format!("case_{i}")))
        .collect();
    known.push(case("old.Suite", "a › b".to_string()));
    known.push(case("old.Suite", "with [brackets]".to_string()));
    let first = upload(known.clone()).await;
    let before = keys_of(&app, &token, &first).await;
    assert_eq!(before.len(), 52);
    // The separator inside the name is escaped in the key, so that key is stored whole.
    assert!(before.keys().any(|k| k.ends_with("a \\› b")), "{before:?}");
    assert_eq!(
        app.sql_i64("SELECT COUNT(*) FROM tests WHERE identity_key = ''")
            .await,
        50,
        "plain keys are not stored"
    );

    // A first batch (1,000 results) of new tests, so the next batch is expected to be new too;
    // that one mixes new tests with every known one.
    let mut cases: Vec<(String, String)> = (0..1_000)
        .map(|i| case("new.Suite", format!("fresh_{i}")))
        .collect();
    cases.extend((0..30).map(|i| case("new.Suite", format!("late_{i}"))));
    cases.extend(known.iter().cloned());
    cases.extend((30..60).map(|i| case("new.Suite", format!("late_{i}"))));
    let second = upload(cases).await;
    let after = keys_of(&app, &token, &second).await;
    assert_eq!(after.len(), 1_112);
    for (key, id) in &before {
        assert_eq!(after.get(key), Some(id), "{key} keeps its test");
    }
    let mut ids: Vec<i64> = after.values().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1_112, "every test once");
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM tests").await, 1_112);
    // The same upload again finds every test.
    let third = upload(
        (0..1_000)
            .map(|i| case("new.Suite", format!("fresh_{i}")))
            .chain(known.iter().cloned())
            .collect(),
    )
    .await;
    let again = keys_of(&app, &token, &third).await;
    assert!(again.iter().all(|(key, id)| after.get(key) == Some(id)));
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM tests").await, 1_112);
}

/// A `multipart/form-data` body of named files, as `curl -F` sends it.
fn form(boundary: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nnot a file\r\n"
    ));
    for (name, content) in files {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/json\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

async fn allure_results_arrive_as_a_form_of_files(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_owner, token) = setup(&app).await;
    let passed = r#"{"uuid":"a1","historyId":"h1","name":"adds item","fullName":"cart.CartTest#adds_item","status":"passed","start":1000,"stop":1020,"labels":[{"name":"suite","value":"CartTest"}]}"#;
    let failed = r#"{"uuid":"b2","historyId":"h2","name":"totals","fullName":"cart.CartTest#totals","status":"failed","statusDetails":{"message":"expected 3 got 4","trace":"at totals"},"start":1000,"stop":1030,"labels":[{"name":"suite","value":"CartTest"}]}"#;
    let container = r#"{"uuid":"c3","name":"CartTest","children":["a1","b2"]}"#;
    let boundary = "----testvault-form-7MA4YWxk";
    let body = form(
        boundary,
        &[
            ("allure-results/a1-result.json", passed),
            ("allure-results/b2-result.json", failed),
            ("allure-results/c3-container.json", container),
        ],
    );
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let r = post_report(
        &app,
        &token,
        "/api/v1/projects/web/uploads?title=allure",
        ctype.as_str(),
        body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let counts = &r.json()["data"]["run"]["counts"];
    assert_eq!(counts["total"], 2, "{}", r.body);
    assert_eq!(counts["failed"], 1, "{}", r.body);

    // A form that ends before its closing boundary names the part and stores nothing.
    let mut broken = form(boundary, &[("x-result.json", passed)]);
    broken.truncate(broken.len() - 30);
    let r = post_report(
        &app,
        &token,
        "/api/v1/projects/web/uploads",
        ctype.as_str(),
        broken,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("part 2"), "{}", r.body);
    let listed = call(&app, &token, "GET", "/api/v1/projects/web/runs", None, &[])
        .await
        .json();
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
}

/// SQLite uploads store with foreign-key checks off on their own connection (every row they
/// write points at a run and tests checked under the same lock); the connection must never go
/// back to the pool that way, whether the upload is stored or refused (deletions rely on the
/// checks' cascades).
async fn uploads_leave_every_connection_checking_foreign_keys(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, token) = setup(&app).await;
    // Refused then stored, so the last upload's connection is one that went back to the pool
    // (a refused upload's is closed).
    for _ in 0..3 {
        let refused = post_report(
            &app,
            &token,
            "/api/v1/projects/web/uploads?format=junit",
            "application/xml",
            b"<testsuite><testcase name=".to_vec(),
        )
        .await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        let ok = post_report(
            &app,
            &token,
            "/api/v1/projects/web/uploads",
            "application/xml",
            JUNIT.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(ok.status, 201, "{}", ok.body);
    }
    let core = &app.server.as_ref().expect("running").core;
    assert!(
        core.foreign_keys_enforced_everywhere()
            .await
            .expect("checked"),
        "a pooled connection was left without foreign-key checks"
    );
}
