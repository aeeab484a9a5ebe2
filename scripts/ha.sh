#!/usr/bin/env bash
# The replicated stores of the HA cluster (./run.sh --ha):
#   scripts/ha.sh status
#       for each store, its nodes, which one leads, and the replicas' lag
#       (Patroni) or the queue's members (RabbitMQ); etcd's members
#   scripts/ha.sh kill-leader write_model|read_model|queue
#       SIGKILLs the container that leads the store now (for the queue, the
#       node leading the buy-order queue) and prints its name. It restarts
#       nothing: compose's restart policy brings the node back, and Patroni
#       or RabbitMQ make it rejoin, which `status` shows. It must run on the
#       Docker host, as root (it signals the container's process).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

usage() {
    echo "usage: $0 status | kill-leader write_model|read_model|queue" >&2
    exit 2
}

# The first running container of the given services, as `service id`.
first_running() {
    local service id
    for service in "$@"; do
        id=$("${compose[@]}" ps -q "$service" 2>/dev/null) || continue
        if [[ -n $id && $(docker inspect -f '{{.State.Running}}' "$id") == true ]]; then
            echo "$service $id"
            return
        fi
    done
    return 1
}

# Runs a command in the running nodes of a store, one after another, until
# one answers within 15 s (a node cut off the network may not).
in_a_node() {
    local nodes=$1 service id
    shift
    for service in $nodes; do
        id=$("${compose[@]}" ps -q "$service" 2>/dev/null) || continue
        [[ -n $id && $(docker inspect -f '{{.State.Running}}' "$id") == true ]] || continue
        if timeout 15 docker exec "$id" "$@"; then
            return 0
        fi
    done
    echo "no node of $nodes answered" >&2
    return 1
}

declare -A PATRONI_NODES
PATRONI_NODES=([write_model]="write_model1 write_model2 write_model3" [read_model]="read_model1 read_model2")
QUEUE_NODES="queue1 queue2 queue3"
ETCD_NODES="etcd1 etcd2 etcd3"
QUEUE=${Q_QUEUE:-buy_order}

patroni_members() { in_a_node "${PATRONI_NODES[$1]}" patronictl -c "/etc/patroni/$1.yml" list "${@:2}"; }

status() {
    local store
    for store in write_model read_model; do
        echo "== $store (Patroni; Lag in MB behind the leader)"
        patroni_members "$store" || true
    done
    echo "== etcd"
    in_a_node "$ETCD_NODES" etcdctl --endpoints=etcd1:2379,etcd2:2379,etcd3:2379 \
        endpoint status -w table 2>&1 || true
    echo "== queue (RabbitMQ: the cluster's running nodes; each queue's leader and members)"
    in_a_node "$QUEUE_NODES" rabbitmqctl -q cluster_status --formatter json |
        grep -o '"running_nodes":\[[^]]*\]' || true
    in_a_node "$QUEUE_NODES" rabbitmqctl -q list_queues name type leader members online || true
}

# The container that leads `store` now: `service id`.
leader_of() {
    local store=$1 leader
    case $store in
        write_model | read_model)
            leader=$(patroni_members "$store" -f tsv | awk -F'\t' 'NR > 1 && $4 == "Leader" { print $2 }')
            ;;
        queue)
            leader=$(in_a_node "$QUEUE_NODES" rabbitmqctl -q list_queues name leader --no-table-headers |
                awk -F'\t' -v queue="$QUEUE" '$1 == queue { sub(/^rabbit@/, "", $2); print $2 }')
            ;;
        *) usage ;;
    esac
    if [[ -z $leader ]]; then
        echo "$store has no leader now" >&2
        return 1
    fi
    first_running "$leader"
}

# SIGKILL to the container's first process, from this machine, as a crash
# or the kernel's OOM killer would send it: the container exits with 137 and
# its restart policy starts it again. (`docker kill` would count as a manual
# stop, which the restart policy leaves stopped.)
kill_leader() {
    local service id
    read -r service id < <(leader_of "$1") || exit 1
    kill -KILL "$(docker inspect -f '{{.State.Pid}}' "$id")"
    echo "killed $service ($(docker inspect -f '{{.Name}}' "$id" | tr -d /)), the leader of $1"
}

require_docker_engine
find_compose
compose+=(-f docker-compose.yml -f docker-compose.ha.yml)
case ${1:-} in
    status) status ;;
    kill-leader) [[ $# == 2 ]] || usage; kill_leader "$2" ;;
    *) usage ;;
esac
