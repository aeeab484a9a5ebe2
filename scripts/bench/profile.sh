#!/usr/bin/env bash
# Where one service's CPU goes under load: a flamegraph from perf.
#   scripts/bench/profile.sh SERVICE SCENARIO [SECONDS]
#   e.g. scripts/bench/profile.sh create_buy_order create
#        scripts/bench/profile.sh fetch_buy_orders fetch
#        scripts/bench/profile.sh read_model_sync create
# Builds the `profiling` profile (the release build with line tables), runs
# the native cluster on it with the fake Coinbase and the benchmark's own
# databases, starts `bench SCENARIO` at C=64, samples SERVICE's CPU with perf
# for SECONDS (default 8; DWARF call graphs, since the binaries keep no frame
# pointers), and writes target/bench/profile-SERVICE-SCENARIO.folded (one
# stack per line, with its samples) and .svg (the flamegraph). When
# PostgreSQL has pg_stat_statements loaded, it also prints the statements'
# calls, plans and time per call for the same load. Needs perf and inferno
# (installed here when missing: Debian's linux-perf, and crates.io's inferno).
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root_dir"
[[ $# -ge 2 ]] || { sed -n '2,15p' "$0"; exit 2; }
service=$1 scenario=$2 seconds=${3:-8}

export WRITE_MODEL_DB_NAME=rsdist_bench_write READ_MODEL_DB_NAME=rsdist_bench_read
export Q_EXCHANGE=rsdist_bench Q_QUEUE=rsdist_bench_buy_order
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/apt.sh
source scripts/apt.sh

command -v perf >/dev/null || apt_install linux-perf
command -v inferno-flamegraph >/dev/null || cargo install --quiet inferno
cargo build --profile profiling --quiet --bins
bin_dir="$root_dir/target/profiling"
out="target/bench/profile-$service-$scenario"
mkdir -p target/bench

# shellcheck source=scripts/bench/databases.sh
source scripts/bench/databases.sh
scripts/local-cluster.sh down >/dev/null 2>&1 || true
scripts/backing-services.sh >/dev/null
fresh_databases "$WRITE_MODEL_DB_NAME" "$READ_MODEL_DB_NAME"
RSDIST_BIN_DIR=$bin_dir FAKE_COINBASE=1 scripts/local-cluster.sh up >/dev/null
trap 'scripts/local-cluster.sh down >/dev/null 2>&1' EXIT
pid=$(cat "target/local-cluster/$service.pid")

# PostgreSQL's own figures, where pg_stat_statements is loaded (its settings
# then exist) and the extension can be made (as the server's superuser).
statements=false
superuser() { runuser -u postgres -- psql -qX -d "$WRITE_MODEL_DB_NAME" "$@"; }
if [[ $(bench_psql -d postgres -Atc "SELECT count(*) FROM pg_settings WHERE name = 'pg_stat_statements.max'") == 1 ]] &&
    superuser -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' -c 'SELECT pg_stat_statements_reset()' >/dev/null 2>&1; then
    statements=true
else
    echo "(no statement figures: load pg_stat_statements in PostgreSQL's shared_preload_libraries for them)"
fi

# Warm up (the first plans, pools, caches), then sample in the middle of a run.
"$bin_dir/bench" "$scenario" -n 5000 -c 64 --json "$out.jsonl" >/dev/null 2>&1
"$bin_dir/bench" "$scenario" -n 1000000 -c 64 --json "$out.jsonl" >/dev/null 2>&1 &
load=$!
sleep 2
perf record --quiet -F 999 --call-graph dwarf,16384 -p "$pid" -o "$out.perf.data" -- sleep "$seconds"
kill "$load" 2>/dev/null || true
wait "$load" 2>/dev/null || true
perf script -i "$out.perf.data" 2>/dev/null | inferno-collapse-perf >"$out.folded"
inferno-flamegraph --title "$service under $scenario, C=64" <"$out.folded" >"$out.svg"
rm -f "$out.perf.data"
echo "== $out.svg"

if $statements; then
    superuser -c "
        SELECT d.datname AS database, calls, plans,
               round((total_exec_time / greatest(calls, 1))::numeric * 1000, 1) AS exec_us,
               round((total_plan_time / greatest(plans, 1))::numeric * 1000, 1) AS plan_us,
               rows / greatest(calls, 1) AS rows_per_call,
               left(regexp_replace(query, '\s+', ' ', 'g'), 70) AS statement
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname IN ('$WRITE_MODEL_DB_NAME', '$READ_MODEL_DB_NAME')
        ORDER BY total_exec_time + total_plan_time DESC LIMIT 12"
fi
