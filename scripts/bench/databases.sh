# shellcheck shell=bash
# The benchmark's databases, on the write model's server. Source
# scripts/env.sh first.

# psql on the write model's server, as its configured user.
bench_psql() {
    PGPASSWORD=$WRITE_MODEL_DB_PWD psql -qX -h "$WRITE_MODEL_DB_HOST" -p "$WRITE_MODEL_DB_PORT" \
        -U "$WRITE_MODEL_DB_USER" "$@"
}

# Drops each database named, if it is there, and creates it empty.
fresh_databases() {
    local db
    for db in "$@"; do
        bench_psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    done
}
