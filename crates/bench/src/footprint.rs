//! The resident memory of each service that scripts/local-cluster.sh runs.

use std::path::Path;

/// (service, RSS in MiB) for each running service: those with a pid file in
/// `run_dir` (`<service>.pid`), by name.
pub(crate) fn resident_set_sizes(run_dir: &Path) -> Vec<(String, f64)> {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return Vec::new();
    };
    let mut pid_files: Vec<_> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".pid").map(str::to_owned))
        .collect();
    pid_files.sort();
    pid_files
        .into_iter()
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
            Some((service, kib / 1024.0))
        })
        .collect()
}
