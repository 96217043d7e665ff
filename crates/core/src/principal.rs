//! Who is asking, with which credential, and the capability a permission check hands out.

use crate::CoreError;
use testvault_domain::{OrgId, Permission, ProjectId, Role, Scopes, UserId};
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
    pub role: Role,
    pub credential: Credential,
    /// Where the request came from (recorded in audit events).
    pub client: crate::audit::ClientMeta,
}

impl Principal {
    /// The permission check. Every use case that needs a permission starts with this, and the
    /// `Allowed` it returns is the only way to call it.
    pub fn allow(&self, permission: Permission) -> Result<Allowed<'_>, CoreError> {
        if self.can(permission) {
            return Ok(Allowed {
                principal: self,
                permission,
            });
        }
        if !matches!(self.credential, Credential::Session(_)) && self.role.grants(permission) {
            return Err(CoreError::Forbidden("this token's scopes or project"));
        }
        Err(CoreError::Forbidden(match permission {
            Permission::ReadProjects => "reading projects",
            Permission::ManageProjects => "managing projects",
            Permission::ManageMembers => "managing members",
            Permission::ManageSessions => "managing other members' sessions",
            Permission::ManageSecurity => "changing security settings",
            Permission::ManageTokens => "managing project tokens",
            Permission::ReadAudit => "reading the audit trail",
        }))
    }

    /// Whether the check would pass (for showing or hiding UI controls).
    pub fn can(&self, permission: Permission) -> bool {
        match &self.credential {
            Credential::Session(_) => self.role.grants(permission),
            Credential::PersonalToken { scopes, .. } => {
                self.role.grants(permission) && scopes.cover(permission)
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

    /// The one project a project token may see; `None` means no restriction.
    pub fn project_scope(&self) -> Option<ProjectId> {
        match &self.credential {
            Credential::ProjectToken { project, .. } => Some(*project),
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
