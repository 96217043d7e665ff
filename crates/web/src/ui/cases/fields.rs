//! A project's custom fields.

#[allow(unused_imports)]
use super::*;

#[derive(Template)]
#[template(path = "case_fields.html")]
struct FieldsPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    fields: Vec<FieldView>,
    kinds: [&'static str; 7],
    can_write: bool,
    error: Option<String>,
}

async fn fields_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(state, p, slug).await?;
        let fields = state
            .core
            .list_fields(p.allow(Permission::ReadProjects)?, slug)
            .await?;
        Ok::<_, CoreError>((project, orgs, fields))
    }
    .await;
    match loaded {
        Ok((project, orgs, fields)) => render(
            pages::status_for(&error),
            &FieldsPage {
                chrome: Chrome::app(
                    &format!("Custom fields · {}", project.name),
                    "projects",
                    csrf,
                    p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                fields,
                kinds: FIELD_KINDS,
                error,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn fields(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    fields_page(&state, &p, &csrf, &slug, None).await
}

pub async fn create_field(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let spec = testvault_core::cases::FieldSpec {
        name: first(&pairs, "name").unwrap_or_default(),
        kind: first(&pairs, "kind"),
        options: first(&pairs, "options")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
    };
    let result = match p.allow(Permission::WriteCases) {
        Ok(allowed) => state
            .core
            .create_field(allowed, &slug, spec)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/projects/{slug}/fields")).into_response(),
        Err(e @ (CoreError::Invalid(_) | CoreError::Conflict(_) | CoreError::Refused(_))) => {
            fields_page(&state, &p, &csrf, &slug, Some(form_error(e))).await
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn delete_field(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, field)): Path<(String, String)>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&field).map_err(|_| CoreError::NotFound("custom field"))?;
        state
            .core
            .delete_field(p.allow(Permission::WriteCases)?, &slug, id)
            .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/projects/{slug}/fields")).into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}
