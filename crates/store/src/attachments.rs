//! Files on cases and their steps, sealed by core before they arrive here.

use crate::db::on_org;
use crate::{AuditEntry, Store, StoreError};
use testvault_domain::OrgId;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AttachmentRow {
    pub id: Uuid,
    pub case_id: Uuid,
    /// 1-based step, or none for the case itself.
    pub step: Option<i64>,
    /// The manual run it was attached in, for a verdict's evidence.
    pub run: Option<Uuid>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub created_by: String,
    pub created_at: i64,
}

type AttachmentColumns = (
    Uuid,
    Uuid,
    Option<i64>,
    Option<Uuid>,
    String,
    String,
    i64,
    String,
    i64,
);
/// The columns and the sealed content.
type SealedColumns = (
    Uuid,
    Uuid,
    Option<i64>,
    Option<Uuid>,
    String,
    String,
    i64,
    String,
    i64,
    Vec<u8>,
);

fn from_columns(c: AttachmentColumns) -> AttachmentRow {
    let (id, case_id, step, run, name, content_type, size, created_by, created_at) = c;
    AttachmentRow {
        id,
        case_id,
        step,
        run,
        name,
        content_type,
        size,
        created_by,
        created_at,
    }
}

impl Store {
    /// Adds a file, unless the case already holds `max` of them (`Refused`).
    pub async fn add_attachment(
        &self,
        row: &AttachmentRow,
        sealed: &[u8],
        max: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_attachments WHERE org_id = $1 AND case_id = $2")
                .bind(audit.org.0)
                .bind(row.case_id)
                .fetch_one(&mut *tx)
                .await?;
            if held >= max {
                return Err(StoreError::Refused("this case holds as many files as it may: delete one first"));
            }
            sqlx::query(
                "INSERT INTO case_attachments (id, org_id, case_id, step, name, content_type, size, sealed, created_by, created_at, run_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                .bind(row.id)
                .bind(audit.org.0)
                .bind(row.case_id)
                .bind(row.step)
                .bind(&row.name)
                .bind(&row.content_type)
                .bind(row.size)
                .bind(sealed)
                .bind(&row.created_by)
                .bind(row.created_at)
                .bind(row.run)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn list_attachments(
        &self,
        org: OrgId,
        case_id: Uuid,
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<AttachmentColumns> = sqlx::query_as(
                "SELECT id, case_id, step, run_id, name, content_type, size, created_by, created_at FROM case_attachments \
                 WHERE org_id = $1 AND case_id = $2 ORDER BY step IS NOT NULL, step, created_at, name")
                .bind(org.0)
                .bind(case_id)
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().map(from_columns).collect())
        })
    }

    /// One file with its sealed content.
    pub async fn get_attachment(
        &self,
        org: OrgId,
        case_id: Uuid,
        id: Uuid,
    ) -> Result<Option<(AttachmentRow, Vec<u8>)>, StoreError> {
        on_org!(self, org, pool => {
            let row: Option<SealedColumns> = sqlx::query_as(
                "SELECT id, case_id, step, run_id, name, content_type, size, created_by, created_at, sealed FROM case_attachments \
                 WHERE org_id = $1 AND case_id = $2 AND id = $3")
                .bind(org.0)
                .bind(case_id)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|(id, case_id, step, run, name, content_type, size, created_by, created_at, sealed)| {
                (from_columns((id, case_id, step, run, name, content_type, size, created_by, created_at)), sealed)
            }))
        })
    }

    pub async fn delete_attachment(
        &self,
        case_id: Uuid,
        id: Uuid,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query(
                "DELETE FROM case_attachments WHERE org_id = $1 AND case_id = $2 AND id = $3"
            )
            .bind(audit.org.0)
            .bind(case_id)
            .bind(id)
        );
        Ok(n > 0)
    }
}
