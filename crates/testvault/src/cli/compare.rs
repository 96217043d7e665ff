//! `testvault compare`: a run against a base run, as a CI quality gate. Prints what changed and
//! exits with status 1 when the run brought new failures (2 for its own errors).

use super::upload::{Api, Payload, ServerArgs};
use crate::StartError;
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The project's slug.
    #[arg(long)]
    project: String,
    /// The run to check: its number or id.
    #[arg(long)]
    run: String,
    /// The run to compare with: its number or id (default: the latest finished run on
    /// `--base-branch`).
    #[arg(long, conflicts_with = "base_branch")]
    base: Option<String>,
    /// The branch whose latest finished run is the base.
    #[arg(long, default_value = "main")]
    base_branch: String,
    /// A test is slower when it took this many percent longer…
    #[arg(long, default_value_t = 50)]
    slower_pct: i64,
    /// …and at least this many milliseconds longer.
    #[arg(long, default_value_t = 100)]
    slower_min_ms: i64,
    /// Exit with status 1 when there are new failures (the quality gate; on by default).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    fail_on_new_failures: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Tests listed per category in the output.
const SHOWN: usize = 20;

/// Returns the number of new failures the gate counts (0 when the gate is off).
pub async fn run(args: CompareArgs) -> Result<i64, StartError> {
    let api = Api::connect(&args.server, &args.project)?;
    let mut query = format!(
        "?slower_pct={}&slower_min_ms={}",
        args.slower_pct, args.slower_min_ms
    );
    match &args.base {
        Some(b) => query.push_str(&format!("&base={}", encode(b))),
        None => query.push_str(&format!("&base_branch={}", encode(&args.base_branch))),
    }
    let path = api.path(&format!("/runs/{}/compare{query}", encode(&args.run)));
    let answer = api.send("GET", &path, Payload::None, None).await?;
    let v = &answer["data"];
    let count = |k: &str| v["counts"][k].as_i64().unwrap_or(0);
    println!(
        "Run #{} vs #{}: {} new failures, {} fixed, {} still failing, {} slower, {} new tests, {} removed",
        v["head"]["number"],
        v["base"]["number"],
        count("new_failures"),
        count("fixed"),
        count("still_failing"),
        count("slower"),
        count("added"),
        count("removed"),
    );
    for (key, title) in [
        ("new_failures", "New failures"),
        ("fixed", "Fixed"),
        ("slower", "Slower"),
    ] {
        let tests = v[key].as_array().map(Vec::as_slice).unwrap_or_default();
        if tests.is_empty() {
            continue;
        }
        println!("{title}:");
        for t in tests.iter().take(SHOWN) {
            println!("  {}", describe(t));
        }
        if count(key) > SHOWN as i64 {
            println!("  … and {} more", count(key) - SHOWN as i64);
        }
    }
    println!(
        "{}/projects/{}/runs/{}/compare?base={}",
        api.base, args.project, v["head"]["number"], v["base"]["number"]
    );
    if count("new_failures") > v["gate_failures"].as_i64().unwrap_or(0) {
        println!("(quarantined tests' new failures do not count for the gate)");
    }
    Ok(if args.fail_on_new_failures {
        v["gate_failures"].as_i64().unwrap_or(0)
    } else {
        0
    })
}

fn describe(t: &Value) -> String {
    let s = |k: &str| t[k].as_str().unwrap_or_default();
    let quarantined = t["quarantined"].as_bool().unwrap_or(false);
    let mut line = if s("suite").is_empty() {
        s("name").to_string()
    } else {
        format!("{} › {}", s("suite"), s("name"))
    };
    if !s("parameters").is_empty() {
        line.push(' ');
        line.push_str(s("parameters"));
    }
    let ms = |side: &str| t[side]["duration_ms"].as_i64();
    if let (Some(before), Some(after)) = (ms("base"), ms("head")) {
        line.push_str(&format!(" ({before} ms → {after} ms)"));
    }
    if quarantined {
        line.push_str(" [quarantined]");
    }
    line
}

/// A query or path value, percent-encoded (branch names carry `/`).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
