//! Which automated tests cover which case: a row in `case_links` (made from the test, or matched
//! by `import-tests`), or the case's `@T<key>` written in the test's name.

use crate::db::on_org;
use crate::{AuditEntry, Store, StoreError};
use testvault_domain::{OrgId, ProjectId};
use uuid::Uuid;

/// An automated test as a case lists it.
#[derive(Debug, Clone)]
pub struct LinkedTest {
    pub id: i64,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    /// True when linked by a row, false when by the `@T` id in its name.
    pub explicit: bool,
}

/// Tests with neither a link nor an `@T` id, as candidates for new cases.
#[derive(Debug, Clone)]
pub struct UnlinkedTest {
    pub id: i64,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub file: Option<String>,
}

impl Store {
    /// Links tests to cases (a test already linked elsewhere moves); one audit event per call.
    pub async fn link_tests(
        &self,
        project: ProjectId,
        links: &[(Uuid, i64)],
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            for (case, test) in links {
                sqlx::query(
                    "INSERT INTO case_links (case_id, test_id, org_id, project_id, created_at) \
                     SELECT $1, t.id, $3, $4, $5 FROM tests t WHERE t.id = $2 AND t.org_id = $3 AND t.project_id = $4 \
                     ON CONFLICT (test_id) DO UPDATE SET case_id = excluded.case_id, created_at = excluded.created_at")
                    .bind(*case)
                    .bind(*test)
                    .bind(audit.org.0)
                    .bind(project.0)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn unlink_test(
        &self,
        project: ProjectId,
        test: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query(
                "DELETE FROM case_links WHERE org_id = $1 AND project_id = $2 AND test_id = $3"
            )
            .bind(audit.org.0)
            .bind(project.0)
            .bind(test)
        );
        Ok(n > 0)
    }

    /// The tests covering a case: linked by row, or naming `@T<key>` (any letter case) with a
    /// result from an automated run (a manual run's verdicts are stored as the test `Title
    /// @T<key>` too, and are shown as manual verdicts instead).
    pub async fn case_tests(
        &self,
        org: OrgId,
        project: ProjectId,
        case: Uuid,
        key: &str,
        limit: i64,
    ) -> Result<Vec<LinkedTest>, StoreError> {
        let pattern = format!("%@t{}%", crate::like_escape(key));
        on_org!(self, org, pool => {
            let rows: Vec<(i64, String, String, String, bool)> = sqlx::query_as(
                "SELECT t.id, t.suite, t.name, t.parameters, true FROM case_links l JOIN tests t ON t.id = l.test_id \
                 WHERE l.org_id = $1 AND l.case_id = $3 \
                 UNION SELECT t.id, t.suite, t.name, t.parameters, false FROM tests t \
                 WHERE t.org_id = $1 AND t.project_id = $2 AND LOWER(t.name) LIKE $4 ESCAPE '\\' \
                   AND NOT EXISTS (SELECT 1 FROM case_links l WHERE l.test_id = t.id) \
                   AND EXISTS (SELECT 1 FROM results r JOIN runs u ON u.id = r.run_id WHERE r.test_id = t.id AND u.kind = 'automated') \
                 ORDER BY 1 LIMIT $5")
                .bind(org.0)
                .bind(project.0)
                .bind(case)
                .bind(&pattern)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, suite, name, parameters, explicit)| LinkedTest { id, suite, name, parameters, explicit })
                .collect())
        })
    }

    /// The ids of the project's tests with these identity hashes: `(hash, id)`.
    pub async fn test_ids_by_hash(
        &self,
        org: OrgId,
        project: ProjectId,
        hashes: &[i64],
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut out = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT identity_hash, id FROM tests WHERE org_id = $1 AND project_id = $2 AND identity_hash IN ({})",
                marks.join(", ")
            );
            let rows: Vec<(i64, i64)> = on_org!(self, org, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(org.0).bind(project.0);
                for h in chunk {
                    q = q.bind(*h);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// The key of the case a test is linked to by row, if any.
    pub async fn linked_case_key(
        &self,
        org: OrgId,
        project: ProjectId,
        test: i64,
    ) -> Result<Option<String>, StoreError> {
        on_org!(self, org, pool => {
            Ok(sqlx::query_scalar(
                "SELECT c.key FROM case_links l JOIN cases c ON c.id = l.case_id WHERE l.org_id = $1 AND l.project_id = $2 AND l.test_id = $3")
                .bind(org.0)
                .bind(project.0)
                .bind(test)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Tests of the project covered by no case (no link row, no `@T` in the name).
    pub async fn unlinked_tests(
        &self,
        org: OrgId,
        project: ProjectId,
        limit: i64,
    ) -> Result<Vec<UnlinkedTest>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(
                "SELECT t.id, t.suite, t.name, t.parameters, t.file FROM tests t \
                 WHERE t.org_id = $1 AND t.project_id = $2 AND LOWER(t.name) NOT LIKE '%@t%' \
                   AND NOT EXISTS (SELECT 1 FROM case_links l WHERE l.test_id = t.id) \
                 ORDER BY t.suite, t.name, t.id LIMIT $3")
                .bind(org.0)
                .bind(project.0)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, suite, name, parameters, file)| UnlinkedTest { id, suite, name, parameters, file })
                .collect())
        })
    }
}
