//! Milestones, plans and manual runs: the rows behind planning and manual execution. A manual
//! run is a `runs` row of kind `manual` with one `manual_results` row per case.

use crate::db::on_org;
use crate::runs::insert_run;
use crate::{AuditEntry, NewRun, Store, StoreError};
use testvault_domain::{OrgId, ProjectId, RunId};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct MilestoneRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub due_on: Option<String>,
    pub status: String,
    pub created_at: i64,
}

/// Manual verdicts of a milestone's runs, for its progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualProgress {
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub blocked: i64,
    pub skipped: i64,
    pub runs: i64,
}

#[derive(Debug, Clone)]
pub struct PlanRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub milestone: Option<Uuid>,
    /// JSON of the selection.
    pub selection: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A case added to a manual run, frozen as it was.
#[derive(Debug, Clone)]
pub struct NewManualItem {
    pub case_id: Uuid,
    pub case_key: String,
    pub case_version: i64,
    pub snapshot: String,
    pub suite_path: String,
    pub assignee: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ManualRow {
    pub case_id: Uuid,
    pub position: i64,
    pub case_key: String,
    pub case_version: i64,
    pub snapshot: String,
    pub suite_path: String,
    pub assignee: Option<String>,
    pub outcome: String,
    pub record_sealed: Option<Vec<u8>>,
    pub elapsed_ms: i64,
    pub executed_by: Option<String>,
    pub executed_at: Option<i64>,
}

/// A verdict to record on one case of a running manual run.
#[derive(Debug, Clone)]
pub struct ManualVerdict<'a> {
    pub run: RunId,
    pub case_id: Uuid,
    pub outcome: &'a str,
    pub record_sealed: Option<&'a [u8]>,
    pub elapsed_ms: i64,
    pub executed_by: &'a str,
    pub at: i64,
}

/// One manual verdict of a case, for the case's page.
#[derive(Debug, Clone)]
pub struct CaseManualRow {
    pub run_number: i64,
    pub run_title: String,
    pub outcome: String,
    pub executed_by: Option<String>,
    pub executed_at: Option<i64>,
    pub finished: bool,
}

type PlanColumns = (Uuid, String, String, Option<Uuid>, String, String, i64);
type CaseManualColumns = (i64, String, String, Option<String>, Option<i64>, String);

type ManualColumns = (
    Uuid,
    i64,
    String,
    i64,
    String,
    String,
    Option<String>,
    String,
    Option<Vec<u8>>,
    i64,
    Option<String>,
    Option<i64>,
);

impl Store {
    pub async fn list_milestones(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<MilestoneRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<(Uuid, String, String, Option<String>, String, i64)> = sqlx::query_as(
                "SELECT id, name, description, due_on, status, created_at FROM milestones WHERE org_id = $1 AND project_id = $2 \
                 ORDER BY status DESC, due_on IS NULL, due_on, name")
                .bind(org.0)
                .bind(project.0)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, name, description, due_on, status, created_at)| MilestoneRow { id, name, description, due_on, status, created_at })
                .collect())
        })
    }

    pub async fn create_milestone(
        &self,
        project: ProjectId,
        m: &MilestoneRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO milestones (id, org_id, project_id, name, description, due_on, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(m.id)
                .bind(audit.org.0)
                .bind(project.0)
                .bind(&m.name)
                .bind(&m.description)
                .bind(&m.due_on)
                .bind(&m.status)
                .bind(m.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "a milestone with this name"))?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn set_milestone_status(
        &self,
        project: ProjectId,
        milestone: Uuid,
        status: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(self, audit, sqlx::query(
            "UPDATE milestones SET status = $1 WHERE org_id = $2 AND project_id = $3 AND id = $4")
            .bind(status)
            .bind(audit.org.0)
            .bind(project.0)
            .bind(milestone));
        Ok(n > 0)
    }

    /// Per milestone: its manual runs and their cases' verdicts.
    pub async fn milestone_progress(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<(Uuid, ManualProgress)>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<(Uuid, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
                "SELECT r.milestone_id, COUNT(m.case_id), \
                 SUM(CASE WHEN m.outcome = 'passed' THEN 1 ELSE 0 END), SUM(CASE WHEN m.outcome = 'failed' THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN m.outcome = 'blocked' THEN 1 ELSE 0 END), SUM(CASE WHEN m.outcome = 'skipped' THEN 1 ELSE 0 END), \
                 COUNT(DISTINCT r.id) \
                 FROM runs r JOIN manual_results m ON m.run_id = r.id \
                 WHERE r.org_id = $1 AND r.project_id = $2 AND r.milestone_id IS NOT NULL GROUP BY r.milestone_id")
                .bind(org.0)
                .bind(project.0)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, total, passed, failed, blocked, skipped, runs)| (id, ManualProgress { total, passed, failed, blocked, skipped, runs }))
                .collect())
        })
    }

    pub async fn list_plans(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<PlanRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<PlanColumns> = sqlx::query_as(
                "SELECT id, name, description, milestone_id, selection, created_by, created_at FROM plans WHERE org_id = $1 AND project_id = $2 ORDER BY name")
                .bind(org.0)
                .bind(project.0)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, name, description, milestone, selection, created_by, created_at)| PlanRow { id, name, description, milestone, selection, created_by, created_at })
                .collect())
        })
    }

    pub async fn create_plan(
        &self,
        project: ProjectId,
        plan: &PlanRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO plans (id, org_id, project_id, name, description, milestone_id, selection, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(plan.id)
                .bind(audit.org.0)
                .bind(project.0)
                .bind(&plan.name)
                .bind(&plan.description)
                .bind(plan.milestone)
                .bind(&plan.selection)
                .bind(&plan.created_by)
                .bind(plan.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "a plan with this name"))?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Creates a manual run with its cases, in one transaction; returns its number.
    pub async fn create_manual_run(
        &self,
        run: NewRun<'_>,
        plan: Option<Uuid>,
        milestone: Option<Uuid>,
        items: &[NewManualItem],
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, run.org, pool => {
            let mut tx = pool.begin().await?;
            let number = insert_run!(tx, &run, is_pg);
            sqlx::query("UPDATE runs SET kind = 'manual', plan_id = $1, milestone_id = $2 WHERE id = $3")
                .bind(plan)
                .bind(milestone)
                .bind(run.id.0)
                .execute(&mut *tx)
                .await?;
            for (i, item) in items.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO manual_results (run_id, case_id, org_id, position, case_key, case_version, snapshot, suite_path, assignee, outcome) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'untested')")
                    .bind(run.id.0)
                    .bind(item.case_id)
                    .bind(run.org.0)
                    .bind(i as i64 + 1)
                    .bind(&item.case_key)
                    .bind(item.case_version)
                    .bind(&item.snapshot)
                    .bind(&item.suite_path)
                    .bind(&item.assignee)
                    .execute(&mut *tx)
                    .await?;
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(number)
        })
    }

    /// `Some((plan, milestone))` when the run is a manual one.
    pub async fn manual_run_info(
        &self,
        org: OrgId,
        run: RunId,
    ) -> Result<Option<(Option<Uuid>, Option<Uuid>)>, StoreError> {
        on_org!(self, org, pool => {
            Ok(sqlx::query_as(
                "SELECT plan_id, milestone_id FROM runs WHERE org_id = $1 AND id = $2 AND kind = 'manual'")
                .bind(org.0)
                .bind(run.0)
                .fetch_optional(pool)
                .await?)
        })
    }

    pub async fn manual_items(&self, org: OrgId, run: RunId) -> Result<Vec<ManualRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<ManualColumns> = sqlx::query_as(
                "SELECT case_id, position, case_key, case_version, snapshot, suite_path, assignee, outcome, record_sealed, elapsed_ms, executed_by, executed_at \
                 FROM manual_results WHERE org_id = $1 AND run_id = $2 ORDER BY position")
                .bind(org.0)
                .bind(run.0)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(case_id, position, case_key, case_version, snapshot, suite_path, assignee, outcome, record_sealed, elapsed_ms, executed_by, executed_at)| ManualRow {
                    case_id, position, case_key, case_version, snapshot, suite_path, assignee, outcome, record_sealed, elapsed_ms, executed_by, executed_at,
                })
                .collect())
        })
    }

    /// Records a verdict; refused (`Stale`) once the run is finished: completed runs are frozen.
    pub async fn record_manual(
        &self,
        v: &ManualVerdict<'_>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE manual_results SET outcome = $1, record_sealed = $2, elapsed_ms = $3, executed_by = $4, executed_at = $5 \
                 WHERE org_id = $6 AND run_id = $7 AND case_id = $8 \
                   AND EXISTS (SELECT 1 FROM runs r WHERE r.id = $7 AND r.status = 'running')")
                .bind(v.outcome)
                .bind(v.record_sealed)
                .bind(v.elapsed_ms)
                .bind(v.executed_by)
                .bind(v.at)
                .bind(audit.org.0)
                .bind(v.run.0)
                .bind(v.case_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Stale("this run is complete: its results are frozen; start a new run to test again"));
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Assigns a case of a running manual run to a tester (`None`: nobody).
    pub async fn assign_manual(
        &self,
        run: RunId,
        case_id: Uuid,
        assignee: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(self, audit, sqlx::query(
            "UPDATE manual_results SET assignee = $1 WHERE org_id = $2 AND run_id = $3 AND case_id = $4 \
             AND EXISTS (SELECT 1 FROM runs r WHERE r.id = $3 AND r.status = 'running')")
            .bind(assignee)
            .bind(audit.org.0)
            .bind(run.0)
            .bind(case_id));
        Ok(n > 0)
    }

    /// A case's latest manual verdicts, newest run first.
    pub async fn case_manual_results(
        &self,
        org: OrgId,
        case_id: Uuid,
        limit: i64,
    ) -> Result<Vec<CaseManualRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<CaseManualColumns> = sqlx::query_as(
                "SELECT r.number, r.title, m.outcome, m.executed_by, m.executed_at, r.status FROM manual_results m JOIN runs r ON r.id = m.run_id \
                 WHERE m.org_id = $1 AND m.case_id = $2 ORDER BY r.number DESC LIMIT $3")
                .bind(org.0)
                .bind(case_id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(run_number, run_title, outcome, executed_by, executed_at, status)| CaseManualRow {
                    run_number, run_title, outcome, executed_by, executed_at, finished: status == "finished",
                })
                .collect())
        })
    }
}
