#!/usr/bin/env bash
# The compose cluster next to the native one, in one run: the size of every
# image, the compose cluster's cold start (`up` from nothing to all healthy),
# and the benchmark's create and first-page fetch at C=64 against each.
# Figures go to stdout and to target/bench/compose-<time>.jsonl.
#   scripts/bench-compose.sh              the whole run (about 5 minutes)
#   BENCH_QUICK=1 scripts/bench-compose.sh   fewer requests, for a smoke run
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
require_docker_engine
find_compose

scale=1
[[ ${BENCH_QUICK:-0} == 1 ]] && scale=10
results="target/bench/compose-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
mkdir -p target/bench
bench() { target/release/bench "$@" --json "$results"; }
scenarios() {
    bench create -n $((30000 / scale)) -c 64 --label "$1"
    bench fetch -n $((50000 / scale)) -c 64 --label "$1"
}

# The images must hold the code the native cluster runs.
if base_images_missing; then ./build_base_images.sh; fi
./build_run_images.sh
cargo build --release --quiet -p bench

echo "== image sizes"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' 'rsdist/*' | sort | tee -a "$results"

echo "== native cluster"
FAKE_COINBASE=1 scripts/local-cluster.sh up
scenarios native
scripts/local-cluster.sh down

echo "== compose cluster"
use_fake_coinbase
# shellcheck disable=SC2064 # the command is fixed now
trap "${compose[*]} down -v >/dev/null 2>&1" EXIT
"${compose[@]}" down -v >/dev/null 2>&1
started_us=${EPOCHREALTIME/./}
"${compose[@]}" up -d >/dev/null 2>&1
wait_until_healthy 300
cold_ms=$(((${EPOCHREALTIME/./} - started_us) / 1000))
echo "cold start: $cold_ms ms from up to all healthy"
printf '{"scenario": "compose cold start", "milliseconds": %s}\n' "$cold_ms" >>"$results"
scenarios compose
