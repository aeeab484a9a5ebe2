# shellcheck shell=bash
# Shared by the Docker scripts: the image names, and how to reach compose.

# shellcheck source=scripts/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
# shellcheck source=scripts/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

require_docker_engine() {
    if ! type -P docker >/dev/null; then
        echo "Docker is not installed; run the cluster natively with ./run.sh --local" >&2
        exit 1
    fi
    if ! docker info >/dev/null 2>&1; then
        echo "no Docker engine answers; start it, or run the cluster natively with ./run.sh --local" >&2
        exit 1
    fi
}

# Sets the array `compose` to the compose command this machine has.
# shellcheck disable=SC2034 # used by the scripts that source this one
# Where neither is there but the engine is, installs Debian's docker-compose
# (as root), as the test suite's static checks do.
find_compose() {
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose)
    elif type -P docker-compose >/dev/null ||
        { type -P docker >/dev/null && apt_install docker-compose; }; then
        compose=(docker-compose)
    else
        echo "Docker Compose is not installed; run the cluster natively with ./run.sh --local" >&2
        exit 1
    fi
}

# Where the images come from, from RSDIST_IMAGES: "registry" (the pinned
# upstream images, pulled), "offline" (built from Debian's packages by
# scripts/offline-images.sh), or "auto" (the default): offline when the
# registry cannot be reached and the upstream bases are not here already.
image_source() {
    case ${RSDIST_IMAGES:-auto} in
        registry | offline) echo "$RSDIST_IMAGES" ;;
        auto)
            if docker image inspect rsdist/postgres-base:17-alpine >/dev/null 2>&1 ||
                docker pull -q postgres:17-alpine >/dev/null 2>&1; then
                echo registry
            else
                echo offline
            fi
            ;;
        *)
            echo "RSDIST_IMAGES must be auto, registry or offline, not '$RSDIST_IMAGES'" >&2
            exit 1
            ;;
    esac
}

# Waits up to $1 seconds (default 300) until every container of the compose
# project is healthy; says which are not, and fails, when time is up. A
# container counts as healthy when the engine says so or when its own
# healthcheck passes now (healthcheck_passes_now).
wait_until_healthy() {
    local deadline=$((SECONDS + ${1:-300})) unhealthy
    while true; do
        unhealthy=$(containers_not_yet_healthy)
        [[ -z $unhealthy ]] && return 0
        if ((SECONDS >= deadline)); then
            echo "not healthy after ${1:-300} s:" >&2
            echo "$unhealthy" >&2
            return 1
        fi
        sleep 1
    done
}

# The containers of the compose project that are not healthy, one per line
# with their state.
containers_not_yet_healthy() {
    local ids id name state
    mapfile -t ids < <("${compose[@]}" ps -q)
    if ((${#ids[@]} == 0)); then
        echo "no containers"
        return 0
    fi
    docker inspect -f '{{.Id}} {{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "${ids[@]}" |
        while read -r id name state; do
            [[ $state == healthy ]] && continue
            [[ $state == starting || $state == unhealthy ]] && healthcheck_passes_now "$id" && continue
            echo "$name $state"
        done
}

# Whether the container's healthcheck, run now as the engine runs it,
# passes. The engine runs it only every interval (30 s for most of ours, to
# keep the idle cost down; Docker 20.10 has no start_interval), so a
# container that has just started or recovered would count as unhealthy for
# up to that long after it is serving.
healthcheck_passes_now() {
    local id=$1 test
    mapfile -t test < <(docker inspect -f '{{range .Config.Healthcheck.Test}}{{println .}}{{end}}' "$id")
    case ${test[0]:-} in
        CMD) timeout 5 docker exec "$id" "${test[@]:1}" >/dev/null 2>&1 ;;
        CMD-SHELL) timeout 5 docker exec "$id" /bin/sh -c "${test[1]}" >/dev/null 2>&1 ;;
        *) return 1 ;;
    esac
}

# Points compose at the fake Coinbase (profile fake_coinbase), as
# FAKE_COINBASE=1 asks: the shell's variables win over .env in compose's
# interpolation. Needs scripts/env.sh sourced first.
use_fake_coinbase() {
    export COMPOSE_PROFILES=fake_coinbase CB_PROTOCOL=http CB_HOST=fake_coinbase CB_PORT=$FAKE_COINBASE_PORT
}

# The services whose replica count .env sets, and the variable of each.
declare -A REPLICA_VARIABLES=(
    [create_buy_order]=CREATE_BUY_ORDER_REPLICAS
    [fetch_buy_orders]=FETCH_BUY_ORDERS_REPLICAS
    [read_model_sync]=READ_MODEL_SYNC_REPLICAS
)
# The ingress has this many server slots per API (services/ingress/haproxy.cfg).
MAX_REPLICAS=10

# Sets the array `scale_args` to compose's --scale options for the replica
# counts (scripts/env.sh sourced first); fails, naming the variable, when a
# count is not a whole number from 1 to MAX_REPLICAS.
# shellcheck disable=SC2034 # used by the scripts that source this one
replica_scale_args() {
    scale_args=()
    local service variable count
    for service in "${!REPLICA_VARIABLES[@]}"; do
        variable=${REPLICA_VARIABLES[$service]}
        count=${!variable:-1}
        if [[ ! $count =~ ^[0-9]+$ ]] || ((10#$count < 1 || 10#$count > MAX_REPLICAS)); then
            echo "$variable must be a whole number from 1 to $MAX_REPLICAS, not '$count'" >&2
            return 1
        fi
        scale_args+=(--scale "$service=$((10#$count))")
    done
}

# Adds the HA layer (docker-compose.ha.yml) to the compose command, once
# find_compose has set it: the same services on replicated stores.
use_ha() {
    compose+=(-f docker-compose.yml -f docker-compose.ha.yml)
}

ha_images_missing() {
    local image
    for image in "${HA_IMAGES[@]}"; do
        docker image inspect "rsdist/$image:latest" >/dev/null 2>&1 || return 0
    done
    return 1
}

# The HA cluster's store images: from Debian's pinned image through a
# registry, or from the offline Debian base.
build_ha_images() {
    if [[ $(image_source) == offline ]]; then
        scripts/offline-images.sh ha
        return
    fi
    local image
    for image in "${HA_IMAGES[@]}"; do
        docker build -t "rsdist/$image:latest" "services/ha/$image"
    done
}

images_missing() {
    local service
    for service in "${INFRASTRUCTURE_SERVICES[@]}" "${RUST_SERVICES[@]}" fake_coinbase; do
        docker image inspect "rsdist/$service:latest" >/dev/null 2>&1 || return 0
    done
    return 1
}

base_images_missing() {
    local images=(rsdist/builder:1.95 rsdist/runtime:3.22 rsdist/haproxy-base:2.6) image
    if [[ $(image_source) == offline ]]; then
        images=(rsdist/debian:12 rsdist/runtime:debian-12 rsdist/postgres-base:debian-12
            rsdist/rabbitmq-base:debian-12 rsdist/haproxy-base:debian-12)
    fi
    for image in "${images[@]}"; do
        docker image inspect "$image" >/dev/null 2>&1 || return 0
    done
    return 1
}
