#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! The test repository on both backends: suites and cases, custom fields, versions with diff and
//! restore, search and bulk edit, CSV and Markdown round trips, links to automated tests, the
//! import of tests found in code, sealing of sources, and the pages — XSS included.

use serde_json::{Value, json};
use testvault_testkit::{Backend, Client, TestApp, on_both_backends};

on_both_backends!(
    suites_and_cases_are_written_versioned_and_restored,
    search_filters_and_bulk_edit_select_the_right_cases,
    csv_and_markdown_exports_import_back_unchanged,
    automated_tests_link_to_cases_by_id_link_or_name,
    importing_tests_from_code_is_idempotent_and_marks_removed_ones,
    pages_show_cases_without_running_anything_they_hold,
    plans_start_manual_runs_whose_verdicts_reach_the_reports,
    attachments_are_sealed_typed_by_their_bytes_and_always_downloaded,
    shared_steps_are_referenced_expanded_and_frozen_by_manual_runs
);

async fn project(app: &TestApp) -> Client {
    let owner = app.setup_owner().await;
    let r = owner
        .post_json("/api/v1/projects", &json!({ "slug": "web", "name": "Web" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    owner
}

async fn data(c: &Client, path: &str) -> Value {
    let r = c.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()["data"].clone()
}

async fn suite(c: &Client, name: &str, parent: Option<&str>) -> String {
    let r = c
        .post_json(
            "/api/v1/projects/web/suites",
            &json!({ "name": name, "parent": parent }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["data"]["id"].as_str().expect("id").to_string()
}

async fn case(c: &Client, body: Value) -> Value {
    let r = c.post_json("/api/v1/projects/web/cases", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["data"].clone()
}

fn keys(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|c| c["title"].as_str().expect("title").to_string())
        .collect()
}

async fn suites_and_cases_are_written_versioned_and_restored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    let checkout = suite(&owner, "Checkout", None).await;
    let payments = suite(&owner, "Payments", Some(&checkout)).await;
    let r = owner
        .post_json(
            "/api/v1/projects/web/suites",
            &json!({ "name": "Payments", "parent": checkout }),
        )
        .await;
    assert_eq!(r.status, 409, "one name per parent: {}", r.body);

    let r = owner
        .post_json(
            "/api/v1/projects/web/fields",
            &json!({ "name": "Browser", "kind": "select", "options": ["chrome", "firefox"] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = case(
        &owner,
        json!({
            "title": "Pay by card", "suite": payments, "priority": "high", "tags": ["Smoke", "payments"],
            "steps": [{ "action": "Open the cart", "expected": "Items listed" }, { "action": "Pay", "expected": "Receipt shown" }],
            "fields": { "Browser": "chrome" }, "description": "Use a **test** card"
        }),
    )
    .await;
    let key = created["key"].as_str().expect("key").to_string();
    assert_eq!(key.len(), 8);
    assert_eq!(created["version"], 1);
    assert_eq!(created["tags"], json!(["payments", "smoke"]));
    assert_eq!(created["suite_path"], "Checkout / Payments");
    assert_eq!(created["fields"][0]["text"], "chrome");

    // Bad values name their field and store nothing.
    for (body, field) in [
        (json!({ "title": "" }), "title"),
        (json!({ "title": "x", "priority": "urgent" }), "priority"),
        (
            json!({ "title": "x", "fields": { "Browser": "safari" } }),
            "fields",
        ),
        (
            json!({ "title": "x", "fields": { "Colour": "red" } }),
            "fields",
        ),
        (
            json!({ "title": "x", "owner": "nobody@example.com" }),
            "owner",
        ),
        (json!({ "title": "x", "tags": ["<script>"] }), "tags"),
    ] {
        let r = owner.post_json("/api/v1/projects/web/cases", &body).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(r.json()["error"]["field"], field, "{}", r.body);
    }
    assert_eq!(
        data(&owner, "/api/v1/projects/web/cases")
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // An edit is a version; an edit from a stale version is refused.
    let path = format!("/api/v1/projects/web/cases/T{key}");
    let r = owner
        .patch_json(
            &path,
            &json!({ "title": "Pay by credit card", "version": 1, "steps": [{ "action": "Pay" }] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["version"], 2);
    let r = owner
        .patch_json(&path, &json!({ "title": "Lost update", "version": 1 }))
        .await;
    assert_eq!(r.status, 410, "{}", r.body);
    let versions = data(&owner, &format!("{path}/versions")).await;
    assert_eq!(versions.as_array().map(Vec::len), Some(2));
    assert_eq!(versions[0]["summary"], "changed title, steps");
    let diff = data(&owner, &format!("{path}/diff?from=1&to=2")).await;
    let lines: Vec<(String, String)> = diff
        .as_array()
        .expect("diff")
        .iter()
        .map(|l| {
            (
                l["change"].as_str().expect("c").into(),
                l["text"].as_str().expect("t").into(),
            )
        })
        .collect();
    assert!(
        lines.contains(&("removed".into(), "Title: Pay by card".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("added".into(), "Title: Pay by credit card".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("removed".into(), "Step 2:".into())),
        "{lines:?}"
    );

    // Restoring version 1 writes version 3 with version 1's content.
    let r = owner
        .post_json(&format!("{path}/versions/1/restore"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let restored = r.json()["data"].clone();
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["title"], "Pay by card");
    assert_eq!(restored["steps"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        data(&owner, &format!("{path}/versions")).await[0]["summary"],
        "restored version 1"
    );

    // The tree: a suite cannot move into its own descendant; a non-empty one cannot go.
    let r = owner
        .patch_json(
            &format!("/api/v1/projects/web/suites/{checkout}"),
            &json!({ "parent": payments }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = owner
        .delete(&format!("/api/v1/projects/web/suites/{payments}"))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let other = suite(&owner, "Accounts", None).await;
    let r = owner
        .patch_json(
            &format!("/api/v1/projects/web/suites/{other}"),
            &json!({ "parent": "", "position": 1 }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let tree = data(&owner, "/api/v1/projects/web/suites").await;
    let paths: Vec<&str> = tree
        .as_array()
        .expect("tree")
        .iter()
        .map(|n| n["path"].as_str().expect("path"))
        .collect();
    assert_eq!(paths, ["Accounts", "Checkout", "Checkout / Payments"]);
    let r = owner
        .delete(&format!("/api/v1/projects/web/suites/{other}"))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);

    // Reorder: the third case put first.
    for title in ["Refund", "Pay by invoice"] {
        case(&owner, json!({ "title": title, "suite": payments })).await;
    }
    let list = data(
        &owner,
        &format!("/api/v1/projects/web/cases?suite={payments}"),
    )
    .await;
    assert_eq!(keys(&list), ["Pay by card", "Refund", "Pay by invoice"]);
    let last = list[2]["key"].as_str().expect("key").to_string();
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/cases/T{last}/place"),
            &json!({ "suite": payments, "position": 1 }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let list = data(
        &owner,
        &format!("/api/v1/projects/web/cases?suite={checkout}"),
    )
    .await;
    assert_eq!(
        keys(&list),
        ["Pay by invoice", "Pay by card", "Refund"],
        "the parent suite lists its sub-suites' cases"
    );

    // Every change is in the audit trail.
    let audit = data(&owner, "/api/v1/audit?limit=200").await;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "suite.created",
        "suite.moved",
        "suite.deleted",
        "field.created",
        "case.created",
        "case.updated",
        "case.moved",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }

    // A reader reads but does not write; another org sees nothing.
    let reader = app
        .add_member(&owner, "reader@example.com", "correct horse battery")
        .await;
    let r = reader
        .post_json("/api/v1/projects", &json!({ "slug": "x", "name": "X" }))
        .await;
    assert_eq!(r.status, 403);
    let r = reader
        .post_json("/api/v1/projects/web/cases", &json!({ "title": "x" }))
        .await;
    assert!(r.status == 403 || r.status == 404, "{}", r.body);
    let r = reader.patch_json(&path, &json!({ "title": "x" })).await;
    assert!(r.status == 403 || r.status == 404, "{}", r.body);
}

async fn search_filters_and_bulk_edit_select_the_right_cases(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    let r = owner
        .post_json("/api/v1/projects/web/fields", &json!({ "name": "Platforms", "kind": "multiselect", "options": ["ios", "android", "web"] }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    case(&owner, json!({ "title": "Sign in with email", "tags": ["auth", "smoke"], "status": "ready", "fields": { "Platforms": ["ios", "web"] },
        "steps": [{ "action": "Type the one-time code 100%_done", "expected": "Signed in" }] })).await;
    case(
        &owner,
        json!({ "title": "Sign out", "tags": ["auth"], "priority": "low" }),
    )
    .await;
    case(&owner, json!({ "title": "Search products", "tags": ["search"], "fields": { "Platforms": "android" } })).await;

    let titles = |q: &'static str| {
        let owner = &owner;
        async move { keys(&data(owner, &format!("/api/v1/projects/web/cases?{q}")).await) }
    };
    assert_eq!(titles("q=sign").await, ["Sign in with email", "Sign out"]);
    assert_eq!(
        titles("q=one-time+code").await,
        ["Sign in with email"],
        "steps are searched"
    );
    assert_eq!(
        titles("q=100%25_").await,
        ["Sign in with email"],
        "LIKE wildcards are literal"
    );
    assert_eq!(titles("q=_").await, ["Sign in with email"]);
    assert_eq!(
        titles("tags=auth").await,
        ["Sign in with email", "Sign out"]
    );
    assert_eq!(titles("tags=auth,smoke").await, ["Sign in with email"]);
    assert_eq!(
        titles("tags=aut").await,
        Vec::<String>::new(),
        "whole tags only"
    );
    assert_eq!(titles("priority=low").await, ["Sign out"]);
    assert_eq!(titles("status=ready").await, ["Sign in with email"]);
    assert_eq!(
        titles("field=Platforms&value=web").await,
        ["Sign in with email"]
    );
    assert_eq!(
        titles("field=platforms&value=android").await,
        ["Search products"]
    );

    // Bulk edit: all or nothing.
    let all = data(&owner, "/api/v1/projects/web/cases?tags=auth").await;
    let chosen: Vec<String> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|c| format!("T{}", c["key"].as_str().expect("key")))
        .collect();
    let r = owner
        .post_json(
            "/api/v1/projects/web/cases/bulk",
            &json!({ "keys": [chosen[0], "Tdeadbeef"], "status": "deprecated" }),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        titles("status=deprecated").await,
        Vec::<String>::new(),
        "nothing changed"
    );
    let r = owner
        .post_json("/api/v1/projects/web/cases/bulk", &json!({ "keys": chosen, "status": "deprecated", "add_tags": ["legacy"], "remove_tags": ["smoke"] }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["changed"], 2);
    assert_eq!(
        titles("status=deprecated&tags=legacy").await,
        ["Sign in with email", "Sign out"]
    );
    assert_eq!(titles("tags=smoke").await, Vec::<String>::new());
    let first = &chosen[0];
    let versions = data(
        &owner,
        &format!("/api/v1/projects/web/cases/{first}/versions"),
    )
    .await;
    assert_eq!(versions[0]["summary"], "bulk edit: tags, status");
}

async fn csv_and_markdown_exports_import_back_unchanged(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    owner
        .post_json(
            "/api/v1/projects/web/fields",
            &json!({ "name": "Browser", "kind": "text" }),
        )
        .await;
    let payments = suite(&owner, "Payments", None).await;
    case(&owner, json!({
        "title": "=HYPERLINK(\"https://evil.example\")", "suite": payments, "tags": ["smoke"],
        "description": "# Heading in text\n- a bullet\n\nplain, \"quoted\"",
        "preconditions": "@admin signed in",
        "steps": [{ "action": "Open\n2. not a step", "expected": "Expected: literally\n+1 shown" }, { "action": "-negative", "expected": "" }],
        "fields": { "Browser": "firefox" }
    })).await;
    case(&owner, json!({ "title": "No suite, no steps" })).await;

    let csv = owner.get("/api/v1/projects/web/cases?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    assert!(
        csv.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
    assert!(
        csv.body.contains("\"'=HYPERLINK("),
        "formula defused: {}",
        csv.body
    );
    assert!(csv.body.contains("\"'@admin signed in\""), "{}", csv.body);
    let r = owner
        .post_body(
            "/api/v1/projects/web/cases/import?format=csv",
            "text/csv",
            csv.body.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["data"],
        json!({ "created": 0, "updated": 0, "unchanged": 2 }),
        "CSV round trip"
    );

    let md = owner
        .get("/api/v1/projects/web/cases?format=markdown")
        .await;
    assert_eq!(md.status, 200);
    let r = owner
        .post_body(
            "/api/v1/projects/web/cases/import?format=markdown",
            "text/markdown",
            md.body.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = data(&owner, "/api/v1/projects/web/cases").await;
    let mut summaries = Vec::new();
    for c in after.as_array().expect("list") {
        let v = data(
            &owner,
            &format!(
                "/api/v1/projects/web/cases/T{}/versions",
                c["key"].as_str().expect("key")
            ),
        )
        .await;
        summaries.push(v[0]["summary"].clone());
    }
    assert_eq!(
        r.json()["data"],
        json!({ "created": 0, "updated": 0, "unchanged": 2 }),
        "Markdown round trip {summaries:?}:\n{}",
        md.body
    );

    // Into a new project, everything arrives as it was.
    owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": "copy", "name": "Copy" }),
        )
        .await;
    owner
        .post_json(
            "/api/v1/projects/copy/fields",
            &json!({ "name": "Browser", "kind": "text" }),
        )
        .await;
    let r = owner
        .post_body(
            "/api/v1/projects/copy/cases/import?format=markdown",
            "text/markdown",
            md.body.clone(),
        )
        .await;
    assert_eq!(r.json()["data"]["created"], 2, "{}", r.body);
    let strip = |v: Value| -> Vec<Value> {
        v.as_array()
            .expect("list")
            .iter()
            .map(|c| {
                json!([
                    c["title"],
                    c["suite_path"],
                    c["description"],
                    c["preconditions"],
                    c["steps"],
                    c["tags"],
                    c["fields"][0]["text"],
                    c["key"]
                ])
            })
            .collect()
    };
    assert_eq!(
        strip(data(&owner, "/api/v1/projects/copy/cases").await),
        strip(data(&owner, "/api/v1/projects/web/cases").await)
    );

    // One bad row: a clear error naming it, and nothing stored.
    let bad = "title,priority\nfine one,low\nbroken,urgent\n";
    let r = owner
        .post_body(
            "/api/v1/projects/web/cases/import?format=csv",
            "text/csv",
            bad.into(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("line 3:")),
        "{}",
        r.body
    );
    assert_eq!(
        data(&owner, "/api/v1/projects/web/cases")
            .await
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let r = owner
        .post_body(
            "/api/v1/projects/web/cases/import?format=csv",
            "text/csv",
            "title\n\"unclosed\n".into(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

async fn append(owner: &Client, results: Value) {
    let r = owner
        .post_json("/api/v1/projects/web/runs", &json!({ "branch": "main" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let run = r.json()["data"]["id"].as_str().expect("id").to_string();
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/runs/{run}/results"),
            &json!({ "results": results }),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/runs/{run}/finish"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn automated_tests_link_to_cases_by_id_link_or_name(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    let login = case(&owner, json!({ "title": "Log in", "kind": "both" })).await;
    let key = login["key"].as_str().expect("key").to_string();
    append(
        &owner,
        json!([
            { "suite": ["auth"], "name": format!("logs in @T{}", key.to_uppercase()), "outcome": "failed", "message": "boom" },
            { "suite": ["cart"], "name": "adds an item", "outcome": "passed" },
            { "suite": ["cart"], "name": "removes an item", "outcome": "passed" }
        ]),
    )
    .await;
    let auto = data(
        &owner,
        &format!("/api/v1/projects/web/cases/T{key}/automation"),
    )
    .await;
    assert_eq!(auto["tests"].as_array().map(Vec::len), Some(1), "{auto}");
    assert_eq!(auto["tests"][0]["how"], "id");
    assert_eq!(auto["tests"][0]["last_outcome"], "failed");
    let test = auto["tests"][0]["test"].as_i64().expect("test");
    let linked = data(&owner, &format!("/api/v1/projects/web/tests/{test}/case")).await;
    assert_eq!(linked["key"], key.as_str());

    // Unlinked tests become linked cases in bulk.
    let unlinked = data(&owner, "/api/v1/projects/web/unlinked-tests").await;
    let ids: Vec<i64> = unlinked
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2, "{unlinked}");
    let r = owner
        .post_json(
            "/api/v1/projects/web/cases/from-tests",
            &json!({ "tests": ids }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = r.json()["data"]["created"].clone();
    assert_eq!(made.as_array().map(Vec::len), Some(2));
    let cart = data(&owner, "/api/v1/projects/web/cases?q=item").await;
    assert_eq!(cart[0]["suite_path"], "cart");
    assert_eq!(cart[0]["kind"], "automated");
    let made_key = cart[0]["key"].as_str().expect("key");
    let auto = data(
        &owner,
        &format!("/api/v1/projects/web/cases/T{made_key}/automation"),
    )
    .await;
    assert_eq!(auto["tests"][0]["how"], "link");
    assert_eq!(auto["tests"][0]["last_outcome"], "passed");
    assert_eq!(
        data(&owner, "/api/v1/projects/web/unlinked-tests").await,
        json!([])
    );
    let r = owner
        .post_json(
            "/api/v1/projects/web/cases/from-tests",
            &json!({ "tests": ids }),
        )
        .await;
    assert_eq!(r.status, 409, "already covered: {}", r.body);

    // Moving a link, and removing it.
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/cases/T{key}/automation"),
            &json!({ "test": ids[0] }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let auto = data(
        &owner,
        &format!("/api/v1/projects/web/cases/T{key}/automation"),
    )
    .await;
    assert_eq!(auto["tests"].as_array().map(Vec::len), Some(2));
    let r = owner
        .delete(&format!("/api/v1/projects/web/tests/{}/case", ids[0]))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        data(
            &owner,
            &format!("/api/v1/projects/web/tests/{}/case", ids[0])
        )
        .await,
        Value::Null
    );

    // A reporter may name the case in a property instead of the test's name.
    let by_property = case(&owner, json!({ "title": "Checkout works" })).await;
    let prop_key = by_property["key"].as_str().expect("key").to_string();
    append(
        &owner,
        json!([{ "suite": ["checkout"], "name": "completes an order", "outcome": "passed", "labels": { "test_id": format!("@T{prop_key}") } }]),
    )
    .await;
    let auto = data(
        &owner,
        &format!("/api/v1/projects/web/cases/T{prop_key}/automation"),
    )
    .await;
    assert_eq!(auto["tests"][0]["name"], "completes an order", "{auto}");
    assert_eq!(auto["tests"][0]["how"], "link");

    // The test's page names its case.
    let page = owner.get(&format!("/projects/web/tests/{test}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("/projects/web/cases/T{key}")),
        "{}",
        page.body
    );
}

fn found(file: &str, suite: &[&str], name: &str, line: u32) -> Value {
    json!({ "file": file, "suite": suite, "name": name, "line": line, "framework": "jest",
            "source": format!("it('{name}', () => {{ expect(secretToken).toBe(1) }})") })
}

async fn importing_tests_from_code_is_idempotent_and_marks_removed_ones(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    // An automated test already reported by CI, to be linked by name.
    append(&owner, json!([{ "suite": ["test/cart.test.ts", "Cart"], "name": "adds an item", "outcome": "passed" }])).await;
    let scan = json!({
        "files": ["test/cart.test.ts", "test/login.test.ts"],
        "with_source": true,
        "tests": [
            found("test/cart.test.ts", &["Cart"], "adds an item", 3),
            found("test/cart.test.ts", &["Cart"], "empties", 9),
            { "file": "test/login.test.ts", "suite": [], "name": "logs in @T0badc0de", "title": "logs in", "case_id": "0badc0de", "line": 1, "tags": ["smoke"] }
        ]
    });
    let r = owner
        .post_json("/api/v1/projects/web/cases/import-tests", &scan)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["data"],
        json!({ "created": 3, "updated": 0, "unchanged": 0, "removed": 0, "restored": 0, "linked": 1 })
    );
    let cases = data(&owner, "/api/v1/projects/web/cases").await;
    assert_eq!(keys(&cases), ["adds an item", "empties", "logs in"]);
    assert_eq!(cases[0]["suite_path"], "test/cart.test.ts / Cart");
    assert_eq!(cases[0]["file"], "test/cart.test.ts");
    assert_eq!(cases[0]["line"], 3);
    assert_eq!(
        cases[2]["key"], "0badc0de",
        "the id written in the code is the case's key"
    );
    assert_eq!(cases[2]["tags"], json!(["smoke"]));
    let one = data(
        &owner,
        &format!(
            "/api/v1/projects/web/cases/T{}",
            cases[0]["key"].as_str().expect("key")
        ),
    )
    .await;
    assert!(
        one["source"]
            .as_str()
            .is_some_and(|s| s.contains("secretToken"))
    );
    // Sealed at rest: the source is not in the database in clear.
    let stored = app
        .sql_bytes("SELECT source_sealed FROM cases WHERE source_sealed IS NOT NULL LIMIT 1")
        .await
        .expect("sealed source");
    assert!(
        !stored.windows(11).any(|w| w == b"secretToken"),
        "the source is sealed"
    );
    let auto = data(
        &owner,
        &format!(
            "/api/v1/projects/web/cases/T{}/automation",
            cases[0]["key"].as_str().expect("key")
        ),
    )
    .await;
    assert_eq!(auto["tests"][0]["how"], "link", "linked by name: {auto}");

    // The same scan again changes nothing.
    let r = owner
        .post_json(
            "/api/v1/projects/web/cases/import-tests",
            &json!({ "files": scan["files"], "tests": scan["tests"] }),
        )
        .await;
    assert_eq!(r.json()["data"]["unchanged"], 3, "{}", r.body);
    assert_eq!(r.json()["data"]["created"], 0, "{}", r.body);

    // A test gone from a scanned file is marked, not deleted; back again, the mark goes.
    let fewer = json!({ "files": ["test/cart.test.ts"], "tests": [found("test/cart.test.ts", &["Cart"], "adds an item", 4)] });
    let r = owner
        .post_json("/api/v1/projects/web/cases/import-tests", &fewer)
        .await;
    assert_eq!(r.json()["data"]["removed"], 1, "{}", r.body);
    assert_eq!(
        keys(&data(&owner, "/api/v1/projects/web/cases").await),
        ["adds an item", "logs in"],
        "login.test.ts was not scanned: kept"
    );
    assert_eq!(
        keys(&data(&owner, "/api/v1/projects/web/cases?removed=true").await).len(),
        3
    );
    let r = owner
        .post_json(
            "/api/v1/projects/web/cases/import-tests",
            &json!({ "files": scan["files"], "tests": scan["tests"] }),
        )
        .await;
    assert_eq!(r.json()["data"]["restored"], 1, "{}", r.body);
    assert_eq!(
        keys(&data(&owner, "/api/v1/projects/web/cases").await).len(),
        3
    );

    // Bad input is refused with the place named, and nothing stored.
    let r = owner
        .post_json(
            "/api/v1/projects/web/cases/import-tests",
            &json!({ "files": [], "tests": [{ "file": "a.ts", "name": " ", "line": 7 }] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("a.ts:7"), "{}", r.body);
}

async fn pages_show_cases_without_running_anything_they_hold(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    const XSS: &str = "<script>window.__xss=1</script><img src=x onerror=alert(1)>";
    let evil = case(&owner, json!({
        "title": format!("Title {XSS}"),
        "description": format!("Desc {XSS} [link](javascript:alert(1)) ![img](javascript:alert(2))"),
        "preconditions": "<svg onload=alert(1)>",
        "steps": [{ "action": format!("Step {XSS}"), "expected": "\"><script>alert(1)</script>" }]
    })).await;
    let key = evil["key"].as_str().expect("key");
    for path in [
        "/projects/web/cases".to_string(),
        format!("/projects/web/cases/T{key}"),
        format!("/projects/web/cases/T{key}/edit"),
        format!("/projects/web/cases/T{key}/history"),
        "/projects/web/cases?q=script".to_string(),
    ] {
        let page = owner.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        let lower = page.body.to_lowercase();
        assert!(!lower.contains("<script>window"), "{path} runs a script");
        assert!(
            !lower.contains("<img src=x"),
            "{path} has an injected image"
        );
        assert!(!lower.contains("<svg onload"), "{path} has an injected svg");
        assert!(
            !lower.contains("href=\"javascript"),
            "{path} has a script link"
        );
    }
    let page = owner.get(&format!("/projects/web/cases/T{key}")).await;
    assert!(page.body.contains("&lt;script&gt;"), "shown as text");

    // Custom field values and names are text too.
    let r = owner
        .post_json(
            "/api/v1/projects/web/fields",
            &json!({ "name": "<svg onload=alert(1)>", "kind": "text" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    owner
        .patch_json(
            &format!("/api/v1/projects/web/cases/T{key}"),
            &json!({ "fields": { "<svg onload=alert(1)>": XSS } }),
        )
        .await;
    for path in [
        format!("/projects/web/cases/T{key}"),
        format!("/projects/web/cases/T{key}/edit"),
        "/projects/web/fields".to_string(),
        "/projects/web/cases".to_string(),
    ] {
        let page = owner.get(&path).await;
        let lower = page.body.to_lowercase();
        assert!(
            !lower.contains("<svg onload") && !lower.contains("<script>window"),
            "{path} runs a field's markup"
        );
    }

    // A manual run from cases ticked in the repository.
    let r = owner
        .post_form(
            "/projects/web/manual-runs",
            &[("key", &format!("T{key}")), ("title", "Ticked")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.header("location")
            .is_some_and(|l| l.ends_with("/execute"))
    );

    // The editor's form creates and saves cases (steps and tags included).
    let r = owner
        .post_form(
            "/projects/web/cases",
            &[
                ("title", "Made in the page"),
                ("priority", "high"),
                ("kind", "manual"),
                ("status", "ready"),
                ("tags", "ui, smoke"),
                ("action", "Click save"),
                ("expected", "Saved"),
                ("action", ""),
                ("expected", ""),
                ("owner", ""),
                ("suite", ""),
                ("version", "0"),
                ("description", "**bold**"),
                ("preconditions", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let made = data(&owner, "/api/v1/projects/web/cases?q=made+in").await;
    assert_eq!(
        made[0]["steps"],
        json!([{ "action": "Click save", "expected": "Saved" }])
    );
    assert_eq!(made[0]["tags"], json!(["smoke", "ui"]));
    let page = owner
        .get(&format!(
            "/projects/web/cases/T{}",
            made[0]["key"].as_str().expect("key")
        ))
        .await;
    assert!(
        page.body.contains("<strong>bold</strong>"),
        "Markdown rendered"
    );
    // Restoring from the history page.
    let made_key = made[0]["key"].as_str().expect("key").to_string();
    let r = owner
        .post_form(
            &format!("/projects/web/cases/T{made_key}"),
            &[
                ("title", "Renamed"),
                ("priority", "high"),
                ("kind", "manual"),
                ("status", "ready"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = owner
        .post_form(
            &format!("/projects/web/cases/T{made_key}/versions/1/restore"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("Restored%20as%20version%203")),
        "{:?}",
        r.header("location")
    );
    // A form from a stale version is sent back with the reason.
    let r = owner
        .post_form(
            &format!(
                "/projects/web/cases/T{}",
                made[0]["key"].as_str().expect("key")
            ),
            &[
                ("title", "Other"),
                ("priority", "high"),
                ("kind", "manual"),
                ("status", "ready"),
                ("version", "7"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("changed by someone else"), "{}", r.body);
}

async fn plans_start_manual_runs_whose_verdicts_reach_the_reports(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    let checkout = suite(&owner, "Checkout", None).await;
    let pay = case(&owner, json!({ "title": "Pay", "suite": checkout, "tags": ["smoke"], "status": "ready",
        "steps": [{ "action": "Open cart", "expected": "Listed" }, { "action": "Pay", "expected": "Receipt" }] })).await;
    let refund = case(
        &owner,
        json!({ "title": "Refund", "suite": checkout, "tags": ["smoke"] }),
    )
    .await;
    case(&owner, json!({ "title": "Old flow", "suite": checkout, "tags": ["smoke"], "status": "deprecated" })).await;
    case(&owner, json!({ "title": "Profile", "tags": ["account"] })).await;
    let pay_key = pay["key"].as_str().expect("key").to_string();
    let refund_key = refund["key"].as_str().expect("key").to_string();

    // Milestones and plans.
    let r = owner
        .post_json(
            "/api/v1/projects/web/milestones",
            &json!({ "name": "Release 1", "due_on": "2001-02-30" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = owner
        .post_json(
            "/api/v1/projects/web/milestones",
            &json!({ "name": "Release 1", "due_on": "2001-02-03" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let milestone = r.json()["data"]["id"].as_str().expect("id").to_string();
    let r = owner
        .post_json(
            "/api/v1/projects/web/plans",
            &json!({ "name": "Empty", "selection": {} }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = owner
        .post_json(
            "/api/v1/projects/web/plans",
            &json!({ "name": "Smoke", "milestone": milestone, "selection": { "tags": ["smoke"] } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let plan = r.json()["data"].clone();
    assert_eq!(plan["cases"], 2, "deprecated cases are left out: {plan}");
    let plan_id = plan["id"].as_str().expect("id").to_string();

    // A manual run from the plan.
    let r = owner
        .post_json("/api/v1/projects/web/manual-runs", &json!({ "plan": plan_id, "title": "Smoke before release", "assignee": "owner@example.com" }))
        .await;
    assert!(r.status == 201 || r.status == 422, "{}", r.body);
    let r = owner
        .post_json(
            "/api/v1/projects/web/manual-runs",
            &json!({ "plan": plan_id, "title": "Smoke before release" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let run = r.json()["data"].clone();
    let run_id = run["id"].as_str().expect("id").to_string();
    let number = run["number"].as_i64().expect("number");
    let manual = data(
        &owner,
        &format!("/api/v1/projects/web/runs/{run_id}/manual"),
    )
    .await;
    assert_eq!(manual["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        manual["milestone"],
        milestone.as_str(),
        "the plan's milestone"
    );
    assert_eq!(manual["progress"]["untested"], 2);

    // Cases are executed as they were added, whatever edits follow.
    owner
        .patch_json(
            &format!("/api/v1/projects/web/cases/T{pay_key}"),
            &json!({ "title": "Pay (edited later)" }),
        )
        .await;
    let manual = data(
        &owner,
        &format!("/api/v1/projects/web/runs/{run_id}/manual"),
    )
    .await;
    assert_eq!(manual["items"][0]["title"], "Pay");
    assert_eq!(manual["items"][0]["steps"][1]["expected"], "Receipt");

    let verdict = |key: &str, body: Value| {
        let owner = &owner;
        let path = format!("/api/v1/projects/web/runs/{run_id}/manual/T{key}");
        async move { owner.put_json(&path, &body).await }
    };
    let r = verdict(&pay_key, json!({ "outcome": "maybe" })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = verdict(
        &pay_key,
        json!({ "outcome": "passed", "elapsed_ms": 65000,
        "steps": [{ "outcome": "passed" }, { "outcome": "passed", "note": "receipt took 3 s" }] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["steps"][1]["note"], "receipt took 3 s");
    let r = verdict(
        &refund_key,
        json!({ "outcome": "failed", "note": "SECRET-NOTE refund button missing" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Evidence for a verdict: a file attached in the run, shown with the case.
    let r = owner
        .post_body(
            &format!(
                "/api/v1/projects/web/runs/{run_id}/manual/T{refund_key}/files?name=refund.log"
            ),
            "text/plain",
            "500 on /refund".into(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let files = data(
        &owner,
        &format!("/api/v1/projects/web/cases/T{refund_key}/attachments"),
    )
    .await;
    assert_eq!(files[0]["run"], run_id.as_str());
    let page = owner
        .get(&format!(
            "/projects/web/runs/{number}/execute?case=T{refund_key}"
        ))
        .await;
    assert!(
        page.body.contains("refund.log"),
        "the execution view lists the file"
    );
    let sealed = app
        .sql_bytes("SELECT record_sealed FROM manual_results WHERE outcome = 'failed'")
        .await
        .expect("record");
    assert!(
        !sealed.windows(11).any(|w| w == b"SECRET-NOTE"),
        "notes are sealed"
    );

    let milestones = data(&owner, "/api/v1/projects/web/milestones").await;
    assert_eq!(milestones[0]["progress"]["passed"], 1);
    assert_eq!(milestones[0]["progress"]["failed"], 1);
    assert_eq!(milestones[0]["progress"]["done_pct"], 100);
    assert_eq!(milestones[0]["overdue"], true);

    // Complete: frozen, and the verdicts are results like any other run's.
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/runs/{run_id}/complete"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = r.json()["data"].clone();
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["counts"]["passed"], 1, "{done}");
    assert_eq!(done["counts"]["failed"], 1, "{done}");
    let r = verdict(&pay_key, json!({ "outcome": "failed" })).await;
    assert_eq!(r.status, 410, "frozen: {}", r.body);
    let r = owner
        .post_json(
            &format!("/api/v1/projects/web/runs/{run_id}/complete"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = owner
        .post_body(
            &format!("/api/v1/projects/web/runs/{run_id}/manual/T{refund_key}/files?name=late.log"),
            "text/plain",
            "late".into(),
        )
        .await;
    assert_eq!(r.status, 409, "no files after completion: {}", r.body);
    let results = data(
        &owner,
        &format!("/api/v1/projects/web/runs/{run_id}/results"),
    )
    .await;
    let failed = results
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["outcome"] == "failed")
        .expect("a failure");
    assert_eq!(failed["name"], format!("Refund @T{refund_key}"));
    assert_eq!(failed["message"], "SECRET-NOTE refund button missing");
    let side = data(
        &owner,
        &format!("/api/v1/projects/web/cases/T{refund_key}/automation"),
    )
    .await;
    assert_eq!(side["manual"][0]["outcome"], "failed");
    assert_eq!(side["manual"][0]["final_verdict"], true);
    assert_eq!(
        side["tests"],
        json!([]),
        "a manual verdict is not an automated test: {side}"
    );
    let dashboard = data(&owner, "/api/v1/projects/web/dashboard").await;
    assert_eq!(
        dashboard["trend"].as_array().map(Vec::len),
        Some(1),
        "the run counts in the dashboard"
    );

    // Pages: plans, execution (with its form), and the case page.
    for path in [
        "/projects/web/plans".to_string(),
        format!("/projects/web/runs/{number}/execute"),
        format!("/projects/web/cases/T{refund_key}"),
    ] {
        let page = owner.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
    }
    let r = owner
        .post_form(
            "/projects/web/manual-runs",
            &[("plan", plan_id.as_str()), ("title", "Second pass")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let second = r.header("location").expect("location");
    let page = owner.get(&second).await;
    assert!(
        page.body.contains("Open cart"),
        "the first untested case is in focus"
    );
    let second_number = second.split('/').nth(4).expect("number").to_string();
    let r = owner
        .post_form(
            &format!("/projects/web/runs/{second_number}/execute/T{pay_key}"),
            &[
                ("outcome", "blocked"),
                ("note", "env down"),
                ("step_outcome_0", "blocked"),
                ("elapsed_ms", "1200"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Raw input never reaches a redirect: a key with a line break, a hostile `next`.
    let r = owner
        .post_form(
            &format!("/projects/web/runs/{second_number}/execute/T{refund_key}%0D%0A"),
            &[
                ("outcome", "passed"),
                ("next", "\r\nLocation: https://evil.example"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    if let Some(location) = r.header("location") {
        assert!(
            !location.contains("evil") && !location.contains("Set-Cookie"),
            "{location}"
        );
    }
    let r = owner
        .post_form(&format!("/projects/web/runs/{second_number}/complete"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // A viewer of the project reads everything here but writes, plans and executes nothing.
    let viewer = app
        .add_member(&owner, "viewer@example.com", "correct horse battery")
        .await;
    assert_eq!(
        viewer.get("/api/v1/projects/web/plans").await.status,
        404,
        "no grant: the project is not visible"
    );
    let viewer_id = viewer.get("/api/v1/me").await.json()["data"]["user"]
        .as_str()
        .expect("user")
        .to_string();
    let r = owner
        .put_json(
            &format!("/api/v1/projects/web/access/{viewer_id}"),
            &json!({ "role": "viewer" }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(viewer.get("/api/v1/projects/web/plans").await.status, 200);
    assert_eq!(
        viewer
            .get(&format!("/api/v1/projects/web/cases/T{pay_key}"))
            .await
            .status,
        200
    );
    let second_run = owner.get("/api/v1/projects/web/runs?limit=1").await.json()["data"][0]["id"]
        .as_str()
        .expect("run")
        .to_string();
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/projects/web/cases".to_string(),
            json!({ "title": "x" }),
        ),
        (
            "PATCH",
            format!("/api/v1/projects/web/cases/T{pay_key}"),
            json!({ "title": "x" }),
        ),
        (
            "POST",
            "/api/v1/projects/web/plans".to_string(),
            json!({ "name": "x", "selection": { "tags": ["smoke"] } }),
        ),
        (
            "POST",
            "/api/v1/projects/web/milestones".to_string(),
            json!({ "name": "x" }),
        ),
        (
            "POST",
            "/api/v1/projects/web/manual-runs".to_string(),
            json!({ "plan": plan_id }),
        ),
        (
            "PUT",
            format!("/api/v1/projects/web/runs/{second_run}/manual/T{pay_key}"),
            json!({ "outcome": "passed" }),
        ),
        (
            "POST",
            format!("/api/v1/projects/web/runs/{second_run}/complete"),
            json!({}),
        ),
        (
            "POST",
            "/api/v1/projects/web/shared-steps".to_string(),
            json!({ "title": "x", "steps": [{ "action": "y" }] }),
        ),
    ] {
        let r = match method {
            "POST" => viewer.post_json(&path, &body).await,
            "PUT" => viewer.put_json(&path, &body).await,
            _ => viewer.patch_json(&path, &body).await,
        };
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
    }
}

async fn attachments_are_sealed_typed_by_their_bytes_and_always_downloaded(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    let c = case(
        &owner,
        json!({ "title": "With files", "steps": [{ "action": "Look" }] }),
    )
    .await;
    let key = c["key"].as_str().expect("key").to_string();
    let base = format!("/api/v1/projects/web/cases/T{key}/attachments");
    const NAME: &str = "<img src=x onerror=alert(1)>.html";
    let html = "<html><script>window.__xss=1</script>SECRET-FILE-CANARY</html>";
    let r = owner
        .post_body(
            &format!("{base}?name={}", urlencode(NAME)),
            "text/html",
            html.into(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let page_file = r.json()["data"].clone();
    assert_eq!(
        page_file["content_type"], "application/octet-stream",
        "the client's type is not trusted"
    );
    assert_eq!(page_file["name"], NAME);
    let mut png_bytes = vec![0x89u8, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    png_bytes.extend_from_slice(&[0u8; 32]);
    let r = owner
        .send(
            owner
                .http
                .post(owner.url(&format!("{base}?name=shot.png&step=1")))
                .header("content-type", "application/octet-stream")
                .body(png_bytes.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let image = r.json()["data"].clone();
    assert_eq!(image["content_type"], "image/png");
    assert_eq!(image["image"], true);
    assert_eq!(image["step"], 1);

    // Downloads: the stored type, nosniff, and attachment unless an image asked inline.
    let html_id = page_file["id"].as_str().expect("id");
    for q in ["", "?inline=true"] {
        let r = owner.get(&format!("{base}/{html_id}{q}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        let disposition = r.header("content-disposition").expect("disposition");
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        assert!(
            !disposition.contains("<img"),
            "the name is encoded: {disposition}"
        );
        assert!(r.body.contains("SECRET-FILE-CANARY"));
    }
    let png_id = image["id"].as_str().expect("id");
    let r = owner
        .get(&format!(
            "/projects/web/cases/T{key}/attachments/{png_id}?inline=true"
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("image/png"));
    assert!(
        r.header("content-disposition")
            .is_some_and(|d| d.starts_with("inline"))
    );

    // Sealed at rest.
    let stored = app
        .sql_bytes(
            "SELECT sealed FROM case_attachments WHERE content_type = 'application/octet-stream'",
        )
        .await
        .expect("stored");
    assert!(
        !stored.windows(18).any(|w| w == b"SECRET-FILE-CANARY"),
        "files are sealed"
    );

    // Limits and checks.
    let r = owner
        .post_body(
            &format!("{base}?name=big.bin"),
            "application/octet-stream",
            "x".repeat(5 * 1024 * 1024 + 1),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    let r = owner
        .post_body(
            &format!("{base}?name=a.txt&step=9"),
            "text/plain",
            "x".into(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = owner
        .post_body(&format!("{base}?name=a.txt"), "text/plain", String::new())
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // The page lists them, the hostile name as text; a form uploads one.
    let page = owner.get(&format!("/projects/web/cases/T{key}")).await;
    assert!(
        page.body.contains("&#60;img src=x"),
        "the name shows as text"
    );
    assert!(!page.body.contains("<img src=x"), "no injected image");
    let csrf = owner.csrf().await;
    let boundary = "testvaultBOUNDARY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nhello from a form\r\n--{boundary}--\r\n"
    );
    let r = owner
        .post_body(
            &format!("/projects/web/cases/T{key}/attachments"),
            &format!("multipart/form-data; boundary={boundary}"),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let files = data(&owner, &base).await;
    assert_eq!(files.as_array().map(Vec::len), Some(3));
    let forged = body.replace(&csrf, "not-the-token");
    let r = owner
        .post_body(
            &format!("/projects/web/cases/T{key}/attachments"),
            &format!("multipart/form-data; boundary={boundary}"),
            forged,
        )
        .await;
    assert_eq!(r.status, 403, "a forged form is refused");

    let r = owner.delete(&format!("{base}/{html_id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(owner.get(&format!("{base}/{html_id}")).await.status, 404);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn shared_steps_are_referenced_expanded_and_frozen_by_manual_runs(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = project(&app).await;
    let r = owner
        .post_json("/api/v1/projects/web/shared-steps", &json!({ "title": "Sign in", "steps": [
            { "action": "Open /sign-in", "expected": "The form shows" }, { "action": "Submit", "expected": "Dashboard" }] }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let shared = r.json()["data"].clone();
    let shared_id = shared["id"].as_str().expect("id").to_string();
    let r = owner
        .post_json(
            "/api/v1/projects/web/shared-steps",
            &json!({ "title": "Nested", "steps": [{ "shared": shared_id }] }),
        )
        .await;
    assert_eq!(r.status, 422, "no nesting: {}", r.body);

    let c = case(&owner, json!({ "title": "Change password", "tags": ["account"], "steps": [
        { "shared": shared_id, "action": "ignored" }, { "action": "Open settings", "expected": "Settings show" }] })).await;
    let key = c["key"].as_str().expect("key").to_string();
    assert_eq!(c["steps"][0]["shared"], shared_id.as_str());
    assert_eq!(
        c["steps"][0]["action"], "",
        "a reference keeps no text of its own"
    );
    let actions = |v: &Value| -> Vec<String> {
        v["expanded"]
            .as_array()
            .expect("expanded")
            .iter()
            .map(|s| s["action"].as_str().expect("a").to_string())
            .collect()
    };
    assert_eq!(actions(&c), ["Open /sign-in", "Submit", "Open settings"]);
    let r = owner
        .post_json("/api/v1/projects/web/cases", &json!({ "title": "x", "steps": [{ "shared": "00000000-0000-0000-0000-000000000001" }] }))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // A manual run freezes the expanded steps; an edit of the shared steps reaches the case.
    let r = owner
        .post_json(
            "/api/v1/projects/web/manual-runs",
            &json!({ "keys": [format!("T{key}")] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let run = r.json()["data"]["id"].as_str().expect("run").to_string();
    let r = owner
        .patch_json(
            &format!("/api/v1/projects/web/shared-steps/{shared_id}"),
            &json!({ "title": "Sign in", "version": 1, "steps": [
            { "action": "Open /login", "expected": "The form shows" }] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = owner
        .patch_json(
            &format!("/api/v1/projects/web/shared-steps/{shared_id}"),
            &json!({ "title": "Sign in", "version": 1, "steps": [{ "action": "lost" }] }),
        )
        .await;
    assert_eq!(r.status, 410, "stale edit: {}", r.body);
    let now = data(&owner, &format!("/api/v1/projects/web/cases/T{key}")).await;
    assert_eq!(actions(&now), ["Open /login", "Open settings"]);
    let manual = data(&owner, &format!("/api/v1/projects/web/runs/{run}/manual")).await;
    let frozen: Vec<&str> = manual["items"][0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["action"].as_str().expect("a"))
        .collect();
    assert_eq!(frozen, ["Open /sign-in", "Submit", "Open settings"]);

    // Exports name the shared steps, and import back to the same reference.
    for format in ["csv", "markdown"] {
        let export = owner
            .get(&format!("/api/v1/projects/web/cases?format={format}"))
            .await;
        assert!(export.body.contains("[shared] Sign in"), "{}", export.body);
        let r = owner
            .post_body(
                &format!("/api/v1/projects/web/cases/import?format={format}"),
                "text/plain",
                export.body.clone(),
            )
            .await;
        assert_eq!(r.json()["data"]["unchanged"], 1, "{format}: {}", r.body);
    }
    let page = owner.get(&format!("/projects/web/cases/T{key}")).await;
    assert!(
        page.body.contains("shared: Sign in"),
        "the case page marks shared steps"
    );
    assert_eq!(owner.get("/projects/web/shared-steps").await.status, 200);
    let r = owner
        .post_form(
            "/projects/web/shared-steps",
            &[
                ("title", "Empty the cart"),
                (
                    "steps",
                    "Open the cart => Items listed\nRemove all => Cart is empty",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let all = data(&owner, "/api/v1/projects/web/shared-steps").await;
    assert_eq!(all[0]["title"], "Empty the cart");
    assert_eq!(all[0]["steps"][1]["expected"], "Cart is empty");
}
