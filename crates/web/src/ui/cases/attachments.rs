//! Uploading, downloading and deleting files on a case.

#[allow(unused_imports)]
use super::*;

/// Uploads a file from the case page: a `multipart/form-data` form with the CSRF token, an
/// optional step and one file.
pub async fn upload_attachment(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Response {
    use testvault_core::cases::attachments::MAX_BYTES;
    // A project the caller cannot see is not found, whatever the body.
    let visible = match p.allow(Permission::ReadProjects) {
        Ok(allowed) => state.core.get_project(allowed, &slug).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = visible {
        return pages::error_page(e.into());
    }
    let boundary = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(testvault_ingest::multipart::boundary);
    let Some(boundary) = boundary else {
        return pages::error_page(
            CoreError::Invalid(testvault_domain::DomainError::new(
                "file",
                "send the file as multipart/form-data",
            ))
            .into(),
        );
    };
    let cookie = crate::cookies::read(req.headers(), crate::cookies::CSRF).unwrap_or_default();
    let bytes = match crate::extract::body_bytes_within(req, MAX_BYTES + 64 * 1024).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let limits = testvault_ingest::Limits {
        max_decompressed_bytes: (MAX_BYTES + 64 * 1024) as u64,
        max_zip_entries: 1,
        ..testvault_ingest::Limits::default()
    };
    let parts = match testvault_ingest::multipart::read_parts(&bytes, &boundary, limits) {
        Ok(parts) => parts,
        Err(e) => {
            return pages::error_page(
                CoreError::Invalid(testvault_domain::DomainError::new("file", e.to_string()))
                    .into(),
            );
        }
    };
    let field = |name: &str| {
        parts
            .iter()
            .find(|part| part.name.as_deref() == Some(name) && part.filename.is_none())
            .and_then(|part| String::from_utf8(part.bytes.clone()).ok())
            .unwrap_or_default()
    };
    if !crate::csrf::tokens_match(&field("csrf"), &cookie) {
        return pages::csrf_failed_page();
    }
    let step = field("step").trim().parse::<i64>().ok();
    let result = async {
        let file = parts
            .iter()
            .find(|part| part.filename.is_some())
            .ok_or_else(|| {
                CoreError::Invalid(testvault_domain::DomainError::new("file", "choose a file"))
            })?;
        state
            .core
            .add_attachment(
                p.allow(Permission::WriteCases)?,
                &slug,
                &key,
                file.filename.as_deref().unwrap_or_default(),
                step,
                &file.bytes,
            )
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!(
            "/projects/{slug}/cases/{key}?notice=File%20attached.#files"
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Default, Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    inline: Option<bool>,
}

pub async fn download_attachment(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key, id)): Path<(String, String, String)>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| CoreError::NotFound("attachment"))?;
        state
            .core
            .attachment(p.allow(Permission::ReadProjects)?, &slug, &key, id)
            .await
    }
    .await;
    match result {
        Ok((view, bytes)) => {
            crate::attachment::file_response(&view, bytes, q.inline.unwrap_or(false))
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn remove_attachment(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key, id)): Path<(String, String, String)>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| CoreError::NotFound("attachment"))?;
        state
            .core
            .delete_attachment(p.allow(Permission::WriteCases)?, &slug, &key, id)
            .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!(
            "/projects/{slug}/cases/{key}?notice=File%20deleted.#files"
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}
