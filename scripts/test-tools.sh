#!/usr/bin/env bash
# Installs the outside programs that the API tests drive, where missing:
# Chromium (to render /docs) and Prometheus (to scrape /metrics) from
# Debian's packages, as root; schemathesis and openapi-spec-validator from
# PyPI into the project's virtualenv under $RSDIST_TOOLS_DIR (default
# target/tools), beside hadolint. Run by ./test.sh before the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools_dir=${RSDIST_TOOLS_DIR:-$PWD/target/tools}
venv=$tools_dir/venv

log() { printf 'test-tools: %s\n' "$*" >&2; }

# shellcheck source=scripts/apt.sh
source scripts/apt.sh

missing=()
type -P chromium >/dev/null || missing+=(chromium)
type -P prometheus >/dev/null || missing+=(prometheus)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
# The Debian package starts a Prometheus of its own on :9090 where it can;
# the tests start theirs on free ports and need none.
if [[ ! -x $venv/bin/st || ! -x $venv/bin/openapi-spec-validator ]]; then
    log "installing schemathesis and openapi-spec-validator into $venv"
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        'schemathesis>=4,<5' 'openapi-spec-validator>=0.7' >&2
fi
log "chromium, prometheus, schemathesis and openapi-spec-validator are installed"
