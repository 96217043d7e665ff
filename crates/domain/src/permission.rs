//! What a member may do. Every use case names one `Permission`; roles are levels that grant sets.

use serde::Serialize;

/// One operation a member may be allowed. Each core use case requires exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See the org's projects and their contents.
    ReadProjects,
    /// Create projects and change their name and description.
    ManageProjects,
    /// Invite people, cancel invitations, list members.
    ManageMembers,
    /// See and revoke other members' sessions.
    ManageSessions,
    /// Change the org's security settings (session lifetimes and later 2FA, SSO, IP ranges).
    ManageSecurity,
    /// Create and revoke project tokens, and see and revoke anyone's tokens in the org.
    ManageTokens,
    /// Read the org's audit trail.
    ReadAudit,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Permission::ReadProjects,
        Permission::ManageProjects,
        Permission::ManageMembers,
        Permission::ManageSessions,
        Permission::ManageSecurity,
        Permission::ManageTokens,
        Permission::ReadAudit,
    ];

    /// Permissions about one project's contents: the only kind a project token can carry.
    pub fn is_project_level(self) -> bool {
        matches!(self, Permission::ReadProjects)
    }
}

/// A built-in role: a level from 1 (least) to 5 (owner). New members get level 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer = 1,
    Tester = 2,
    Engineer = 3,
    Manager = 4,
    Owner = 5,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Tester,
        Role::Engineer,
        Role::Manager,
        Role::Owner,
    ];

    pub fn level(self) -> i16 {
        self as i16
    }

    pub fn from_level(level: i64) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| i64::from(r.level()) == level)
    }

    pub fn parse(raw: &str) -> Result<Role, crate::DomainError> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == raw.trim().to_lowercase() || r.level().to_string() == raw.trim())
            .ok_or_else(|| {
                crate::DomainError::new(
                    "role",
                    "must be one of viewer, tester, engineer, manager, owner (or 1–5)",
                )
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Tester => "tester",
            Role::Engineer => "engineer",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }

    /// Whether this role grants `permission`. Levels are cumulative.
    pub fn grants(self, permission: Permission) -> bool {
        let needed = match permission {
            Permission::ReadProjects => Role::Viewer,
            Permission::ManageProjects | Permission::ManageMembers | Permission::ManageTokens => {
                Role::Manager
            }
            Permission::ManageSessions | Permission::ManageSecurity | Permission::ReadAudit => {
                Role::Owner
            }
        };
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_has_everything_viewer_only_reads() {
        for p in Permission::ALL {
            assert!(Role::Owner.grants(p));
            assert_eq!(Role::Viewer.grants(p), p == Permission::ReadProjects);
        }
    }

    #[test]
    fn roles_round_trip_by_name_and_level() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Ok(r));
            assert_eq!(Role::from_level(i64::from(r.level())), Some(r));
        }
        assert!(Role::parse("admin").is_err());
    }
}
