//! Files on a case or one of its steps (screenshots, sample data), stored in the database and
//! sealed with the org's key. The type is decided from the bytes, never from the client: PNG,
//! JPEG, GIF and WebP are images that pages may preview; PDF and plain text keep their types;
//! everything else (SVG and HTML included) is `application/octet-stream`, only ever downloaded.

use crate::audit::Change;
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::{DomainError, Permission, RunId, time};
use testvault_store::AttachmentRow;
use uuid::Uuid;

/// The largest file one attachment may hold.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The most files one case may hold.
pub const MAX_PER_CASE: i64 = 50;
const MAX_NAME: usize = 200;
const TABLE: &str = "case_attachments";
const CONTENT: &str = "content";

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    pub id: Uuid,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// 1-based step it belongs to; none for the case.
    pub step: Option<i64>,
    /// The manual run it was attached in (a verdict's evidence).
    pub run: Option<Uuid>,
    /// An image a page may show inline.
    pub image: bool,
    pub created_by: String,
    pub created_at: i64,
}

impl From<AttachmentRow> for AttachmentView {
    fn from(r: AttachmentRow) -> Self {
        AttachmentView {
            image: is_image(&r.content_type),
            id: r.id,
            name: r.name,
            content_type: r.content_type,
            size: r.size,
            step: r.step,
            run: r.run,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

pub fn is_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// The type the bytes are, by their signature (and, for text, the name's extension).
pub(crate) fn sniff(bytes: &[u8], name: &str) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "image/gif"
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else {
        let lower = name.to_ascii_lowercase();
        let texty = [".txt", ".log", ".csv", ".md", ".json", ".xml", ".har"]
            .iter()
            .any(|ext| lower.ends_with(ext));
        if texty && std::str::from_utf8(bytes).is_ok() {
            "text/plain; charset=utf-8"
        } else {
            "application/octet-stream"
        }
    }
}

/// A file name as stored: the last path component, without control characters, at most 200
/// characters; `attachment` when nothing is left.
pub(crate) fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect::<String>()
        .trim()
        .to_string();
    if name.is_empty() || name == "." || name == ".." {
        "attachment".into()
    } else {
        name
    }
}

fn place(id: Uuid) -> String {
    id.to_string()
}

impl Core {
    /// Attaches a file to a case (`step`: to one of its steps). Needs `write_cases`; audited.
    pub async fn add_attachment(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        name: &str,
        step: Option<i64>,
        bytes: &[u8],
    ) -> Result<AttachmentView, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let case = self.case_row(p.org, project, key).await?;
        self.store_attachment(p, &case, step, None, name, bytes)
            .await
    }

    /// Attaches a file to a case's verdict in a running manual run (a screenshot of the
    /// failure). Needs `execute_runs`; refused once the run is complete.
    pub async fn add_verdict_file(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        key: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<AttachmentView, CoreError> {
        let p = allowed.require(Permission::ExecuteRuns)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self.run_in(p.org, project, run).await?;
        self.store()
            .manual_run_info(p.org, run)
            .await?
            .ok_or(CoreError::NotFound("manual run"))?;
        if row.finished {
            return Err(CoreError::Refused(
                "this run is complete: its results are frozen",
            ));
        }
        let key = super::parse_case_key(key).ok_or(CoreError::NotFound("case"))?;
        let in_run = self
            .store()
            .manual_items(p.org, run)
            .await?
            .iter()
            .any(|i| i.case_key == key);
        if !in_run {
            return Err(CoreError::NotFound("case in this run"));
        }
        let case = self.case_row(p.org, project, &key).await?;
        self.store_attachment(p, &case, None, Some(run), name, bytes)
            .await
    }

    /// The files attached to a case in a manual run.
    pub async fn verdict_files(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        key: &str,
    ) -> Result<Vec<AttachmentView>, CoreError> {
        Ok(self
            .case_attachments(allowed, slug, key)
            .await?
            .into_iter()
            .filter(|a| a.run == Some(run.0))
            .collect())
    }

    async fn store_attachment(
        &self,
        p: &crate::Principal,
        case: &testvault_store::CaseRow,
        step: Option<i64>,
        run: Option<RunId>,
        name: &str,
        bytes: &[u8],
    ) -> Result<AttachmentView, CoreError> {
        if bytes.is_empty() {
            return Err(DomainError::new("file", "is empty").into());
        }
        if bytes.len() > MAX_BYTES {
            return Err(CoreError::TooLarge(format!(
                "a file may hold at most {MAX_BYTES} bytes"
            )));
        }
        if let Some(n) = step {
            let steps = super::content_of(case)?.steps.len() as i64;
            if n < 1 || n > steps {
                return Err(
                    DomainError::new("step", format!("the case has steps 1 to {steps}")).into(),
                );
            }
        }
        let name = clean_name(name);
        let row = AttachmentRow {
            id: Uuid::new_v4(),
            case_id: case.id,
            step,
            run: run.map(|r| r.0),
            content_type: sniff(bytes, &name).to_string(),
            name,
            size: bytes.len() as i64,
            created_by: crate::runs::actor_label(p),
            created_at: time::now(),
        };
        let sealed = self
            .keyring()
            .seal_bytes(self.store(), p.org, TABLE, CONTENT, &place(row.id), bytes)
            .await?;
        let event = crate::audit::by(
            p,
            Change::new("case.attached", "case", format!("T{}", case.key)).after(serde_json::json!({
                "attachment": row.id, "name": row.name, "size": row.size, "type": row.content_type, "step": step, "run": row.run,
            })),
        );
        self.store()
            .add_attachment(&row, &sealed, MAX_PER_CASE, &event)
            .await?;
        Ok(row.into())
    }

    pub async fn case_attachments(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
    ) -> Result<Vec<AttachmentView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let case = self.case_row(p.org, project, key).await?;
        Ok(self
            .store()
            .list_attachments(p.org, case.id)
            .await?
            .into_iter()
            .map(AttachmentView::from)
            .collect())
    }

    /// A file and its content, opened.
    pub async fn attachment(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        id: Uuid,
    ) -> Result<(AttachmentView, Vec<u8>), CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let case = self.case_row(p.org, project, key).await?;
        let (row, sealed) = self
            .store()
            .get_attachment(p.org, case.id, id)
            .await?
            .ok_or(CoreError::NotFound("attachment"))?;
        let bytes = self
            .keyring()
            .open_bytes(self.store(), p.org, TABLE, CONTENT, &place(row.id), &sealed)
            .await?;
        Ok((row.into(), bytes))
    }

    pub async fn delete_attachment(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        id: Uuid,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let case = self.case_row(p.org, project, key).await?;
        let event = crate::audit::by(
            p,
            Change::new("case.detached", "case", format!("T{}", case.key))
                .after(serde_json::json!({ "attachment": id })),
        );
        if !self.store().delete_attachment(case.id, id, &event).await? {
            return Err(CoreError::NotFound("attachment"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_the_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest", "x.txt"), "image/png");
        assert_eq!(
            sniff(b"<svg onload=alert(1)>", "x.svg"),
            "application/octet-stream"
        );
        assert_eq!(
            sniff(b"<html><script>", "x.html"),
            "application/octet-stream"
        );
        assert_eq!(sniff(b"<script>", "x.png"), "application/octet-stream");
        assert_eq!(sniff(b"plain log", "run.log"), "text/plain; charset=utf-8");
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\\\x\\\\a.png"), "a.png");
        assert_eq!(clean_name("a\r\nb\u{7}.txt"), "ab.txt");
        assert_eq!(clean_name(".."), "attachment");
        assert_eq!(
            clean_name("<img src=x onerror=alert(1)>.png"),
            "<img src=x onerror=alert(1)>.png"
        );
    }
}
