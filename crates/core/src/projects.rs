//! Projects: create and list them. The free-text description is sealed with the org's key.

use crate::audit::{Actor, Change};
use crate::{Allowed, Core, CoreError, Operator};
use serde::Serialize;
use testvault_domain::{
    OrgId, OrgName, Permission, ProjectDescription, ProjectId, ProjectName, ProjectSlug, UserId,
    time,
};
use testvault_store::{NewProject, ProjectRow};

const TABLE: &str = "projects";
const DESCRIPTION: &str = "description";

#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    pub id: ProjectId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

impl Core {
    pub async fn create_project(
        &self,
        allowed: Allowed<'_>,
        slug: ProjectSlug,
        name: ProjectName,
        description: ProjectDescription,
    ) -> Result<ProjectView, CoreError> {
        let p = allowed.require(Permission::ManageProjects)?;
        self.insert_project(Actor::Principal(p), p.org, p.user, slug, name, description)
            .await
    }

    /// `testvault admin create-project`: on behalf of the org's first owner.
    pub async fn create_project_as_operator(
        &self,
        _op: &Operator,
        org: &OrgName,
        slug: ProjectSlug,
        name: ProjectName,
        description: ProjectDescription,
    ) -> Result<ProjectView, CoreError> {
        let org_row = self
            .store()
            .find_org_by_name(org.as_str())
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        let owner = self.first_owner(org_row.id).await?;
        self.insert_project(Actor::Operator, org_row.id, owner, slug, name, description)
            .await
    }

    /// The org's longest-standing owner: who operator actions are attributed to as creator.
    pub(crate) async fn first_owner(&self, org: OrgId) -> Result<UserId, CoreError> {
        self.store()
            .list_members(org, time::now())
            .await?
            .into_iter()
            .filter(|m| m.role.builtin() == Some(testvault_domain::Role::Owner))
            .min_by_key(|m| m.joined_at)
            .map(|m| m.user_id)
            .ok_or(CoreError::NotFound("organisation owner"))
    }

    async fn insert_project(
        &self,
        actor: Actor<'_>,
        org: OrgId,
        created_by: UserId,
        slug: ProjectSlug,
        name: ProjectName,
        description: ProjectDescription,
    ) -> Result<ProjectView, CoreError> {
        let id = ProjectId::new();
        let sealed = if description.as_str().is_empty() {
            None
        } else {
            Some(
                self.keyring()
                    .seal(
                        self.store(),
                        org,
                        TABLE,
                        DESCRIPTION,
                        &id.to_string(),
                        description.as_str(),
                    )
                    .await?,
            )
        };
        let now = time::now();
        let event = actor.event(
            org,
            Change::new("project.created", "project", id)
                .after(serde_json::json!({ "slug": slug.as_str(), "name": name.as_str() })),
        );
        self.store()
            .create_project(
                NewProject {
                    id,
                    org,
                    slug: slug.as_str(),
                    name: name.as_str(),
                    description_sealed: sealed.as_deref(),
                    created_by,
                    now,
                },
                &event,
            )
            .await?;
        tracing::info!(org.id = %org, project.id = %id, "project created");
        Ok(ProjectView {
            id,
            slug: slug.as_str().to_string(),
            name: name.as_str().to_string(),
            description: description.as_str().to_string(),
            created_at: now,
        })
    }

    pub async fn list_projects(&self, allowed: Allowed<'_>) -> Result<Vec<ProjectView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let rows = self.store().list_projects(p.org).await?;
        let mut out = Vec::with_capacity(rows.len());
        let visible = |row: &ProjectRow| p.sees_project(row.id);
        for row in rows.into_iter().filter(visible) {
            out.push(self.project_view(row).await?);
        }
        Ok(out)
    }

    pub async fn get_project(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<ProjectView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let row = self
            .store()
            .find_project(p.org, slug)
            .await?
            .filter(|row| p.sees_project(row.id))
            .ok_or(CoreError::NotFound("project"))?;
        self.project_view(row).await
    }

    async fn project_view(&self, row: ProjectRow) -> Result<ProjectView, CoreError> {
        let description = match &row.description_sealed {
            Some(sealed) => {
                self.keyring()
                    .open(
                        self.store(),
                        row.org,
                        TABLE,
                        DESCRIPTION,
                        &row.id.to_string(),
                        sealed,
                    )
                    .await?
            }
            None => String::new(),
        };
        Ok(ProjectView {
            id: row.id,
            slug: row.slug,
            name: row.name,
            description,
            created_at: row.created_at,
        })
    }
}
