#!/usr/bin/env bash
# The first page of orders, newest first: scripts/get_buy_orders.sh [PAGE_SIZE] (default 10)
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

curl -sS "http://localhost:$FETCH_BUY_ORDERS_EXT_PORT/buy_orders?page_size=${1:-10}"
echo
