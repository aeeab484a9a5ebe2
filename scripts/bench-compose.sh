#!/usr/bin/env bash
# The compose cluster (what ./run.sh starts) next to the native one, in one
# run on the same machine:
#   - the size of every image;
#   - the compose cluster's cold start (`up` from nothing to all healthy);
#   - the idle CPU of each container over 30 s, of the engine's own processes
#     (dockerd, containerd, the shims, docker-proxy, fuse-overlayfs; the shims' finished
#     children: the runc each healthcheck starts, and the check itself), and
#     of the whole machine against 30 s without the cluster;
#   - creates and first pages at C=64, native and compose alternating, three
#     rounds, as a table of medians and ranges with the compose/native ratio.
# Both clusters are up at once: the native one on the .env ports, the compose
# one (project rsdist_bench) on the ports 20000 above them; each idles while
# the other is measured. Figures go to stdout and to
# target/bench/compose-<time>.jsonl.
#   scripts/bench-compose.sh                   the whole run (about 10 minutes)
#   BENCH_QUICK=1 scripts/bench-compose.sh     fewer requests, one round (a
#       whole run also writes its compose/native table into docs/performance.md)
#   BENCH_PROFILE=1 scripts/bench-compose.sh   also `perf record -a` during a
#       compose create run: the CPU by command, and the report, under target/bench
#   BENCH_REPLICAS=1 scripts/bench-compose.sh  also 1, 2 and 3 API replicas
#       behind the ingress, with the ingress's CPU per request
#   scripts/bench-compose.sh --ha              instead: the default compose
#       cluster against the HA one (docker-compose.ha.yml), one after the
#       other: idle CPU, creates at C=64 (rounds), their p99, the sync lag idle and
#       under load; then the write model's failover under a probe of creates,
#       five times (scripts/ha.sh kill-leader): from the kill to the first
#       create that succeeds after the last one that failed. Table in
#       target/bench/compose-ha.md.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
require_docker_engine
find_compose

scale=1 rounds=3 idle_seconds=30
[[ ${BENCH_QUICK:-0} == 1 ]] && scale=10 rounds=1 idle_seconds=10
results="target/bench/compose-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
mkdir -p target/bench
creates=$((30000 / scale)) pages=$((50000 / scale))

# The compose cluster's published ports, out of the native cluster's way.
compose_ports=(
    "CREATE_BUY_ORDER_EXT_PORT=$((CREATE_BUY_ORDER_EXT_PORT + 20000))"
    "FETCH_BUY_ORDERS_EXT_PORT=$((FETCH_BUY_ORDERS_EXT_PORT + 20000))"
    "INGRESS_STATS_EXT_PORT=$((INGRESS_STATS_EXT_PORT + 20000))"
    "Q_MANAGEMENT_EXT_PORT=$((Q_MANAGEMENT_EXT_PORT + 20000))"
    "FAKE_COINBASE_EXT_PORT=$((FAKE_COINBASE_EXT_PORT + 20000))"
)
export COMPOSE_PROJECT_NAME=rsdist_bench
on_compose() { env "${compose_ports[@]}" "$@"; }

# This machine's own address, not the loopback: a published port reached
# there is forwarded by the kernel, as for a client on another machine; on
# 127.0.0.1 it goes through docker-proxy, a process that copies every byte.
host_address=$(ip -4 -o route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}')
host_address=${host_address:-$(hostname -I | awk '{print $1}')}

# `bench SCENARIO N` against one cluster, under a label: native, compose
# (through this machine's address) or compose-loopback (through 127.0.0.1);
# a label of another name runs through this machine's address too.
bench_on() {
    local label=$1 scenario=$2 n=$3
    case $label in
        native) target/release/bench "$scenario" -n "$n" -c 64 --label native --json "$results" ;;
        compose-loopback)
            on_compose target/release/bench "$scenario" -n "$n" -c 64 --label "$label" --json "$results" ;;
        *) on_compose env BENCH_HOST="$host_address" \
            target/release/bench "$scenario" -n "$n" -c 64 --label "$label" --json "$results" ;;
    esac
}

# CPU time the container of full id $1 (as `compose ps -q` prints it) has
# used, in microseconds (cgroup v1 or v2). Reads files only.
container_cpu_us() {
    local id=$1 file
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

# CPU time of the engine's processes named $1, in microseconds: their own
# (children=0), or that of their finished children (children=1: a shim's are
# the runc of each healthcheck and the check itself, which its container's
# figure counts too).
engine_cpu_us() {
    local process=$1 children=$2 ticks=0 pid stat fields
    for pid in $(pgrep -x "$process"); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        read -ra fields <<<"${stat##*) }"
        # utime, stime, cutime, cstime: fields 14 to 17 of stat(5).
        if ((children)); then
            ticks=$((ticks + fields[13] + fields[14]))
        else
            ticks=$((ticks + fields[11] + fields[12]))
        fi
    done
    echo $((ticks * 1000000 / $(getconf CLK_TCK)))
}

# Busy CPU time of the whole machine, in microseconds (/proc/stat: user,
# nice, system, irq, softirq; not what the hypervisor stole).
machine_cpu_us() {
    local ticks
    ticks=$(awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
    echo $((ticks * 1000000 / $(getconf CLK_TCK)))
}

ENGINE_PROCESSES=(dockerd containerd containerd-shim docker-proxy fuse-overlayfs)

# One line per container of the project and per engine process: name, CPU µs.
# Engine lines start with "~" and the machine's with "~~": sorted after the
# containers, and left out of the containers' sum. Reads files only.
cpu_snapshot() {
    local id
    for id in "${container_ids[@]}"; do
        echo "${container_names[$id]} $(container_cpu_us "$id")"
    done
    local process
    for process in "${ENGINE_PROCESSES[@]}"; do
        echo "~engine:$process $(engine_cpu_us "$process" 0)"
    done
    echo "~engine:shims'-children $(engine_cpu_us containerd-shim 1)"
    echo "~~machine $(machine_cpu_us)"
}

# The project's containers and their names, looked up once: the docker and
# compose commands that look them up use CPU the snapshots would count.
declare -A container_names
find_containers() {
    mapfile -t container_ids < <("${compose[@]}" ps -q)
    local id
    for id in "${container_ids[@]}"; do
        container_names[$id]=$(docker inspect -f '{{.Name}}' "$id" | sed "s|^/${COMPOSE_PROJECT_NAME}_||")
    done
}

# Prints and records the CPU each container and engine process used between
# two snapshots taken $3 seconds apart, as % of one core.
report_cpu() {
    local label=$1 before=$2 seconds=$3 after
    after=$(cpu_snapshot)
    join <(sort <<<"$before") <(sort <<<"$after") | LC_ALL=C sort -k1,1 |
        awk -v s="$seconds" -v label="$label" -v out="$results" '
        function row(name, pct) {
            printf "  %-28s %6.2f %% of a core\n", name, pct
            printf "{\"scenario\": \"%s\", \"process\": \"%s\", \"core_percent\": %.3f}\n", label, name, pct >> out
        }
        { pct = ($3 - $2) / (s * 1e4) }
        $1 ~ /^~/ && !shown { row("containers", containers); shown = 1 }
        $1 !~ /^~/ { containers += pct }
        { row($1, pct) }'
}

# Waits until the ingress has every replica of both APIs up.
wait_until_ingress_has() {
    local replicas=$1 up port
    port=$((INGRESS_STATS_EXT_PORT + 20000))
    for _ in $(seq 120); do
        up=$(curl -fsS "http://127.0.0.1:$port/;csv" |
            awk -F, '($1 == "create_buy_order" || $1 == "fetch_buy_orders") && $2 != "BACKEND" && $18 == "UP"' | wc -l)
        ((up == 2 * replicas)) && return 0
        sleep 1
    done
    echo "bench-compose: the ingress never had $replicas replicas of each API up" >&2
    return 1
}

# The median and range of each scenario's throughput per cluster, and the
# ratio of the medians, as a markdown table.
ratio_table() {
    python3 - "$results" <<'PYTHON'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row.get("label") in ("native", "compose", "compose-loopback") and row.get("concurrency") == 64:
        runs.setdefault((row["scenario"], row["label"]), []).append(row["throughput_per_s"])
print("| C=64 | native | compose | compose / native | compose via 127.0.0.1 | ratio |")
print("|---|---|---|---|---|---|")
cell = lambda xs: f"{statistics.median(xs):,.0f} ({min(xs):,.0f}-{max(xs):,.0f})"
rounds = 0
for scenario, name in (("create", "creates/s"), ("fetch", "first pages/s")):
    native = runs.get((scenario, "native"), [])
    compose = runs.get((scenario, "compose"), [])
    loopback = runs.get((scenario, "compose-loopback"), [])
    if not native or not compose or not loopback:
        continue
    rounds = len(native)
    ratio = lambda xs: statistics.median(xs) / statistics.median(native)
    print(f"| {name} | {cell(native)} | {cell(compose)} | **{ratio(compose):.2f}x** "
          f"| {cell(loopback)} | {ratio(loopback):.2f}x |")
print(f"\nmedian (min-max) of {rounds} rounds, alternating native and compose; compose through"
      " this machine's address (the path of a client on another machine) and through 127.0.0.1"
      " (docker-proxy)")
PYTHON
}

# Samples every CPU with perf during one compose create run, and sums the
# samples by command: where the compose path's time goes.
profile_compose_creates() {
    type -P perf >/dev/null || apt_install linux-perf
    local data=target/bench/compose-perf.data
    perf record -a -F 499 -o "$data" -- sleep 12 >/dev/null 2>&1 &
    local perf_pid=$!
    bench_on "compose create, profiled" create "$creates" >/dev/null
    wait "$perf_pid" || true
    echo "== where the CPU goes under compose creates (perf record -a, samples by command)"
    perf report -i "$data" --stdio --sort comm 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 |
        tee target/bench/compose-perf-by-command.txt
}

# Whether the write model's three nodes all run, one leading and one
# synchronous (Patroni, asked through scripts/ha.sh's compose project).
write_model_whole() {
    local members
    members=$(scripts/ha.sh status 2>/dev/null | grep -E '^\| write_model[0-9]') || return 1
    [[ $(grep -cE '\| (running|streaming) ' <<<"$members") == 3 ]] &&
        grep -q '| Leader ' <<<"$members" && grep -q '| Sync Standby ' <<<"$members"
}

# One create after another with fresh keys, each line "epoch-seconds status",
# until killed.
probe_creates() {
    local port=$((CREATE_BUY_ORDER_EXT_PORT + 20000)) status
    while true; do
        status=$(curl -s -o /dev/null -w '%{http_code}' -m 20 -X PUT "http://$host_address:$port/buy_order" \
            -H 'Content-Type: application/json' "${auth_header[@]}" \
            -d "{\"currency\": \"USD\", \"amount\": \"1.00\", \"idempotence_key\": \"$(cat /proc/sys/kernel/random/uuid)\"}")
        echo "$EPOCHREALTIME $status"
        sleep 0.05
    done
}

# Seconds from the kill at $2 to the first 200 after the last failure, in
# the probe's lines ($1).
failover_seconds() {
    awk -v kill="$2" '$1 >= kill { if ($2 != 200) { failed = 1; back = 0 } else if (!back) back = $1 }
        END { printf "%.1f", (failed && back) ? back - kill : 0 }' "$1"
}

ha_comparison() {
    if ha_images_missing; then build_ha_images; fi
    local cluster files failovers=()
    for cluster in default ha; do
        files=()
        [[ $cluster == ha ]] && files=(-f docker-compose.yml -f docker-compose.ha.yml)
        echo "== the $cluster cluster"
        on_compose "${compose[@]}" "${files[@]}" up -d >target/bench/compose-up.log 2>&1 ||
            { cat target/bench/compose-up.log >&2; exit 1; }
        compose_saved=("${compose[@]}")
        compose+=("${files[@]}")
        wait_until_healthy 420
        echo "-- idle over $idle_seconds s, after 20 s to settle"
        container_ids=() container_names=()
        find_containers
        sleep 20
        local before
        before=$(cpu_snapshot)
        sleep "$idle_seconds"
        report_cpu "$cluster idle" "$before" "$idle_seconds" | grep -E '^  (containers|~~machine)'
        for round in $(seq "$rounds"); do
            bench_on "$cluster" create "$creates"
        done
        bench_on "$cluster" lag "$((2000 / scale))"
        if [[ $cluster == ha ]]; then
            for run in 1 2 3 4 5; do
                until write_model_whole; do sleep 1; done
                probe_creates >target/bench/ha-probe.txt &
                local probe=$! killed_at
                sleep 3
                killed_at=$EPOCHREALTIME
                scripts/ha.sh kill-leader write_model
                until write_model_whole; do sleep 1; done
                sleep 3
                kill "$probe"
                failovers+=("$(failover_seconds target/bench/ha-probe.txt "$killed_at")")
                echo "failover $run: creates back ${failovers[-1]} s after the kill"
                printf '{"scenario": "write model failover", "seconds": %s}\n' "${failovers[-1]}" >>"$results"
            done
        fi
        "${compose[@]}" down -v >/dev/null 2>&1
        compose=("${compose_saved[@]}")
    done
    ha_table | tee target/bench/compose-ha.md
}

# The default and the HA cluster side by side, as a markdown table.
ha_table() {
    python3 - "$results" <<'PYTHON'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def runs(label, scenario):
    return [r for r in rows if r.get("label") == label and r.get("scenario", "").startswith(scenario)]
def median(label, scenario, field):
    xs = [r[field] for r in runs(label, scenario)]
    return statistics.median(xs) if xs else float("nan")
print("| | default cluster | HA cluster |")
print("|---|---|---|")
idle = {r["scenario"]: r["core_percent"] for r in rows if r.get("process") == "containers"}
print(f"| containers | {sum(1 for r in rows if r.get('scenario') == 'default idle' and not r['process'].startswith('~') and r['process'] != 'containers')} "
      f"| {sum(1 for r in rows if r.get('scenario') == 'ha idle' and not r['process'].startswith('~') and r['process'] != 'containers')} |")
print(f"| idle CPU of the containers | {idle.get('default idle', float('nan')):.1f} % of a core | {idle.get('ha idle', float('nan')):.1f} % of a core |")
for name, scenario, field, unit in (
    ("creates/s, C=64", "create", "throughput_per_s", "/s"),
    ("create p99, C=64", "create", "p99_ms", " ms"),
    ("lag idle, p50", "lag idle", "p50_ms", " ms"),
    ("lag idle, p99", "lag idle", "p99_ms", " ms"),
    ("lag under creates, p50", "lag under", "p50_ms", " ms"),
    ("lag under creates, p99", "lag under", "p99_ms", " ms"),
):
    print(f"| {name} | {median('default', scenario, field):,.1f}{unit} | {median('ha', scenario, field):,.1f}{unit} |")
failovers = [r["seconds"] for r in rows if r.get("scenario") == "write model failover"]
if failovers:
    print(f"\nwrite model leader SIGKILLed, {len(failovers)} runs: creates back after "
          f"{statistics.median(failovers):.1f} s (median), {max(failovers):.1f} s (worst)")
PYTHON
}

# The images must hold the code the native cluster runs.
if base_images_missing; then ./build_base_images.sh; fi
./build_run_images.sh
cargo build --release --quiet -p bench

echo "== image sizes"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' 'rsdist/*' | grep -v '<none>' | sort |
    tee >(awk '{printf "{\"scenario\": \"image size\", \"image\": \"%s\", \"size\": \"%s\"}\n", $1, $2}' >>"$results")

use_fake_coinbase
# shellcheck disable=SC2064 # the commands are fixed now
trap "scripts/local-cluster.sh down >/dev/null 2>&1; ${compose[*]} -f docker-compose.yml -f docker-compose.ha.yml down -v >/dev/null 2>&1" EXIT
"${compose[@]}" -f docker-compose.yml -f docker-compose.ha.yml down -v >/dev/null 2>&1

if [[ ${1:-} == --ha ]]; then
    ha_comparison
    exit
fi

echo "== the machine without the cluster, over $idle_seconds s"
before=$(machine_cpu_us)
sleep "$idle_seconds"
quiet_pct=$(awk -v used=$(($(machine_cpu_us) - before)) -v s="$idle_seconds" 'BEGIN {printf "%.2f", used / (s * 1e4)}')
echo "  machine busy: $quiet_pct % of a core"
printf '{"scenario": "machine without the cluster", "core_percent": %s}\n' "$quiet_pct" >>"$results"

echo "== compose cluster (project $COMPOSE_PROJECT_NAME, ports 20000 above .env's)"
started_us=${EPOCHREALTIME/./}
on_compose "${compose[@]}" up -d >target/bench/compose-up.log 2>&1 ||
    { cat target/bench/compose-up.log >&2; exit 1; }
wait_until_healthy 300
cold_ms=$(((${EPOCHREALTIME/./} - started_us) / 1000))
echo "cold start: $cold_ms ms from up to all healthy"
printf '{"scenario": "compose cold start", "milliseconds": %s}\n' "$cold_ms" >>"$results"

echo "== idle CPU over $idle_seconds s, after 20 s to settle"
find_containers
sleep 20
before=$(cpu_snapshot)
sleep "$idle_seconds"
report_cpu "compose idle" "$before" "$idle_seconds"

echo "  (the cluster's own idle cost: the machine's figure less $quiet_pct %)"

echo "== native cluster"
FAKE_COINBASE=1 scripts/local-cluster.sh up >/dev/null

echo "== creates and first pages at C=64, $rounds rounds (compose through $host_address and 127.0.0.1)"
for round in $(seq "$rounds"); do
    echo "-- round $round"
    for scenario in create fetch; do
        n=$creates
        [[ $scenario == fetch ]] && n=$pages
        for label in native compose compose-loopback; do
            bench_on "$label" "$scenario" "$n"
        done
    done
done
for scenario in create fetch; do
    echo "== under load: CPU of each container and engine process during one compose $scenario run"
    n=$creates
    [[ $scenario == fetch ]] && n=$pages
    before=$(cpu_snapshot)
    load_started=${EPOCHREALTIME/./}
    bench_on "compose $scenario, CPU" "$scenario" "$n" >/dev/null
    report_cpu "compose $scenario" "$before" "$(((${EPOCHREALTIME/./} - load_started) / 1000000))"
done

if [[ ${BENCH_PROFILE:-0} == 1 ]]; then profile_compose_creates; fi

echo "== compose / native"
ratio_table | tee target/bench/compose-ratio.md
# A whole run's table replaces the one at the top of docs/performance.md.
if [[ ${BENCH_QUICK:-0} != 1 ]]; then
    {
        echo "One run of \`scripts/bench-compose.sh\` at $(git rev-parse --short HEAD 2>/dev/null || echo unknown) on $(date -u +%Y-%m-%d):"
        echo
        cat target/bench/compose-ratio.md
    } >target/bench/compose-table.md
    # shellcheck source=scripts/bench/doc-table.sh
    source scripts/bench/doc-table.sh
    replace_doc_table compose-table target/bench/compose-table.md
fi

if [[ ${BENCH_REPLICAS:-0} == 1 ]]; then
    echo "== compose cluster: 1, 2 and 3 replicas of each API behind the ingress"
    for replicas in 1 2 3; do
        on_compose "${compose[@]}" up -d --no-recreate --scale "create_buy_order=$replicas" \
            --scale "fetch_buy_orders=$replicas" >/dev/null 2>&1
        wait_until_healthy 300
        wait_until_ingress_has "$replicas"
        ingress=$("${compose[@]}" ps -q ingress)
        before=$(container_cpu_us "$ingress")
        bench_on "compose, $replicas API replicas" create "$creates"
        bench_on "compose, $replicas API replicas" fetch "$pages"
        used=$(($(container_cpu_us "$ingress") - before))
        per_request=$(awk -v used="$used" -v n=$((creates + pages)) 'BEGIN {printf "%.1f", used / n}')
        echo "ingress CPU with $replicas replicas: $per_request µs per request ($used µs for $((creates + pages)))"
        printf '{"scenario": "ingress cpu", "replicas": %s, "microseconds_per_request": %s}\n' \
            "$replicas" "$per_request" >>"$results"
    done
fi
