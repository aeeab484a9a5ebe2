//! `bench report`: one run's results as the table that opens
//! docs/performance.md (`bench-table.md`, which scripts/bench.sh splices in
//! between its markers) and as plots (`plots/`).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::cpu::OUTSIDE_THE_CLUSTER;
use crate::plots;
use crate::results::{Results, thousands};

/// Writes `out/bench-table.md` and `out/plots/*.svg` from the results in `json`.
pub(crate) fn write(json: &Path, out: &Path) -> Result<(), String> {
    let results = Results::read(json)?;
    let table = table(&results);
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let path = out.join("bench-table.md");
    std::fs::write(&path, &table).map_err(|e| format!("writing {}: {e}", path.display()))?;
    print!("{table}");
    plots::draw(&results, &out.join("plots"))
}

fn number(row: &Value, field: &str) -> f64 {
    row[field].as_f64().unwrap_or(f64::NAN)
}

/// "6,792/s, p50 9.1 ms, p99 14.7 ms" (and the errors, if any).
fn throughput(row: &Value) -> String {
    let errors: u64 = row["errors"]
        .as_object()
        .map(|e| e.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    format!(
        "{}/s, p50 {:.1} ms, p99 {:.1} ms{}",
        thousands(number(row, "throughput_per_s")),
        number(row, "p50_ms"),
        number(row, "p99_ms"),
        if errors == 0 {
            String::new()
        } else {
            format!(", {errors} errors")
        }
    )
}

/// "**231 µs**: create_buy_order 66, postgres 79, …" (per request).
fn cpu(row: &Value) -> String {
    let Some(groups) = row["cpu_us_per_request"].as_object() else {
        return "not measured".into();
    };
    // The cluster's own processes that worked for it (the load generator
    // and the fake Coinbase are not the cluster's).
    let parts: Vec<String> = groups
        .iter()
        .filter(|(group, _)| group.as_str() != "total")
        .filter(|(group, _)| !OUTSIDE_THE_CLUSTER.contains(&group.as_str()))
        .filter_map(|(group, micros)| Some((group, micros.as_f64()?)))
        .filter(|(_, micros)| *micros >= 0.5)
        .map(|(group, micros)| format!("{group} {micros:.0}"))
        .collect();
    let total = groups.get("total").and_then(Value::as_f64).unwrap_or(0.0);
    format!("**{total:.0} µs**: {}", parts.join(", "))
}

/// One row of the table: the figure, and what was measured.
type Row = (String, String);

fn table(results: &Results) -> String {
    let mut rows: Vec<Row> = throughput_rows(results);
    rows.extend(depth_row(results));
    rows.extend(lag_rows(results));
    rows.extend(footprint_row(results));
    rows.extend(cpu_rows(results));
    rows.extend(pgbench_row(results));
    let mut table = heading(results);
    table.push_str("\n| figure | result |\n|---|---|\n");
    for (figure, result) in rows {
        let _ = writeln!(table, "| {figure} | {result} |");
    }
    table
}

/// Creates, replays and first pages at each concurrency that ran.
fn throughput_rows(results: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    let levels = [1, 8, 32, 64, 128];
    for c in levels {
        if let Some(row) = results.at("create", c) {
            rows.push((format!("creates, C={c}"), throughput(row)));
        }
    }
    if let Some(row) = results.of("replay").last() {
        rows.push((
            format!("replays, C={}", row["concurrency"]),
            throughput(row),
        ));
    }
    for c in levels {
        if let Some(row) = results.at("fetch", c) {
            rows.push((format!("first pages, C={c}"), throughput(row)));
        }
    }
    rows
}

/// The page deep down against the first page.
fn depth_row(results: &Results) -> Option<Row> {
    let top = results.of("depth first page").last()?;
    let deep = results.starting("depth page at")?;
    let depth = deep["scenario"]
        .as_str()?
        .trim_start_matches("depth page at ");
    let figure = format!(
        "a page at row {} of {}, C={}",
        thousands(depth.parse().unwrap_or(f64::NAN)),
        thousands(number(deep, "rows")),
        deep["concurrency"]
    );
    let result = format!(
        "p50 {:.2} ms against {:.2} ms for the first page: {:.2}x",
        number(deep, "p50_ms"),
        number(top, "p50_ms"),
        number(deep, "p50_ratio")
    );
    Some((figure, result))
}

/// The sync lag, idle and under creates.
fn lag_rows(results: &Results) -> Vec<Row> {
    let idle = results
        .starting("lag idle")
        .map(|row| ("sync lag, idle".to_owned(), row));
    let loaded = results.starting("lag under create").map(|row| {
        let scenario = row["scenario"].as_str().unwrap_or_default();
        (
            scenario.replace("lag under create c=", "sync lag, under creates at C="),
            row,
        )
    });
    let latency = |row: &Value| {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms",
            number(row, "p50_ms"),
            number(row, "p99_ms")
        )
    };
    idle.into_iter()
        .chain(loaded)
        .map(|(figure, row)| (figure, latency(row)))
        .collect()
}

/// Each service's RSS after the load.
fn footprint_row(results: &Results) -> Option<Row> {
    let row = results
        .of("footprint")
        .filter(|r| r["label"] == "after-load")
        .last()?;
    let sizes = row["rss_mib"].as_object()?;
    let ours = sizes
        .iter()
        .filter(|(s, _)| !OUTSIDE_THE_CLUSTER.contains(&s.as_str()));
    let listed: Vec<String> = ours
        .map(|(s, m)| format!("{s} {:.1}", m.as_f64().unwrap_or(0.0)))
        .collect();
    Some(("RSS after the load (MiB)".into(), listed.join(", ")))
}

/// The CPU per order and per first page, at C=64.
fn cpu_rows(results: &Results) -> Vec<Row> {
    let order = results
        .at("create", 64)
        .map(|row| ("CPU per order, C=64".to_owned(), cpu(row)));
    let page = results
        .at("fetch", 64)
        .map(|row| ("CPU per first page, C=64".to_owned(), cpu(row)));
    order.into_iter().chain(page).collect()
}

/// pgbench's one-order-per-transaction ceiling.
fn pgbench_row(results: &Results) -> Option<Row> {
    let runs: Vec<String> = results
        .of("pgbench create transaction")
        .map(|row| {
            format!(
                "{} tps at C={}",
                thousands(number(row, "throughput_per_s")),
                row["concurrency"]
            )
        })
        .collect();
    (!runs.is_empty()).then(|| {
        (
            "one order per transaction (pgbench)".into(),
            runs.join(", "),
        )
    })
}

/// Where and when the run was made.
fn heading(results: &Results) -> String {
    let Some(machine) = results.of("machine").last() else {
        return "One run of `scripts/bench.sh`.\n".into();
    };
    let text = |field: &str| machine[field].as_str().unwrap_or("?").to_owned();
    format!(
        "One run of `scripts/bench.sh` at {} on {}: {} cores, {} GiB, {}; the native cluster \
         (release build) with the fake Coinbase, PostgreSQL and RabbitMQ from Debian, and the \
         load generator, all on those cores.\n",
        text("commit"),
        text("date"),
        machine["cores"],
        machine["memory_gib"],
        text("kernel"),
    )
}
