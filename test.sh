#!/usr/bin/env bash
# The whole test suite: makes PostgreSQL and RabbitMQ reachable (installing
# and starting them on a fresh Debian machine), then builds and runs every
# test of the workspace against them. Fails on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/env.sh
source scripts/env.sh

scripts/backing-services.sh

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
