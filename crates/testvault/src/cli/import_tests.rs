//! `testvault import-tests`: finds the tests in source code by reading it (nothing is run) and
//! sends them to the server, which creates or updates one case per test. Re-running it is
//! idempotent; tests gone from a scanned file mark their case removed.

use super::upload::{Api, Payload, ServerArgs};
use crate::StartError;
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use testvault_sourcescan::{FoundTest, Language, MAX_FILE_BYTES, scan};

#[derive(Debug, Args)]
pub struct ImportTestsArgs {
    /// The project's slug.
    #[arg(long)]
    project: String,
    /// `auto` (by file name) or one of: javascript (jest, mocha, vitest, playwright, cypress),
    /// python (pytest), java (junit), go, rust, csharp (xunit, nunit, mstest).
    #[arg(long, default_value = "auto")]
    framework: String,
    /// Keep each test's source on its case (sealed with the organisation's key).
    #[arg(long)]
    with_source: bool,
    /// Print what was found and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Files or directories to scan (directories recursively, skipping dependencies and build
    /// output: node_modules, target, vendor, dist, build, virtualenvs, hidden directories).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// Directories that hold other people's code or build output.
const SKIP_DIRS: [&str; 9] = [
    "node_modules",
    "target",
    "vendor",
    "dist",
    "build",
    "__pycache__",
    "venv",
    "bin",
    "obj",
];

/// Every file under `paths` that `language` (or detection) reads, sorted.
fn files(paths: &[PathBuf], language: Option<Language>) -> Vec<(PathBuf, Language)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                eprintln!("warning: cannot read {}", path.display());
                continue;
            };
            for entry in entries.flatten() {
                let p = entry.path();
                let name = entry.file_name().to_string_lossy().to_string();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_dir && (name.starts_with('.') || SKIP_DIRS.contains(&name.as_str())) {
                    continue;
                }
                stack.push(p);
            }
            continue;
        }
        let shown = path.to_string_lossy().replace('\\', "/");
        let detected = Language::detect(&shown);
        let chosen = match (language, detected) {
            (Some(forced), Some(found)) if forced == found => Some(forced),
            (Some(_), _) => None,
            (None, found) => found,
        };
        if let Some(lang) = chosen {
            out.push((path, lang));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// A path as the server records it: relative, with `/`, without a leading `./`.
fn shown(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.trim_start_matches("./").to_string()
}

fn test_json(file: &str, t: &FoundTest, with_source: bool) -> Value {
    json!({
        "file": file,
        "suite": t.suite,
        "name": t.name,
        "title": t.title,
        "line": t.line,
        "source": if with_source { Some(&t.source) } else { None },
        "case_id": t.case_id,
        "tags": t.tags,
        "skipped": t.skipped,
        "framework": t.framework,
    })
}

pub async fn run(args: ImportTestsArgs) -> Result<(), StartError> {
    let language = match args.framework.as_str() {
        "auto" => None,
        name => Some(Language::parse(name).ok_or_else(|| {
            StartError::Config(format!(
                "--framework {name}: not one this command knows (see --help)"
            ))
        })?),
    };
    let mut scanned = Vec::new();
    let mut tests = Vec::new();
    for (path, lang) in files(&args.paths, language) {
        let file = shown(&path);
        let text = match std::fs::read(&path) {
            Ok(bytes) if bytes.len() > MAX_FILE_BYTES => {
                eprintln!("warning: {file}: over 4 MiB, skipped");
                continue;
            }
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    eprintln!("warning: {file}: not UTF-8 text, skipped");
                    continue;
                }
            },
            Err(e) => {
                eprintln!("warning: {file}: {e}");
                continue;
            }
        };
        match scan(lang, &text) {
            Ok(found) => {
                if args.dry_run {
                    for t in &found {
                        let mut path = t.suite.clone();
                        path.push(t.name.clone());
                        println!("{file}:{} [{}] {}", t.line, t.framework, path.join(" › "));
                    }
                }
                tests.extend(found.iter().map(|t| test_json(&file, t, args.with_source)));
                scanned.push(file);
            }
            Err(e) => eprintln!("warning: {file}: {e}"),
        }
    }
    println!("found {} tests in {} files", tests.len(), scanned.len());
    if args.dry_run {
        return Ok(());
    }
    let api = Api::connect(&args.server, &args.project)?;
    let body = json!({ "files": scanned, "tests": tests, "with_source": args.with_source });
    let answer = api
        .send(
            "POST",
            &api.path("/cases/import-tests"),
            Payload::Json(body),
            None,
        )
        .await?;
    let r = &answer["data"];
    println!(
        "cases: {} created, {} updated, {} unchanged, {} marked removed, {} back; {} automated tests linked",
        r["created"], r["updated"], r["unchanged"], r["removed"], r["restored"], r["linked"]
    );
    println!("{}/projects/{}/cases", api.base, args.project);
    Ok(())
}
