#!/usr/bin/env bash
# Before and after, in one run: creates and first pages at C=64, the sync lag
# under load and the footprint, measured on a baseline revision's binaries and
# on this tree's, alternately (before, after, before, after, ...), each time on
# fresh databases, so that the machine's drift falls on both sides alike.
#   scripts/bench/before-after.sh REV RESULTS   (scripts/bench.sh runs it
#                                                when BENCH_BASELINE=REV)
# REV's binaries are built once, in a worktree with a target dir of its own,
# into target/bench/baseline-REV/. BENCH_PROFILE=profiling compares the
# `profiling` builds instead of the release ones (the same code, with line
# tables; handy when profile.sh has built them already), with the baseline in
# target/bench/baseline-REV-profiling/. BENCH_ROUNDS (default 3) pairs are run;
# BENCH_QUICK=1 makes each smaller. The JSON lines go to RESULTS with
# "side" and "round"; the summary gives each figure's median and range.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root_dir"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/services.sh
source scripts/services.sh
# shellcheck source=scripts/bench/databases.sh
source scripts/bench/databases.sh

rev=$(git rev-parse --short "$1")
results=$2
profile=${BENCH_PROFILE:-release}
baseline="$root_dir/target/bench/baseline-$rev"
[[ $profile == release ]] || baseline+="-$profile"
after="$root_dir/target/$profile"
scale=1
[[ ${BENCH_QUICK:-0} == 1 ]] && scale=10
binaries=("${RUST_SERVICES[@]}" fake_coinbase)

build_baseline() {
    [[ -x $baseline/fake_coinbase ]] && return
    echo "== building $rev's $profile binaries into $baseline"
    local src="$root_dir/target/bench/src-$rev"
    git worktree add --force --detach "$src" "$rev" >/dev/null
    CARGO_TARGET_DIR="$root_dir/target/bench/target-baseline" \
        cargo build --profile "$profile" --quiet --bins --manifest-path "$src/Cargo.toml"
    mkdir -p "$baseline"
    for binary in "${binaries[@]}"; do
        cp "$root_dir/target/bench/target-baseline/$profile/$binary" "$baseline/"
    done
    git worktree remove --force "$src"
}

# One side of one round: the cluster on `bin_dir`, the scenarios, down.
measure() {
    local side=$1 round=$2 bin_dir=$3 lines
    lines=$(mktemp)
    echo "== $side (round $round): $bin_dir"
    fresh_databases "$WRITE_MODEL_DB_NAME" "$READ_MODEL_DB_NAME"
    RSDIST_BIN_DIR=$bin_dir FAKE_COINBASE=1 scripts/local-cluster.sh up >/dev/null 2>&1
    "$after/bench" create -n $((20000 / scale)) -c 64 --json "$lines"
    "$after/bench" fetch -n $((40000 / scale)) -c 64 --json "$lines"
    "$after/bench" lag -n $((200 / scale)) -c 64 --json "$lines"
    "$after/bench" footprint --label "$side" --json "$lines"
    scripts/local-cluster.sh down >/dev/null 2>&1
    python3 -c '
import json, sys
side, round_, out = sys.argv[1], int(sys.argv[2]), open(sys.argv[4], "a")
for line in open(sys.argv[3]):
    row = json.loads(line)
    row.update(side=side, round=round_)
    out.write(json.dumps(row) + "\n")
' "$side" "$round" "$lines" "$results"
    rm -f "$lines"
}

build_baseline
cargo build --profile "$profile" --quiet --bins
for round in $(seq "${BENCH_ROUNDS:-3}"); do
    measure before "$round" "$baseline"
    measure after "$round" "$after"
done

echo "== before ($rev) and after ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +changes)): median [min-max] of ${BENCH_ROUNDS:-3} rounds"
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if '"side"' in line]

def figures(row):
    if row["scenario"] == "footprint":
        return {f"RSS MiB {name}": mib for name, mib in row["rss_mib"].items()}
    scenario = row["scenario"].split(" c=")[0]
    out = {f"{scenario}: req/s": row["throughput_per_s"], f"{scenario}: p99 ms": row["p99_ms"]}
    for process, micros in row.get("cpu_us_per_request", {}).items():
        out[f"{scenario}: CPU µs/request {process}"] = micros
    return out

series = {}
for row in rows:
    for name, value in figures(row).items():
        series.setdefault(name, {}).setdefault(row["side"], []).append(value)

def show(values):
    if not values:
        return "-"
    return f"{statistics.median(values):,.1f} [{min(values):,.1f}-{max(values):,.1f}]"

print(f"{'figure':<48} {'before':>28} {'after':>28}")
for name, sides in series.items():
    print(f"{name:<48} {show(sides.get('before')):>28} {show(sides.get('after')):>28}")
PY
