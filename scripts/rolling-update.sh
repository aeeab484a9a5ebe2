#!/usr/bin/env bash
# Replaces the running replicas of a stateless service of the compose
# cluster one at a time, so that no request fails:
#   scripts/rolling-update.sh SERVICE
# SERVICE is create_buy_order, fetch_buy_orders, read_model_sync or btc_price.
# Build the new image first (./build_run_images.sh); run this with the
# environment ./run.sh had (FAKE_COINBASE=1 if it had that), since compose
# gives the replacement the configuration it reads now.
#
# For each running replica: start a replacement from the current image and
# configuration; wait until its own /healthcheck answers 200 (asked at its
# address on the compose network, not through the engine, whose checks run
# only every 30 s) and, for an API, until the ingress sends it requests; then stop the old one (`docker stop`: it answers its
# healthcheck with 503, drains and exits) and remove it. A replacement that
# is not healthy within ROLLING_UPDATE_HEALTHY_WITHIN_S (default 120) is
# removed, the old replicas go on serving, and the script fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

ROLLED=(create_buy_order fetch_buy_orders read_model_sync btc_price)
# The APIs, whose replicas the ingress must have taken in before an old one goes.
BEHIND_INGRESS=(create_buy_order fetch_buy_orders)
healthy_within=${ROLLING_UPDATE_HEALTHY_WITHIN_S:-120}

log() { printf 'rolling-update: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
is_one_of() { local word=$1; shift; [[ " $* " == *" $word "* ]]; }

check_service() {
    local service=$1
    [[ -n $service ]] || die "usage: scripts/rolling-update.sh SERVICE (one of: ${ROLLED[*]})"
    if is_one_of "$service" "${INFRASTRUCTURE_SERVICES[@]}" migration; then
        die "$service is not rolled: it is a stateful store or runs once; only ${ROLLED[*]} are"
    fi
    is_one_of "$service" "${ROLLED[@]}" || die "unknown service '$service': only ${ROLLED[*]} are rolled"
}

# The ids of the running containers of a service.
running_replicas() {
    local id
    for id in $("${compose[@]}" ps -q "$1"); do
        [[ $(docker inspect -f '{{.State.Running}}' "$id") == true ]] && echo "$id"
    done
    return 0
}

health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }

address_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }

# Whether the ingress has the server at address:port of backend $1 up.
ingress_sends_to() {
    local backend=$1 address=$2
    curl -fsS "http://127.0.0.1:$INGRESS_STATS_EXT_PORT/;csv" | awk -F, -v backend="$backend" -v address="$address" '
        NR == 1 { for (i = 1; i <= NF; i++) column[$i] = i; next }
        $1 == backend && $column["addr"] == address && $column["status"] == "UP" { found = 1 }
        END { exit !found }'
}

# Whether the replica's own healthcheck at address:port answers 200.
answers_healthy() { curl -fsS --max-time 2 -o /dev/null "http://$1/healthcheck"; }

# Waits until the new replica is healthy and, for an API, taken in by the ingress.
wait_until_serving() {
    local service=$1 id=$2 deadline=$((SECONDS + healthy_within)) port_variable endpoint
    port_variable=${service^^}_PORT
    endpoint="$(address_of "$id"):${!port_variable}"
    until answers_healthy "$endpoint"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
    is_one_of "$service" "${BEHIND_INGRESS[@]}" || return 0
    until ingress_sends_to "$service" "$endpoint"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

# Starts one more replica from the current image; prints its id.
start_replacement() {
    local service=$1 count=$2 before id
    before=$("${compose[@]}" ps -q "$service")
    "${compose[@]}" up -d --no-deps --no-recreate --scale "$service=$((count + 1))" "$service" >&2
    for id in $("${compose[@]}" ps -q "$service"); do
        grep -qx "$id" <<<"$before" || { echo "$id"; return 0; }
    done
    die "compose started no new replica of $service"
}

replace() {
    local service=$1 old=$2 count=$3 new
    new=$(start_replacement "$service" "$count")
    log "started ${new:0:12} to replace ${old:0:12}"
    if ! wait_until_serving "$service" "$new"; then
        log "${new:0:12} did not become healthy and serving within $healthy_within s ($(health_of "$new")); its last healthcheck:"
        docker inspect -f '{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}' "$new" | tail -n 3 >&2 || true
        docker rm -f "$new" >/dev/null
        die "$service not updated: the old replicas go on serving"
    fi
    log "${new:0:12} is serving; stopping ${old:0:12}"
    docker stop -t 30 "$old" >/dev/null
    docker rm "$old" >/dev/null
}

main() {
    local service=${1:-} old count
    check_service "$service"
    find_compose
    require_docker_engine
    if [[ ${FAKE_COINBASE:-0} == 1 ]]; then use_fake_coinbase; fi
    mapfile -t old < <(running_replicas "$service")
    count=${#old[@]}
    ((count > 0)) || die "$service is not running: start the cluster first (./run.sh)"
    log "replacing $count replica(s) of $service, one at a time"
    local id
    for id in "${old[@]}"; do
        replace "$service" "$id" "$count"
    done
    log "done: $service runs $count new replica(s)"
}

main "$@"
