//! Uploading, downloading and deleting files on a case.

#[allow(unused_imports)]
use super::*;

/// A file sent by a page's upload form, with the form's other fields.
pub(crate) struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub fields: Vec<(String, String)>,
}

/// Reads a page's `multipart/form-data` upload: checks that the caller sees the project (404
/// first, whatever the body), the size, and the form's CSRF token against the cookie.
pub(crate) async fn read_upload(
    state: &AppState,
    p: &Principal,
    slug: &str,
    req: axum::extract::Request,
) -> Result<Upload, Response> {
    use testvault_core::cases::attachments::MAX_BYTES;
    let invalid = |why: String| {
        pages::error_page(
            CoreError::Invalid(testvault_domain::DomainError::new("file", why)).into(),
        )
    };
    let visible = match p.allow(Permission::ReadProjects) {
        Ok(allowed) => state.core.get_project(allowed, slug).await.map(|_| ()),
        Err(e) => Err(e),
    };
    visible.map_err(|e| pages::error_page(e.into()))?;
    let boundary = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(testvault_ingest::multipart::boundary)
        .ok_or_else(|| invalid("send the file as multipart/form-data".into()))?;
    let cookie = crate::cookies::read(req.headers(), crate::cookies::CSRF).unwrap_or_default();
    let bytes = crate::extract::body_bytes_within(req, MAX_BYTES + 64 * 1024)
        .await
        .map_err(IntoResponse::into_response)?;
    let limits = testvault_ingest::Limits {
        max_decompressed_bytes: (MAX_BYTES + 64 * 1024) as u64,
        max_zip_entries: 1,
        ..testvault_ingest::Limits::default()
    };
    let parts = testvault_ingest::multipart::read_parts(&bytes, &boundary, limits)
        .map_err(|e| invalid(e.to_string()))?;
    let fields: Vec<(String, String)> = parts
        .iter()
        .filter(|part| part.filename.is_none())
        .filter_map(|part| {
            Some((
                part.name.clone()?,
                String::from_utf8(part.bytes.clone()).ok()?,
            ))
        })
        .collect();
    if !crate::csrf::tokens_match(&first(&fields, "csrf").unwrap_or_default(), &cookie) {
        return Err(pages::csrf_failed_page());
    }
    let file = parts
        .into_iter()
        .find(|part| part.filename.is_some())
        .ok_or_else(|| invalid("choose a file".into()))?;
    Ok(Upload {
        filename: file.filename.unwrap_or_default(),
        bytes: file.bytes,
        fields,
    })
}

/// Uploads a file from the case page: the form's CSRF token, an optional step, one file.
pub async fn upload_attachment(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Response {
    let upload = match read_upload(&state, &p, &slug, req).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let step = first(&upload.fields, "step").and_then(|s| s.trim().parse::<i64>().ok());
    let result = match p.allow(Permission::WriteCases) {
        Ok(allowed) => {
            state
                .core
                .add_attachment(allowed, &slug, &key, &upload.filename, step, &upload.bytes)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/projects/{slug}/cases/{}?notice=File%20attached.#files",
            key_in_path(&key)
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
            "/projects/{slug}/cases/{}?notice=File%20deleted.#files",
            key_in_path(&key)
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}
