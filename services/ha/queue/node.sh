#!/bin/bash
# The entrypoint of a RabbitMQ node of the HA cluster (docker-compose.ha.yml
# mounts it over the queue image's): the Erlang cookie, which every node of
# one cluster must share, from RABBITMQ_ERLANG_COOKIE; the cluster's nodes
# from Q_CLUSTER_NODES (classic peer discovery: a fresh node joins the first
# of them that answers); then the image's own entrypoint.
set -euo pipefail
for variable in RABBITMQ_ERLANG_COOKIE Q_CLUSTER_NODES; do
    if [[ -z ${!variable:-} ]]; then
        echo "queue node: $variable must be set (docker-compose.ha.yml takes it from .env)" >&2
        exit 1
    fi
done
cookie=/var/lib/rabbitmq/.erlang.cookie
printf '%s' "$RABBITMQ_ERLANG_COOKIE" >"$cookie"
chmod 400 "$cookie"
chown rabbitmq:rabbitmq "$cookie"
# RabbitMQ would read the variable too, and warn that it is deprecated.
unset RABBITMQ_ERLANG_COOKIE
{
    echo 'cluster_formation.peer_discovery_backend = classic_config'
    index=1
    for node in $Q_CLUSTER_NODES; do
        echo "cluster_formation.classic_config.nodes.$index = rabbit@$node"
        index=$((index + 1))
    done
    # A node cut off from the other two stops serving until it is back,
    # rather than going on alone (quorum queues need a majority anyway).
    echo 'cluster_partition_handling = pause_minority'
} >/etc/rabbitmq/conf.d/30-cluster.conf
# Three fresh nodes started together could each find no other up and make
# a cluster of their own: a fresh node other than the first waits until the
# first one accepts connections, then joins it. A node with data rejoins its
# cluster by itself.
read -r first _ <<<"$Q_CLUSTER_NODES"
if [[ ! -d /var/lib/rabbitmq/mnesia && $(hostname) != "$first" ]]; then
    for _ in {1..120}; do
        if (exec 3<>"/dev/tcp/$first/5672") 2>/dev/null; then break; fi
        sleep 1
    done
fi
# The broker, as the image starts it (Debian's path, or upstream's on PATH).
if (($# == 0)); then
    if [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
        set -- /usr/lib/rabbitmq/bin/rabbitmq-server
    else
        set -- rabbitmq-server
    fi
fi
exec docker-entrypoint.sh "$@"
