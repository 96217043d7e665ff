//! Cases and the automated tests that cover them: a test names its case with `@T<key>` (as the
//! Testomat.io tools write it), or is linked explicitly — by hand, when a case is made from it,
//! or when `import-tests` matches it by name. A case shows its tests' latest results; a test
//! page shows its case.

use super::edit::{Draft, new_key};
use super::model::CaseContent;
use crate::audit::Change;
use crate::{Allowed, Core, CoreError, Principal};
use serde::Serialize;
use testvault_domain::{DomainError, Permission, ProjectId, time};
use testvault_store::UnlinkedTest;
use uuid::Uuid;

/// An automated test covering a case, with its latest result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseLinkView {
    pub test: i64,
    pub suite: String,
    pub name: String,
    /// `link` (a stored link) or `id` (the `@T` id in its name).
    pub how: &'static str,
    pub last_run: Option<i64>,
    pub last_outcome: Option<String>,
    pub last_at: Option<i64>,
}

/// A manual run's verdict on a case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseManualView {
    pub run: i64,
    pub run_title: String,
    pub outcome: String,
    pub executed_by: Option<String>,
    pub executed_at: Option<i64>,
    /// The run is complete (its verdict is final).
    pub final_verdict: bool,
}

/// A case's results side by side: the automated tests covering it, each with its latest result,
/// and its latest manual verdicts.
#[derive(Debug, Clone, Serialize)]
pub struct CaseAutomation {
    pub tests: Vec<CaseLinkView>,
    pub manual: Vec<CaseManualView>,
}

/// The case a test belongs to, for the test's page.
#[derive(Debug, Clone, Serialize)]
pub struct LinkedCase {
    pub key: String,
    pub title: String,
    pub status: String,
}

const MAX_LINKED: i64 = 200;
const MAX_FROM_TESTS: usize = 1_000;

impl Core {
    /// The automated tests covering a case, each with its latest result.
    pub async fn case_automation(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
    ) -> Result<CaseAutomation, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self.case_row(p.org, project, key).await?;
        let tests = self
            .store()
            .case_tests(p.org, project, row.id, &row.key, MAX_LINKED)
            .await?;
        let mut out = Vec::with_capacity(tests.len());
        for t in tests {
            let last = self
                .store()
                .test_history(p.org, t.id, 1)
                .await?
                .into_iter()
                .next();
            out.push(CaseLinkView {
                test: t.id,
                suite: t.suite,
                name: shown_name(&t.name, &t.parameters),
                how: if t.explicit { "link" } else { "id" },
                last_run: last.as_ref().map(|h| h.number),
                last_outcome: last
                    .as_ref()
                    .map(|h| crate::runs::outcome_name(h.outcome).to_string()),
                last_at: last.as_ref().map(|h| h.created_at),
            });
        }
        let manual = self
            .store()
            .case_manual_results(p.org, row.id, 20)
            .await?
            .into_iter()
            .map(|m| CaseManualView {
                run: m.run_number,
                run_title: m.run_title,
                outcome: m.outcome,
                executed_by: m.executed_by,
                executed_at: m.executed_at,
                final_verdict: m.finished,
            })
            .collect();
        Ok(CaseAutomation { tests: out, manual })
    }

    /// The case an automated test is linked to, if any.
    pub async fn case_for_test(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        test: i64,
    ) -> Result<Option<LinkedCase>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self
            .store()
            .get_test(p.org, project, test)
            .await?
            .ok_or(CoreError::NotFound("test"))?;
        let key = match self.store().linked_case_key(p.org, project, test).await? {
            Some(k) => Some(k),
            None => super::case_key_in_name(&row.name),
        };
        let Some(key) = key else { return Ok(None) };
        let Some(case) = self.store().get_case(p.org, project, &key).await? else {
            return Ok(None);
        };
        Ok(Some(LinkedCase {
            key: case.key,
            title: case.write.title,
            status: case.write.status,
        }))
    }

    /// Links the tests of an upload that name their case in a property (`(identity hash, key)`)
    /// to those cases; unknown keys are skipped. Part of reporting results: no permission of
    /// its own.
    pub(crate) async fn link_by_property(
        &self,
        p: &Principal,
        project: ProjectId,
        named: &[(i64, String)],
    ) -> Result<(), CoreError> {
        let hashes: Vec<i64> = named.iter().map(|(h, _)| *h).collect();
        let tests = self
            .store()
            .test_ids_by_hash(p.org, project, &hashes)
            .await?;
        let mut links = Vec::new();
        let mut cases: std::collections::HashMap<String, Option<Uuid>> = Default::default();
        for (hash, key) in named {
            let Some(test) = tests.iter().find(|(h, _)| h == hash).map(|(_, id)| *id) else {
                continue;
            };
            if !cases.contains_key(key) {
                let id = self
                    .store()
                    .get_case(p.org, project, key)
                    .await?
                    .map(|c| c.id);
                cases.insert(key.clone(), id);
            }
            if let Some(Some(case)) = cases.get(key) {
                links.push((*case, test));
            }
        }
        if links.is_empty() {
            return Ok(());
        }
        let event = crate::audit::by(
            p,
            Change::new("case.linked", "project", project)
                .after(serde_json::json!({ "links": links.len(), "by": "property" })),
        );
        self.store()
            .link_tests(project, &links, time::now(), &event)
            .await?;
        Ok(())
    }

    /// Links an automated test to a case (moving it from another case). Needs `write_cases`.
    pub async fn link_test(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        test: i64,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let case = self.case_row(p.org, project, key).await?;
        self.store()
            .get_test(p.org, project, test)
            .await?
            .ok_or(CoreError::NotFound("test"))?;
        let event = crate::audit::by(
            p,
            Change::new("case.linked", "case", format!("T{}", case.key))
                .after(serde_json::json!({ "test": test })),
        );
        self.store()
            .link_tests(project, &[(case.id, test)], time::now(), &event)
            .await?;
        Ok(())
    }

    pub async fn unlink_test(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        test: i64,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let event = crate::audit::by(
            p,
            Change::new("case.unlinked", "test", test)
                .after(serde_json::json!({ "project": slug })),
        );
        if !self.store().unlink_test(project, test, &event).await? {
            return Err(CoreError::NotFound("link"));
        }
        Ok(())
    }

    /// Automated tests no case covers yet.
    pub async fn unlinked_tests(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        limit: i64,
    ) -> Result<Vec<UnlinkedTest>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        Ok(self
            .store()
            .unlinked_tests(p.org, project, limit.clamp(1, 10_000))
            .await?)
    }

    /// Makes one case per unlinked automated test (type `automated`, in a suite named after the
    /// test's suite), linked to it. Needs `write_cases`; returns the new keys.
    pub async fn cases_from_tests(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        tests: &[i64],
    ) -> Result<Vec<String>, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        if tests.is_empty() || tests.len() > MAX_FROM_TESTS {
            return Err(DomainError::new("tests", "select between 1 and 1000 tests").into());
        }
        let unlinked = self.store().unlinked_tests(p.org, project, 100_000).await?;
        let chosen: Vec<&UnlinkedTest> =
            unlinked.iter().filter(|t| tests.contains(&t.id)).collect();
        if chosen.len() != tests.len() {
            return Err(CoreError::Refused(
                "some of these tests are already covered by a case, or are not in this project",
            ));
        }
        self.create_linked_cases(p, project, &chosen).await
    }

    async fn create_linked_cases(
        &self,
        p: &Principal,
        project: ProjectId,
        tests: &[&UnlinkedTest],
    ) -> Result<Vec<String>, CoreError> {
        let mut nodes = super::suites::tree(self.store().list_suites(p.org, project).await?);
        let mut new = Vec::with_capacity(tests.len());
        let mut links = Vec::with_capacity(tests.len());
        let mut keys = Vec::with_capacity(tests.len());
        for t in tests {
            let path: Vec<String> = t
                .suite
                .split(" › ")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(super::model::MAX_SUITE_NAME).collect())
                .collect();
            let suite = self
                .ensure_suite_path(p, p.org, project, &mut nodes, &path)
                .await?;
            let mut content = CaseContent::new(
                shown_name(&t.name, &t.parameters)
                    .chars()
                    .take(300)
                    .collect(),
            );
            content.kind = "automated".into();
            content.status = "ready".into();
            let draft = Draft::new(new_key(), content.normalise()?, suite);
            links.push((draft.id, t.id));
            keys.push(draft.key.clone());
            new.push(draft);
        }
        self.insert_cases(p, project, new, "created from an automated test")
            .await?;
        let event = crate::audit::by(
            p,
            Change::new("case.linked", "project", project)
                .after(serde_json::json!({ "links": links.len() })),
        );
        self.store()
            .link_tests(project, &links, time::now(), &event)
            .await?;
        Ok(keys)
    }
}

/// A test's name with its parameters, as pages show it.
pub(crate) fn shown_name(name: &str, parameters: &str) -> String {
    if parameters.is_empty() {
        name.to_string()
    } else {
        format!("{name} {parameters}")
    }
}
