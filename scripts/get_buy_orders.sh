#!/usr/bin/env bash
# The first page of orders, newest first: scripts/get_buy_orders.sh [PAGE_SIZE] (default 10)
set -euo pipefail
# API_KEY=<key> sends that key instead of .env's DEV_API_KEY.
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

curl -sS "${auth_header[@]}" "http://localhost:$FETCH_BUY_ORDERS_EXT_PORT/buy_orders?page_size=${1:-10}"
echo
