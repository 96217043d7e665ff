//! The compare page: a run against a base run (default: the latest finished run on `main`).

use super::PageCsrf;
use super::pages::{self, Chrome, render};
use super::projects::RunItem;
use crate::AppState;
use crate::extract::PageAuth;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use testvault_core::CoreError;
use testvault_core::compare::{Base, ChangedTest, ComparisonView, SlowerRule};
use testvault_domain::Permission;

#[derive(Deserialize)]
pub struct CompareParams {
    /// A run number.
    #[serde(default)]
    base: Option<i64>,
    #[serde(default)]
    base_branch: Option<String>,
}

/// One category of changed tests, as a table.
struct Section {
    title: &'static str,
    id: &'static str,
    count: usize,
    tests: Vec<Row>,
}

struct Row {
    test_id: i64,
    quarantined: bool,
    name: String,
    suite: String,
    before: String,
    after: String,
}

fn describe(o: Option<testvault_core::compare::Outline>) -> String {
    match o {
        None => "—".to_string(),
        Some(o) => match o.duration_ms {
            Some(ms) => format!("{} · {ms} ms", o.outcome),
            None => o.outcome.to_string(),
        },
    }
}

fn rows(tests: Vec<ChangedTest>) -> Vec<Row> {
    tests
        .into_iter()
        .map(|t| Row {
            test_id: t.test_id,
            quarantined: t.quarantined,
            name: pages::test_name(t.name, &t.parameters),
            suite: t.suite,
            before: describe(t.base),
            after: describe(t.head),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    head: RunItem,
    base: RunItem,
    gate_passed: bool,
    slower_rule: SlowerRule,
    sections: Vec<Section>,
}

fn sections(v: ComparisonView) -> Vec<Section> {
    let c = v.counts;
    vec![
        Section {
            title: "New failures",
            id: "new-failures",
            count: c.new_failures,
            tests: rows(v.new_failures),
        },
        Section {
            title: "Fixed",
            id: "fixed",
            count: c.fixed,
            tests: rows(v.fixed),
        },
        Section {
            title: "Still failing",
            id: "still-failing",
            count: c.still_failing,
            tests: rows(v.still_failing),
        },
        Section {
            title: "Slower",
            id: "slower",
            count: c.slower,
            tests: rows(v.slower),
        },
        Section {
            title: "New tests",
            id: "added",
            count: c.added,
            tests: rows(v.added),
        },
        Section {
            title: "Removed tests",
            id: "removed",
            count: c.removed,
            tests: rows(v.removed),
        },
    ]
}

pub async fn page(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, number)): Path<(String, String)>,
    Query(q): Query<CompareParams>,
) -> Response {
    let loaded = async {
        let number: i64 = number.parse().map_err(|_| CoreError::NotFound("run"))?;
        let allowed = || p.allow(Permission::ReadProjects);
        let project = state.core.get_project(allowed()?, &slug).await?;
        let head = state.core.run_by_number(allowed()?, &slug, number).await?;
        let base = match q.base {
            Some(n) => Base::Number(n),
            None => Base::LatestOn(
                q.base_branch
                    .unwrap_or_else(|| crate::api::v1::compare::DEFAULT_BASE_BRANCH.to_string()),
            ),
        };
        let view = state
            .core
            .compare_runs(allowed()?, &slug, head.id, base, SlowerRule::default())
            .await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((project, view, orgs))
    }
    .await;
    match loaded {
        Ok((project, view, orgs)) => {
            let title = format!(
                "#{} vs #{} · {}",
                view.head.number, view.base.number, project.name
            );
            render(
                StatusCode::OK,
                &ComparePage {
                    chrome: Chrome::app(&title, "projects", &csrf, &p, orgs),
                    slug: project.slug.clone(),
                    project_name: project.name.clone(),
                    gate_passed: view.gate == "passed",
                    slower_rule: view.slower_rule,
                    head: RunItem::from(view.head.clone()),
                    base: RunItem::from(view.base.clone()),
                    sections: sections(view),
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}
