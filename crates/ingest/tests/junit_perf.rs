//! Parse speed, measured rather than asserted (timings on shared CI machines are noise):
//! `cargo test --release -p testvault-ingest --test junit_perf -- --ignored --nocapture`.

use std::time::Instant;
use testvault_ingest::generate::write_junit;
use testvault_ingest::junit::JunitReader;
use testvault_ingest::{Limits, ResultSource};

#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn parse_speed_100k_cases() {
    let cases = 100_000;
    let mut bytes = Vec::new();
    write_junit(&mut bytes, cases, 42).expect("writing to memory");
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut reader = JunitReader::new(bytes.as_slice(), Limits::default());
        let mut read = 0u64;
        while reader
            .next_result()
            .expect("the generated report parses")
            .is_some()
        {
            read += 1;
        }
        assert_eq!(read, cases);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{cases} cases, {:.1} MB: best of 5 {:.1} ms = {:.0} results/s, {:.0} MB/s",
        bytes.len() as f64 / 1e6,
        best * 1e3,
        cases as f64 / best,
        bytes.len() as f64 / 1e6 / best
    );
}

/// The server's case: a file of a million cases read through a `BufReader`. Prints the speed and
/// the process's peak resident memory, which must not grow with the number of cases.
#[test]
#[ignore = "a measurement: writes ~300 MB to the temp dir; run with --release --ignored --nocapture"]
fn a_million_cases_stream_in_bounded_memory() {
    use std::io::{BufReader, BufWriter};
    let path = std::env::temp_dir().join(format!("testvault-junit-1m-{}.xml", std::process::id()));
    {
        let file = std::fs::File::create(&path).expect("temp file");
        let mut out = BufWriter::new(file);
        write_junit(&mut out, 1_000_000, 7).expect("writing the report");
        std::io::Write::flush(&mut out).expect("flush");
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let before = peak_rss_kib();
    let start = Instant::now();
    let file = std::fs::File::open(&path).expect("temp file");
    let mut reader = JunitReader::new(BufReader::with_capacity(64 * 1024, file), Limits::default());
    let mut read = 0u64;
    while reader
        .next_result()
        .expect("the generated report parses")
        .is_some()
    {
        read += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    assert_eq!(read, 1_000_000);
    println!(
        "1M cases, {:.0} MB from a file: {:.2} s = {:.0} results/s; peak RSS {} KiB before parsing, {} KiB after",
        size as f64 / 1e6,
        elapsed,
        read as f64 / elapsed,
        before.map_or("?".into(), |k| k.to_string()),
        peak_rss_kib().map_or("?".into(), |k| k.to_string()),
    );
}

/// Peak resident set size (Linux `VmHWM`), when the platform says.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
