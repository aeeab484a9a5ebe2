#!/usr/bin/env bash
# The standard benchmark: a release build, a fresh native cluster with the
# fake Coinbase on databases and queues of its own, every scenario of
# `bench`, pgbench running the create transaction as the database's ceiling,
# then `down`. Figures go to stdout and to target/bench/results-<time>.jsonl.
#   scripts/bench.sh            the whole run (a few minutes)
# Then `bench report` draws the plots and writes the summary table: into
# docs/plots/ and between the markers at the top of docs/performance.md.
#   BENCH_QUICK=1 scripts/bench.sh   fewer requests, for a smoke run (the
#                                   docs are left alone: its table and plots
#                                   go to target/bench/report/ only)
#   BENCH_BASELINE=REV scripts/bench.sh   then the C=64 scenarios on REV's
#                                   binaries and on these, alternately
#                                   (scripts/bench/before-after.sh)
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"

# Databases and a queue of the benchmark's own, so that it starts empty and
# leaves the everyday cluster's data alone.
export WRITE_MODEL_DB_NAME=rsdist_bench_write READ_MODEL_DB_NAME=rsdist_bench_read
export Q_EXCHANGE=rsdist_bench Q_QUEUE=rsdist_bench_buy_order
# shellcheck source=scripts/env.sh
source scripts/env.sh

scale=1
[[ ${BENCH_QUICK:-0} == 1 ]] && scale=10
n() { echo $(($1 / scale)); }
results="target/bench/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
bench() { target/release/bench "$@" --json "$results"; }
# shellcheck source=scripts/bench/databases.sh
source scripts/bench/databases.sh
# shellcheck source=scripts/bench/doc-table.sh
source scripts/bench/doc-table.sh

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -sr)"
mkdir -p target/bench
printf '{"scenario": "machine", "cores": %s, "memory_gib": %s, "kernel": "%s", "commit": "%s", "date": "%s"}\n' \
    "$(nproc)" "$(free -g | awk '/Mem:/ {print $2}')" "$(uname -sr)" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -u +%Y-%m-%d)" >>"$results"
scripts/local-cluster.sh down >/dev/null 2>&1 || true
scripts/backing-services.sh >/dev/null
fresh_databases "$WRITE_MODEL_DB_NAME" "$READ_MODEL_DB_NAME" rsdist_pgbench
cargo build --release --quiet -p bench
FAKE_COINBASE=1 scripts/local-cluster.sh up
trap 'scripts/local-cluster.sh down' EXIT

echo "== footprint at idle"
bench footprint --label idle
echo "== create, replay, fetch"
bench create -n "$(n 2000)" -c 1
bench create -n "$(n 10000)" -c 8
bench create -n "$(n 20000)" -c 32
bench create -n "$(n 30000)" -c 64
bench create -n "$(n 30000)" -c 128
bench replay -n "$(n 20000)" -c 64
bench fetch -n "$(n 5000)" -c 1
bench fetch -n "$(n 20000)" -c 8
bench fetch -n "$(n 30000)" -c 32
bench fetch -n "$(n 50000)" -c 64
bench fetch -n "$(n 50000)" -c 128
echo "== lag"
bench lag -n "$(n 1000)" -c 64
echo "== footprint after load"
bench footprint --label after-load
echo "== depth"
bench load --rows "$(n 1000000)"
bench depth -n "$(n 5000)" -c 8 --depth "$(n 999000)"

echo "== pgbench: the create transaction alone, on the same PostgreSQL"
for file in migrations/write_model/*.sql; do bench_psql -d rsdist_pgbench -f "$file" >/dev/null; done
for clients in 1 8 64; do
    tps=$(PGPASSWORD=$WRITE_MODEL_DB_PWD pgbench -n -h "$WRITE_MODEL_DB_HOST" -p "$WRITE_MODEL_DB_PORT" \
        -U "$WRITE_MODEL_DB_USER" -f scripts/bench/create_order.sql -c "$clients" -j 2 \
        -T "$((15 / scale + 2))" rsdist_pgbench 2>/dev/null | awk '/^tps/ {print $3; exit}')
    printf '{"scenario": "pgbench create transaction", "concurrency": %s, "throughput_per_s": %s}\n' \
        "$clients" "$tps" >>"$results"
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
create = {r["concurrency"]: r["throughput_per_s"] for r in rows if r["scenario"] == "create"}
ceiling = {r["concurrency"]: r["throughput_per_s"] for r in rows if r["scenario"].startswith("pgbench")}
for c in sorted(ceiling):
    ours = create.get(c)
    ratio = f"{ours / ceiling[c]:.2f}x" if ours else "-"
    print(f"c={c:<3} pgbench {ceiling[c]:>9.1f} tps   create {ours or 0:>9.1f}/s   create/pgbench {ratio}")
PY
echo "== report"
bench report --out target/bench/report
if [[ ${BENCH_QUICK:-0} != 1 ]]; then
    mkdir -p docs/plots
    cp target/bench/report/plots/*.svg docs/plots/
    replace_doc_table bench-table target/bench/report/bench-table.md
    echo "== docs/performance.md's table and docs/plots/ rewritten from $results"
fi
if [[ -n ${BENCH_BASELINE:-} ]]; then
    scripts/local-cluster.sh down >/dev/null
    scripts/bench/before-after.sh "$BENCH_BASELINE" "$results"
fi
echo "== results: $results"
