#!/usr/bin/env bash
# Stops the compose cluster. The named volumes stay, and with them the orders.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
find_compose
# Every profile, so that the fake Coinbase stops too.
COMPOSE_PROFILES=fake_coinbase "${compose[@]}" down
