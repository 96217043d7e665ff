//! What a member may do. Every use case names one `Permission`; roles grant sets of them.

use serde::{Serialize, Serializer};

/// One operation a member may be allowed. Each core use case requires exactly one.
///
/// Some are *project-scoped* (about one project's contents): a member holds them in a project
/// through a project grant, or everywhere when their org role also holds `AllProjects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Permission {
    /// See projects and their cases, plans, runs and results.
    ReadProjects = 0,
    /// Execute manual runs: record step and case outcomes.
    ExecuteRuns = 1,
    /// Comment on cases, runs and results.
    Comment = 2,
    /// Create and edit test cases and suites.
    WriteCases = 3,
    /// Report automated test results (runs, results, artifacts).
    ReportResults = 4,
    /// Create and edit test plans and milestones.
    ManagePlans = 5,
    /// Delete runs and their results.
    DeleteRuns = 6,
    /// Grant and revoke members' access to a project.
    ManageProjectMembers = 7,
    /// Reach every project of the org without a grant.
    AllProjects = 8,
    /// Create projects and change their name and description.
    ManageProjects = 9,
    /// Invite people, cancel invitations, list members and change their roles.
    ManageMembers = 10,
    /// Org settings other than security (name, defaults, retention of results).
    ManageOrgSettings = 11,
    /// Create and revoke project tokens, and see and revoke anyone's tokens in the org.
    ManageTokens = 12,
    /// Create, edit and delete custom roles.
    ManageRoles = 13,
    /// See and revoke other members' sessions.
    ManageSessions = 14,
    /// Change the org's security settings (sessions, IP ranges, 2FA, SSO, audit retention).
    ManageSecurity = 15,
    /// Read and export the org's audit trail.
    ReadAudit = 16,
    /// Keys, backups, export and deletion of the org's data.
    ManageKeys = 17,
}

impl Permission {
    pub const ALL: [Permission; 18] = [
        Permission::ReadProjects,
        Permission::ExecuteRuns,
        Permission::Comment,
        Permission::WriteCases,
        Permission::ReportResults,
        Permission::ManagePlans,
        Permission::DeleteRuns,
        Permission::ManageProjectMembers,
        Permission::AllProjects,
        Permission::ManageProjects,
        Permission::ManageMembers,
        Permission::ManageOrgSettings,
        Permission::ManageTokens,
        Permission::ManageRoles,
        Permission::ManageSessions,
        Permission::ManageSecurity,
        Permission::ReadAudit,
        Permission::ManageKeys,
    ];

    /// The stable name used in the API, storage and audit events.
    pub fn name(self) -> &'static str {
        match self {
            Permission::ReadProjects => "read_projects",
            Permission::ExecuteRuns => "execute_runs",
            Permission::Comment => "comment",
            Permission::WriteCases => "write_cases",
            Permission::ReportResults => "report_results",
            Permission::ManagePlans => "manage_plans",
            Permission::DeleteRuns => "delete_runs",
            Permission::ManageProjectMembers => "manage_project_members",
            Permission::AllProjects => "all_projects",
            Permission::ManageProjects => "manage_projects",
            Permission::ManageMembers => "manage_members",
            Permission::ManageOrgSettings => "manage_org_settings",
            Permission::ManageTokens => "manage_tokens",
            Permission::ManageRoles => "manage_roles",
            Permission::ManageSessions => "manage_sessions",
            Permission::ManageSecurity => "manage_security",
            Permission::ReadAudit => "read_audit",
            Permission::ManageKeys => "manage_keys",
        }
    }

    /// What holding it lets a member do, for role editors and refusals.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadProjects => "read projects",
            Permission::ExecuteRuns => "execute manual runs",
            Permission::Comment => "comment",
            Permission::WriteCases => "write test cases",
            Permission::ReportResults => "report test results",
            Permission::ManagePlans => "manage test plans",
            Permission::DeleteRuns => "delete runs",
            Permission::ManageProjectMembers => "manage project access",
            Permission::AllProjects => "reach every project",
            Permission::ManageProjects => "manage projects",
            Permission::ManageMembers => "manage members",
            Permission::ManageOrgSettings => "change org settings",
            Permission::ManageTokens => "manage project tokens",
            Permission::ManageRoles => "manage roles",
            Permission::ManageSessions => "manage other members' sessions",
            Permission::ManageSecurity => "change security settings",
            Permission::ReadAudit => "read the audit trail",
            Permission::ManageKeys => "manage keys, backups, export and deletion",
        }
    }

    pub fn parse(raw: &str) -> Result<Permission, crate::DomainError> {
        let raw = raw.trim();
        Permission::ALL
            .into_iter()
            .find(|p| p.name() == raw)
            .ok_or_else(|| crate::DomainError::new("permissions", "contains an unknown permission"))
    }

    /// About one project's contents: granted per project, and evaluated per project.
    pub fn is_project_scoped(self) -> bool {
        self <= Permission::ManageProjectMembers
    }

    /// What a project token (CI) may ever carry: project work, never access management.
    pub fn is_project_level(self) -> bool {
        self.is_project_scoped() && self != Permission::ManageProjectMembers
    }

    fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions (a bit set: cheap to copy and compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn of(permissions: impl IntoIterator<Item = Permission>) -> PermissionSet {
        PermissionSet(permissions.into_iter().fold(0, |acc, p| acc | p.bit()))
    }

    pub fn all() -> PermissionSet {
        PermissionSet::of(Permission::ALL)
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn with(self, p: Permission) -> PermissionSet {
        PermissionSet(self.0 | p.bit())
    }

    pub fn union(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 | other.0)
    }

    pub fn intersection(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Only the project-scoped members of this set (what a project grant can carry).
    pub fn project_scoped(self) -> PermissionSet {
        PermissionSet::of(self.iter().filter(|p| p.is_project_scoped()))
    }

    /// The first permission in `self` that `other` lacks.
    pub fn first_missing_from(self, other: PermissionSet) -> Option<Permission> {
        self.iter().find(|p| !other.contains(*p))
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// Parses names (space- or comma-separated, any number of strings); unknown names are an error.
    pub fn parse<'a>(
        raw: impl IntoIterator<Item = &'a str>,
    ) -> Result<PermissionSet, crate::DomainError> {
        raw.into_iter()
            .flat_map(|s| s.split([' ', ',', '\n']))
            .filter(|s| !s.trim().is_empty())
            .map(Permission::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(PermissionSet::of)
    }

    /// Reads the stored form, skipping names this binary does not know (fails closed: an unknown
    /// permission grants nothing).
    pub fn from_storage(raw: &str) -> PermissionSet {
        PermissionSet::of(raw.split(' ').filter_map(|s| Permission::parse(s).ok()))
    }

    /// `read_projects comment`: the stored form.
    pub fn to_storage(self) -> String {
        self.iter()
            .map(Permission::name)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
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

    /// The lowest level that holds `permission`. Levels are cumulative.
    pub fn lowest_holding(permission: Permission) -> Role {
        use Permission::*;
        match permission {
            ReadProjects => Role::Viewer,
            ExecuteRuns | Comment => Role::Tester,
            WriteCases | ReportResults => Role::Engineer,
            ManagePlans | DeleteRuns | ManageProjectMembers | AllProjects | ManageProjects
            | ManageMembers | ManageOrgSettings | ManageTokens => Role::Manager,
            ManageRoles | ManageSessions | ManageSecurity | ReadAudit | ManageKeys => Role::Owner,
        }
    }

    /// Whether this role grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        self >= Role::lowest_holding(permission)
    }

    /// Everything this level grants.
    pub fn permissions(self) -> PermissionSet {
        PermissionSet::of(Permission::ALL.into_iter().filter(|p| self.grants(*p)))
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
        assert_eq!(Role::Owner.permissions(), PermissionSet::all());
    }

    #[test]
    fn levels_are_cumulative() {
        for pair in Role::ALL.windows(2) {
            assert!(pair[0].permissions().is_subset_of(pair[1].permissions()));
            assert_ne!(pair[0].permissions(), pair[1].permissions());
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

    #[test]
    fn permission_sets_round_trip_and_unknown_names_grant_nothing() {
        let set = PermissionSet::of([Permission::Comment, Permission::ReadAudit]);
        assert_eq!(PermissionSet::from_storage(&set.to_storage()), set);
        assert_eq!(PermissionSet::parse(["comment, read_audit"]), Ok(set));
        assert!(PermissionSet::parse(["fly"]).is_err());
        assert_eq!(
            PermissionSet::from_storage("comment launch_rockets"),
            PermissionSet::of([Permission::Comment])
        );
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Ok(p));
        }
    }
}
