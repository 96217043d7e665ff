//! Who may do what, where: a member's org role, their project grants, and the rules for changing
//! either. Pure functions, so the same rules serve core and the property test's reference check.

use crate::{Permission, PermissionSet, ProjectId, Role, RoleId};
use serde::Serialize;
use std::collections::BTreeMap;

/// A custom role: a named permission set defined by one org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomRole {
    pub id: RoleId,
    pub name: String,
    pub permissions: PermissionSet,
}

/// A member's org role: a built-in level or one of the org's custom roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRole {
    Builtin(Role),
    Custom(CustomRole),
}

impl MemberRole {
    pub fn permissions(&self) -> PermissionSet {
        match self {
            MemberRole::Builtin(r) => r.permissions(),
            MemberRole::Custom(c) => c.permissions,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            MemberRole::Builtin(r) => r.name(),
            MemberRole::Custom(c) => &c.name,
        }
    }

    /// The built-in level, when the role is one.
    pub fn builtin(&self) -> Option<Role> {
        match self {
            MemberRole::Builtin(r) => Some(*r),
            MemberRole::Custom(_) => None,
        }
    }

    pub fn custom_id(&self) -> Option<RoleId> {
        match self {
            MemberRole::Builtin(_) => None,
            MemberRole::Custom(c) => Some(c.id),
        }
    }
}

impl std::fmt::Display for MemberRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for MemberRole {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            name: &'a str,
            level: Option<i16>,
            custom_role_id: Option<RoleId>,
            permissions: PermissionSet,
        }
        View {
            name: self.name(),
            level: self.builtin().map(Role::level),
            custom_role_id: self.custom_id(),
            permissions: self.permissions(),
        }
        .serialize(s)
    }
}

/// What one member may do: their org role's permissions and their per-project grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub org: PermissionSet,
    pub grants: BTreeMap<ProjectId, Role>,
}

impl Access {
    pub fn new(org: PermissionSet, grants: impl IntoIterator<Item = (ProjectId, Role)>) -> Access {
        Access {
            org,
            grants: grants.into_iter().collect(),
        }
    }

    /// Whether the org role reaches every project.
    pub fn covers_all_projects(&self) -> bool {
        self.org.contains(Permission::AllProjects)
    }

    /// What the member may do inside `project`: org-wide project permissions when the role covers
    /// all projects, plus whatever a grant on this project gives.
    pub fn in_project(&self, project: ProjectId) -> PermissionSet {
        let org_wide = if self.covers_all_projects() {
            self.org.project_scoped()
        } else {
            PermissionSet::EMPTY
        };
        let granted = self
            .grants
            .get(&project)
            .map_or(PermissionSet::EMPTY, |r| r.permissions().project_scoped());
        org_wide.union(granted)
    }

    pub fn allows_in(&self, permission: Permission, project: ProjectId) -> bool {
        permission.is_project_scoped() && self.in_project(project).contains(permission)
    }

    /// Whether the project exists for this member at all (listing, search, counts).
    pub fn sees_project(&self, project: ProjectId) -> bool {
        self.allows_in(Permission::ReadProjects, project)
    }

    /// Org-level check: holds `permission` somewhere. A project-scoped permission held only
    /// through grants passes here; the use case then checks the project with `allows_in`.
    pub fn holds(&self, permission: Permission) -> bool {
        if permission.is_project_scoped() {
            self.org.contains(permission)
                || self
                    .grants
                    .values()
                    .any(|r| r.permissions().contains(permission))
        } else {
            self.org.contains(permission)
        }
    }
}

/// Why a change to roles or grants is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The actor lacks the permission that manages this.
    Lacks(Permission),
    /// The change would hand out (or take from someone) a permission the actor does not hold.
    Beyond(Permission),
}

impl Refusal {
    pub fn message(self) -> String {
        match self {
            Refusal::Lacks(p) => format!("you need the permission to {}", p.describe()),
            Refusal::Beyond(p) => format!(
                "this would grant or change `{}`, which you do not hold yourself",
                p.name()
            ),
        }
    }
}

fn within(wanted: PermissionSet, held: PermissionSet) -> Result<(), Refusal> {
    match wanted.first_missing_from(held) {
        Some(p) => Err(Refusal::Beyond(p)),
        None => Ok(()),
    }
}

fn requires(held: PermissionSet, needed: Permission) -> Result<(), Refusal> {
    if held.contains(needed) {
        Ok(())
    } else {
        Err(Refusal::Lacks(needed))
    }
}

/// Creating (`before` = None), editing or deleting (`after` = None) a custom role: needs
/// `ManageRoles`, and the role both before and after must lie within the actor's own permissions.
pub fn check_role_change(
    actor: &Access,
    before: Option<PermissionSet>,
    after: Option<PermissionSet>,
) -> Result<(), Refusal> {
    requires(actor.org, Permission::ManageRoles)?;
    within(before.unwrap_or_default(), actor.org)?;
    within(after.unwrap_or_default(), actor.org)
}

/// Inviting someone or changing a member's org role (`current` = None for a new member): needs
/// `ManageMembers`, and both the current and the new role must lie within the actor's own.
pub fn check_assignment(
    actor: &Access,
    current: Option<PermissionSet>,
    new: PermissionSet,
) -> Result<(), Refusal> {
    requires(actor.org, Permission::ManageMembers)?;
    within(current.unwrap_or_default(), actor.org)?;
    within(new, actor.org)
}

/// Granting (`after`), changing or revoking (`after` = None) a member's role on one project: needs
/// `ManageProjectMembers` in that project, and both grants' project permissions must lie within
/// the actor's own permissions there.
pub fn check_grant(
    actor: &Access,
    project: ProjectId,
    before: Option<Role>,
    after: Option<Role>,
) -> Result<(), Refusal> {
    let held = actor.in_project(project);
    requires(held, Permission::ManageProjectMembers)?;
    let grant =
        |r: Option<Role>| r.map_or(PermissionSet::EMPTY, |r| r.permissions().project_scoped());
    within(grant(before), held)?;
    within(grant(after), held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> ProjectId {
        ProjectId::new()
    }

    #[test]
    fn grants_reach_only_their_project_below_all_projects() {
        let (a, b) = (project(), project());
        let engineer = Access::new(Role::Engineer.permissions(), [(a, Role::Tester)]);
        assert!(engineer.sees_project(a));
        assert!(!engineer.sees_project(b));
        assert!(engineer.allows_in(Permission::ExecuteRuns, a));
        // The grant, not the org role, decides inside a project for members without AllProjects.
        assert!(!engineer.allows_in(Permission::WriteCases, a));
        let manager = Access::new(Role::Manager.permissions(), []);
        assert!(manager.sees_project(b));
        assert!(manager.allows_in(Permission::DeleteRuns, b));
        assert!(
            !manager.allows_in(Permission::ManageMembers, b),
            "org-level, never in a project"
        );
    }

    #[test]
    fn nobody_hands_out_what_they_lack() {
        let manager = Access::new(Role::Manager.permissions(), []);
        assert_eq!(
            check_assignment(&manager, None, Role::Owner.permissions()),
            Err(Refusal::Beyond(Permission::ManageRoles))
        );
        assert_eq!(
            check_assignment(
                &manager,
                Some(Role::Owner.permissions()),
                Role::Viewer.permissions()
            ),
            Err(Refusal::Beyond(Permission::ManageRoles))
        );
        assert_eq!(
            check_assignment(&manager, None, Role::Manager.permissions()),
            Ok(())
        );
        assert_eq!(
            check_role_change(&manager, None, Some(Role::Viewer.permissions())),
            Err(Refusal::Lacks(Permission::ManageRoles))
        );
        let p = project();
        let lead = Access::new(Role::Viewer.permissions(), [(p, Role::Manager)]);
        assert_eq!(check_grant(&lead, p, None, Some(Role::Engineer)), Ok(()));
        assert_eq!(
            check_grant(&lead, p, None, Some(Role::Owner)),
            Ok(()),
            "project part of owner = manager"
        );
        assert_eq!(
            check_grant(&lead, project(), None, Some(Role::Viewer)),
            Err(Refusal::Lacks(Permission::ManageProjectMembers))
        );
    }
}
