//! The command line: a scenario and a few numbers.

use std::path::PathBuf;

pub(crate) struct Args {
    pub scenario: String,
    pub requests: usize,
    pub concurrency: usize,
    pub rows: u64,
    pub depth: u64,
    pub label: String,
    pub json: PathBuf,
    /// Where `report` writes its table (`bench-table.md`) and `plots/`.
    pub out: PathBuf,
}

const USAGE: &str = "usage: bench create|replay|fetch|load|depth|lag|footprint|report \
    [-n REQUESTS] [-c CONCURRENCY] [--rows ROWS] [--depth DEPTH] [--label LABEL] [--json FILE] \
    [--out DIR]";

impl Args {
    pub(crate) fn parse(mut words: impl Iterator<Item = String>) -> Result<Self, String> {
        let scenario = words.next().ok_or(USAGE)?;
        let mut args = Self {
            scenario,
            requests: 10_000,
            concurrency: 8,
            rows: 1_000_000,
            depth: 999_000,
            label: "now".into(),
            json: PathBuf::from("target/bench/results.jsonl"),
            out: PathBuf::from("target/bench"),
        };
        while let Some(flag) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{flag} takes a number\n{USAGE}"))
            };
            match flag.as_str() {
                "-n" => args.requests = usize::try_from(number()?).map_err(|e| e.to_string())?,
                "-c" => args.concurrency = usize::try_from(number()?).map_err(|e| e.to_string())?,
                "--rows" => args.rows = number()?,
                "--depth" => args.depth = number()?,
                "--label" => args.label = value,
                "--json" => args.json = PathBuf::from(value),
                "--out" => args.out = PathBuf::from(value),
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        Ok(args)
    }
}
