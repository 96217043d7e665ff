#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Comparing runs, on both backends: every category, the default base (the latest finished run
//! on `main`), the quality gate, and the page. A test's history and flakiness, and its page;
//! failure clusters.

use serde_json::{Value, json};
use testvault_testkit::{Backend, Client, TestApp, on_both_backends};

on_both_backends!(
    two_runs_compare_by_category_and_gate_on_new_failures,
    a_test_page_shows_its_history_by_branch_and_its_flakiness,
    failures_cluster_by_their_error_across_runs,
    the_runs_list_filters_and_pages,
    a_run_page_filters_sorts_and_pages
);

/// A one-shot CTRF upload on `branch`; `tests` are `(name, status, duration_ms)`.
async fn report(owner: &Client, branch: &str, tests: &[(&str, &str, i64)]) -> Value {
    let tests: Vec<Value> = tests
        .iter()
        .map(|(name, status, ms)| {
            json!({ "name": name, "status": status, "duration": ms, "suite": "checkout",
                    "message": if *status == "failed" { "boom" } else { "" } })
        })
        .collect();
    let body = json!({ "reportFormat": "CTRF", "specVersion": "0.0.0", "results": {
        "tool": { "name": "jest" },
        "summary": { "tests": tests.len(), "passed": 0, "failed": 0, "pending": 0, "skipped": 0, "other": 0, "start": 1, "stop": 2 },
        "tests": tests } });
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/uploads?branch={branch}"),
            &body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["data"]["run"].clone()
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect()
}

async fn two_runs_compare_by_category_and_gate_on_new_failures(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    assert_eq!(
        owner
            .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
            .await
            .status,
        201
    );
    let main = report(
        &owner,
        "main",
        &[
            ("pays", "passed", 100),
            ("refunds", "failed", 10),
            ("totals", "passed", 100),
            ("ships", "passed", 10),
            ("taxes", "failed", 10),
        ],
    )
    .await;
    // Nothing on main before the first run: no base to compare with.
    let first = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{}/compare",
            main["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(first.status, 404, "{}", first.body);

    let feature = report(
        &owner,
        "feature/cart",
        &[
            ("pays", "failed", 100),                    // new failure
            ("refunds", "passed", 10),                  // fixed
            ("totals", "passed", 400),                  // slower
            ("taxes", "failed", 10),                    // still failing
            ("<script>alert(1)</script>", "failed", 1), // new test, failing
        ],
    )
    .await;
    let r = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{}/compare",
            feature["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = &r.json()["data"];
    assert_eq!(
        v["base"]["number"], 1,
        "default base: the latest finished run on main"
    );
    assert_eq!(v["gate"], "failed");
    assert_eq!(
        v["counts"],
        json!({ "new_failures": 2, "fixed": 1, "still_failing": 1, "added": 1, "removed": 1, "slower": 1 })
    );
    let mut new = names(v, "new_failures");
    new.sort();
    assert_eq!(new, vec!["<script>alert(1)</script>", "pays"]);
    assert_eq!(names(v, "fixed"), vec!["refunds"]);
    assert_eq!(names(v, "still_failing"), vec!["taxes"]);
    assert_eq!(names(v, "slower"), vec!["totals"]);
    assert_eq!(names(v, "removed"), vec!["ships"]);
    assert_eq!(v["slower"][0]["base"]["duration_ms"], 100);
    assert_eq!(v["slower"][0]["head"]["duration_ms"], 400);

    // Quarantined tests' new failures stay listed, flagged, but do not fail the gate. Only
    // someone who manages plans may quarantine (an invited member is a viewer).
    let ids: Vec<i64> = v["new_failures"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["test_id"].as_i64().expect("id"))
        .collect();
    let viewer = app
        .add_member(&owner, "vera@acme.test", "viewer passphrase 1")
        .await;
    let r = viewer
        .put_json(
            &format!("/api/v1/projects/web/tests/{}/quarantine", ids[0]),
            &json!({ "reason": "flaky" }),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let blank = owner
        .put_json(
            &format!("/api/v1/projects/web/tests/{}/quarantine", ids[0]),
            &json!({ "reason": "  " }),
        )
        .await;
    assert_eq!(blank.status, 422, "a reason is needed: {}", blank.body);
    for id in &ids {
        let r = owner
            .put_json(
                &format!("/api/v1/projects/web/tests/{id}/quarantine"),
                &json!({ "reason": "flaky on CI, fix in PR #12" }),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let head = feature["id"].as_str().expect("id");
    let r = owner
        .get(&format!("/api/v1/projects/web/runs/{head}/compare"))
        .await;
    let q = &r.json()["data"];
    assert_eq!(q["gate"], "passed", "{q}");
    assert_eq!(q["gate_failures"], 0);
    assert_eq!(q["counts"]["new_failures"], 2, "still listed");
    assert_eq!(q["new_failures"][0]["quarantined"], true);
    let t = owner
        .get(&format!("/api/v1/projects/web/tests/{}", ids[0]))
        .await
        .json();
    assert_eq!(
        t["data"]["quarantine"]["reason"],
        "flaky on CI, fix in PR #12"
    );
    let page = owner.get(&format!("/projects/web/tests/{}", ids[0])).await;
    assert!(page.body.contains("Release from quarantine"));
    let audit = owner
        .get("/api/v1/audit?action=test.quarantined")
        .await
        .json();
    assert_eq!(audit["data"].as_array().map(Vec::len), Some(2), "{audit}");
    let r = owner
        .delete(&format!("/api/v1/projects/web/tests/{}/quarantine", ids[0]))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = owner
        .get(&format!("/api/v1/projects/web/runs/{head}/compare"))
        .await;
    assert_eq!(
        r.json()["data"]["gate_failures"],
        1,
        "released: counts again"
    );
    assert_eq!(
        owner
            .delete("/api/v1/projects/web/tests/999999/quarantine")
            .await
            .status,
        404
    );

    let csv = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{head}/compare?format=csv"
        ))
        .await;
    assert!(csv.body.starts_with("category,test_id"), "{}", csv.body);
    assert!(csv.body.contains("\"fixed\""), "{}", csv.body);
    assert!(
        csv.body
            .contains("\"refunds\",\"\",\"failed\",\"10\",\"passed\",\"10\""),
        "{}",
        csv.body
    );

    // By number, with a stricter slowness rule; and a run compared with itself passes the gate.
    let r = owner
        .get("/api/v1/projects/web/runs/2/compare?base=1&slower_pct=500")
        .await;
    assert_eq!(r.json()["data"]["counts"]["slower"], 0, "{}", r.body);
    let r = owner
        .get("/api/v1/projects/web/runs/2/compare?base=2")
        .await;
    assert_eq!(r.json()["data"]["gate"], "passed", "{}", r.body);
    let r = owner
        .get("/api/v1/projects/web/runs/2/compare?base=99")
        .await;
    assert_eq!(r.status, 404);
    let r = owner
        .get("/api/v1/projects/web/runs/2/compare?base=1&slower_pct=-1")
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // The page: every category, names escaped.
    let page = owner.get("/projects/web/runs/2/compare").await;
    assert_eq!(page.status, 200);
    for text in [
        "New failures",
        "Fixed",
        "Still failing",
        "Slower",
        "refunds",
        "ships",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(page.body.contains("script&#62;alert(1)") || page.body.contains("script&gt;alert(1)"));
}

async fn a_test_page_shows_its_history_by_branch_and_its_flakiness(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    for slug in ["web", "api"] {
        let r = owner
            .post_json("/api/v1/projects", &json!({ "slug": slug, "name": slug }))
            .await;
        assert_eq!(r.status, 201);
    }
    // Runs 1–4 on main alternate; run 5 on a branch fails.
    for (branch, status) in [
        ("main", "passed"),
        ("main", "failed"),
        ("main", "passed"),
        ("main", "failed"),
        ("feature/x", "failed"),
    ] {
        report(
            &owner,
            branch,
            &[("pays", status, 20), ("ships", "passed", 5)],
        )
        .await;
    }
    let results = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{}/results",
            owner.get("/api/v1/projects/web/runs?limit=1").await.json()["data"][0]["id"]
                .as_str()
                .expect("id")
        ))
        .await
        .json();
    let pays = results["data"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["name"] == "pays")
        .expect("pays")["test_id"]
        .as_i64()
        .expect("id");
    let r = owner
        .get(&format!("/api/v1/projects/web/tests/{pays}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = &r.json()["data"];
    assert_eq!(v["name"], "pays");
    assert_eq!(v["history"].as_array().map(Vec::len), Some(5));
    assert_eq!(v["history"][0]["run_number"], 5, "newest first");
    assert_eq!(v["history"][0]["branch"], "feature/x");
    let s = &v["stats"];
    assert_eq!(s["flips"], 3, "{s}");
    assert_eq!(s["flakiness"], 60, "{s}");
    assert_eq!(s["pass_rate"], 40, "{s}");
    assert_eq!(s["failing_since"], 4, "{s}");
    assert_eq!(s["last_pass"], 3, "{s}");
    let r = owner
        .get(&format!("/api/v1/projects/web/tests/{pays}?limit=2"))
        .await;
    assert_eq!(
        r.json()["data"]["history"].as_array().map(Vec::len),
        Some(2)
    );

    // Another project's test is not this project's.
    report_to(&owner, "api", &[("lists", "passed", 1)]).await;
    let other = owner.get("/api/v1/projects/api/runs").await.json();
    let other_results = owner
        .get(&format!(
            "/api/v1/projects/api/runs/{}/results",
            other["data"][0]["id"].as_str().expect("id")
        ))
        .await
        .json();
    let lists = other_results["data"][0]["test_id"].as_i64().expect("id");
    assert_eq!(
        owner
            .get(&format!("/api/v1/projects/web/tests/{lists}"))
            .await
            .status,
        404
    );
    assert_eq!(
        owner.get("/api/v1/projects/web/tests/nope").await.status,
        404
    );

    // The flaky report: `pays` flips, `ships` never does; the window narrows it.
    let r = owner.get("/api/v1/projects/web/flaky").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let flaky = &r.json()["data"];
    assert_eq!(flaky["total"], 1, "{flaky}");
    assert_eq!(flaky["tests"][0]["name"], "pays");
    assert_eq!(flaky["tests"][0]["flakiness"], 60);
    assert_eq!(flaky["tests"][0]["last_outcome"], "failed");
    assert_eq!(
        flaky["tests"][0]["trend"], "falling",
        "runs 4–5 failed steadily, runs 1–3 flipped"
    );
    let r = owner.get("/api/v1/projects/web/flaky?runs=2").await;
    assert_eq!(
        r.json()["data"]["total"],
        0,
        "runs 4 and 5 both failed: {}",
        r.body
    );
    let csv = owner.get("/api/v1/projects/web/flaky?format=csv").await;
    assert!(
        csv.body.contains("\"pays\",\"\",\"60\",\"3\""),
        "{}",
        csv.body
    );
    let page = owner.get("/projects/web/flaky").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("/projects/web/tests/{pays}")));
    assert!(!page.body.contains(">ships<"));

    // The dashboard: a point per run, the slowest test, the suite's heat per run.
    let r = owner.get("/api/v1/projects/web/dashboard").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = &r.json()["data"];
    let rates: Vec<i64> = d["trend"]
        .as_array()
        .expect("trend")
        .iter()
        .map(|t| t["pass_rate"].as_i64().expect("rate"))
        .collect();
    assert_eq!(rates, vec![100, 50, 100, 50, 50], "oldest first");
    assert_eq!(d["slowest"][0]["name"], "pays");
    assert_eq!(d["slowest"][0]["mean_ms"], 20);
    assert_eq!(d["heat"]["rows"][0]["label"], "checkout");
    assert_eq!(d["heat"]["rows"][0]["cells"], json!([0, 50, 0, 50, 50]));
    let page = owner.get("/projects/web/dashboard").await;
    assert_eq!(page.status, 200);
    for text in [
        "Heat map",
        "<polyline",
        "checkout in #2: 50 % failing",
        "Slowest tests",
    ] {
        assert!(page.body.contains(text), "{text}");
    }

    // The page: a strip per branch, the sparkline, the numbers; linked from the run page.
    let page = owner.get(&format!("/projects/web/tests/{pays}")).await;
    assert_eq!(page.status, 200);
    for text in [
        "feature/x",
        "main",
        "class=\"strip\"",
        "<polyline",
        "failing since",
        "#4",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    // The run page opens a result's drawer, which links the test's page.
    let run_page = owner.get("/projects/web/runs/5").await;
    let at = run_page
        .body
        .find("result=")
        .expect("a result opens its drawer")
        + 7;
    let result: String = run_page.body[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let drawer = owner
        .get(&format!("/projects/web/runs/5?result={result}"))
        .await;
    assert!(drawer.body.contains("id=\"drawer\""));
    assert!(drawer.body.contains("/projects/web/tests/"));
}

/// `report` into another project.
async fn report_to(owner: &Client, slug: &str, tests: &[(&str, &str, i64)]) {
    let tests: Vec<Value> = tests
        .iter()
        .map(|(name, status, ms)| json!({ "name": name, "status": status, "duration": ms }))
        .collect();
    let body = json!({ "reportFormat": "CTRF", "results": { "tool": { "name": "jest" }, "tests": tests } });
    let r = owner
        .post_json(&format!("/api/v1/projects/{slug}/uploads"), &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// A one-shot CTRF upload of failures: `(name, message)`.
async fn failures(owner: &Client, tests: &[(&str, &str)]) {
    let tests: Vec<Value> = tests
        .iter()
        .map(|(name, message)| json!({ "name": name, "status": "failed", "duration": 1, "suite": "checkout",
                                       "message": message, "trace": format!("{message}\n  at checkout.js:1") }))
        .collect();
    let body = json!({ "reportFormat": "CTRF", "results": { "tool": { "name": "jest" }, "tests": tests } });
    let r = owner.post_json("/api/v1/projects/web/uploads", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn failures_cluster_by_their_error_across_runs(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201);
    failures(
        &owner,
        &[
            ("pays", "timeout after 3000 ms connecting to 10.0.0.1"),
            ("refunds", "timeout after 5000 ms connecting to 10.0.0.7"),
            ("ships", "expected 3 parcels, got 4"),
        ],
    )
    .await;
    failures(
        &owner,
        &[("pays", "timeout after 4100 ms connecting to 10.0.0.9")],
    )
    .await;

    let r = owner.get("/api/v1/projects/web/clusters").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let clusters = r.json()["data"]["clusters"].clone();
    assert_eq!(clusters.as_array().map(Vec::len), Some(2), "{clusters}");
    let top = &clusters[0];
    assert_eq!(top["failures"], 3, "{top}");
    assert_eq!(top["tests"], 2);
    assert_eq!(
        (top["first_run"].as_i64(), top["last_run"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        top["headline"], "timeout after 4100 ms connecting to 10.0.0.9",
        "the latest failure, opened from its sealed details"
    );
    assert_eq!(top["example_run"], 2);
    assert_eq!(clusters[1]["failures"], 1);
    let r = owner.get("/api/v1/projects/web/clusters?runs=1").await;
    assert_eq!(
        r.json()["data"]["clusters"][0]["failures"],
        1,
        "the window holds run 2 only: {}",
        r.body
    );

    // A label applies to the signature: new failures that match it carry it too.
    let sig = top["signature"].as_str().expect("signature").to_string();
    let path = format!("/api/v1/projects/web/clusters/{sig}/label");
    let viewer = app
        .add_member(&owner, "vic@acme.test", "viewer passphrase 2")
        .await;
    let r = viewer
        .put_json(&path, &json!({ "label": "environment" }))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = owner.put_json(&path, &json!({ "label": "sunspots" })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = owner
        .put_json(
            "/api/v1/projects/web/clusters/nothex/label",
            &json!({ "label": "environment" }),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = owner
        .put_json(
            &path,
            &json!({ "label": "environment", "note": "staging DB flaps, OPS-42" }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    failures(
        &owner,
        &[("ships", "timeout after 999 ms connecting to 10.0.0.3")],
    )
    .await;
    let c = owner.get("/api/v1/projects/web/clusters").await.json();
    let top = &c["data"]["clusters"][0];
    assert_eq!(top["failures"], 4, "{top}");
    assert_eq!(top["label"], "environment");
    assert_eq!(top["note"], "staging DB flaps, OPS-42");
    let audit = owner
        .get("/api/v1/audit?action=cluster.labelled")
        .await
        .json();
    assert_eq!(audit["data"].as_array().map(Vec::len), Some(1));
    let page = owner.get("/projects/web/clusters").await;
    assert!(page.body.contains("staging DB flaps, OPS-42"));
    assert_eq!(owner.delete(&path).await.status, 204);
    let c = owner.get("/api/v1/projects/web/clusters").await.json();
    assert_eq!(c["data"]["clusters"][0]["label"], Value::Null);

    let csv = owner.get("/api/v1/projects/web/clusters?format=csv").await;
    assert!(
        csv.body
            .contains("\"4\",\"3\",\"1\",\"3\",\"timeout after 999 ms"),
        "{}",
        csv.body
    );
    let page = owner.get("/projects/web/clusters").await;
    assert_eq!(page.status, 200);
    for text in [
        "timeout after 999 ms",
        "expected 3 parcels, got 4",
        "Example trace",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
}

async fn numbers(owner: &Client, query: &str) -> Vec<i64> {
    let r = owner
        .get(&format!("/api/v1/projects/web/runs{query}"))
        .await;
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.json()["data"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| run["number"].as_i64().expect("number"))
        .collect()
}

async fn the_runs_list_filters_and_pages(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201);
    report(&owner, "main", &[("pays", "passed", 1)]).await;
    report(&owner, "main", &[("pays", "failed", 1)]).await;
    report(&owner, "feature/x", &[("pays", "passed", 1)]).await;
    let r = owner
        .post_json(
            "/api/v1/projects/web/runs",
            &json!({ "title": "Nightly 100%", "branch": "main", "tags": ["nightly", "slow"],
                     "environment": { "browser": "firefox", "os": "linux \"lts\"" } }),
        )
        .await;
    assert_eq!(r.status, 201);

    assert_eq!(numbers(&owner, "").await, vec![4, 3, 2, 1]);
    assert_eq!(numbers(&owner, "?branch=main").await, vec![4, 2, 1]);
    assert_eq!(numbers(&owner, "?branch=feature%2Fx").await, vec![3]);
    assert_eq!(numbers(&owner, "?status=failed").await, vec![2]);
    assert_eq!(numbers(&owner, "?status=passed").await, vec![3, 1]);
    assert_eq!(numbers(&owner, "?status=running").await, vec![4]);
    assert_eq!(numbers(&owner, "?tag=slow").await, vec![4]);
    assert_eq!(
        numbers(&owner, "?tag=slo").await,
        Vec::<i64>::new(),
        "whole tags"
    );
    assert_eq!(numbers(&owner, "?q=NIGHTLY").await, vec![4]);
    assert_eq!(
        numbers(&owner, "?q=100%25").await,
        vec![4],
        "% is a character"
    );
    assert_eq!(numbers(&owner, "?q=1_0").await, Vec::<i64>::new(), "_ too");
    assert_eq!(
        numbers(&owner, "?since=2999-01-01").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        numbers(&owner, "?until=2000-01-01").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        numbers(
            &owner,
            "?since=2000-01-01&until=2999-01-01&branch=main&status=passed"
        )
        .await,
        vec![1]
    );
    assert_eq!(
        numbers(&owner, "?environment=browser%3Dfirefox").await,
        vec![4]
    );
    assert_eq!(
        numbers(&owner, "?environment=firefox").await,
        vec![4],
        "any key"
    );
    assert_eq!(
        numbers(&owner, "?environment=browser%3Dfire").await,
        Vec::<i64>::new(),
        "whole values"
    );
    assert_eq!(
        numbers(&owner, "?environment=os%3Dlinux+%22lts%22").await,
        vec![4],
        "quotes in values"
    );
    assert_eq!(
        numbers(&owner, "?environment=Browser%3DFireFox").await,
        vec![4],
        "case-insensitive on both databases"
    );
    assert_eq!(numbers(&owner, "?limit=2").await, vec![4, 3]);
    assert_eq!(numbers(&owner, "?limit=2&before=3").await, vec![2, 1]);
    for bad in ["?status=green", "?since=yesterday", "?until=2026-02-31"] {
        let r = owner.get(&format!("/api/v1/projects/web/runs{bad}")).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }

    // CSV: every cell quoted, a leading `=` defused.
    let r = owner
        .post_json("/api/v1/projects/web/runs", &json!({ "title": "=SUM(A1)" }))
        .await;
    assert_eq!(r.status, 201);
    let csv = owner.get("/api/v1/projects/web/runs?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    assert!(csv.body.starts_with("number,title,branch"), "{}", csv.body);
    assert!(csv.body.contains("\"5\",\"'=SUM(A1)\""), "{}", csv.body);
    assert_eq!(csv.body.lines().count(), 6, "a header and five runs");

    let page = owner.get("/projects/web?branch=main&status=").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/projects/web/runs/2"));
    assert!(
        !page.body.contains("/projects/web/runs/3\""),
        "feature/x filtered out"
    );
    assert!(page.body.contains("class=\"strip\""), "status bars");
    let page = owner
        .get("/projects/web?environment=browser%3Dfirefox")
        .await;
    assert!(page.body.contains("/projects/web/runs/4"));
    assert!(
        page.body.contains("browser=firefox"),
        "the environment is shown"
    );
    assert!(!page.body.contains("/projects/web/runs/1\""));
    let none = owner.get("/projects/web?q=nothing-like-this").await;
    assert!(none.body.contains("No runs match these filters."));
}

async fn a_run_page_filters_sorts_and_pages(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201);
    let tests: Vec<(String, &str, i64)> = (0..250)
        .map(|i| {
            (
                format!("case_{i:03}"),
                if i % 50 == 7 { "failed" } else { "passed" },
                i,
            )
        })
        .collect();
    let named: Vec<(&str, &str, i64)> =
        tests.iter().map(|(n, s, d)| (n.as_str(), *s, *d)).collect();
    let run = report(&owner, "main", &named).await;
    let id = run["id"].as_str().expect("id");

    let results = |query: String| {
        let owner = &owner;
        async move {
            let r = owner
                .get(&format!("/api/v1/projects/web/runs/{id}/results{query}"))
                .await;
            assert_eq!(r.status, 200, "{query}: {}", r.body);
            r.json()["data"]
                .as_array()
                .expect("results")
                .iter()
                .map(|x| x["name"].as_str().expect("name").to_string())
                .collect::<Vec<_>>()
        }
    };
    let failures_first = results("?limit=6".into()).await;
    assert_eq!(
        failures_first[..5],
        ["case_007", "case_057", "case_107", "case_157", "case_207"]
    );
    assert_eq!(
        results("?sort=duration&limit=2".into()).await,
        ["case_249", "case_248"]
    );
    assert_eq!(results("?outcome=failed".into()).await.len(), 5);
    assert_eq!(results("?q=CASE_12&limit=100".into()).await.len(), 10);
    assert_eq!(results("?offset=245&limit=100".into()).await.len(), 5);
    let bad = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{id}/results?sort=sideways"
        ))
        .await;
    assert_eq!(bad.status, 422);

    let first = owner.get("/projects/web/runs/1").await;
    assert!(first.body.contains("1–200"), "paged");
    assert!(first.body.contains("?page=2"), "a next page");
    assert!(
        !first.body.contains(">case_249<"),
        "the last test is on page 2"
    );
    assert!(first.body.contains(">case_007<"), "failures come first");
    let second = owner.get("/projects/web/runs/1?page=2").await;
    assert!(second.body.contains("201–250"));
    assert!(second.body.contains("?page=1"), "a previous page");
    let slow = owner
        .get("/projects/web/runs/1?sort=duration&outcome=passed")
        .await;
    let first_row = slow.body.find("case_249").expect("slowest shown");
    let later = slow.body.find("case_248").expect("next slowest shown");
    assert!(first_row < later);
    assert!(!slow.body.contains("case_007"), "failures filtered out");
}
