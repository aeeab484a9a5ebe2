#!/usr/bin/env bash
# The whole test suite:
#   ./test.sh            static checks of the container and script files, then
#                        PostgreSQL and RabbitMQ made reachable (installed and
#                        started on a fresh Debian machine), then every test of
#                        the workspace against them. Fails on any failure.
#   ./test.sh --cluster  the end-to-end tests that need no process control, run
#                        against a cluster already up at the .env ports (compose
#                        or scripts/local-cluster.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/env.sh
source scripts/env.sh

run_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --no-fail-fast "$@"
    else
        echo "test.sh: cargo-nextest not found; using cargo test" >&2
        cargo test --no-fail-fast "$@"
    fi
}

if [[ ${1:-} == --cluster ]]; then
    echo "test.sh: black-box tests against http://localhost:$CREATE_BUY_ORDER_EXT_PORT and :$FETCH_BUY_ORDERS_EXT_PORT"
    echo "test.sh: skipped here: the fault and white-box tests, which start, stop and inspect processes and databases"
    if cargo nextest --version >/dev/null 2>&1; then
        RSDIST_E2E_TARGET=published cargo nextest run -p e2e --test e2e -E 'test(/^blackbox::/)'
    else
        RSDIST_E2E_TARGET=published cargo test -p e2e --test e2e blackbox::
    fi
    exit
fi

scripts/static-checks.sh
scripts/backing-services.sh
# The end-to-end tests run the service binaries as processes; cargo builds a
# package's binaries for its own tests only, so build them all first.
cargo build --workspace --bins
run_tests --workspace
