#!/bin/bash
# The queue router's healthcheck: healthy while every node of the cluster
# runs (RabbitMQ's /api/nodes through the router's management listener).
# Services wait for it before they declare the quorum queues, whose members
# are the nodes running at declaration.
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/15672
printf 'GET /api/nodes?columns=name,running HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n' \
    "$(printf '%s' "$Q_BASIC_AUTH" | base64 -w 0)" >&3
running=$(grep -o '"running":true' <&3 | wc -l)
[[ $running == "$Q_CLUSTER_SIZE" ]]
