//! docs/performance.md opens with the tables the benchmark scripts write
//! between their markers: they must be there, and parse.

const PERFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/performance.md");

/// The lines between `<!-- {name}:start -->` and `<!-- {name}:end -->`.
fn between_markers(text: &str, name: &str) -> Vec<String> {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let from = text.find(&start).unwrap_or_else(|| panic!("no {start}")) + start.len();
    let to = text[from..]
        .find(&end)
        .unwrap_or_else(|| panic!("no {end}"))
        + from;
    text[from..to].lines().map(str::to_owned).collect()
}

/// The rows of the markdown table among `lines`, each split into its cells;
/// panics unless every row has as many cells as the header.
fn table(lines: &[String]) -> Vec<Vec<String>> {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .filter(|line| line.starts_with('|'))
        .map(|line| {
            let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
            inner
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect();
    assert!(rows.len() >= 3, "no table: {lines:?}");
    assert!(
        rows[1]
            .iter()
            .all(|cell| cell.chars().all(|c| c == '-' || c == ':')),
        "no separator: {:?}",
        rows[1]
    );
    for row in &rows {
        assert_eq!(row.len(), rows[0].len(), "a row of another width: {row:?}");
        assert!(
            row.iter().all(|cell| !cell.is_empty()),
            "an empty cell: {row:?}"
        );
    }
    rows
}

#[test]
fn performance_opens_with_the_benchmarks_table_which_parses() {
    let text = std::fs::read_to_string(PERFORMANCE).expect("docs/performance.md");
    let lines = between_markers(&text, "bench-table");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("One run of `scripts/bench.sh` at")),
        "{lines:?}"
    );
    let rows = table(&lines);
    let figures: Vec<&str> = rows[2..].iter().map(|row| row[0].as_str()).collect();
    for wanted in [
        "creates, C=1",
        "creates, C=8",
        "creates, C=64",
        "first pages, C=64",
        "sync lag, idle",
        "CPU per order, C=64",
    ] {
        assert!(figures.contains(&wanted), "no {wanted:?} in {figures:?}");
    }
    let creates = &rows[2..]
        .iter()
        .find(|row| row[0] == "creates, C=64")
        .expect("the row")[1];
    assert!(
        creates.contains("/s, p50 ") && creates.contains(" ms, p99 "),
        "{creates}"
    );
    let compose = table(&between_markers(&text, "compose-table"));
    assert!(
        compose[2..].iter().any(|row| row[0] == "creates/s"),
        "{compose:?}"
    );
}

#[test]
fn performance_shows_the_plots_the_benchmark_draws() {
    let text = std::fs::read_to_string(PERFORMANCE).expect("docs/performance.md");
    for plot in ["concurrency", "create-latency", "sync-lag"] {
        assert!(
            text.contains(&format!("(plots/{plot}.svg)")),
            "{plot} is not shown"
        );
        let path = format!("{}/../../docs/plots/{plot}.svg", env!("CARGO_MANIFEST_DIR"));
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path}"));
        assert!(
            svg.starts_with("<svg") && svg.contains("<text"),
            "{plot}: no SVG with text"
        );
    }
}
