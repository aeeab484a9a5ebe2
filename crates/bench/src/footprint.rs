//! The resident memory of each service that scripts/local-cluster.sh runs.

use std::path::Path;

const SERVICES: [&str; 5] = [
    "migration",
    "btc_price",
    "create_buy_order",
    "read_model_sync",
    "fetch_buy_orders",
];

/// (service, RSS in MiB) for each running service.
pub(crate) fn resident_set_sizes(run_dir: &Path) -> Vec<(&'static str, f64)> {
    SERVICES
        .iter()
        .filter_map(|service| {
            let pid = std::fs::read_to_string(run_dir.join(format!("{service}.pid"))).ok()?;
            let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok()?;
            let kib: f64 = status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((*service, kib / 1024.0))
        })
        .collect()
}
