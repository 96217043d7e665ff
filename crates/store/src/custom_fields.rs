//! Custom fields of a project's cases: their definitions (values live on the cases, as JSON).

use crate::db::on_org;
use crate::{AuditEntry, Store, StoreError};
use testvault_domain::{OrgId, ProjectId};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct FieldRow {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    /// JSON array of the choices.
    pub options: String,
    pub position: i64,
}

impl Store {
    pub async fn list_fields(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<FieldRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<(Uuid, String, String, String, i64)> = sqlx::query_as(
                "SELECT id, name, kind, options, position FROM custom_fields WHERE org_id = $1 AND project_id = $2 ORDER BY position, name")
                .bind(org.0)
                .bind(project.0)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, name, kind, options, position)| FieldRow { id, name, kind, options, position })
                .collect())
        })
    }

    /// Adds a field, last in order.
    pub async fn create_field(
        &self,
        project: ProjectId,
        field: &FieldRow,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO custom_fields (id, org_id, project_id, name, kind, options, position, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6, COALESCE(MAX(position), 0) + 1, $7 FROM custom_fields WHERE project_id = $3")
                .bind(field.id)
                .bind(audit.org.0)
                .bind(project.0)
                .bind(&field.name)
                .bind(&field.kind)
                .bind(&field.options)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "a field with this name"))?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Renames a field or changes its choices (its kind stays: values were written for it).
    pub async fn update_field(
        &self,
        project: ProjectId,
        field: Uuid,
        name: &str,
        options: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(self, audit, sqlx::query(
            "UPDATE custom_fields SET name = $1, options = $2 WHERE org_id = $3 AND project_id = $4 AND id = $5")
            .bind(name)
            .bind(options)
            .bind(audit.org.0)
            .bind(project.0)
            .bind(field), |e| StoreError::unique(e, "a field with this name"));
        Ok(n > 0)
    }

    /// Deletes a field definition; values stay in the cases' versions but are no longer shown.
    pub async fn delete_field(
        &self,
        project: ProjectId,
        field: Uuid,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query(
                "DELETE FROM custom_fields WHERE org_id = $1 AND project_id = $2 AND id = $3"
            )
            .bind(audit.org.0)
            .bind(project.0)
            .bind(field)
        );
        Ok(n > 0)
    }
}
