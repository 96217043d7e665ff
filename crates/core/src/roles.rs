//! Custom roles, members' org roles and project grants. The rules live in
//! `testvault_domain::access`; this module loads the state they need and stores the outcome.

use crate::audit::{self, Actor, Change};
use crate::{Allowed, Core, CoreError, Operator, Principal};
use serde::Serialize;
use serde_json::json;
use testvault_domain::access::{check_assignment, check_grant, check_role_change};
use testvault_domain::{
    DomainError, Email, MemberRole, OrgId, OrgName, Permission, PermissionSet, ProjectId, Refusal,
    Role, RoleId, RoleName, UserId, time,
};
use testvault_store::{GrantRow, RoleRow, RoleSpec};

/// A custom role as the roles page and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleView {
    pub id: RoleId,
    pub name: String,
    pub permissions: PermissionSet,
    pub members: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<RoleRow> for RoleView {
    fn from(r: RoleRow) -> Self {
        RoleView {
            id: r.id,
            name: r.name,
            permissions: r.permissions,
            members: r.members,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Which org role to give a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChoice {
    Builtin(Role),
    Custom(RoleId),
}

impl RoleChoice {
    /// `viewer`…`owner`, `1`…`5`, or a custom role's id.
    pub fn parse(raw: &str) -> Result<RoleChoice, DomainError> {
        if let Ok(role) = Role::parse(raw) {
            return Ok(RoleChoice::Builtin(role));
        }
        raw.trim()
            .parse::<RoleId>()
            .map(RoleChoice::Custom)
            .map_err(|_| {
                DomainError::new(
                    "role",
                    "must be viewer, tester, engineer, manager, owner or a custom role's id",
                )
            })
    }
}

/// A member's access to one project.
#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    pub user: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub granted_at: i64,
}

impl From<GrantRow> for GrantView {
    fn from(g: GrantRow) -> Self {
        GrantView {
            user: g.user,
            email: g.email,
            display_name: g.display_name,
            role: g.role,
            granted_at: g.created_at,
        }
    }
}

/// A refused change to roles or grants: 403 when the actor lacks the managing permission,
/// 422 on the field when the change reaches beyond what they hold.
fn refused(r: Refusal, field: &'static str) -> CoreError {
    match r {
        Refusal::Lacks(p) => CoreError::Forbidden(p.describe()),
        Refusal::Beyond(_) => DomainError::new(field, r.message()).into(),
    }
}

fn role_name(raw: &str) -> Result<RoleName, DomainError> {
    let name = RoleName::parse(raw)?;
    if Role::parse(name.as_str()).is_ok() {
        return Err(DomainError::new("name", "is the name of a built-in role"));
    }
    Ok(name)
}

fn non_empty(perms: PermissionSet) -> Result<PermissionSet, DomainError> {
    if perms.is_empty() {
        return Err(DomainError::new(
            "permissions",
            "choose at least one permission",
        ));
    }
    Ok(perms)
}

impl Core {
    /// The org's custom roles (for role editors and for whoever assigns roles).
    pub async fn roles(&self, allowed: Allowed<'_>) -> Result<Vec<RoleView>, CoreError> {
        let p = allowed.require_any(&[Permission::ManageRoles, Permission::ManageMembers])?;
        let rows = self.store().list_roles(p.org).await?;
        Ok(rows.into_iter().map(RoleView::from).collect())
    }

    pub async fn create_role(
        &self,
        allowed: Allowed<'_>,
        name: &str,
        permissions: PermissionSet,
    ) -> Result<RoleView, CoreError> {
        let p = allowed.require(Permission::ManageRoles)?;
        let name = role_name(name)?;
        let permissions = non_empty(permissions)?;
        check_role_change(&p.access, None, Some(permissions))
            .map_err(|r| refused(r, "permissions"))?;
        let id = RoleId::new();
        let event = audit::by(
            p,
            Change::new("role.created", "role", id)
                .after(json!({ "name": name.as_str(), "permissions": permissions })),
        );
        let spec = RoleSpec {
            id,
            org: p.org,
            name: name.as_str(),
            permissions,
            now: time::now(),
        };
        self.store().create_role(spec, &event).await?;
        self.role(p, id).await
    }

    /// Changes a role's name and permissions; its members feel it on their next request.
    pub async fn update_role(
        &self,
        allowed: Allowed<'_>,
        id: RoleId,
        name: &str,
        permissions: PermissionSet,
    ) -> Result<RoleView, CoreError> {
        let p = allowed.require(Permission::ManageRoles)?;
        let before = self.role(p, id).await?;
        let name = role_name(name)?;
        let permissions = non_empty(permissions)?;
        check_role_change(&p.access, Some(before.permissions), Some(permissions))
            .map_err(|r| refused(r, "permissions"))?;
        let event = audit::by(
            p,
            Change::new("role.updated", "role", id)
                .before(json!({ "name": before.name, "permissions": before.permissions }))
                .after(json!({ "name": name.as_str(), "permissions": permissions })),
        );
        let spec = RoleSpec {
            id,
            org: p.org,
            name: name.as_str(),
            permissions,
            now: time::now(),
        };
        if !self.store().update_role(spec, &event).await? {
            return Err(CoreError::NotFound("role"));
        }
        self.role(p, id).await
    }

    /// Deletes a role nobody holds.
    pub async fn delete_role(&self, allowed: Allowed<'_>, id: RoleId) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageRoles)?;
        let before = self.role(p, id).await?;
        check_role_change(&p.access, Some(before.permissions), None)
            .map_err(|r| refused(r, "role"))?;
        let event = audit::by(
            p,
            Change::new("role.deleted", "role", id)
                .before(json!({ "name": before.name, "permissions": before.permissions })),
        );
        if !self.store().delete_role(p.org, id, &event).await? {
            return Err(CoreError::NotFound("role"));
        }
        Ok(())
    }

    async fn role(&self, p: &Principal, id: RoleId) -> Result<RoleView, CoreError> {
        self.store()
            .get_role(p.org, id)
            .await?
            .map(RoleView::from)
            .ok_or(CoreError::NotFound("role"))
    }

    /// Gives a member another org role. Nobody hands out, or takes from someone, a permission
    /// they do not hold; the org always keeps an owner.
    pub async fn set_member_role(
        &self,
        allowed: Allowed<'_>,
        user: UserId,
        choice: RoleChoice,
    ) -> Result<MemberRole, CoreError> {
        let p = allowed.require(Permission::ManageMembers)?;
        let (current, new) = self.role_change(p.org, user, choice).await?;
        check_assignment(&p.access, Some(current.permissions()), new.permissions())
            .map_err(|r| refused(r, "role"))?;
        self.store_member_role(Actor::Principal(p), p.org, user, &current, new)
            .await
    }

    /// `testvault admin set-role`: the operator's way to restore an owner or fix a role. The
    /// org still keeps at least one owner. `role` is a built-in role or a custom role's name.
    pub async fn set_member_role_as_operator(
        &self,
        _op: &Operator,
        org: &OrgName,
        email: &Email,
        role: &str,
    ) -> Result<MemberRole, CoreError> {
        let (org, user) = self.org_and_member(org, email).await?;
        let choice = match Role::parse(role) {
            Ok(r) => RoleChoice::Builtin(r),
            Err(_) => RoleChoice::Custom(
                self.store()
                    .list_roles(org)
                    .await?
                    .into_iter()
                    .find(|r| r.name.eq_ignore_ascii_case(role.trim()))
                    .ok_or(CoreError::NotFound("role"))?
                    .id,
            ),
        };
        let (current, new) = self.role_change(org, user, choice).await?;
        self.store_member_role(Actor::Operator, org, user, &current, new)
            .await
    }

    /// The member's current role and the role `choice` names (404 for either missing).
    async fn role_change(
        &self,
        org: OrgId,
        user: UserId,
        choice: RoleChoice,
    ) -> Result<(MemberRole, MemberRole), CoreError> {
        let current = self
            .store()
            .member_role(org, user)
            .await?
            .ok_or(CoreError::NotFound("member"))?;
        let new = match choice {
            RoleChoice::Builtin(role) => MemberRole::Builtin(role),
            RoleChoice::Custom(id) => {
                let r = self
                    .store()
                    .get_role(org, id)
                    .await?
                    .ok_or(CoreError::NotFound("role"))?;
                MemberRole::Custom(testvault_domain::CustomRole {
                    id,
                    name: r.name,
                    permissions: r.permissions,
                })
            }
        };
        Ok((current, new))
    }

    async fn store_member_role(
        &self,
        actor: Actor<'_>,
        org: OrgId,
        user: UserId,
        current: &MemberRole,
        new: MemberRole,
    ) -> Result<MemberRole, CoreError> {
        let event = actor.event(
            org,
            Change::new("member.role_changed", "user", user)
                .before(json!({ "role": current.name() }))
                .after(json!({ "role": new.name() })),
        );
        // With a custom role the level column still needs a value; the custom role decides.
        let level = new.builtin().unwrap_or(Role::Viewer);
        if !self
            .store()
            .set_member_role(org, user, level, new.custom_id(), &event)
            .await?
        {
            return Err(CoreError::NotFound("member"));
        }
        tracing::info!(org.id = %org, user.id = %user, role = new.name(), "member role changed");
        Ok(new)
    }

    async fn org_and_member(
        &self,
        org: &OrgName,
        email: &Email,
    ) -> Result<(OrgId, UserId), CoreError> {
        let org = self
            .store()
            .find_org_by_name(org.as_str())
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        let user = self
            .store()
            .find_user_by_email(email.as_str())
            .await?
            .ok_or(CoreError::NotFound("member"))?;
        Ok((org.id, user.id))
    }

    /// `testvault admin grant`: gives (or with `None` takes away) a member's role on a project.
    pub async fn grant_project_as_operator(
        &self,
        _op: &Operator,
        org: &OrgName,
        slug: &str,
        email: &Email,
        role: Option<Role>,
    ) -> Result<(), CoreError> {
        let (org, user) = self.org_and_member(org, email).await?;
        if self.store().member_role(org, user).await?.is_none() {
            return Err(CoreError::NotFound("member"));
        }
        let project = self
            .store()
            .find_project(org, slug)
            .await?
            .ok_or(CoreError::NotFound("project"))?
            .id;
        let granted_by = self.first_owner(org).await?;
        let target = json!({ "user": user });
        match role {
            Some(role) => {
                let event = Actor::Operator.event(
                    org,
                    Change::new("project.access_granted", "project", project)
                        .after(json!({ "user": user, "role": role.name() })),
                );
                self.store()
                    .set_grant(org, project, user, role, granted_by, time::now(), &event)
                    .await?;
            }
            None => {
                let event = Actor::Operator.event(
                    org,
                    Change::new("project.access_revoked", "project", project).before(target),
                );
                if !self
                    .store()
                    .delete_grant(org, project, user, &event)
                    .await?
                {
                    return Err(CoreError::NotFound("grant"));
                }
            }
        }
        Ok(())
    }

    /// A project the principal may see, by slug (404 otherwise), checked for `allowed`'s
    /// permission inside it.
    pub(crate) async fn project_in_scope(
        &self,
        allowed: &Allowed<'_>,
        slug: &str,
    ) -> Result<ProjectId, CoreError> {
        let p = allowed.principal;
        let row = self
            .store()
            .find_project(p.org, slug)
            .await?
            .filter(|row| p.sees_project(row.id))
            .ok_or(CoreError::NotFound("project"))?;
        allowed.in_project(row.id)?;
        Ok(row.id)
    }

    /// Who has been granted access to a project.
    pub async fn project_access(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<GrantView>, CoreError> {
        let p = allowed.require(Permission::ManageProjectMembers)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let rows = self.store().project_grants(p.org, project).await?;
        Ok(rows.into_iter().map(GrantView::from).collect())
    }

    /// The org's members a project's manager may grant access to (name and email only).
    pub async fn grant_candidates(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<(UserId, String, String)>, CoreError> {
        let p = allowed.require(Permission::ManageProjectMembers)?;
        self.project_in_scope(&allowed, slug).await?;
        let members = self.store().list_members(p.org, time::now()).await?;
        Ok(members
            .into_iter()
            .filter(|m| !m.role.permissions().contains(Permission::AllProjects))
            .map(|m| (m.user_id, m.display_name, m.email))
            .collect())
    }

    /// Grants a member a role on one project (or changes it), within the granter's own access
    /// to that project.
    pub async fn grant_project(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        user: UserId,
        role: Role,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageProjectMembers)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        if self.store().member_role(p.org, user).await?.is_none() {
            return Err(CoreError::NotFound("member"));
        }
        let before = self.current_grant(p, project, user).await?;
        check_grant(&p.access, project, before, Some(role)).map_err(|r| refused(r, "role"))?;
        let mut change = Change::new("project.access_granted", "project", project)
            .after(json!({ "user": user, "role": role.name() }));
        if let Some(r) = before {
            change = change.before(json!({ "user": user, "role": r.name() }));
        }
        let event = audit::by(p, change);
        let stored = self
            .store()
            .set_grant(p.org, project, user, role, p.user, time::now(), &event)
            .await?;
        if !stored {
            return Err(CoreError::NotFound("project"));
        }
        Ok(())
    }

    /// Takes a member's project grant away.
    pub async fn revoke_project(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        user: UserId,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageProjectMembers)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let before = self
            .current_grant(p, project, user)
            .await?
            .ok_or(CoreError::NotFound("grant"))?;
        check_grant(&p.access, project, Some(before), None).map_err(|r| refused(r, "role"))?;
        let event = audit::by(
            p,
            Change::new("project.access_revoked", "project", project)
                .before(json!({ "user": user, "role": before.name() })),
        );
        if !self
            .store()
            .delete_grant(p.org, project, user, &event)
            .await?
        {
            return Err(CoreError::NotFound("grant"));
        }
        Ok(())
    }

    async fn current_grant(
        &self,
        p: &Principal,
        project: ProjectId,
        user: UserId,
    ) -> Result<Option<Role>, CoreError> {
        Ok(self
            .store()
            .grants_of(p.org, user)
            .await?
            .into_iter()
            .find(|(id, _)| *id == project)
            .map(|(_, role)| role))
    }
}
