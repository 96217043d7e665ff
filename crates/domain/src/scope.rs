//! What an API token may be used for. A token's power is its scopes intersected with what its
//! owner may do (personal tokens) or with project-level work on one project (project tokens).

use crate::{DomainError, Permission};
use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read projects and their contents.
    Read,
    /// Report test results (runs, results, artifacts).
    ResultsWrite,
    /// Create and edit test cases.
    CasesWrite,
    /// Everything the owner of the token may do, including administration.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Read,
        Scope::ResultsWrite,
        Scope::CasesWrite,
        Scope::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ResultsWrite => "results:write",
            Scope::CasesWrite => "cases:write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Scope, DomainError> {
        Scope::ALL
            .into_iter()
            .find(|s| s.name() == raw.trim())
            .ok_or_else(|| {
                DomainError::new(
                    "scopes",
                    "each scope must be one of read, results:write, cases:write, admin",
                )
            })
    }

    /// The scope a permission needs. `admin` covers every permission.
    pub fn needed_for(permission: Permission) -> Scope {
        use Permission::*;
        match permission {
            ReadProjects => Scope::Read,
            ExecuteRuns | Comment | ReportResults => Scope::ResultsWrite,
            WriteCases | ManagePlans => Scope::CasesWrite,
            DeleteRuns | ManageProjectMembers | AllProjects | ManageProjects | ManageMembers
            | ManageOrgSettings | ManageTokens | ManageRoles | ManageSessions | ManageSecurity
            | ReadAudit | ManageKeys => Scope::Admin,
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A non-empty set of scopes, stored as a space-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn parse<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Scopes, DomainError> {
        let mut scopes = raw
            .into_iter()
            .flat_map(|s| s.split([' ', ',']))
            .filter(|s| !s.trim().is_empty())
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(DomainError::new("scopes", "give at least one scope"));
        }
        Ok(Scopes(scopes))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// Whether these scopes allow `permission`.
    pub fn cover(&self, permission: Permission) -> bool {
        self.contains(Scope::Admin) || self.contains(Scope::needed_for(permission))
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// `read results:write`: the stored form.
    pub fn to_storage(&self) -> String {
        self.0
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_storage())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorts_and_dedups() {
        let s = Scopes::parse(["results:write", "read,read"]).map(|s| s.to_storage());
        assert_eq!(s.as_deref(), Ok("read results:write"));
        assert!(Scopes::parse([""]).is_err());
        assert!(Scopes::parse(["write"]).is_err());
    }

    #[test]
    fn admin_covers_all_read_covers_reading() {
        let admin = Scopes::parse(["admin"]).map(|s| Permission::ALL.iter().all(|p| s.cover(*p)));
        assert_eq!(admin, Ok(true));
        let read = Scopes::parse(["read"]).map(|s| {
            (
                s.cover(Permission::ReadProjects),
                s.cover(Permission::ManageProjects),
            )
        });
        assert_eq!(read, Ok((true, false)));
    }
}
