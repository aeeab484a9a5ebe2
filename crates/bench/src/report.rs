//! The table row on stdout and the JSON line in the results file.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::args::Args;
use crate::driver::Measured;

/// Prints a row for `measured` and appends it, with `extra` and the run's
/// label, to the run's JSON lines.
pub(crate) fn record(
    args: &Args,
    scenario: &str,
    concurrency: usize,
    measured: &Measured,
    extra: Value,
) {
    let errors = measured.errors();
    println!(
        "{scenario:<22} c={concurrency:<4} n={:<8} {:>9.1}/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  errors {:?}",
        measured.requests,
        measured.throughput(),
        measured.millis(0.50),
        measured.millis(0.90),
        measured.millis(0.99),
        measured.latencies.max() as f64 / 1000.0,
        errors,
    );
    let mut line = json!({
        "scenario": scenario,
        "label": args.label,
        "concurrency": concurrency,
        "requests": measured.requests,
        "seconds": measured.elapsed.as_secs_f64(),
        "throughput_per_s": measured.throughput(),
        "p50_ms": measured.millis(0.50),
        "p90_ms": measured.millis(0.90),
        "p99_ms": measured.millis(0.99),
        "max_ms": measured.latencies.max() as f64 / 1000.0,
        "errors": errors.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "cdf_ms": cdf(measured),
    });
    if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), extra) {
        line.extend(extra);
    }
    append(&args.json, &line);
}

/// The latency distribution as `[quantile, ms]` pairs: every percentile,
/// then the 99.9th and the maximum, for the plots.
fn cdf(measured: &Measured) -> Vec<[f64; 2]> {
    let quantiles = (1..=99).map(|p| f64::from(p) / 100.0).chain([0.999, 1.0]);
    quantiles.map(|q| [q, measured.millis(q)]).collect()
}

/// Appends one JSON object as a line.
pub(crate) fn append(json: &Path, line: &Value) {
    if let Some(dir) = json.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(json)
        .and_then(|mut file| writeln!(file, "{line}"));
    if let Err(error) = written {
        eprintln!("bench: cannot write {}: {error}", json.display());
    }
}
