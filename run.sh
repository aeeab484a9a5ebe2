#!/usr/bin/env bash
# Runs the cluster.
#   ./run.sh           with docker compose (v2 `docker compose` or v1
#                      `docker-compose`), building the images first if missing
#   ./run.sh --local   as native processes on this machine (no Docker needed);
#                      follows the logs, and stops everything on Ctrl-C
#   ./run.sh --ha      with compose, on replicated stores (docker-compose.ha.yml:
#                      PostgreSQL under Patroni on etcd, a RabbitMQ cluster);
#                      scripts/ha.sh shows who leads
# FAKE_COINBASE=1 adds the fake Coinbase (compose profile fake_coinbase, or a
# process with --local) and points btc_price at it, for machines that cannot
# reach Coinbase; its control API is on 127.0.0.1:$FAKE_COINBASE_EXT_PORT.
# Without an image registry the images are built offline from Debian's
# packages (RSDIST_IMAGES=offline forces that; see scripts/docker.sh).
# CREATE_BUY_ORDER_REPLICAS, FETCH_BUY_ORDERS_REPLICAS and
# READ_MODEL_SYNC_REPLICAS (.env, or the environment) set how many replicas
# of each run; the ingress balances the APIs' replicas on the published ports.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ${1:-} == --local ]]; then
    scripts/local-cluster.sh up
    trap 'scripts/local-cluster.sh down' EXIT
    trap 'exit 0' INT TERM
    tail -n 0 -F target/local-cluster/*.log
    exit 0
fi

# shellcheck source=scripts/docker.sh
source scripts/docker.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
replica_scale_args
find_compose
require_docker_engine
if images_missing; then
    if base_images_missing; then ./build_base_images.sh; fi
    ./build_run_images.sh
fi
if [[ ${1:-} == --ha ]]; then
    use_ha
    if ha_images_missing; then build_ha_images; fi
elif [[ -n ${1:-} ]]; then
    echo "usage: $0 [--local | --ha]" >&2
    exit 2
fi
if [[ ${FAKE_COINBASE:-0} == 1 ]]; then
    use_fake_coinbase
    echo "fake Coinbase control API: http://127.0.0.1:$FAKE_COINBASE_EXT_PORT/control"
fi
"${compose[@]}" up -d "${scale_args[@]}"
wait_until_healthy 300
echo "PUT  http://localhost:$CREATE_BUY_ORDER_EXT_PORT/buy_order"
echo "GET  http://localhost:$FETCH_BUY_ORDERS_EXT_PORT/buy_orders"
echo "RabbitMQ management: http://localhost:$Q_MANAGEMENT_EXT_PORT ($Q_USER)"
echo "ingress stats: http://localhost:$INGRESS_STATS_EXT_PORT/"
if [[ ${1:-} == --ha ]]; then
    echo "replicated stores: scripts/ha.sh status (who leads), scripts/ha.sh kill-leader STORE"
fi
