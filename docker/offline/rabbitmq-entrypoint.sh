#!/bin/bash
# The offline rabbitmq base's entrypoint: the first user from
# RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS (as the upstream image
# takes them), then the broker as the rabbitmq user.
set -euo pipefail
if [[ -n ${RABBITMQ_DEFAULT_USER:-} ]]; then
    printf 'default_user = %s\ndefault_pass = %s\n' \
        "$RABBITMQ_DEFAULT_USER" "${RABBITMQ_DEFAULT_PASS:?RABBITMQ_DEFAULT_PASS must be set}" \
        >/etc/rabbitmq/conf.d/10-default-user.conf
fi
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
