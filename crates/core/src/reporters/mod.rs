//! Compatibility with the reporters teams already run: the Testomat.io clients
//! (`@testomatio/reporter`, `check-tests`, `pytestomatio`) and ReportPortal's agents. Each
//! speaks its own protocol; here it becomes Testvault's runs, results and cases, through the
//! same use cases as the native API (permissions, sealing, audit, tenant scope).

pub mod check_tests;
pub mod reportportal;
pub mod testomatio;
mod text;

use crate::{Core, CoreError, Credential, Principal};
use testvault_domain::ProjectId;

pub use text::normalise_path;

impl Core {
    /// The project a reporter's key belongs to: reporters name no project, their key does.
    pub(crate) async fn key_project(
        &self,
        p: &Principal,
    ) -> Result<(ProjectId, String), CoreError> {
        let Credential::ProjectToken { project, .. } = &p.credential else {
            return Err(CoreError::Forbidden(
                "a project token (reporters send the key of one project)",
            ));
        };
        let row = self
            .store()
            .get_project(p.org, *project)
            .await?
            .ok_or(CoreError::NotFound("project"))?;
        Ok((row.id, row.slug))
    }
}
