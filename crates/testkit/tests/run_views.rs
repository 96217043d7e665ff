#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! A run by suite and by error signature, one result in full with its history strip, search by
//! error text, the heat map by suite and by test, and flaky detection over results stored out of
//! run order — on both backends, through the API and the pages.

use serde_json::{Value, json};
use testvault_testkit::{Backend, Client, TestApp, on_both_backends};

on_both_backends!(
    a_run_groups_by_suite_and_error_and_opens_one_result,
    the_heat_map_shows_suites_or_the_tests_that_failed_most,
    flaky_detection_reads_results_stored_out_of_run_order
);

async fn project(app: &TestApp) -> Client {
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    owner
}

/// A new running run on `branch`: its id.
async fn start(owner: &Client, branch: &str) -> String {
    let r = owner
        .post_json("/api/v1/projects/web/runs", &json!({ "branch": branch }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["data"]["id"].as_str().expect("id").to_string()
}

async fn append(owner: &Client, run: &str, results: Value) {
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/runs/{run}/results"),
            &json!({ "results": results }),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
}

async fn finish(owner: &Client, run: &str) {
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/runs/{run}/finish"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn get_json(owner: &Client, path: &str) -> Value {
    let r = owner.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()["data"].clone()
}

fn failed(suite: &str, name: &str, message: &str) -> Value {
    json!({ "suite": [suite], "name": name, "outcome": "failed", "duration_ms": 20,
            "message": message, "trace": format!("{message}\n    at {name} ({suite}.js:12)") })
}

fn passed(suite: &str, name: &str) -> Value {
    json!({ "suite": [suite], "name": name, "outcome": "passed", "duration_ms": 5 })
}

async fn a_run_groups_by_suite_and_error_and_opens_one_result(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    let run = start(&owner, "main").await;
    append(
        &owner,
        &run,
        json!([
            passed("checkout", "pays by card"),
            passed("checkout", "pays by invoice"),
            {
                "suite": ["checkout"], "name": "applies coupons", "outcome": "failed", "duration_ms": 3000,
                "message": "Timeout waiting for #coupon after 3000 ms",
                "trace": "TimeoutError: Timeout waiting for #coupon\n    at applyCoupon (checkout.spec.js:41)",
                "stdout": "opening checkout\nclicking apply", "stderr": "warning: slow network",
                "file": "tests/checkout.spec.js", "line": 41,
                "labels": { "browser": "chromium", "owner": "payments" },
                "attempts": [{ "outcome": "failed", "duration_ms": 3000, "message": "Timeout waiting for #coupon after 3000 ms" }]
            },
            failed("cart", "counts items", "expected 3 items but got 2"),
        ]),
    )
    .await;
    // A second batch adds to the same suites' counts.
    append(
        &owner,
        &run,
        json!([
            failed("cart", "removes items", "expected 5 items but got 4"),
            passed("cart", "empties"),
        ]),
    )
    .await;
    finish(&owner, &run).await;

    let suites = get_json(&owner, &format!("/api/v1/projects/web/runs/{run}/suites")).await;
    let by_suite: Vec<(String, i64, i64)> = suites
        .as_array()
        .expect("suites")
        .iter()
        .map(|s| {
            (
                s["suite"].as_str().expect("suite").to_string(),
                s["total"].as_i64().expect("total"),
                s["failing"].as_i64().expect("failing"),
            )
        })
        .collect();
    assert_eq!(
        by_suite,
        [("cart".to_string(), 3, 2), ("checkout".to_string(), 3, 1)],
        "counted over both batches, failing suites first"
    );

    let errors = get_json(&owner, &format!("/api/v1/projects/web/runs/{run}/errors")).await;
    let errors = errors.as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0]["failures"], 2,
        "the two item counts are one error"
    );
    assert_eq!(errors[0]["example"]["name"], "removes items", "the latest");
    let signature = errors[0]["signature"].as_str().expect("signature");

    let names = |query: &'static str| {
        let owner = &owner;
        let run = &run;
        async move {
            let mut names: Vec<String> = get_json(
                owner,
                &format!("/api/v1/projects/web/runs/{run}/results{query}"),
            )
            .await
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["name"].as_str().expect("name").to_string())
            .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        names("?q=items").await,
        ["counts items", "removes items"],
        "found by their (sealed) failure text, not their names"
    );
    assert_eq!(names("?q=coupon+timeout").await, ["applies coupons"]);
    assert_eq!(
        names("?q=pays").await,
        ["pays by card", "pays by invoice"],
        "names still match"
    );
    assert_eq!(names("?suite=cart").await.len(), 3);
    let by_signature = format!("/api/v1/projects/web/runs/{run}/results?signature={signature}");
    assert_eq!(
        get_json(&owner, &by_signature)
            .await
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let bad = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{run}/results?signature=zz"
        ))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    let coupon = get_json(
        &owner,
        &format!("/api/v1/projects/web/runs/{run}/results?q=coupon"),
    )
    .await;
    let result_id = coupon[0]["id"].as_i64().expect("id");
    let drawer = get_json(
        &owner,
        &format!("/api/v1/projects/web/runs/{run}/results/{result_id}"),
    )
    .await;
    assert_eq!(
        drawer["result"]["stdout"],
        "opening checkout\nclicking apply"
    );
    assert_eq!(
        drawer["result"]["attempts"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(drawer["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(drawer["history"][0]["outcome"], "failed");

    // A result of another run is not found through this one.
    let other = start(&owner, "main").await;
    let missing = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{other}/results/{result_id}"
        ))
        .await;
    assert_eq!(missing.status, 404);

    // Tests without a suite are a group of their own, and `suite=` (empty) selects them.
    append(
        &owner,
        &other,
        json!([{ "name": "orphan", "outcome": "passed" }, passed("cart", "counts items")]),
    )
    .await;
    let orphans = get_json(
        &owner,
        &format!("/api/v1/projects/web/runs/{other}/results?suite="),
    )
    .await;
    let orphans: Vec<&str> = orphans
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(orphans, ["orphan"]);
    let page = owner.get("/projects/web/runs/2?group=suite").await;
    assert!(page.body.contains("(no suite)") && page.body.contains("?suite=\""));
    let page = owner.get("/projects/web/runs/2?suite=").await;
    assert!(page.body.contains("orphan") && !page.body.contains("counts items"));

    let csv = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{run}/suites?format=csv"
        ))
        .await;
    assert!(csv.body.starts_with("suite,total,failing"), "{}", csv.body);
    let csv = owner
        .get(&format!(
            "/api/v1/projects/web/runs/{run}/results?format=csv&suite=cart&offset=1&limit=5"
        ))
        .await;
    assert!(
        csv.body.starts_with("id,test_id,suite,name"),
        "{}",
        csv.body
    );
    assert_eq!(
        csv.body.lines().count(),
        3,
        "a header and cart's 3 results from the 2nd"
    );
    let test_id = drawer["result"]["test_id"].as_i64().expect("test id");
    let csv = owner
        .get(&format!("/api/v1/projects/web/tests/{test_id}?format=csv"))
        .await;
    assert!(
        csv.body.starts_with("run_number,branch,started,outcome"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("\"failed\""), "{}", csv.body);

    // The pages: the grouped views and the drawer.
    let page = owner.get("/projects/web/runs/1?group=suite").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("?suite=cart"),
        "a suite opens its results"
    );
    let page = owner.get("/projects/web/runs/1?group=error").await;
    assert!(page.body.contains("expected 5 items but got 4"));
    assert!(page.body.contains(&format!("?signature={signature}")));
    let page = owner
        .get(&format!("/projects/web/runs/1?result={result_id}"))
        .await;
    assert_eq!(page.status, 200);
    for text in [
        "id=\"drawer\"",
        "Stack trace",
        "clicking apply",
        "warning: slow network",
        "tests/checkout.spec.js:41",
        "chromium",
        "Attempts",
    ] {
        assert!(page.body.contains(text), "the drawer shows {text}");
    }
    let page = owner.get("/projects/web/runs/1?q=items").await;
    assert!(page.body.contains("counts items") && page.body.contains("removes items"));
    assert!(!page.body.contains("pays by card"));
}

async fn the_heat_map_shows_suites_or_the_tests_that_failed_most(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    for i in 0..3 {
        let run = start(&owner, "main").await;
        let flappy = if i == 1 {
            failed("checkout", "flappy", "Timeout after 30 ms")
        } else {
            passed("checkout", "flappy")
        };
        append(
            &owner,
            &run,
            json!([
                failed("checkout", "broken", "expected 1 but got 2"),
                flappy,
                passed("cart", "fine"),
            ]),
        )
        .await;
        finish(&owner, &run).await;
    }
    let heat = get_json(&owner, "/api/v1/projects/web/heatmap?by=test").await;
    assert_eq!(heat["runs"], json!([1, 2, 3]));
    let rows = heat["rows"].as_array().expect("rows");
    let labels: Vec<&str> = rows.iter().filter_map(|r| r["label"].as_str()).collect();
    assert_eq!(
        labels,
        ["broken", "flappy"],
        "only tests that failed, most first"
    );
    assert_eq!(rows[0]["cells"], json!([100, 100, 100]));
    assert_eq!(rows[1]["cells"], json!([0, 100, 0]));
    assert!(rows[0]["test_id"].as_i64().is_some());

    let heat = get_json(&owner, "/api/v1/projects/web/heatmap").await;
    let rows = heat["rows"].as_array().expect("rows");
    assert_eq!(rows[0]["label"], "checkout");
    assert_eq!(rows[0]["cells"], json!([50, 100, 50]));
    assert_eq!(rows[1]["label"], "cart");

    let bad = owner.get("/api/v1/projects/web/heatmap?by=branch").await;
    assert_eq!(bad.status, 422);
    let csv = owner
        .get("/api/v1/projects/web/heatmap?by=test&format=csv")
        .await;
    assert!(
        csv.body
            .starts_with("row,suite,test_id,run_number,failure_rate")
    );
    assert!(
        csv.body.contains("\"broken\",\"checkout\","),
        "{}",
        csv.body
    );

    let csv = owner
        .get("/api/v1/projects/web/dashboard?format=csv&table=slowest")
        .await;
    assert!(csv.body.starts_with("test_id,suite,name"), "{}", csv.body);
    let csv = owner.get("/api/v1/projects/web/dashboard?format=csv").await;
    assert!(
        csv.body.starts_with("run_number,branch,total"),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.lines().count(), 4, "a header and three runs");
    let bad = owner
        .get("/api/v1/projects/web/dashboard?format=csv&table=pie")
        .await;
    assert_eq!(bad.status, 422);

    let page = owner.get("/projects/web/heatmap?by=test").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("broken") && page.body.contains("flappy"));
    let page = owner.get("/projects/web/dashboard").await;
    assert!(
        page.body.contains("/projects/web/runs/2?suite=checkout"),
        "a suite cell opens the run's suite"
    );
}

async fn flaky_detection_reads_results_stored_out_of_run_order(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    // Runs 1 and 2 start together (sharded CI, a slow job); run 2's results arrive first, so
    // run 1's results are stored with the larger ids.
    let first = start(&owner, "main").await;
    let second = start(&owner, "main").await;
    append(&owner, &second, json!([passed("checkout", "pays")])).await;
    append(
        &owner,
        &first,
        json!([failed("checkout", "pays", "Timeout after 10 ms")]),
    )
    .await;
    finish(&owner, &second).await;
    finish(&owner, &first).await;
    let third = start(&owner, "main").await;
    append(&owner, &third, json!([passed("checkout", "pays")])).await;
    finish(&owner, &third).await;

    let report = get_json(&owner, "/api/v1/projects/web/flaky").await;
    let tests = report["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 1, "{report}");
    assert_eq!(tests[0]["name"], "pays");
    assert_eq!(tests[0]["results"], 3, "every result of the window is read");
    assert_eq!(tests[0]["flips"], 1, "failed in #1, passed in #2 and #3");

    // The window in days: every run here started today.
    let report = get_json(&owner, "/api/v1/projects/web/flaky?days=30").await;
    assert_eq!(report["window_runs"], 3);
    let report = get_json(&owner, "/api/v1/projects/web/clusters?days=1").await;
    assert_eq!(report["window_runs"], 3);
    let bad = owner.get("/api/v1/projects/web/flaky?days=0").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let page = owner.get("/projects/web/flaky?days=30").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("the last 30 days"));
    let page = owner.get("/projects/web/clusters?runs=50").await;
    assert!(page.body.contains("latest 3 runs") || page.body.contains("latest 50 runs"));
}
