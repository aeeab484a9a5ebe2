//! `bench`: drives a running cluster over HTTP and measures it. Each scenario
//! prints a table row and appends one JSON object to `--json` (default
//! `target/bench/results.jsonl`), so runs can be compared.
//!
//! ```text
//! bench create    [-n N] [-c C]    N creates with fresh keys, C at a time, with
//!                                  the CPU per request of each process (`cpu`)
//! bench replay    [-n N] [-c C]    replays of existing keys
//! bench fetch     [-n N] [-c C]    the first page, with the CPU per request
//! bench load      [--rows R]       R synthetic rows straight into the read model (COPY)
//! bench depth     [-n N] [--depth D]  a page at depth D against the first page
//! bench lag       [-n N] [-c C]    PUT's 200 to visible in GET, idle and under C creates
//! bench footprint [--label L]      RSS of each service of scripts/local-cluster.sh
//! bench report    [--json F] [--out D]  from a run's results: the summary table
//!                                  (D/bench-table.md) and the plots (D/plots/*.svg)
//! ```
//! URLs and database settings come from the environment (`.env` names).

mod args;
mod cpu;
mod driver;
mod footprint;
mod http;
mod loader;
mod plots;
mod report;
mod results;
mod scenarios;
mod summary;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match scenarios::run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}
