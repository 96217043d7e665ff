//! Files attached to a run's results by reporters (a ReportPortal log's file): listed with the
//! test they belong to, downloaded opened from their seal. Stored in the database, sealed with
//! the org's key, until object storage takes them.

use crate::cases::attachments::{AttachmentView, is_image};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::{Permission, RunId};
use testvault_store::ResultFileRow;
use uuid::Uuid;

/// A run's file and the test it belongs to (`suite › name`).
#[derive(Debug, Clone, Serialize)]
pub struct RunFileView {
    #[serde(flatten)]
    pub file: AttachmentView,
    pub test: Option<String>,
}

fn view(run: RunId, r: ResultFileRow) -> AttachmentView {
    AttachmentView {
        id: r.id,
        image: is_image(&r.media_type),
        name: r.name,
        content_type: r.media_type,
        size: r.size,
        step: None,
        run: Some(run.0),
        created_by: "reporter".into(),
        created_at: r.created_at,
    }
}

impl Core {
    /// A run's files: all of them, or those of one of its results. Needs `read_projects`.
    pub async fn run_files(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        of: Option<&crate::ResultView>,
    ) -> Result<Vec<RunFileView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        // Files belong to a test by its identity hash (what the result's seal is bound to).
        let test = of.map(|r| {
            let hash = testvault_ingest::identity::identity_hash(&r.suite, &r.key);
            i64::from_ne_bytes(hash.to_ne_bytes())
        });
        let rows = self.store().result_files(p.org, run, test).await?;
        Ok(rows
            .into_iter()
            .map(|mut r| RunFileView {
                test: r.test.take(),
                file: view(run, r),
            })
            .collect())
    }

    /// One file of a run, opened. Needs `read_projects`.
    pub async fn run_file(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        id: Uuid,
    ) -> Result<(AttachmentView, Vec<u8>), CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        let mut row = self
            .store()
            .result_file(p.org, run, id)
            .await?
            .ok_or(CoreError::NotFound("file"))?;
        let sealed = row.content.take().unwrap_or_default();
        let bytes = self
            .keyring()
            .open_bytes(
                self.store(),
                p.org,
                "result_files",
                "content",
                &id.to_string(),
                &sealed,
            )
            .await?;
        Ok((view(run, row), bytes))
    }
}
