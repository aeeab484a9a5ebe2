#!/usr/bin/env bash
# Runs the whole cluster as native processes on this machine, on the ports of
# .env, for machines without Docker:
#   scripts/local-cluster.sh up       backing services, release build, the five
#                                     services; returns once all are healthy
#   scripts/local-cluster.sh status   what runs, and each healthcheck
#   scripts/local-cluster.sh down     stops the services, and PostgreSQL and
#                                     RabbitMQ if `up` started them
#   scripts/local-cluster.sh exec SERVICE ARGS...
#                                     a service's one-off command (`migration
#                                     clients list`, `read_model_sync rebuild`)
#                                     with the settings `up` gives the services
# FAKE_COINBASE=1 also starts fake_coinbase and points btc_price at it, for
# machines that cannot reach Coinbase. RSDIST_BIN_DIR=<dir> runs the binaries
# found there instead of building (the benchmark's baseline). Logs and pids:
# target/local-cluster/.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root_dir/scripts/env.sh"
run_dir="$root_dir/target/local-cluster"
bin_dir="${RSDIST_BIN_DIR:-$root_dir/target/release}"
# shellcheck source=scripts/services.sh
source "$root_dir/scripts/services.sh"
services=("${RUST_SERVICES[@]}")

log() { printf 'local-cluster: %s\n' "$*" >&2; }

port_of() {
    case $1 in
        migration) echo "$MIGRATION_PORT" ;;
        btc_price) echo "$BTC_PRICE_PORT" ;;
        create_buy_order) echo "$CREATE_BUY_ORDER_PORT" ;;
        read_model_sync) echo "$READ_MODEL_SYNC_PORT" ;;
        fetch_buy_orders) echo "$FETCH_BUY_ORDERS_PORT" ;;
        fake_coinbase) echo "${FAKE_COINBASE_PORT:-8779}" ;;
    esac
}

running() { [[ -f $run_dir/$1.pid ]] && kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null; }

start() {
    local name=$1
    if running "$name"; then
        log "$name is already running"
        return
    fi
    SERVICE_HOST=${SERVICE_HOST:-127.0.0.1} SERVICE_PORT=$(port_of "$name") \
        FAKE_COINBASE_PORT=$(port_of fake_coinbase) \
        nohup "$bin_dir/$name" >>"$run_dir/$name.log" 2>&1 </dev/null &
    echo $! >"$run_dir/$name.pid"
}

healthy() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$(port_of "$1")/healthcheck"; }

wait_healthy() {
    local name=$1
    for _ in $(seq 120); do
        healthy "$name" && return 0
        running "$name" || break
        sleep 0.5
    done
    log "$name did not become healthy; the end of $run_dir/$name.log:"
    tail -n 20 "$run_dir/$name.log" >&2
    return 1
}

# Where no fluentd answers, events go to stdout as JSON lines only.
events_to_logs_without_fluentd() {
    if [[ -z ${LOG_FORMAT:-} ]] && ! (exec 3<>"/dev/tcp/$LOGGING_HOST/$LOGGING_PORT") 2>/dev/null; then
        log "no fluentd at $LOGGING_HOST:$LOGGING_PORT: events go to the logs only"
        export LOG_FORMAT=json
    fi
}

up() {
    mkdir -p "$run_dir"
    BACKING_STARTED_FILE="$run_dir/backing-started" "$root_dir/scripts/backing-services.sh" >/dev/null
    if [[ -z ${RSDIST_BIN_DIR:-} ]]; then
        log "building the release binaries"
        local packages=("${services[@]/#/-p}")
        cargo build --release --quiet --bins --manifest-path "$root_dir/Cargo.toml" \
            "${packages[@]}" -p testkit
    fi
    events_to_logs_without_fluentd
    if [[ ${FAKE_COINBASE:-0} == 1 ]]; then
        start fake_coinbase
        CB_PORT=$(port_of fake_coinbase)
        export CB_PROTOCOL=http CB_HOST=127.0.0.1 CB_PORT
    fi
    for name in "${services[@]}"; do start "$name"; done
    for name in "${services[@]}"; do wait_healthy "$name" || { down; exit 1; }; done
    log "up: PUT http://localhost:$CREATE_BUY_ORDER_PORT/buy_order, GET http://localhost:$FETCH_BUY_ORDERS_PORT/buy_orders"
}

stop() {
    local name=$1 pid
    running "$name" || { rm -f "$run_dir/$name.pid"; return; }
    pid=$(cat "$run_dir/$name.pid")
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$run_dir/$name.pid"
}

down() {
    local name what version
    for name in "${services[@]}" fake_coinbase; do stop "$name"; done
    if [[ -f $run_dir/backing-started ]]; then
        while read -r what version; do
            case $what in
                postgresql) log "stopping PostgreSQL"; pg_ctlcluster "$version" main stop || true ;;
                rabbitmq) log "stopping RabbitMQ"; rabbitmqctl stop >/dev/null 2>&1 || true ;;
            esac
        done <"$run_dir/backing-started"
        rm -f "$run_dir/backing-started"
    fi
    log "down"
}

status() {
    local name state
    for name in "${services[@]}" fake_coinbase; do
        if ! running "$name"; then state="stopped"
        elif healthy "$name"; then state="healthy (pid $(cat "$run_dir/$name.pid"))"
        else state="running, not healthy (pid $(cat "$run_dir/$name.pid"))"
        fi
        printf '%-18s %-6s %s\n' "$name" "$(port_of "$name")" "$state"
    done
}

# Runs a built service binary with .env's settings (and the environment's,
# which win), so that an operator's command needs no variables set by hand.
exec_command() {
    local name=${1:-}
    if [[ " ${services[*]} " != *" $name "* ]]; then
        echo "usage: $0 exec SERVICE ARGS... (SERVICE: ${services[*]})" >&2
        exit 2
    fi
    [[ -x $bin_dir/$name ]] || { log "no $bin_dir/$name: run $0 up first"; exit 1; }
    events_to_logs_without_fluentd 2>/dev/null
    SERVICE_HOST=${SERVICE_HOST:-127.0.0.1} SERVICE_PORT=$(port_of "$name") \
        exec "$bin_dir/$name" "${@:2}"
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    exec) exec_command "${@:2}" ;;
    *) echo "usage: $0 up|down|status|exec SERVICE ARGS..." >&2; exit 2 ;;
esac
