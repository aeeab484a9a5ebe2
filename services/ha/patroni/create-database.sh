#!/bin/bash
# Patroni's post_bootstrap: run once, on the node that made the cluster,
# with the superuser's connection string. Makes the services' database; the
# migration service does the rest through the leader.
set -euo pipefail
psql "$1" -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE \"$POSTGRES_DB\""
