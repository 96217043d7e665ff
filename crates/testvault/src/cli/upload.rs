//! `testvault upload`: sends report files from CI to a Testvault server. Creates a run (or
//! reports into `--run`), uploads each file compressed with an idempotency key (so a retry never
//! stores twice), retries with backoff, finishes the run and prints its summary and address.
//!
//! The token comes from `TESTVAULT_TOKEN` (or `--token-file`), never from the command line. A
//! self-signed server is trusted through `--ca-cert`, never by turning verification off.

use crate::StartError;
use clap::Args;
use serde_json::{Value, json};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the client commands reach a server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server (env TESTVAULT_URL).
    #[arg(long, env = "TESTVAULT_URL")]
    url: Option<String>,
    /// Read the API token from this file instead of TESTVAULT_TOKEN.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Trust this PEM certificate (a self-signed server's) in addition to the system roots
    /// (env TESTVAULT_CA_CERT).
    #[arg(long, env = "TESTVAULT_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The project's slug.
    #[arg(long)]
    project: String,
    /// Report files or glob patterns (`results/**/*.xml`): JUnit XML, CTRF JSON, Allure zip;
    /// gzip or zstd compressed ones too. A directory is an Allure results directory (zipped and
    /// sent as one report).
    #[arg(required = true)]
    paths: Vec<String>,
    #[command(flatten)]
    server: ServerArgs,
    /// `junit`, `ctrf` or `allure` (detected per file when left out).
    #[arg(long)]
    format: Option<String>,
    /// Report into this existing run (sharded CI: every shard passes the same run id).
    #[arg(long)]
    run: Option<String>,
    /// This job's shard name; the run finishes when all its shards have.
    #[arg(long, requires = "run")]
    shard: Option<String>,
    #[arg(long)]
    title: Option<String>,
    /// Branch (default: from the CI environment: GitHub, GitLab, Jenkins, …).
    #[arg(long)]
    branch: Option<String>,
    /// Commit (default: from the CI environment).
    #[arg(long)]
    commit: Option<String>,
    /// Link to the CI build (default: from the CI environment).
    #[arg(long)]
    build_url: Option<String>,
    /// A tag for the run (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Leave the run open (more uploads will follow; finish it later).
    #[arg(long)]
    no_finish: bool,
    /// Exit with status 1 when any test failed or errored.
    #[arg(long)]
    fail_on_failures: bool,
}

/// What the run ended with, to print and to decide the exit status.
pub struct Outcome {
    pub failures: i64,
}

pub async fn run(args: UploadArgs) -> Result<Outcome, StartError> {
    let api = Api::connect(&args.server, &args.project)?;
    let base = api.base.clone();
    let files = expand(&args.paths)?;
    let ci = CiFacts::from_env();
    let run_id = match &args.run {
        Some(id) => id.clone(),
        None => {
            let body = json!({
                "title": args.title,
                "branch": args.branch.clone().or(ci.branch),
                "commit": args.commit.clone().or(ci.commit),
                "build_url": args.build_url.clone().or(ci.build_url),
                "build_name": ci.build_name,
                "tags": args.tags,
            });
            let created = api
                .send("POST", &api.path("/runs"), Payload::Json(body), None)
                .await?;
            created["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let progress = Progress::new(files.len());
    for (i, file) in files.iter().enumerate() {
        let (body, key, format) = if file.is_dir() {
            let (zip, key) = zip_allure_dir(file)?;
            (Payload::Bytes(zip), key, Some("allure".to_string()))
        } else {
            let (body, key) = prepare(file)?;
            (body, key, args.format.clone())
        };
        let mut path = api.path(&format!("/runs/{run_id}/results"));
        if let Some(f) = &format {
            path.push_str(&format!("?format={f}"));
        }
        let answer = api
            .send("POST", &path, body, Some(&key))
            .await
            .map_err(|e| StartError::Config(format!("{}: {e}", file.display())))?;
        let stored = answer["data"]["stored"]["total"].as_i64().unwrap_or(0);
        let again = answer["data"]["duplicate"].as_bool().unwrap_or(false);
        progress.file(i + 1, file, stored, again);
    }
    progress.done();
    let run = if args.no_finish {
        api.send(
            "GET",
            &api.path(&format!("/runs/{run_id}")),
            Payload::None,
            None,
        )
        .await?
    } else {
        let body = json!({ "shard": args.shard });
        api.send(
            "POST",
            &api.path(&format!("/runs/{run_id}/finish")),
            Payload::Json(body),
            None,
        )
        .await?
    };
    let r = &run["data"];
    let c = &r["counts"];
    let n = |k: &str| c[k].as_i64().unwrap_or(0);
    println!(
        "Run #{} ({}): {} results — {} passed, {} failed, {} errored, {} skipped, {} flaky",
        r["number"],
        r["status"].as_str().unwrap_or("?"),
        n("total"),
        n("passed"),
        n("failed"),
        n("errored"),
        n("skipped"),
        n("flaky")
    );
    println!("{base}/projects/{}/runs/{}", args.project, r["number"]);
    Ok(Outcome {
        failures: if args.fail_on_failures {
            n("failed") + n("errored")
        } else {
            0
        },
    })
}

fn read_token(file: Option<&Path>) -> Result<String, StartError> {
    let token = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(StartError::io(format!("reading {}", path.display())))?,
        None => std::env::var("TESTVAULT_TOKEN").map_err(|_| {
            StartError::Config("set TESTVAULT_TOKEN (or --token-file) to an API token".into())
        })?,
    };
    let token = token.trim().to_string();
    if !token.starts_with("tvt_") {
        return Err(StartError::Config(
            "the API token should look like tvt_<prefix>_<secret>".into(),
        ));
    }
    Ok(token)
}

fn client(ca_cert: Option<&Path>) -> Result<reqwest::Client, StartError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(600))
        .user_agent(concat!("testvault-upload/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let pem =
            std::fs::read(path).map_err(StartError::io(format!("reading {}", path.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            StartError::Config(format!("{} is not a PEM certificate: {e}", path.display()))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| StartError::Config(format!("HTTP client: {e}")))
}

/// A report file as it will be sent: its idempotency key (the SHA-256 of its bytes: the same
/// file sent twice to a run is stored once) and whether to gzip it on the way (not when it is
/// compressed already). Read in one streaming pass; the upload streams it again.
fn prepare(path: &Path) -> Result<(Payload, String), StartError> {
    let reading = || StartError::io(format!("reading {}", path.display()));
    let mut file =
        std::fs::File::open(path).map_err(StartError::io(format!("opening {}", path.display())))?;
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut head = Vec::with_capacity(4);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut chunk).map_err(reading())?;
        if n == 0 {
            break;
        }
        if head.len() < 4 {
            head.extend(chunk[..n].iter().take(4 - head.len()));
        }
        digest.update(&chunk[..n]);
    }
    let key = hex(digest.finish().as_ref());
    let compressed = head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.starts_with(b"PK\x03\x04");
    let payload = Payload::File {
        path: path.to_path_buf(),
        gzip: !compressed,
    };
    Ok((payload, key))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file as a request body, streamed from disk (gzip-compressed on a blocking thread when asked):
/// memory stays flat whatever the file's size.
fn file_body(path: &Path, gzip: bool) -> Result<reqwest::Body, StartError> {
    let file =
        std::fs::File::open(path).map_err(StartError::io(format!("opening {}", path.display())))?;
    if !gzip {
        let file = tokio::fs::File::from_std(file);
        return Ok(reqwest::Body::wrap_stream(
            tokio_util::io::ReaderStream::new(file),
        ));
    }
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        let bridge = tokio_util::io::SyncIoBridge::new(writer);
        let mut enc = flate2::write::GzEncoder::new(bridge, flate2::Compression::fast());
        // On a read error the body ends early: the server refuses the truncated gzip and
        // stores nothing, and the error is shown here.
        if let Err(e) = std::io::copy(&mut file, &mut enc).and_then(|_| enc.finish().map(drop)) {
            eprintln!("reading {shown}: {e}");
        }
    });
    Ok(reqwest::Body::wrap_stream(
        tokio_util::io::ReaderStream::new(reader),
    ))
}

/// Whether a directory holds Allure result files (checked before any run is created).
fn holds_allure_results(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with("-result.json"))
    })
}

/// An Allure results directory as the zip the server reads. Its idempotency key hashes the
/// names and contents (a zip's own bytes carry timestamps).
fn zip_allure_dir(dir: &Path) -> Result<(Vec<u8>, String), StartError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(StartError::io(format!("reading {}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    if !entries
        .iter()
        .any(|p| p.to_string_lossy().ends_with("-result.json"))
    {
        return Err(StartError::Config(format!(
            "{}: a directory is uploaded as Allure results, but it holds no *-result.json",
            dir.display()
        )));
    }
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes =
            std::fs::read(&path).map_err(StartError::io(format!("reading {}", path.display())))?;
        digest.update(name.as_bytes());
        digest.update(&[0]);
        digest.update(&bytes);
        zip.start_file(name, options)
            .map_err(|e| StartError::Config(format!("zipping {}: {e}", dir.display())))?;
        zip.write_all(&bytes).map_err(StartError::io("zipping"))?;
    }
    let body = zip
        .finish()
        .map_err(|e| StartError::Config(format!("zipping {}: {e}", dir.display())))?
        .into_inner();
    let key = hex(digest.finish().as_ref());
    Ok((body, key))
}

pub(super) enum Payload {
    None,
    Json(Value),
    Bytes(Vec<u8>),
    /// Streamed from disk on every attempt.
    File {
        path: PathBuf,
        gzip: bool,
    },
}

pub(super) struct Api {
    client: reqwest::Client,
    pub(super) base: String,
    token: String,
    project: String,
}

impl Api {
    pub(super) fn connect(server: &ServerArgs, project: &str) -> Result<Api, StartError> {
        Ok(Api {
            client: client(server.ca_cert.as_deref())?,
            base: server
                .url
                .as_deref()
                .ok_or_else(|| {
                    StartError::Config("which server? pass --url or set TESTVAULT_URL".into())
                })?
                .trim_end_matches('/')
                .to_string(),
            token: read_token(server.token_file.as_deref())?,
            project: project.to_string(),
        })
    }

    pub(super) fn path(&self, rest: &str) -> String {
        format!("/api/v1/projects/{}{rest}", self.project)
    }

    /// One request, retried with backoff (1, 2, 4, 8 s, or the server's `Retry-After`) on
    /// connection failures, 5xx and 429. Other errors are final and printed as the server said.
    pub(super) async fn send(
        &self,
        method: &str,
        path: &str,
        payload: Payload,
        idempotency_key: Option<&str>,
    ) -> Result<Value, StartError> {
        let url = format!("{}{path}", self.base);
        let mut delay = Duration::from_secs(1);
        for attempt in 1..=5 {
            let mut req = match method {
                "GET" => self.client.get(&url),
                _ => self.client.post(&url),
            }
            .bearer_auth(&self.token);
            if let Some(key) = idempotency_key {
                req = req.header("idempotency-key", key);
            }
            req = match &payload {
                Payload::None => req,
                Payload::Json(v) => req
                    .header("content-type", "application/json")
                    .body(v.to_string()),
                Payload::Bytes(b) => req
                    .header("content-type", "application/octet-stream")
                    .body(b.clone()),
                Payload::File { path, gzip } => req
                    .header("content-type", "application/octet-stream")
                    .body(file_body(path, *gzip)?),
            };
            let retry_in = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let text = resp.text().await.unwrap_or_default();
                    if status.is_success() {
                        return serde_json::from_str(&text).map_err(|_| {
                            StartError::Config(format!("{url}: the server's answer is not JSON"))
                        });
                    }
                    if !(status.is_server_error() || status.as_u16() == 429) || attempt == 5 {
                        let message = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v["error"]["message"].as_str().map(String::from))
                            .unwrap_or(text);
                        return Err(StartError::Config(format!("{} {message}", status.as_u16())));
                    }
                    retry_after.map(Duration::from_secs).unwrap_or(delay)
                }
                Err(e) if untrusted(&e) => {
                    return Err(StartError::Config(format!(
                        "cannot reach {}: its certificate is not trusted (pass the server's certificate with --ca-cert)",
                        self.base
                    )));
                }
                Err(e) if attempt == 5 => {
                    return Err(StartError::Config(format!(
                        "cannot reach {}: {e}",
                        self.base
                    )));
                }
                Err(_) => delay,
            };
            eprintln!(
                "attempt {attempt} failed; retrying in {}s",
                retry_in.as_secs()
            );
            tokio::time::sleep(retry_in).await;
            delay *= 2;
        }
        Err(StartError::Config("gave up".into()))
    }
}

/// Whether a request failed because the server's certificate is not trusted: retrying cannot
/// help, and the fix is `--ca-cert`.
fn untrusted(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        let text = err.to_string().to_lowercase();
        if text.contains("certificate") || text.contains("unknownissuer") {
            return true;
        }
        source = err.source();
    }
    false
}

/// Progress on a terminal (one line, rewritten), plain lines otherwise (CI logs).
struct Progress {
    total: usize,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            total,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn file(&self, done: usize, path: &Path, stored: i64, duplicate: bool) {
        let note = if duplicate {
            "already stored".to_string()
        } else {
            format!("{stored} results")
        };
        if self.tty {
            let width = 30;
            let filled = done * width / self.total.max(1);
            eprint!(
                "\r[{}{}] {done}/{} {} ({note})\x1b[K",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.total,
                path.display()
            );
        } else {
            eprintln!("uploaded {done}/{} {} ({note})", self.total, path.display());
        }
    }

    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// Facts CI systems put in the environment.
#[derive(Default)]
struct CiFacts {
    branch: Option<String>,
    commit: Option<String>,
    build_url: Option<String>,
    build_name: Option<String>,
}

impl CiFacts {
    fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let first = |keys: &[&str]| keys.iter().find_map(|k| var(k));
        let github_url = match (
            var("GITHUB_SERVER_URL"),
            var("GITHUB_REPOSITORY"),
            var("GITHUB_RUN_ID"),
        ) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => None,
        };
        CiFacts {
            branch: first(&[
                "GITHUB_HEAD_REF",
                "GITHUB_REF_NAME",
                "CI_COMMIT_REF_NAME",
                "BRANCH_NAME",
                "GIT_BRANCH",
                "BUILDKITE_BRANCH",
                "CIRCLE_BRANCH",
            ]),
            commit: first(&[
                "GITHUB_SHA",
                "CI_COMMIT_SHA",
                "GIT_COMMIT",
                "BUILDKITE_COMMIT",
                "CIRCLE_SHA1",
            ]),
            build_url: github_url.or_else(|| {
                first(&[
                    "CI_JOB_URL",
                    "BUILD_URL",
                    "BUILDKITE_BUILD_URL",
                    "CIRCLE_BUILD_URL",
                ])
            }),
            build_name: first(&[
                "GITHUB_WORKFLOW",
                "CI_JOB_NAME",
                "JOB_NAME",
                "BUILDKITE_PIPELINE_SLUG",
                "CIRCLE_JOB",
            ]),
        }
    }
}

/// Expands the arguments: plain paths as they are, `*`, `?` and `**` patterns by walking the
/// directory tree (sorted, so uploads happen in a stable order).
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, StartError> {
    let mut out = Vec::new();
    for pattern in patterns {
        if !pattern.contains(['*', '?']) {
            let p = PathBuf::from(pattern);
            if !p.is_file() && !p.is_dir() {
                return Err(StartError::Config(format!("{pattern}: no such file")));
            }
            if p.is_dir() && !holds_allure_results(&p) {
                return Err(StartError::Config(format!(
                    "{pattern}: a directory is uploaded as Allure results, but it holds no *-result.json"
                )));
            }
            out.push(p);
            continue;
        }
        let parts: Vec<&str> = pattern.split('/').collect();
        let fixed = parts.iter().take_while(|p| !p.contains(['*', '?'])).count();
        let root = if fixed == 0 {
            PathBuf::from(".")
        } else {
            PathBuf::from(parts[..fixed].join("/"))
        };
        let root = if pattern.starts_with('/') && fixed <= 1 {
            PathBuf::from("/")
        } else {
            root
        };
        let mut found = Vec::new();
        walk(&root, &parts[fixed..], &mut found);
        found.sort();
        if found.is_empty() {
            return Err(StartError::Config(format!("{pattern}: no file matches")));
        }
        out.extend(found);
    }
    Ok(out)
}

fn walk(dir: &Path, rest: &[&str], found: &mut Vec<PathBuf>) {
    let Some((first, tail)) = rest.split_first() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    if *first == "**" {
        // `**` matches zero directories here, or one more level below.
        walk(dir, tail, found);
        for e in &entries {
            if e.path().is_dir() {
                walk(&e.path(), rest, found);
            }
        }
        return;
    }
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if !matches(first, &name) {
            continue;
        }
        let path = e.path();
        if tail.is_empty() {
            if path.is_file() {
                found.push(path);
            }
        } else if path.is_dir() {
            walk(&path, tail, found);
        }
    }
}

/// Shell-style matching of one path segment: `*` any run, `?` one character.
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_patterns_match_like_a_shell() {
        assert!(matches("*.xml", "TEST-a.xml"));
        assert!(matches("TEST-?.xml", "TEST-a.xml"));
        assert!(!matches("*.xml", "a.json"));
        assert!(matches("*", ""));
    }

    #[test]
    fn globs_walk_directories_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        for f in ["x.xml", "a/y.xml", "a/b/z.xml", "a/b/skip.json"] {
            std::fs::write(root.join(f), "<testsuite/>").expect("write");
        }
        let pattern = format!("{}/**/*.xml", root.display());
        let found = expand(&[pattern]).expect("expand");
        let names: Vec<String> = found
            .iter()
            .map(|p| {
                p.strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, vec!["a/b/z.xml", "a/y.xml", "x.xml"]);
    }
}
