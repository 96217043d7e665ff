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

/// Suites × runs; `cells[suite][run]` is the failure rate in per cent, `None` where the suite
/// did not run.
#[derive(Debug, Clone, Serialize)]
pub struct HeatMap {
    pub runs: Vec<i64>,
    pub suites: Vec<String>,
    pub cells: Vec<Vec<Option<u32>>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub window_runs: i64,
    /// Oldest first.
    pub trend: Vec<TrendPoint>,
    pub slowest: Vec<SlowTest>,
    pub heat: HeatMap,
}

/// The longest window one request reads, and the suites the heat map shows.
pub const MAX_WINDOW_RUNS: i64 = 200;
const HEAT_SUITES: usize = 30;
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

/// The heat map from `(suite, run, results, failing)` cells: the suites that failed most first
/// (at most `HEAT_SUITES`), runs oldest first.
pub fn heat_map(cells: &[(String, i64, i64, i64)]) -> HeatMap {
    let runs: Vec<i64> = cells
        .iter()
        .map(|c| c.1)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut failing: HashMap<&str, i64> = HashMap::new();
    for (suite, _, _, f) in cells {
        *failing.entry(suite.as_str()).or_default() += f;
    }
    let mut suites: Vec<&str> = failing.keys().copied().collect();
    suites.sort_by(|a, b| failing[b].cmp(&failing[a]).then(a.cmp(b)));
    suites.truncate(HEAT_SUITES);
    let at: HashMap<(&str, i64), (i64, i64)> = cells
        .iter()
        .map(|(s, run, n, f)| ((s.as_str(), *run), (*n, *f)))
        .collect();
    let grid = suites
        .iter()
        .map(|s| {
            runs.iter()
                .map(|run| {
                    at.get(&(*s, *run))
                        .filter(|(n, _)| *n > 0)
                        .map(|(n, f)| u32::try_from(f * 100 / n).unwrap_or(100))
                })
                .collect()
        })
        .collect();
    HeatMap {
        runs,
        suites: suites.into_iter().map(String::from).collect(),
        cells: grid,
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
            heat: heat_map(&cells),
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
        let h = heat_map(&cells);
        assert_eq!(h.runs, vec![1, 2]);
        assert_eq!(h.suites, vec!["ui", "api", "db"]);
        assert_eq!(h.cells[0], vec![None, Some(100)]);
        assert_eq!(h.cells[1], vec![Some(0), Some(10)]);
        assert_eq!(h.cells[2], vec![Some(0), None]);
    }
}
