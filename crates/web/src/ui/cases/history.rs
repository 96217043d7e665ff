//! A case's versions, a diff between two, and restore.

#[allow(unused_imports)]
use super::*;

struct VersionItem {
    version: i64,
    summary: String,
    author: String,
    at: String,
}

#[derive(Template)]
#[template(path = "case_history.html")]
struct HistoryPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    key: String,
    title: String,
    current: i64,
    versions: Vec<VersionItem>,
    from: i64,
    to: i64,
    diff: Vec<DiffLine>,
    can_write: bool,
}

#[derive(Default, Deserialize)]
pub struct DiffQuery {
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    to: Option<i64>,
}

pub async fn history(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(&state, &p, &slug).await?;
        let read = || p.allow(Permission::ReadProjects);
        let versions: Vec<VersionView> = state.core.case_versions(read()?, &slug, &key).await?;
        let current = versions.first().map_or(1, |v| v.version);
        let to = q.to.unwrap_or(current);
        let from = q.from.unwrap_or((to - 1).max(1));
        let diff = state
            .core
            .case_diff(read()?, &slug, &key, Some(from), Some(to))
            .await?;
        Ok::<_, CoreError>((project, orgs, versions, current, from, to, diff))
    }
    .await;
    match loaded {
        Ok((project, orgs, versions, current, from, to, diff)) => {
            let title = versions
                .first()
                .map(|v| v.content.title.clone())
                .unwrap_or_default();
            let key = model::parse_case_key(&key).unwrap_or_default();
            render(
                StatusCode::OK,
                &HistoryPage {
                    chrome: Chrome::app(
                        &format!("History of T{key} · {}", project.name),
                        "projects",
                        &csrf,
                        &p,
                        orgs,
                    ),
                    can_write: p.can_in(Permission::WriteCases, project.id),
                    slug: project.slug,
                    project_name: project.name,
                    key,
                    title,
                    current,
                    versions: versions
                        .into_iter()
                        .map(|v| VersionItem {
                            version: v.version,
                            summary: v.summary,
                            author: v.author,
                            at: when(v.created_at),
                        })
                        .collect(),
                    from,
                    to,
                    diff,
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn restore(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key, version)): Path<(String, String, String)>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let version: i64 = version
            .parse()
            .map_err(|_| CoreError::NotFound("case version"))?;
        state
            .core
            .restore_case_version(p.allow(Permission::WriteCases)?, &slug, &key, version)
            .await
    }
    .await;
    match result {
        Ok(case) => Redirect::to(&format!(
            "/projects/{slug}/cases/T{}?notice=Restored%20as%20version%20{}.",
            case.key, case.version
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}
