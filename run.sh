#!/usr/bin/env bash
# Runs the cluster.
#   ./run.sh           with docker compose (v2 `docker compose` or v1 `docker-compose`)
#   ./run.sh --local   as native processes on this machine (no Docker needed);
#                      follows the logs, and stops everything on Ctrl-C
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ${1:-} == --local ]]; then
    scripts/local-cluster.sh up
    trap 'scripts/local-cluster.sh down' EXIT
    trap 'exit 0' INT TERM
    tail -n 0 -F target/local-cluster/*.log
    exit 0
fi

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
else
    echo "run.sh: Docker Compose is not installed; run the cluster natively with ./run.sh --local" >&2
    exit 1
fi
if ! docker info >/dev/null 2>&1; then
    echo "run.sh: no Docker engine answers; run the cluster natively with ./run.sh --local" >&2
    exit 1
fi
if [[ ! -f docker-compose.yml ]]; then
    echo "run.sh: docker-compose.yml is not written yet; run the cluster natively with ./run.sh --local" >&2
    exit 1
fi
"${compose[@]}" up -d
