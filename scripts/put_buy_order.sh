#!/usr/bin/env bash
# Places a buy order: scripts/put_buy_order.sh [CURRENCY] [AMOUNT] [IDEMPOTENCE_KEY]
# (defaults: USD, 100.00, a fresh UUID). Send the same key again to see a replay.
set -euo pipefail
# API_KEY=<key> sends that key instead of .env's DEV_API_KEY.
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

currency=${1:-USD}
amount=${2:-100.00}
key=${3:-$(cat /proc/sys/kernel/random/uuid)}
curl -sS -i -X PUT "http://localhost:$CREATE_BUY_ORDER_EXT_PORT/buy_order" "${auth_header[@]}" \
    -H 'Content-Type: application/json' \
    -d "{\"currency\": \"$currency\", \"amount\": \"$amount\", \"idempotence_key\": \"$key\"}"
echo
