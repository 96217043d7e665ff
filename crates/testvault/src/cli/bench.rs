//! `testvault bench ingest`: the ingest hot path, measured end to end on this machine. Generates a
//! realistic JUnit file, times parsing alone, then starts a real server process (SQLite with
//! SQLCipher by default, or a fresh PostgreSQL database) and times an HTTPS upload of the file
//! until the server has committed it; reports results per second and the server's peak RSS.

use crate::StartError;
use crate::config::{Config, Layer};
use clap::Subcommand;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use testvault_core::{Operator, TokenRequest};
use testvault_domain::{
    Email, NewPassword, OrgName, ProjectDescription, ProjectName, ProjectSlug, Scopes, TokenName,
};
use testvault_ingest::{Limits, ResultSource};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Measure parse-only and end-to-end ingest (HTTPS upload → parse → seal → store → commit).
    Ingest {
        /// Test cases in the generated JUnit file.
        #[arg(long, default_value_t = 100_000)]
        cases: u64,
        /// Benchmark on PostgreSQL: a server URL whose role may create databases (a fresh
        /// database is made and dropped). Default: the embedded SQLite (SQLCipher).
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
        /// Keep the temporary data directory (and print where it is).
        #[arg(long)]
        keep: bool,
    },
    /// Seed a project's history (runs × tests, realistic failures and flakes) and time the
    /// report pages over HTTPS, printing percentiles.
    Reports(super::bench_reports::ReportsArgs),
}

pub async fn run(cmd: BenchCommand) -> Result<(), StartError> {
    let (cases, postgres, keep) = match cmd {
        BenchCommand::Ingest {
            cases,
            postgres,
            keep,
        } => (cases, postgres, keep),
        BenchCommand::Reports(args) => return super::bench_reports::run(args).await,
    };
    let dir =
        std::env::temp_dir().join(format!("testvault-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(StartError::io("creating the bench directory"))?;
    let result = bench(&dir, cases, postgres.as_deref()).await;
    if keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn bench(dir: &Path, cases: u64, postgres: Option<&str>) -> Result<(), StartError> {
    let report = dir.join("report.xml");
    let started = Instant::now();
    {
        let file = std::fs::File::create(&report).map_err(StartError::io("creating the report"))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        testvault_ingest::generate::write_junit(&mut out, cases, 42)
            .map_err(StartError::io("writing the report"))?;
        std::io::Write::flush(&mut out).map_err(StartError::io("writing the report"))?;
    }
    let bytes = std::fs::metadata(&report).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated {cases} cases, {:.1} MB of JUnit XML in {:.2} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let (parsed, secs) = parse_only(&report)?;
    println!(
        "parse only:   {parsed} results in {secs:.2} s = {:.0} results/s",
        parsed as f64 / secs
    );

    let database = match postgres {
        Some(url) => Some(PgBenchDb::create(url).await?),
        None => None,
    };
    let data_dir = dir.join("data");
    let token = setup(&data_dir, database.as_ref().map(|d| d.url.as_str())).await?;
    let mut server = spawn_server(&data_dir, database.as_ref().map(|d| d.url.as_str()))?;
    // Twice: the first run meets every test for the first time; the second is the everyday
    // case, the same suite again (history).
    let first = upload(&server.url, &data_dir, &token, &report).await;
    let second = match &first {
        Ok(_) => upload(&server.url, &data_dir, &token, &report).await,
        Err(_) => Err(StartError::Config("skipped".into())),
    };
    let peak = peak_rss_kib(server.child.id());
    let _ = server.child.kill();
    let _ = server.child.wait();
    if let Some(db) = database {
        db.drop_it().await;
    }
    let backend = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite + SQLCipher"
    };
    for (label, outcome) in [
        ("end to end, new tests:  ", first),
        ("end to end, known tests:", second),
    ] {
        let (stored, secs) = outcome?;
        println!(
            "{label} {stored} results in {secs:.2} s = {:.0} results/s ({backend}, HTTPS upload of {:.1} MB)",
            stored as f64 / secs,
            bytes as f64 / 1e6
        );
    }
    match peak {
        Some(kib) => println!("server peak RSS: {:.0} MB", kib as f64 / 1024.0),
        None => println!("server peak RSS: unknown (no /proc)"),
    }
    Ok(())
}

fn parse_only(report: &Path) -> Result<(u64, f64), StartError> {
    let file = std::fs::File::open(report).map_err(StartError::io("opening the report"))?;
    let started = Instant::now();
    let mut reader = testvault_ingest::junit::JunitReader::new(
        BufReader::with_capacity(256 * 1024, file),
        Limits::default(),
    );
    let mut n = 0u64;
    while reader
        .next_result()
        .map_err(|e| StartError::Config(format!("parsing: {e}")))?
        .is_some()
    {
        n += 1;
    }
    Ok((n, started.elapsed().as_secs_f64()))
}

pub(super) fn bench_config(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<Config, StartError> {
    let layer = Layer {
        data_dir: Some(data_dir.to_path_buf()),
        listen: "127.0.0.1:0".parse().ok(),
        database_url: database_url.map(String::from),
        ..Layer::default()
    };
    Config::resolve(None, Layer::default(), layer)
}

/// The bench org's owner, who signs in to time pages.
pub(super) const OWNER_EMAIL: &str = "bench@bench.test";
pub(super) const OWNER_PASSWORD: &str = "benchmark owner passphrase";

/// An org, a project and a CI token, made through the operator path on the bench's data.
pub(super) async fn setup(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<String, StartError> {
    let cfg = bench_config(data_dir, database_url)?;
    let core = crate::server::open_core(&cfg, "https://127.0.0.1".into()).await?;
    let op = Operator::unsafe_local_admin();
    let invalid = |e: testvault_domain::DomainError| StartError::Config(e.to_string());
    let org = OrgName::parse("Bench").map_err(invalid)?;
    core.create_org(
        &op,
        org.clone(),
        Email::parse(OWNER_EMAIL).map_err(invalid)?,
        None,
        Some(NewPassword::parse(OWNER_PASSWORD).map_err(invalid)?),
    )
    .await?;
    core.create_project_as_operator(
        &op,
        &org,
        ProjectSlug::parse("bench").map_err(invalid)?,
        ProjectName::parse("Bench").map_err(invalid)?,
        ProjectDescription::parse("").map_err(invalid)?,
    )
    .await?;
    let issued = core
        .create_token_as_operator(
            &op,
            &org,
            None,
            TokenRequest {
                name: TokenName::parse("bench").map_err(invalid)?,
                scopes: Scopes::parse(["results:write", "read"]).map_err(invalid)?,
                project: Some("bench".into()),
                expires_in_days: Some(1),
                form: Default::default(),
            },
        )
        .await?;
    core.close().await;
    Ok(issued.token)
}

pub(super) struct RunningServer {
    pub(super) child: Child,
    pub(super) url: String,
}

pub(super) fn spawn_server(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<RunningServer, StartError> {
    let exe = std::env::current_exe().map_err(StartError::io("finding this program"))?;
    // `TESTVAULT_BENCH_WRAP="heaptrack -o /tmp/h"` (or `perf record -g`) runs the server under a
    // profiler; see docs/PERFORMANCE.md.
    let wrap = std::env::var("TESTVAULT_BENCH_WRAP").unwrap_or_default();
    let mut wrap = wrap.split_whitespace();
    let mut cmd = match wrap.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(wrap).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log-level",
        "warn,testvault_core=info",
        "--data-dir",
    ])
    .arg(data_dir)
    .env_remove("TESTVAULT_DATABASE_URL")
    .env_remove("TESTVAULT_MASTER_KEY")
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if let Some(url) = database_url {
        cmd.env("TESTVAULT_DATABASE_URL", url);
    }
    let mut child = cmd.spawn().map_err(StartError::io("starting the server"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| StartError::Config("no server output".into()))?;
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(StartError::io("reading the server banner"))?;
        if let Some(u) = line.trim().strip_prefix("URL:") {
            url = Some(u.trim().to_string());
            break;
        }
    }
    let url = url.ok_or_else(|| StartError::Config("the server did not start".into()))?;
    Ok(RunningServer { child, url })
}

async fn upload(
    url: &str,
    data_dir: &Path,
    token: &str,
    report: &PathBuf,
) -> Result<(i64, f64), StartError> {
    let client = https_client(data_dir)?;
    let file = tokio::fs::File::open(report)
        .await
        .map_err(StartError::io("opening the report"))?;
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    let started = Instant::now();
    let resp = client
        .post(format!("{url}/api/v1/projects/bench/uploads?format=junit"))
        .bearer_auth(token)
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .map_err(|e| StartError::Config(format!("upload: {e}")))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let secs = started.elapsed().as_secs_f64();
    if !status.is_success() {
        return Err(StartError::Config(format!(
            "upload answered {status}: {text}"
        )));
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| StartError::Config(e.to_string()))?;
    Ok((v["data"]["stored"]["total"].as_i64().unwrap_or(0), secs))
}

/// An HTTPS client that trusts the bench server's self-signed certificate (and nothing else).
pub(super) fn https_client(data_dir: &Path) -> Result<reqwest::Client, StartError> {
    let pem = std::fs::read(data_dir.join("tls/cert.pem"))
        .map_err(StartError::io("reading the certificate"))?;
    let cert =
        reqwest::Certificate::from_pem(&pem).map_err(|e| StartError::Config(e.to_string()))?;
    reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .map_err(|e| StartError::Config(e.to_string()))
}

/// The peak resident set of a process (`VmHWM`), in KiB.
pub(super) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A throw-away PostgreSQL database for one bench run.
pub(super) struct PgBenchDb {
    admin: String,
    name: String,
    pub(super) url: String,
}

impl PgBenchDb {
    pub(super) async fn create(admin: &str) -> Result<Self, StartError> {
        use sqlx::{ConnectOptions, Executor};
        let name = format!("testvault_bench_{}", uuid::Uuid::new_v4().simple());
        let opts: sqlx::postgres::PgConnectOptions = admin
            .parse()
            .map_err(|e| StartError::Config(format!("--postgres: {e}")))?;
        let mut conn = opts
            .connect()
            .await
            .map_err(|e| StartError::Config(format!("--postgres: {e}")))?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .map_err(|e| StartError::Config(format!("creating the bench database: {e}")))?;
        // Swap the database name, keeping any query (`?host=/var/run/postgresql`).
        let (path, query) = admin.split_once('?').unwrap_or((admin, ""));
        let url = match path.rsplit_once('/') {
            Some((base, _)) if query.is_empty() => format!("{base}/{name}"),
            Some((base, _)) => format!("{base}/{name}?{query}"),
            None => {
                return Err(StartError::Config(
                    "--postgres must end in /database".into(),
                ));
            }
        };
        Ok(PgBenchDb {
            admin: admin.to_string(),
            name,
            url,
        })
    }

    pub(super) async fn drop_it(self) {
        use sqlx::{ConnectOptions, Executor};
        if let Ok(opts) = self.admin.parse::<sqlx::postgres::PgConnectOptions>()
            && let Ok(mut conn) = opts.connect().await
        {
            let _ = conn
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                )))
                .await;
        }
    }
}
