#!/bin/bash
# A Patroni node: checks the settings it cannot run without, naming the
# missing one, then runs Patroni as postgres with PATRONI_CONFIG. Patroni
# takes the rest from the environment: PATRONI_NAME, PATRONI_SCOPE,
# PATRONI_ETCD3_HOSTS, the superuser's and the replication user's names and
# passwords (PATRONI_SUPERUSER_*, PATRONI_REPLICATION_*).
set -euo pipefail
for variable in PATRONI_CONFIG PATRONI_NAME PATRONI_ETCD3_HOSTS POSTGRES_DB \
    PATRONI_SUPERUSER_USERNAME PATRONI_SUPERUSER_PASSWORD \
    PATRONI_REPLICATION_USERNAME PATRONI_REPLICATION_PASSWORD; do
    if [[ -z ${!variable:-} ]]; then
        echo "patroni node: $variable must be set (docker-compose.ha.yml takes it from .env)" >&2
        exit 1
    fi
done
if [[ $(id -u) == 0 ]]; then
    chown -R postgres:postgres /var/lib/postgresql/data /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
# Other nodes and HAProxy reach this one by its name, which Docker's DNS
# resolves to whatever address the container has now.
export PATRONI_RESTAPI_CONNECT_ADDRESS=$PATRONI_NAME:8008 PATRONI_POSTGRESQL_CONNECT_ADDRESS=$PATRONI_NAME:5432
exec patroni "/etc/patroni/$PATRONI_CONFIG"
