//! The event names (and the metric names): every one the code emits is a constant of
//! `platform::events` (no name written in place), and the constants and the
//! catalogue in docs/operations.md name the same events.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The values of the `pub const X: &str = "value";` lines of events.rs.
fn constants() -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/crates/platform/src/events.rs"))
        .expect("reading events.rs");
    text.lines()
        .filter(|line| line.starts_with("pub const "))
        .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
        .collect()
}

/// The names in the first column of the tables of a `## ` section of
/// docs/operations.md, up to the next section of that level.
fn first_column_of(section: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/docs/operations.md"))
        .expect("reading docs/operations.md");
    let heading = format!("## {section}\n");
    let rest = text.split(&heading).nth(1).expect(&heading);
    let rest = rest.split("\n## ").next().unwrap_or_default();
    rest.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next().map(str::to_owned))
        .collect()
}

/// The names in the first column of the catalogue's tables.
fn catalogue() -> BTreeSet<String> {
    first_column_of("The catalogue")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The argument text of every `tracing::<level>!(...)` in `source`.
fn tracing_calls(source: &str) -> Vec<&str> {
    let mut calls = Vec::new();
    for level in ["trace", "debug", "info", "warn", "error"] {
        let opening = format!("tracing::{level}!(");
        for (start, _) in source.match_indices(&opening) {
            let body = &source[start + opening.len()..];
            calls.push(&body[..closing_paren(body)]);
        }
    }
    calls
}

/// Where the parenthesis that `text` is inside closes (strings skipped).
fn closing_paren(text: &str) -> usize {
    let (mut depth, mut in_string, mut escaped) = (1, false, false);
    for (at, c) in text.char_indices() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') => in_string = false,
            (false, '"') => in_string = true,
            (false, '(') => depth += 1,
            (false, ')') if depth == 1 => return at,
            (false, ')') => depth -= 1,
            _ => {}
        }
    }
    panic!("an unclosed tracing call");
}

#[test]
fn every_event_is_named_by_a_constant_of_platform_events() {
    let mut files = Vec::new();
    for dir in ["services", "crates/platform/src"] {
        rust_files(&Path::new(ROOT).join(dir), &mut files);
    }
    let mut named_in_place = Vec::new();
    for file in files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "tests"))
    {
        let source = std::fs::read_to_string(file).expect("reading a source file");
        for call in tracing_calls(&source) {
            if !call.contains("message = ") {
                named_in_place.push(format!("{}: {}", file.display(), call.trim()));
            }
        }
    }
    assert!(
        named_in_place.is_empty(),
        "events named in place, not through platform::events:\n{}",
        named_in_place.join("\n")
    );
}

#[test]
fn the_constants_and_the_catalogue_name_the_same_events() {
    let (constants, catalogue) = (constants(), catalogue());
    let uncatalogued: Vec<_> = constants.difference(&catalogue).collect();
    let stale: Vec<_> = catalogue.difference(&constants).collect();
    assert!(
        uncatalogued.is_empty(),
        "emitted but missing from docs/operations.md: {uncatalogued:?}"
    );
    assert!(
        stale.is_empty(),
        "in docs/operations.md but never emitted: {stale:?}"
    );
}

/// The names of every `metrics::{counter,gauge,histogram}!("name"` in the
/// services' and the platform's code.
fn recorded_metrics() -> BTreeSet<String> {
    let mut files = Vec::new();
    for dir in ["services", "crates/platform/src"] {
        rust_files(&Path::new(ROOT).join(dir), &mut files);
    }
    let mut names = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("reading a source file");
        for kind in ["counter", "gauge", "histogram"] {
            let opening = format!("metrics::{kind}!(\"");
            for (start, _) in source.match_indices(&opening) {
                let rest = &source[start + opening.len()..];
                names.extend(rest.split('"').next().map(str::to_owned));
            }
        }
    }
    names
}

/// The names in the first column of the metrics table.
fn documented_metrics() -> BTreeSet<String> {
    first_column_of("Metrics")
}

#[test]
fn every_metric_recorded_is_documented_and_every_documented_one_recorded() {
    let (recorded, documented) = (recorded_metrics(), documented_metrics());
    assert!(recorded.len() > 10, "found only {recorded:?}");
    let undocumented: Vec<_> = recorded.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&recorded).collect();
    assert!(
        undocumented.is_empty(),
        "recorded but missing from docs/operations.md: {undocumented:?}"
    );
    assert!(stale.is_empty(), "documented but never recorded: {stale:?}");
}
