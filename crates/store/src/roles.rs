//! Custom roles, members' org roles and per-project grants. Every query is scoped by org id;
//! whether a change is allowed is decided in core before it gets here.

use crate::db::on_org;
use crate::{Store, StoreError};
use sqlx::Row;
use testvault_domain::{OrgId, PermissionSet, ProjectId, Role, RoleId, UserId};

#[derive(Debug, Clone)]
pub struct RoleRow {
    pub id: RoleId,
    pub name: String,
    pub permissions: PermissionSet,
    /// How many members hold it.
    pub members: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A custom role to create or the new state of one to edit.
pub struct RoleSpec<'a> {
    pub id: RoleId,
    pub org: OrgId,
    pub name: &'a str,
    pub permissions: PermissionSet,
    pub now: i64,
}

/// A member's access to one project.
#[derive(Debug, Clone)]
pub struct GrantRow {
    pub project: ProjectId,
    pub user: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub created_at: i64,
}

macro_rules! role_from_row {
    ($row:expr) => {{
        let r = $row;
        let perms: String = r.try_get("permissions")?;
        Ok::<_, StoreError>(RoleRow {
            id: RoleId(r.try_get("id")?),
            name: r.try_get("name")?,
            permissions: PermissionSet::from_storage(&perms),
            members: r.try_get("members")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }};
}

/// The columns `role_from_row!` reads; a macro so `concat!` can build static statements.
macro_rules! select_roles {
    () => {
        "SELECT r.id, r.name, r.permissions, r.created_at, r.updated_at, \
     (SELECT COUNT(*) FROM members m WHERE m.org_id = r.org_id AND m.custom_role_id = r.id) AS members \
     FROM org_roles r WHERE r.org_id = $1"
    };
}

/// Counts members who would still hold the built-in Owner role, so the last one cannot be
/// demoted (the check runs inside the changing transaction).
const OWNERS_LEFT: &str =
    "SELECT COUNT(*) FROM members WHERE org_id = $1 AND role_level = 5 AND custom_role_id IS NULL";

impl Store {
    pub async fn list_roles(&self, org: OrgId) -> Result<Vec<RoleRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query(concat!(select_roles!(), " ORDER BY r.name"))
                .bind(org.0)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| role_from_row!(r)).collect()
        })
    }

    pub async fn get_role(&self, org: OrgId, id: RoleId) -> Result<Option<RoleRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(concat!(select_roles!(), " AND r.id = $2"))
                .bind(org.0)
                .bind(id.0)
                .fetch_optional(pool)
                .await?;
            row.map(|r| role_from_row!(r)).transpose()
        })
    }

    pub async fn create_role(
        &self,
        role: RoleSpec<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, role.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO org_roles (id, org_id, name, name_key, permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
                .bind(role.id.0)
                .bind(role.org.0)
                .bind(role.name)
                .bind(role.name.to_lowercase())
                .bind(role.permissions.to_storage())
                .bind(role.now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "a role with this name"))?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Renames and re-permissions a role; members feel it on their next request. Returns whether
    /// the role existed.
    pub async fn update_role(
        &self,
        role: RoleSpec<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, role.org, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE org_roles SET name = $1, name_key = $2, permissions = $3, updated_at = $4 WHERE org_id = $5 AND id = $6")
                .bind(role.name)
                .bind(role.name.to_lowercase())
                .bind(role.permissions.to_storage())
                .bind(role.now)
                .bind(role.org.0)
                .bind(role.id.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "a role with this name"))?
                .rows_affected();
            if n > 0 {
                crate::audit::append!(tx, audit, is_pg);
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Deletes a role nobody holds. Returns whether it existed; `Stale` while members hold it.
    pub async fn delete_role(
        &self,
        org: OrgId,
        id: RoleId,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            let holders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE org_id = $1 AND custom_role_id = $2")
                .bind(org.0)
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await?;
            if holders > 0 {
                return Err(StoreError::Refused("members still hold this role: give them another role first"));
            }
            let n = sqlx::query("DELETE FROM org_roles WHERE org_id = $1 AND id = $2")
                .bind(org.0)
                .bind(id.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                crate::audit::append!(tx, audit, is_pg);
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Gives a member a built-in level (`custom` = None) or a custom role of the same org.
    /// Returns whether the member existed; refuses (`Stale`) to leave the org without an owner.
    pub async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        level: Role,
        custom: Option<RoleId>,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            if let Some(role) = custom {
                let same_org: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_roles WHERE org_id = $1 AND id = $2")
                    .bind(org.0)
                    .bind(role.0)
                    .fetch_one(&mut *tx)
                    .await?;
                if same_org == 0 {
                    return Ok(false);
                }
            }
            let n = sqlx::query("UPDATE members SET role_level = $1, custom_role_id = $2 WHERE org_id = $3 AND user_id = $4")
                .bind(i32::from(level.level()))
                .bind(custom.map(|r| r.0))
                .bind(org.0)
                .bind(user.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            let owners: i64 = sqlx::query_scalar(OWNERS_LEFT).bind(org.0).fetch_one(&mut *tx).await?;
            if owners == 0 {
                return Err(StoreError::Refused("the organisation must keep at least one owner"));
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The member's project grants (for their access on every request).
    pub async fn grants_of(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Vec<(ProjectId, Role)>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query("SELECT project_id, role_level FROM project_grants WHERE org_id = $1 AND user_id = $2")
                .bind(org.0)
                .bind(user.0)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((ProjectId(r.try_get("project_id")?), crate::rows::role(r.try_get("role_level")?)?)))
                .collect()
        })
    }

    /// Who has been granted access to a project, by name.
    pub async fn project_grants(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<GrantRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query(
                "SELECT g.project_id, g.user_id, u.email, u.display_name, g.role_level, g.created_at \
                 FROM project_grants g JOIN users u ON u.id = g.user_id \
                 WHERE g.org_id = $1 AND g.project_id = $2 ORDER BY u.display_name, u.email")
                .bind(org.0)
                .bind(project.0)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(GrantRow {
                        project: ProjectId(r.try_get("project_id")?),
                        user: UserId(r.try_get("user_id")?),
                        email: r.try_get("email")?,
                        display_name: r.try_get("display_name")?,
                        role: crate::rows::role(r.try_get("role_level")?)?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }

    /// Grants or changes a member's role on a project of the same org. Returns whether the
    /// project exists there.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_grant(
        &self,
        org: OrgId,
        project: ProjectId,
        user: UserId,
        role: Role,
        granted_by: UserId,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            // The project must belong to the org; the member foreign key checks the user.
            let in_org: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE org_id = $1 AND id = $2")
                .bind(org.0)
                .bind(project.0)
                .fetch_one(&mut *tx)
                .await?;
            if in_org == 0 {
                return Ok(false);
            }
            sqlx::query("INSERT INTO project_grants (project_id, org_id, user_id, role_level, granted_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (project_id, user_id) DO UPDATE SET role_level = excluded.role_level, granted_by = excluded.granted_by")
                .bind(project.0)
                .bind(org.0)
                .bind(user.0)
                .bind(i32::from(role.level()))
                .bind(granted_by.0)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Removes a member's grant on a project. Returns whether there was one.
    pub async fn delete_grant(
        &self,
        org: OrgId,
        project: ProjectId,
        user: UserId,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query(
                "DELETE FROM project_grants WHERE org_id = $1 AND project_id = $2 AND user_id = $3"
            )
            .bind(org.0)
            .bind(project.0)
            .bind(user.0)
        );
        Ok(n > 0)
    }
}
