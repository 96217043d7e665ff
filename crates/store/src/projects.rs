//! Projects inside an org. Every query is scoped by org id.

use crate::db::on_org;
use crate::{Store, StoreError};
use sqlx::Row;
use testvault_domain::{OrgId, ProjectId, UserId};

pub struct NewProject<'a> {
    pub id: ProjectId,
    pub org: OrgId,
    pub slug: &'a str,
    pub name: &'a str,
    /// Sealed by core with the org's data key, bound to this row.
    pub description_sealed: Option<&'a [u8]>,
    pub created_by: UserId,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct ProjectRow {
    pub id: ProjectId,
    pub org: OrgId,
    pub slug: String,
    pub name: String,
    pub description_sealed: Option<Vec<u8>>,
    pub created_at: i64,
}

macro_rules! project_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(ProjectRow {
            id: ProjectId(row.try_get("id")?),
            org: OrgId(row.try_get("org_id")?),
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            description_sealed: row.try_get("description_sealed")?,
            created_at: row.try_get("created_at")?,
        })
    }};
}

impl Store {
    pub async fn create_project(
        &self,
        p: NewProject<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, p.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO projects (id, org_id, slug, name, description_sealed, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(p.id.0)
                .bind(p.org.0)
                .bind(p.slug)
                .bind(p.name)
                .bind(p.description_sealed)
                .bind(p.created_by.0)
                .bind(p.now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "a project with this slug"))?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn list_projects(&self, org: OrgId) -> Result<Vec<ProjectRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query("SELECT id, org_id, slug, name, description_sealed, created_at FROM projects WHERE org_id = $1 ORDER BY name, slug")
                .bind(org.0)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(|r| project_from_row!(r)).collect()
        })
    }

    pub async fn find_project(
        &self,
        org: OrgId,
        slug: &str,
    ) -> Result<Option<ProjectRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query("SELECT id, org_id, slug, name, description_sealed, created_at FROM projects WHERE org_id = $1 AND slug = $2")
                .bind(org.0)
                .bind(slug)
                .fetch_optional(pool)
                .await?;
            row.map(|r| project_from_row!(r)).transpose()
        })
    }

    /// A project by its id (a project token names its project by id).
    pub async fn get_project(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Option<ProjectRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query("SELECT id, org_id, slug, name, description_sealed, created_at FROM projects WHERE org_id = $1 AND id = $2")
                .bind(org.0)
                .bind(project.0)
                .fetch_optional(pool)
                .await?;
            row.map(|r| project_from_row!(r)).transpose()
        })
    }
}
