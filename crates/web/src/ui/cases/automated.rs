//! Automated tests without a case, and linking a test to a case from its page.

#[allow(unused_imports)]
use super::*;

struct UnlinkedItem {
    id: i64,
    suite: String,
    name: String,
    file: String,
}

#[derive(Template)]
#[template(path = "unlinked.html")]
struct UnlinkedPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    tests: Vec<UnlinkedItem>,
    can_write: bool,
}

pub async fn unlinked(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(&state, &p, &slug).await?;
        let tests = state
            .core
            .unlinked_tests(p.allow(Permission::ReadProjects)?, &slug, 1000)
            .await?;
        Ok::<_, CoreError>((project, orgs, tests))
    }
    .await;
    match loaded {
        Ok((project, orgs, tests)) => render(
            StatusCode::OK,
            &UnlinkedPage {
                chrome: Chrome::app(
                    &format!("Tests without a case · {}", project.name),
                    "projects",
                    &csrf,
                    &p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                tests: tests
                    .into_iter()
                    .map(|t| UnlinkedItem {
                        id: t.id,
                        suite: t.suite,
                        name: pages::test_name(t.name, &t.parameters),
                        file: t.file.unwrap_or_default(),
                    })
                    .collect(),
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

/// Makes a case of each ticked test.
pub async fn from_tests(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let tests: Vec<i64> = all(&pairs, "test")
            .iter()
            .map(|t| t.parse().map_err(|_| CoreError::NotFound("test")))
            .collect::<Result<_, _>>()?;
        state
            .core
            .cases_from_tests(p.allow(Permission::WriteCases)?, &slug, &tests)
            .await
    }
    .await;
    match result {
        Ok(keys) => Redirect::to(&format!(
            "/projects/{slug}/cases?notice={}%20case(s)%20created%20from%20automated%20tests.",
            keys.len()
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

/// Links a test to a case from the test's page (`key`), or unlinks it (`unlink`).
pub async fn link_from_test(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, test)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let id: i64 = test.parse().map_err(|_| CoreError::NotFound("test"))?;
        let allowed = p.allow(Permission::WriteCases)?;
        match first(&pairs, "key").filter(|k| !k.trim().is_empty()) {
            Some(key) => state.core.link_test(allowed, &slug, &key, id).await,
            None => state.core.unlink_test(allowed, &slug, id).await,
        }?;
        Ok::<_, CoreError>(id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/projects/{slug}/tests/{id}")).into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}
