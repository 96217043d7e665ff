//! Reusable step sequences that cases reference.

use crate::db::on_org;
use crate::{AuditEntry, Store, StoreError};
use testvault_domain::{OrgId, ProjectId};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct SharedStepsRow {
    pub id: Uuid,
    pub title: String,
    /// JSON array of steps.
    pub steps: String,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

impl Store {
    pub async fn list_shared_steps(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<SharedStepsRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<(Uuid, String, String, i64, String, i64)> = sqlx::query_as(
                "SELECT id, title, steps, version, updated_by, updated_at FROM shared_steps WHERE org_id = $1 AND project_id = $2 ORDER BY title")
                .bind(org.0)
                .bind(project.0)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, title, steps, version, updated_by, updated_at)| SharedStepsRow { id, title, steps, version, updated_by, updated_at })
                .collect())
        })
    }

    pub async fn create_shared_steps(
        &self,
        project: ProjectId,
        row: &SharedStepsRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO shared_steps (id, org_id, project_id, title, steps, version, created_by, created_at, updated_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $6, $7)")
                .bind(row.id)
                .bind(audit.org.0)
                .bind(project.0)
                .bind(&row.title)
                .bind(&row.steps)
                .bind(&row.updated_by)
                .bind(row.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "shared steps with this title"))?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Changes a sequence if it is still at `expected_version` (`Stale` otherwise).
    pub async fn update_shared_steps(
        &self,
        project: ProjectId,
        row: &SharedStepsRow,
        expected_version: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE shared_steps SET title = $1, steps = $2, version = version + 1, updated_by = $3, updated_at = $4 \
                 WHERE org_id = $5 AND project_id = $6 AND id = $7 AND version = $8")
                .bind(&row.title)
                .bind(&row.steps)
                .bind(&row.updated_by)
                .bind(row.updated_at)
                .bind(audit.org.0)
                .bind(project.0)
                .bind(row.id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "shared steps with this title"))?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Stale("these shared steps were changed by someone else: reload them and edit again"));
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }
}
