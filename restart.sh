#!/usr/bin/env bash
# Stops the compose cluster and starts it again; the data stays.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./stop.sh
./run.sh
