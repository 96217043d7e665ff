//! Who is asking, with which credential, and the capability a permission check hands out.

use crate::CoreError;
use testvault_domain::{Access, MemberRole, OrgId, Permission, ProjectId, Scopes, UserId};
use uuid::Uuid;

/// How the principal proved itself; decides what `allow` may grant.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A browser session (its public id).
    Session(Uuid),
    /// A personal API token: the user's current role, narrowed by the token's scopes.
    PersonalToken { prefix: String, scopes: Scopes },
    /// A project token (CI): project-level work on one project, within its scopes.
    ProjectToken {
        prefix: String,
        scopes: Scopes,
        project: ProjectId,
    },
}

/// A signed-in member (or token) acting in one org. Only the authenticate functions in this crate
/// make one; `non_exhaustive` lets other crates read it but never build one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Principal {
    /// The user acted for; for a project token, the user who created it (attribution only).
    pub user: UserId,
    pub email: String,
    pub display_name: String,
    pub org: OrgId,
    pub org_name: String,
    /// The org role, as of this request (custom roles are re-read on every request).
    pub role: MemberRole,
    /// The org role's permissions and the member's project grants, as of this request.
    pub access: Access,
    pub credential: Credential,
    /// Where the request came from (recorded in audit events).
    pub client: crate::audit::ClientMeta,
}

impl Principal {
    /// The permission check. Every use case that needs a permission starts with this, and the
    /// `Allowed` it returns is the only way to call it. A project-scoped permission passes here
    /// when it is held in some project; the use case then checks its project with
    /// `Allowed::in_project`.
    pub fn allow(&self, permission: Permission) -> Result<Allowed<'_>, CoreError> {
        if self.can(permission) {
            return Ok(Allowed {
                principal: self,
                permission,
            });
        }
        if !matches!(self.credential, Credential::Session(_)) && self.access.holds(permission) {
            return Err(CoreError::Forbidden("this token's scopes or project"));
        }
        Err(CoreError::Forbidden(permission.describe()))
    }

    /// Whether the check would pass (for showing or hiding UI controls).
    pub fn can(&self, permission: Permission) -> bool {
        match &self.credential {
            Credential::Session(_) => self.access.holds(permission),
            Credential::PersonalToken { scopes, .. } => {
                self.access.holds(permission) && scopes.cover(permission)
            }
            Credential::ProjectToken { scopes, .. } => {
                permission.is_project_level() && scopes.cover(permission)
            }
        }
    }

    /// Whether `project` exists for this principal at all: listings, search and counts show
    /// only these, and every other project answers 404.
    pub fn sees_project(&self, project: ProjectId) -> bool {
        match &self.credential {
            Credential::ProjectToken { project: only, .. } => *only == project,
            _ => self.access.sees_project(project),
        }
    }

    /// Whether the principal may do `permission` inside `project`.
    pub fn can_in(&self, permission: Permission, project: ProjectId) -> bool {
        self.sees_project(project)
            && match &self.credential {
                Credential::Session(_) => self.access.allows_in(permission, project),
                Credential::PersonalToken { scopes, .. } => {
                    self.access.allows_in(permission, project) && scopes.cover(permission)
                }
                Credential::ProjectToken { scopes, .. } => {
                    permission.is_project_level() && scopes.cover(permission)
                }
            }
    }

    /// The browser session behind this request, if it came with one.
    pub fn session(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session(id) => Some(id),
            _ => None,
        }
    }

    /// Session-only operations (managing one's own sessions and tokens) refuse tokens, so a
    /// leaked token cannot mint more tokens or end its owner's sessions.
    pub fn require_session(&self) -> Result<Uuid, CoreError> {
        self.session().ok_or(CoreError::Forbidden(
            "API tokens here; sign in with a browser session",
        ))
    }
}

/// Proof that `principal` holds `permission`; cannot be built outside this crate.
#[derive(Debug, Clone, Copy)]
pub struct Allowed<'a> {
    pub principal: &'a Principal,
    pub permission: Permission,
}

impl Allowed<'_> {
    /// Narrows the capability to one project: 404 when the project is not visible to the
    /// principal (so its existence does not leak), 403 when visible but the permission is not
    /// held there.
    pub fn in_project(&self, project: ProjectId) -> Result<(), CoreError> {
        if !self.principal.sees_project(project) {
            return Err(CoreError::NotFound("project"));
        }
        if !self.principal.can_in(self.permission, project) {
            return Err(CoreError::Forbidden(self.permission.describe()));
        }
        Ok(())
    }

    /// Like `require`, for the few read-only use cases that serve holders of either permission.
    pub(crate) fn require_any(&self, any_of: &[Permission]) -> Result<&Principal, CoreError> {
        if any_of.contains(&self.permission) {
            Ok(self.principal)
        } else {
            Err(CoreError::internal(format!(
                "use case needs one of {any_of:?} but was called with {:?}",
                self.permission
            )))
        }
    }

    /// Fails unless this capability was issued for `needed`: a use case names what it requires.
    pub(crate) fn require(&self, needed: Permission) -> Result<&Principal, CoreError> {
        if self.permission == needed {
            Ok(self.principal)
        } else {
            Err(CoreError::internal(format!(
                "use case needs {needed:?} but was called with {:?}",
                self.permission
            )))
        }
    }
}
