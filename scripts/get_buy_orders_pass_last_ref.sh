#!/usr/bin/env bash
# The page after an order: scripts/get_buy_orders_pass_last_ref.sh LAST_REFERENCE [PAGE_SIZE]
# where LAST_REFERENCE is the last_reference of the previous page.
set -euo pipefail
# API_KEY=<key> sends that key instead of .env's DEV_API_KEY.
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if [[ $# -lt 1 ]]; then
    echo "usage: $0 LAST_REFERENCE [PAGE_SIZE]" >&2
    exit 2
fi
curl -sS "${auth_header[@]}" "http://localhost:$FETCH_BUY_ORDERS_EXT_PORT/buy_orders?page_size=${2:-10}&last_reference=$1"
echo
