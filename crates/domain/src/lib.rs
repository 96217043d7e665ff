#![forbid(unsafe_code)]
//! Testvault's domain: identifiers, parsed values and the rules that need no I/O.
//!
//! Everything here is "parse, don't validate": a value of these types is valid by construction, so
//! the layers above never re-check it.

pub mod access;
pub mod error;
pub mod ids;
pub mod names;
pub mod network;
pub mod password;
pub mod permission;
pub mod scope;
pub mod settings;
pub mod time;

pub use access::{Access, CustomRole, MemberRole, Refusal};
pub use error::DomainError;
pub use ids::{InvitationId, OrgId, ProjectId, RoleId, RunId, UserId};
pub use names::{
    Email, OrgName, PersonName, ProjectDescription, ProjectName, ProjectSlug, RoleName, TokenName,
};
pub use network::{Cidr, IpAllowlist};
pub use password::NewPassword;
pub use permission::{Permission, PermissionSet, Role};
pub use scope::{Scope, Scopes};
pub use settings::{AuditRetention, RateLimits, SessionPolicy};
