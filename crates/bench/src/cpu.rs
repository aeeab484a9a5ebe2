//! The CPU time each process of the cluster spends, from `/proc/<pid>/stat`:
//! sampled before and after a scenario, divided by its requests, it is the
//! CPU one request costs each process. On a machine where everything shares
//! the cores, the cluster's throughput is bounded by cores / total CPU per
//! request, so this is what to cut.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Linux reports process times in USER_HZ ticks, 100 a second on every
/// architecture it runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time so far, by process group: each service of
/// scripts/local-cluster.sh by name, `postgres` (every PostgreSQL process),
/// `rabbitmq` (the Erlang VM and its helpers) and `bench` (the load).
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuSample(BTreeMap<String, Duration>);

/// Groups that load the cluster or stand in for a third party: shown, but
/// not counted in the cluster's total.
pub(crate) const OUTSIDE_THE_CLUSTER: [&str; 2] = ["bench", "fake_coinbase"];

impl CpuSample {
    /// Reads every process now.
    pub(crate) fn now(run_dir: &Path) -> Self {
        let mut groups: BTreeMap<String, Duration> = BTreeMap::new();
        let services = service_pids(run_dir);
        let own = std::process::id().to_string();
        for pid in all_pids() {
            let Some((command, time)) = stat(&pid) else {
                continue;
            };
            let group = if pid == own {
                Some("bench".to_owned())
            } else if let Some(service) = services.get(&pid) {
                Some(service.clone())
            } else {
                group_of(&command).map(str::to_owned)
            };
            if let Some(group) = group {
                *groups.entry(group).or_default() += time;
            }
        }
        Self(groups)
    }

    /// The CPU each group spent since `earlier`, per request, in µs; with
    /// `total`, the sum over the cluster's own groups.
    pub(crate) fn per_request_since(
        &self,
        earlier: &Self,
        requests: usize,
    ) -> BTreeMap<String, f64> {
        let requests = requests.max(1) as f64;
        let mut spent: BTreeMap<String, f64> = self
            .0
            .iter()
            .map(|(group, now)| {
                let before = earlier.0.get(group).copied().unwrap_or_default();
                let micros = now.saturating_sub(before).as_secs_f64() * 1e6;
                (group.clone(), micros / requests)
            })
            .collect();
        let total = spent
            .iter()
            .filter(|(group, _)| !OUTSIDE_THE_CLUSTER.contains(&group.as_str()))
            .map(|(_, micros)| micros)
            .sum();
        spent.insert("total".into(), total);
        spent
    }
}

/// PostgreSQL and RabbitMQ processes by their command name.
fn group_of(command: &str) -> Option<&'static str> {
    match command {
        "postgres" => Some("postgres"),
        "beam.smp" | "erl_child_setup" | "epmd" | "inet_gethost" => Some("rabbitmq"),
        _ => None,
    }
}

/// pid → service, from the pid files of scripts/local-cluster.sh.
fn service_pids(run_dir: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            let service = name.strip_suffix(".pid")?.to_owned();
            let pid = std::fs::read_to_string(run_dir.join(&name)).ok()?;
            Some((pid.trim().to_owned(), service))
        })
        .collect()
}

fn all_pids() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// The command name and the CPU time of a process, its own and that of the
/// children it has reaped (PostgreSQL backends that ended, say).
fn stat(pid: &str) -> Option<(String, Duration)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_stat(text: &str) -> Option<(String, Duration)> {
    // The name is in parentheses and may hold spaces; the fields follow it.
    let (head, rest) = text.rsplit_once(')')?;
    let command = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime, cstime: fields 14 to 17 of stat(5), 12 to 15 here.
    let ticks: u64 = fields
        .get(11..15)?
        .iter()
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    Some((
        command,
        Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_name_and_the_cpu_of_the_process_and_its_reaped_children() {
        // utime 250, stime 50, cutime 100, cstime 25 ticks: 4.25 s.
        let line = "4242 (postgres: rsdist (x) idle) S 1 4242 4242 0 -1 4194560 \
                    982 0 0 0 250 50 100 25 20 0 1 0 123 456 789";
        let (name, time) = parse_stat(line).expect("a stat line");
        assert_eq!(name, "postgres: rsdist (x) idle");
        assert_eq!(time, Duration::from_millis(4250));
        assert_eq!(parse_stat("4242 (cut short) S 1 2"), None);
    }

    #[test]
    fn the_total_counts_the_cluster_and_not_the_load_or_the_fake_coinbase() {
        let sample = |pairs: &[(&str, u64)]| {
            CpuSample(
                pairs
                    .iter()
                    .map(|(group, ms)| ((*group).to_owned(), Duration::from_millis(*ms)))
                    .collect(),
            )
        };
        let before = sample(&[("bench", 100), ("postgres", 100)]);
        let after = sample(&[
            ("bench", 900),
            ("postgres", 300),
            ("create_buy_order", 200),
            ("fake_coinbase", 50),
        ]);
        let spent = after.per_request_since(&before, 100);
        // (200 ms + 200 ms) over 100 requests: 4,000 µs each.
        assert_eq!(spent["total"], 4_000.0);
        assert_eq!(spent["bench"], 8_000.0);
        assert_eq!(spent["postgres"], 2_000.0);
    }
}
