//! `testvault bench reports`: the report pages over years of history. Seeds a project with a
//! generated history (`runs` runs of the same `tests` tests, with the failure, flake and slowdown
//! patterns of real suites) through the ingest path, then starts a real server on that data, signs
//! in and times each report page over HTTPS — what a person waits for — printing percentiles.

use super::bench::{PgBenchDb, bench_config, https_client, peak_rss_kib, setup, spawn_server};
use crate::StartError;
use clap::Args;
use std::path::Path;
use std::time::{Duration, Instant};
use testvault_core::{ClientMeta, IngestTarget, ResultQuery, RunSpec};
use testvault_domain::Permission;
use testvault_ingest::generate_history::History;

#[derive(Debug, Args)]
pub struct ReportsArgs {
    /// Runs to seed.
    #[arg(long, default_value_t = 10_000)]
    runs: u64,
    /// Tests in every run.
    #[arg(long, default_value_t = 1_000)]
    tests: u64,
    /// Timed requests per page.
    #[arg(long, default_value_t = 40)]
    samples: usize,
    /// Benchmark on PostgreSQL: a server URL whose role may create databases (a fresh
    /// database is made and dropped). Default: the embedded SQLite (SQLCipher).
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Keep the temporary data directory (and print where it is).
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: ReportsArgs) -> Result<(), StartError> {
    let dir = std::env::temp_dir().join(format!(
        "testvault-bench-reports-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).map_err(StartError::io("creating the bench directory"))?;
    let database = match &args.postgres {
        Some(url) => Some(PgBenchDb::create(url).await?),
        None => None,
    };
    let result = bench(&dir, &args, database.as_ref().map(|d| d.url.as_str())).await;
    if let Some(db) = database
        && !args.keep
    {
        db.drop_it().await;
    }
    if args.keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn bench(dir: &Path, args: &ReportsArgs, db_url: Option<&str>) -> Result<(), StartError> {
    let data_dir = dir.join("data");
    let token = setup(&data_dir, db_url).await?;
    let tests = seed(&data_dir, db_url, &token, args).await?;
    let mut server = spawn_server(&data_dir, db_url)?;
    let measured = measure(&server.url, &data_dir, args, &tests).await;
    let peak = peak_rss_kib(server.child.id());
    let _ = server.child.kill();
    let _ = server.child.wait();
    let backend = if db_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite + SQLCipher"
    };
    println!(
        "\n{backend}, {} runs × {} tests = {} results; {} timed requests per page over HTTPS",
        args.runs,
        args.tests,
        args.runs * args.tests,
        args.samples
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8}",
        "page", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (page, mut times) in measured? {
        times.sort();
        let at = |q: f64| {
            let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
            times[i].as_secs_f64() * 1000.0
        };
        println!(
            "{page:<34} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            at(0.50),
            at(0.95),
            at(0.99),
            at(1.0)
        );
    }
    if let Some(kib) = peak {
        println!("server peak RSS: {:.0} MB", kib as f64 / 1024.0);
    }
    Ok(())
}

/// Seeds the history through the ingest path (one run per call, as CI reports them) and returns
/// the tests' ids.
async fn seed(
    data_dir: &Path,
    db_url: Option<&str>,
    token: &str,
    args: &ReportsArgs,
) -> Result<Vec<i64>, StartError> {
    let cfg = bench_config(data_dir, db_url)?;
    let core = crate::server::open_core(&cfg, "https://127.0.0.1".into()).await?;
    let principal = core.authenticate_token(token, &ClientMeta::local()).await?;
    let history = History::new(args.tests, 42);
    let started = Instant::now();
    let mut first_run = None;
    for run in 0..args.runs {
        let info = history.run_info(run);
        let spec = RunSpec {
            branch: Some(info.branch),
            commit: Some(info.commit),
            ..RunSpec::default()
        };
        let report = core
            .append_results(
                principal.allow(Permission::ReportResults)?,
                "bench",
                IngestTarget::NewRun(spec),
                None,
                history.results(run),
            )
            .await?;
        first_run.get_or_insert(report.run.id);
        if (run + 1) % 500 == 0 || run + 1 == args.runs {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "seeded {} runs, {} results in {secs:.0} s ({:.0} results/s)",
                run + 1,
                (run + 1) * args.tests,
                ((run + 1) * args.tests) as f64 / secs
            );
        }
    }
    let tests = match first_run {
        Some(run) => core
            .run_results(
                principal.allow(Permission::ReadProjects)?,
                "bench",
                run,
                &ResultQuery {
                    limit: Some(1000),
                    ..ResultQuery::default()
                },
            )
            .await?
            .into_iter()
            .map(|r| r.test_id)
            .collect(),
        None => Vec::new(),
    };
    core.close().await;
    Ok(tests)
}

type Timings = Vec<(&'static str, Vec<Duration>)>;

/// Signs in as the bench org's owner and times every report page.
async fn measure(
    url: &str,
    data_dir: &Path,
    args: &ReportsArgs,
    tests: &[i64],
) -> Result<Timings, StartError> {
    let client = https_client(data_dir)?;
    let session = sign_in(&client, url).await?;
    let mut walk = Walk(0x2545_f491_4f6c_dd1d);
    let runs = args.runs.max(1);
    let mut timings = Vec::new();
    for page in PAGES {
        let path = |walk: &mut Walk| page.path(walk, runs, tests);
        // Two untimed requests first, as a person's second visit would find the caches.
        for _ in 0..2 {
            get(&client, url, &session, &path(&mut walk)).await?;
        }
        let mut times = Vec::with_capacity(args.samples);
        for _ in 0..args.samples.max(1) {
            let p = path(&mut walk);
            let started = Instant::now();
            get(&client, url, &session, &p).await?;
            times.push(started.elapsed());
        }
        timings.push((page.label(), times));
    }
    Ok(timings)
}

/// A fixed walk through the history (xorshift), so two benchmarks time the same requests.
struct Walk(u64);

impl Walk {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[derive(Clone, Copy)]
enum Page {
    Runs,
    Run,
    RunBySuite,
    RunByError,
    RunSearch,
    ProjectSearch,
    Test,
    Compare,
    Flaky,
    Clusters,
    HeatMap,
    Dashboard,
}

const PAGES: [Page; 12] = [
    Page::Runs,
    Page::Run,
    Page::RunBySuite,
    Page::RunByError,
    Page::RunSearch,
    Page::ProjectSearch,
    Page::Test,
    Page::Compare,
    Page::Flaky,
    Page::Clusters,
    Page::HeatMap,
    Page::Dashboard,
];

impl Page {
    fn label(self) -> &'static str {
        match self {
            Page::Runs => "runs list (first page)",
            Page::Run => "run page, first view",
            Page::RunBySuite => "run page, by suite",
            Page::RunByError => "run page, by error",
            Page::RunSearch => "run page, error-text search",
            Page::ProjectSearch => "error-text search, every run (API)",
            Page::Test => "test history (last 200 runs)",
            Page::Compare => "compare with latest on main",
            Page::Flaky => "flaky report (200 runs)",
            Page::Clusters => "failure clusters (200 runs)",
            Page::HeatMap => "heat map (tests × 30 runs)",
            Page::Dashboard => "dashboard (30 runs)",
        }
    }

    /// The page's path; runs are picked anywhere in the history, searches among recent runs.
    fn path(self, walk: &mut Walk, runs: u64, tests: &[i64]) -> String {
        match self {
            Page::Runs => "/projects/bench".into(),
            Page::Run => format!("/projects/bench/runs/{}", 1 + walk.below(runs)),
            Page::RunBySuite => {
                format!("/projects/bench/runs/{}?group=suite", 1 + walk.below(runs))
            }
            Page::RunByError => {
                format!("/projects/bench/runs/{}?group=error", 1 + walk.below(runs))
            }
            Page::RunSearch => format!(
                "/projects/bench/runs/{}?q=timed+out",
                runs - walk.below(runs.min(200))
            ),
            Page::ProjectSearch => "/api/v1/projects/bench/results/search?q=timed+out".into(),
            Page::Test => {
                let i = walk.below(tests.len() as u64) as usize;
                format!(
                    "/projects/bench/tests/{}",
                    tests.get(i).copied().unwrap_or(1)
                )
            }
            Page::Compare => format!(
                "/projects/bench/runs/{}/compare",
                runs - walk.below(runs.min(50))
            ),
            Page::Flaky => "/projects/bench/flaky".into(),
            Page::Clusters => "/projects/bench/clusters".into(),
            Page::HeatMap => "/projects/bench/heatmap?by=test".into(),
            Page::Dashboard => "/projects/bench/dashboard".into(),
        }
    }
}

async fn sign_in(client: &reqwest::Client, url: &str) -> Result<String, StartError> {
    let resp = client
        .post(format!("{url}/api/v1/auth/sign-in"))
        .json(&serde_json::json!({
            "email": super::bench::OWNER_EMAIL,
            "password": super::bench::OWNER_PASSWORD,
        }))
        .send()
        .await
        .map_err(|e| StartError::Config(format!("signing in: {e}")))?;
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|kv| kv.starts_with("__Host-tv_session="))
        })
        .map(String::from)
        .ok_or_else(|| StartError::Config("signing in gave no session".into()))
}

/// One page, read to the end; anything but 200 stops the benchmark.
async fn get(
    client: &reqwest::Client,
    url: &str,
    session: &str,
    path: &str,
) -> Result<(), StartError> {
    let resp = client
        .get(format!("{url}{path}"))
        .header(reqwest::header::COOKIE, session)
        .send()
        .await
        .map_err(|e| StartError::Config(format!("GET {path}: {e}")))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| StartError::Config(format!("GET {path}: {e}")))?;
    if !status.is_success() {
        return Err(StartError::Config(format!(
            "GET {path} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )));
    }
    Ok(())
}
