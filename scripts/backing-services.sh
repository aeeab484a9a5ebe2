#!/usr/bin/env bash
# Makes PostgreSQL and RabbitMQ reachable at the addresses in .env, then prints
# the settings. It uses servers that already answer; else, on Debian as root,
# installs Debian's packages and starts them; else it says what is missing and
# exits non-zero. (The compose cluster's databases and queue are not used: they
# publish no ports to the host, by design.)
#
# Everything it installs or starts is probed for itself, not for a trace of it:
# the server binary rather than a wrapper script that another package ships,
# `type -P` rather than `command -v` (which also finds shell functions), a login
# as the cluster's role rather than an open port.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root_dir/scripts/env.sh"

# Where to note what this run started, so that `local-cluster.sh down` can
# stop exactly that and leave servers it found running alone.
started_file=${BACKING_STARTED_FILE:-/dev/null}

log() { printf 'backing-services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() {
    local host=$1 port=$2 what=$3 tries=${4:-60}
    for _ in $(seq "$tries"); do
        port_open "$host" "$port" && return 0
        sleep 1
    done
    die "$what did not start listening on $host:$port"
}

can_use_apt() { [[ $EUID -eq 0 ]] && type -P apt-get >/dev/null; }

# shellcheck source=scripts/apt.sh
source "$root_dir/scripts/apt.sh"

# --- PostgreSQL --------------------------------------------------------------

# The newest PostgreSQL server installed, by major version; empty if none.
# (pg_ctlcluster alone proves nothing: postgresql-common outlives the server.)
installed_postgres_version() {
    [[ -d /usr/lib/postgresql ]] || return 0
    find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' |
        cut -d/ -f5 | sort -n | tail -1
}

start_local_postgres() {
    local version
    version=$(installed_postgres_version)
    if [[ -z $version ]]; then
        log "installing postgresql"
        apt_install postgresql
        version=$(installed_postgres_version)
    fi
    [[ -d /etc/postgresql/$version/main ]] || pg_createcluster "$version" main >&2
    # Tests run in parallel, each service with its own pool.
    pg_conftool "$version" main set max_connections 400 >&2
    pg_conftool "$version" main set port "$WRITE_MODEL_DB_PORT" >&2
    # The package may have started the cluster already, with its defaults.
    log "starting PostgreSQL $version"
    if pg_ctlcluster "$version" main status >/dev/null 2>&1; then
        pg_ctlcluster "$version" main restart >&2
    else
        pg_ctlcluster "$version" main start >&2
    fi
    echo "postgresql $version" >>"$started_file"
    wait_for_port "$WRITE_MODEL_DB_HOST" "$WRITE_MODEL_DB_PORT" PostgreSQL
}

# The role the services and tests use: it may create databases, so that each
# test gets fresh ones, and roles, as the migration service does for each
# service's own login.
ensure_postgres_role_and_databases() {
    if PGPASSWORD=$WRITE_MODEL_DB_PWD psql -h "$WRITE_MODEL_DB_HOST" -p "$WRITE_MODEL_DB_PORT" \
        -U "$WRITE_MODEL_DB_USER" -d postgres -tAc \
        'select rolcreatedb and rolcreaterole from pg_roles where rolname = current_user' \
        2>/dev/null | grep -q t; then
        :
    elif [[ $EUID -eq 0 ]] && id postgres >/dev/null 2>&1; then
        log "creating role $WRITE_MODEL_DB_USER"
        su postgres -c "psql -q -p $WRITE_MODEL_DB_PORT" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$WRITE_MODEL_DB_USER') THEN
    CREATE ROLE "$WRITE_MODEL_DB_USER" LOGIN CREATEDB CREATEROLE PASSWORD '$WRITE_MODEL_DB_PWD';
  ELSE
    ALTER ROLE "$WRITE_MODEL_DB_USER" LOGIN CREATEDB CREATEROLE PASSWORD '$WRITE_MODEL_DB_PWD';
  END IF;
END \$\$;
SQL
    else
        die "cannot log in to PostgreSQL as $WRITE_MODEL_DB_USER, and cannot create the role here"
    fi
    local db
    for db in "$WRITE_MODEL_DB_NAME" "$READ_MODEL_DB_NAME"; do
        PGPASSWORD=$WRITE_MODEL_DB_PWD psql -h "$WRITE_MODEL_DB_HOST" -p "$WRITE_MODEL_DB_PORT" \
            -U "$WRITE_MODEL_DB_USER" -d postgres -tAc \
            "select 1 from pg_database where datname = '$db'" | grep -q 1 ||
            PGPASSWORD=$WRITE_MODEL_DB_PWD createdb -h "$WRITE_MODEL_DB_HOST" \
                -p "$WRITE_MODEL_DB_PORT" -U "$WRITE_MODEL_DB_USER" "$db"
    done
}

# --- RabbitMQ ----------------------------------------------------------------

start_local_rabbitmq() {
    type -P rabbitmq-server >/dev/null || { log "installing rabbitmq-server"; apt_install rabbitmq-server; }
    # The package may have started the broker already (where services start on install).
    if ! rabbitmqctl -q status >/dev/null 2>&1; then
        log "starting RabbitMQ"
        rabbitmq-server -detached >&2
    fi
    echo "rabbitmq" >>"$started_file"
    wait_for_port "$Q_HOST" "$Q_PORT" RabbitMQ 120
    rabbitmqctl await_startup >/dev/null 2>&1 || true
}

# The user the services log in as (RabbitMQ's guest may only connect from
# localhost, so the cluster has a user of its own).
ensure_rabbitmq_user() {
    [[ $Q_USER == guest ]] && return
    if ! type -P rabbitmqctl >/dev/null || [[ $EUID -ne 0 ]]; then
        return # a broker we did not install: its users are its owner's business
    fi
    if ! rabbitmqctl -q list_users 2>/dev/null | grep -q "^${Q_USER}[[:space:]]"; then
        log "creating RabbitMQ user $Q_USER"
        rabbitmqctl -q add_user "$Q_USER" "$Q_PWD" >&2
    fi
    rabbitmqctl -q set_permissions -p "$Q_VHOST" "$Q_USER" '.*' '.*' '.*' >&2
}

# --- main --------------------------------------------------------------------

main() {
    local need_pg=true need_q=true
    port_open "$WRITE_MODEL_DB_HOST" "$WRITE_MODEL_DB_PORT" && need_pg=false
    port_open "$Q_HOST" "$Q_PORT" && need_q=false

    if { $need_pg || $need_q; } && can_use_apt; then
        if $need_pg; then start_local_postgres; fi
        if $need_q; then start_local_rabbitmq; fi
    elif $need_pg || $need_q; then
        $need_pg && log "PostgreSQL is not reachable at $WRITE_MODEL_DB_HOST:$WRITE_MODEL_DB_PORT"
        $need_q && log "RabbitMQ is not reachable at $Q_HOST:$Q_PORT"
        die "start them, or run this as root on Debian so that it can install them"
    fi
    type -P psql >/dev/null || { can_use_apt && apt_install postgresql-client; }
    ensure_postgres_role_and_databases
    ensure_rabbitmq_user

    cat <<SETTINGS
WRITE_MODEL_DB=postgres://$WRITE_MODEL_DB_USER@$WRITE_MODEL_DB_HOST:$WRITE_MODEL_DB_PORT/$WRITE_MODEL_DB_NAME
READ_MODEL_DB=postgres://$READ_MODEL_DB_USER@$READ_MODEL_DB_HOST:$READ_MODEL_DB_PORT/$READ_MODEL_DB_NAME
QUEUE=amqp://$Q_USER@$Q_HOST:$Q_PORT
SETTINGS
}

main "$@"
