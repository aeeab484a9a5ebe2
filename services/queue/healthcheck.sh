#!/bin/bash
# The queue's healthcheck: RabbitMQ's own health endpoint, through the
# management listener: is the AMQP port listening? One HTTP request from
# bash, no Erlang VM started for it (`rabbitmq-diagnostics ping` took a
# fifth of a core at idle), and nothing in the broker's log (an AMQP
# handshake left unfinished is logged as a warning every time).
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/15672
printf 'GET /api/health/checks/port-listener/5672 HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n' \
    "$(printf '%s:%s' "$RABBITMQ_DEFAULT_USER" "$RABBITMQ_DEFAULT_PASS" | base64 -w 0)" >&3
IFS=' ' read -r -t 3 _ status _ <&3
[[ $status == 200 ]]
