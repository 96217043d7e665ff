//! Who is asking, and the capability a permission check hands out.

use crate::CoreError;
use testvault_domain::{OrgId, Permission, Role, UserId};
use uuid::Uuid;

/// A signed-in member acting in one org. Only `Core::authenticate_session` makes one.
/// `non_exhaustive`: other crates can read it but never build one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Principal {
    pub user: UserId,
    pub email: String,
    pub display_name: String,
    pub org: OrgId,
    pub org_name: String,
    pub role: Role,
    /// The session this request came with (so "this session" can be marked and kept).
    pub session: Uuid,
}

impl Principal {
    /// The permission check. Every use case that needs a permission starts with this, and the
    /// `Allowed` it returns is the only way to call it.
    pub fn allow(&self, permission: Permission) -> Result<Allowed<'_>, CoreError> {
        if self.role.grants(permission) {
            Ok(Allowed {
                principal: self,
                permission,
            })
        } else {
            Err(CoreError::Forbidden(match permission {
                Permission::ReadProjects => "reading projects",
                Permission::ManageProjects => "managing projects",
                Permission::ManageMembers => "managing members",
                Permission::ManageSessions => "managing other members' sessions",
                Permission::ManageSecurity => "changing security settings",
            }))
        }
    }

    /// Whether the check would pass (for showing or hiding UI controls).
    pub fn can(&self, permission: Permission) -> bool {
        self.role.grants(permission)
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
