#![forbid(unsafe_code)]
//! The only place with SQL. One `Store` over SQLite (SQLCipher-encrypted, the embedded default) or
//! PostgreSQL (scale-out), running the same statement text on both. Every tenant query filters on
//! the caller's org id; the store never decides who may do what — `core` does.

mod attachments;
pub mod audit;
mod case_links;
mod cases;
mod custom_fields;
mod db;
mod error;
mod factors;
mod invitations;
pub mod migrate;
mod orgs;
mod passkeys;
mod plans;
mod pow;
mod projects;
mod reporters;
mod roles;
mod rows;
mod runs;
mod secret;
mod sessions;
mod setup;
mod shared_steps;
mod sign_in_links;
mod sso;
mod throttle;
mod tokens;
mod upkeep;
mod users;

pub use attachments::AttachmentRow;
pub use audit::{AuditEntry, AuditFilter, AuditRow};
pub use case_links::{LinkedTest, UnlinkedTest};
pub use cases::{
    CaseCode, CaseFilter, CaseRow, CaseUpdate, CaseVersionRow, CaseWrite, NewCase, SuiteRow,
    VersionWrite,
};
pub use custom_fields::FieldRow;
pub use db::{APP_ROLE, Backend, DatabaseTarget, Store};
pub use error::StoreError;
pub use factors::FactorRow;
pub use invitations::{InvitationRow, NewInvitation};
pub use orgs::{NewOrg, OrgRow, OrgSummary, OwnerSpec};
pub use passkeys::{NewPasskey, PasskeyRow};
pub use plans::{
    CaseManualRow, ManualProgress, ManualRow, ManualVerdict, MilestoneRow, NewManualItem, PlanRow,
};
pub use projects::{NewProject, ProjectRow};
pub use reporters::{ItemRow, LogRow, ResultFileRow};
pub use roles::{GrantRow, RoleRow, RoleSpec};
pub use runs::{
    ClusterRow, HistoryRow, IngestInto, IngestTx, NewRun, ResultPage, ResultRow, RunCounts,
    RunErrorRow, RunFilter, RunRow, RunStatus, StoredResult, SuiteCountRow, TestName, TestRow,
    like_escape,
};
pub use secret::Secret;
pub use sessions::{NewSession, SessionAuth, SessionRow};
pub use shared_steps::SharedStepsRow;
pub use sso::{
    NewSsoFlow, NewSsoIdentity, SsoConnectionRow, SsoConnectionWrite, SsoFlowRow, SsoIdentityRow,
};
pub use throttle::ThrottleState;
pub use tokens::{NewToken, TokenAuth, TokenRow};
pub use users::{MemberRow, NewUser, UserRow};
