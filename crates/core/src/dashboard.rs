//! A project's dashboard: pass rate and duration per run, the slowest tests, and a heat map of
//! suites × recent runs coloured by failure rate.

use crate::runs::RunView;
use crate::{Allowed, Core, CoreError, RunQuery};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use testvault_domain::Permission;

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub run_number: i64,
    pub branch: Option<String>,
    pub total: i64,
    pub failing: i64,
    /// Per cent of the results that ran (not skipped) that passed.
    pub pass_rate: Option<u32>,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowTest {
    pub test_id: i64,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub mean_ms: i64,
    pub results: i64,
}

/// What the heat map's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeatBy {
    Suite,
    Test,
}

impl HeatBy {
    /// `suite` (the default) or `test`.
    pub fn parse(s: Option<&str>) -> Result<HeatBy, CoreError> {
        match s.map(str::trim).unwrap_or("") {
            "" | "suite" => Ok(HeatBy::Suite),
            "test" => Ok(HeatBy::Test),
            _ => Err(testvault_domain::DomainError::new("by", "must be suite or test").into()),
        }
    }
}

/// One row of the heat map: a suite, or a test with its suite.
#[derive(Debug, Clone, Serialize)]
pub struct HeatRow {
    pub label: String,
    pub suite: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_id: Option<i64>,
    /// Per run (as `HeatMap::runs`): the failure rate in per cent, `None` where it did not run.
    pub cells: Vec<Option<u32>>,
}

/// Rows × recent runs, the rows that failed most first.
#[derive(Debug, Clone, Serialize)]
pub struct HeatMap {
    pub by: HeatBy,
    /// Run numbers, oldest first.
    pub runs: Vec<i64>,
    pub rows: Vec<HeatRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub window_runs: i64,
    /// Oldest first.
    pub trend: Vec<TrendPoint>,
    pub slowest: Vec<SlowTest>,
    pub heat: HeatMap,
}

/// The longest window one request reads, and the rows the heat map shows.
pub const MAX_WINDOW_RUNS: i64 = 200;
const HEAT_ROWS: usize = 30;
const SLOWEST: i64 = 10;

fn trend_point(r: &RunView) -> TrendPoint {
    let c = &r.counts;
    let ran = c.passed + c.failed + c.errored;
    TrendPoint {
        run_number: r.number,
        branch: r.branch.clone(),
        total: c.total,
        failing: c.failed + c.errored,
        pass_rate: (ran > 0).then(|| u32::try_from(c.passed * 100 / ran).unwrap_or(100)),
        duration_ms: c.duration_ms,
    }
}

/// The grid of `(row, run, results, failing)` cells: the rows that failed most first (at most
/// `HEAT_ROWS`), runs oldest first, each cell the failure rate where the row ran.
/// A row's failure rate per run (`None`: did not run), keyed by what the row is.
type Rows<K> = Vec<(K, Vec<Option<u32>>)>;

fn grid<K: Copy + Eq + std::hash::Hash + Ord>(cells: &[(K, i64, i64, i64)]) -> (Vec<i64>, Rows<K>) {
    let runs: Vec<i64> = cells
        .iter()
        .map(|c| c.1)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut failing: HashMap<K, i64> = HashMap::new();
    let mut at: HashMap<(K, i64), (i64, i64)> = HashMap::new();
    for &(key, run, n, f) in cells {
        *failing.entry(key).or_default() += f;
        let cell = at.entry((key, run)).or_default();
        cell.0 += n;
        cell.1 += f;
    }
    let mut keys: Vec<K> = failing.keys().copied().collect();
    keys.sort_by(|a, b| failing[b].cmp(&failing[a]).then(a.cmp(b)));
    keys.truncate(HEAT_ROWS);
    let rows = keys
        .into_iter()
        .map(|key| {
            let row = runs
                .iter()
                .map(|run| {
                    at.get(&(key, *run))
                        .filter(|(n, _)| *n > 0)
                        .map(|(n, f)| u32::try_from(f * 100 / n).unwrap_or(100))
                })
                .collect();
            (key, row)
        })
        .collect();
    (runs, rows)
}

/// The suites × runs heat map from `(suite, run, results, failing)` cells.
pub fn suite_heat_map(cells: &[(String, i64, i64, i64)]) -> HeatMap {
    let keyed: Vec<(&str, i64, i64, i64)> = cells
        .iter()
        .map(|(s, run, n, f)| (s.as_str(), *run, *n, *f))
        .collect();
    let (runs, rows) = grid(&keyed);
    HeatMap {
        by: HeatBy::Suite,
        runs,
        rows: rows
            .into_iter()
            .map(|(suite, cells)| HeatRow {
                label: suite.to_string(),
                suite: suite.to_string(),
                test_id: None,
                cells,
            })
            .collect(),
    }
}

impl Core {
    pub async fn dashboard(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        window_runs: i64,
    ) -> Result<Dashboard, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let window_runs = window_runs.clamp(1, MAX_WINDOW_RUNS);
        let mut runs = self
            .list_runs(allowed, slug, &RunQuery::default(), None, window_runs)
            .await?;
        runs.reverse();
        let slow = self
            .store()
            .slowest_tests(p.org, project, window_runs, SLOWEST)
            .await?;
        let ids: Vec<i64> = slow.iter().map(|s| s.0).collect();
        let names = self.test_names(p.org, project, &ids).await?;
        let slowest = slow
            .into_iter()
            .map(|(test_id, mean_ms, results)| {
                let t = names.get(&test_id).cloned().unwrap_or_default();
                SlowTest {
                    test_id,
                    suite: t.suite,
                    name: t.name,
                    parameters: t.parameters,
                    mean_ms,
                    results,
                }
            })
            .collect();
        let cells = self.store().suite_heat(p.org, project, window_runs).await?;
        Ok(Dashboard {
            window_runs,
            trend: runs.iter().map(trend_point).collect(),
            slowest,
            heat: suite_heat_map(&cells),
        })
    }

    /// The heat map alone, by suite or by test (the tests that failed most in the window).
    pub async fn heat_map(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        by: HeatBy,
        window_runs: i64,
    ) -> Result<HeatMap, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let window_runs = window_runs.clamp(1, MAX_WINDOW_RUNS);
        if by == HeatBy::Suite {
            let cells = self.store().suite_heat(p.org, project, window_runs).await?;
            return Ok(suite_heat_map(&cells));
        }
        let cells = self
            .store()
            .test_heat(p.org, project, window_runs, HEAT_ROWS as i64)
            .await?;
        let (runs, rows) = grid(&cells);
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let names = self.test_names(p.org, project, &ids).await?;
        Ok(HeatMap {
            by,
            runs,
            rows: rows
                .into_iter()
                .map(|(id, cells)| {
                    let t = names.get(&id).cloned().unwrap_or_default();
                    HeatRow {
                        label: if t.parameters.is_empty() {
                            t.name
                        } else {
                            format!("{} {}", t.name, t.parameters)
                        },
                        suite: t.suite,
                        test_id: Some(id),
                        cells,
                    }
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heat_map_puts_the_failing_suites_first_and_leaves_gaps_empty() {
        let cells = vec![
            ("api".to_string(), 1, 10, 0),
            ("api".to_string(), 2, 10, 1),
            ("ui".to_string(), 2, 4, 4),
            ("db".to_string(), 1, 5, 0),
        ];
        let h = suite_heat_map(&cells);
        assert_eq!(h.runs, vec![1, 2]);
        let labels: Vec<&str> = h.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, vec!["ui", "api", "db"]);
        assert_eq!(h.rows[0].cells, vec![None, Some(100)]);
        assert_eq!(h.rows[1].cells, vec![Some(0), Some(10)]);
        assert_eq!(h.rows[2].cells, vec![Some(0), None]);
    }
}
