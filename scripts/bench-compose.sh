#!/usr/bin/env bash
# The compose cluster next to the native one, in one run: the size of every
# image, the compose cluster's cold start (`up` from nothing to all healthy),
# and the benchmark's create and first-page fetch at C=64 against each; then
# the same through the ingress with 1, 2 and 3 replicas of each API, with
# the ingress's CPU per request. Figures go to stdout and to
# target/bench/compose-<time>.jsonl.
#   scripts/bench-compose.sh              the whole run (about 8 minutes)
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
creates=$((30000 / scale)) pages=$((50000 / scale))
scenarios() {
    bench create -n "$creates" -c 64 --label "$1"
    bench fetch -n "$pages" -c 64 --label "$1"
}

# CPU time a container has used, in microseconds (cgroup v1 or v2).
container_cpu_us() {
    local id file
    id=$(docker inspect -f '{{.Id}}' "$1")
    for file in "/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage" \
        "/sys/fs/cgroup/system.slice/docker-$id.scope/cpu.stat" "/sys/fs/cgroup/docker/$id/cpu.stat"; do
        [[ -r $file ]] || continue
        case $file in
            *cpuacct.usage) echo $(($(cat "$file") / 1000)) ;;
            *) awk '$1 == "usage_usec" {print $2}' "$file" ;;
        esac
        return 0
    done
    echo "bench-compose: no cgroup CPU figures for $1" >&2
    echo 0
}

# Waits until the ingress has every replica of both APIs up.
wait_until_ingress_has() {
    local replicas=$1 up
    for _ in $(seq 120); do
        up=$(curl -fsS "http://127.0.0.1:$INGRESS_STATS_EXT_PORT/;csv" |
            awk -F, '($1 == "create_buy_order" || $1 == "fetch_buy_orders") && $2 != "BACKEND" && $18 == "UP"' | wc -l)
        ((up == 2 * replicas)) && return 0
        sleep 1
    done
    echo "bench-compose: the ingress never had $replicas replicas of each API up" >&2
    return 1
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

echo "== compose cluster: 1, 2 and 3 replicas of each API behind the ingress"
for replicas in 1 2 3; do
    "${compose[@]}" up -d --no-recreate --scale "create_buy_order=$replicas" \
        --scale "fetch_buy_orders=$replicas" >/dev/null 2>&1
    wait_until_healthy 300
    wait_until_ingress_has "$replicas"
    ingress=$("${compose[@]}" ps -q ingress)
    before=$(container_cpu_us "$ingress")
    scenarios "compose, $replicas API replicas"
    used=$(($(container_cpu_us "$ingress") - before))
    per_request=$(awk -v used="$used" -v n=$((creates + pages)) 'BEGIN {printf "%.1f", used / n}')
    echo "ingress CPU with $replicas replicas: $per_request µs per request ($used µs for $((creates + pages)))"
    printf '{"scenario": "ingress cpu", "replicas": %s, "microseconds_per_request": %s}\n' \
        "$replicas" "$per_request" >>"$results"
done
