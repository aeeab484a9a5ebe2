# shellcheck shell=bash
# Shared by the Docker scripts: the image names, and how to reach compose.

INFRASTRUCTURE_SERVICES=(write_model read_model queue log)
RUST_SERVICES=(migration btc_price create_buy_order read_model_sync fetch_buy_orders)
export INFRASTRUCTURE_SERVICES RUST_SERVICES

require_docker_engine() {
    if ! command -v docker >/dev/null; then
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
find_compose() {
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose)
    elif command -v docker-compose >/dev/null; then
        compose=(docker-compose)
    else
        echo "Docker Compose is not installed; run the cluster natively with ./run.sh --local" >&2
        exit 1
    fi
}

images_missing() {
    local service
    for service in "${INFRASTRUCTURE_SERVICES[@]}" "${RUST_SERVICES[@]}"; do
        docker image inspect "rsdist/$service:latest" >/dev/null 2>&1 || return 0
    done
    return 1
}

base_images_missing() {
    docker image inspect rsdist/builder:1.95 >/dev/null 2>&1 || return 0
    docker image inspect rsdist/runtime:3.22 >/dev/null 2>&1 || return 0
    return 1
}
