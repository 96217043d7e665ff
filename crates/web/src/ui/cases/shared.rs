//! Shared steps: the list, create and edit.

#[allow(unused_imports)]
use super::*;

struct SharedItem {
    id: String,
    title: String,
    version: i64,
    /// The steps as the editor writes them: one per line, `action => expected`.
    text: String,
    steps: Vec<Step>,
}

#[derive(Template)]
#[template(path = "shared_steps.html")]
struct SharedPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    items: Vec<SharedItem>,
    can_write: bool,
    error: Option<String>,
}

/// `action => expected` lines as steps.
fn steps_from_text(text: &str) -> Vec<Step> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once("=>") {
            Some((a, e)) => Step::new(a.trim(), e.trim()),
            None => Step::new(l.trim(), ""),
        })
        .collect()
}

fn steps_to_text(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            if s.expected.is_empty() {
                s.action.replace('\n', " ")
            } else {
                format!(
                    "{} => {}",
                    s.action.replace('\n', " "),
                    s.expected.replace('\n', " ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn shared_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(state, p, slug).await?;
        let items = state
            .core
            .list_shared_steps(p.allow(Permission::ReadProjects)?, slug)
            .await?;
        Ok::<_, CoreError>((project, orgs, items))
    }
    .await;
    match loaded {
        Ok((project, orgs, items)) => render(
            pages::status_for(&error),
            &SharedPage {
                chrome: Chrome::app(
                    &format!("Shared steps · {}", project.name),
                    "projects",
                    csrf,
                    p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                items: items
                    .into_iter()
                    .map(|s| SharedItem {
                        id: s.id.to_string(),
                        text: steps_to_text(&s.steps),
                        title: s.title,
                        version: s.version,
                        steps: s.steps,
                    })
                    .collect(),
                error,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn shared_steps(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    shared_page(&state, &p, &csrf, &slug, None).await
}

/// Creates (`POST …/shared-steps`) or edits (`POST …/shared-steps/{id}`) shared steps.
async fn save_shared(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    id: Option<String>,
    pairs: Pairs,
) -> Response {
    let result = async {
        let id = match id {
            Some(raw) => {
                Some(Uuid::parse_str(&raw).map_err(|_| CoreError::NotFound("shared steps"))?)
            }
            None => None,
        };
        let spec = testvault_core::cases::SharedStepsSpec {
            title: first(&pairs, "title").unwrap_or_default(),
            steps: steps_from_text(&first(&pairs, "steps").unwrap_or_default()),
            version: first(&pairs, "version").and_then(|v| v.parse().ok()),
        };
        state
            .core
            .save_shared_steps(p.allow(Permission::WriteCases)?, slug, id, spec)
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/projects/{slug}/shared-steps")).into_response(),
        Err(e @ (CoreError::Invalid(_) | CoreError::Conflict(_) | CoreError::Gone(_))) => {
            shared_page(state, p, csrf, slug, Some(form_error(e))).await
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn create_shared_steps(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    save_shared(&state, &p, &csrf, &slug, None, pairs).await
}

pub async fn update_shared_steps(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    save_shared(&state, &p, &csrf, &slug, Some(id), pairs).await
}
