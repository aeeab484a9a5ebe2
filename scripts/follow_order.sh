#!/usr/bin/env bash
# One order's journey through the cluster, from the collected event log:
#   scripts/follow_order.sh ORDER_ID [EVENT_LOG...]
# ORDER_ID is the order's id as the API returns it (a UUID). One line per
# event, in time order: the time since its request arrived, the service, the
# event, and its key fields: the request received and validated, the price
# used (and whether from btc_price's cache), the batch it was stored in,
# the relay's publish and confirm, its row in the read model with the lag,
# and the pages that served it.
#
# Where the events are read:
#   EVENT_LOG...   these files: a service's JSON lines (LOG_FORMAT=json or
#                  both), or the log receiver's events.jsonl;
#   else, if the compose cluster's log service runs, what it collected
#                  (copied out of the container: fluentd's files, or the
#                  project's receiver's);
#   else           the native cluster's logs, target/local-cluster/*.log.
# The events of one order are tied together by its ids (order_id,
# external_id) and its create's request_id, which btc_price gets in the
# x-request-id header and read_model_sync as the message's correlation id
# (docs/operations.md, "Following one order").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
    echo "usage: $0 ORDER_ID [EVENT_LOG...]   (ORDER_ID: the order's UUID, as the API returns it)" >&2
    exit 2
}

uuid='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
[[ ${1:-} =~ $uuid ]] || usage
order=${1,,}
shift

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The compose cluster's log container, if it runs.
compose_log_container() {
    type -P docker >/dev/null || return 1
    # shellcheck source=scripts/docker.sh
    source scripts/docker.sh
    find_compose >/dev/null 2>&1 || return 1
    local id
    id=$("${compose[@]}" ps -q log 2>/dev/null | head -n 1)
    [[ -n $id ]] && [[ $(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null) == true ]] && echo "$id"
}

sources=()
if (($# > 0)); then
    sources=("$@")
    described="the files given: $*"
elif container=$(compose_log_container); then
    # No shell in the receiver's image: the files come out as a tar stream.
    # fluentd's buffer chunks (msgpack, not yet flushed) are left out.
    docker cp "$container:/fluentd/log" - | tar -x -C "$work" --exclude='*/buffer*'
    mapfile -t sources < <(find "$work" -type f)
    described="the compose log service's collected events (/fluentd/log; fluentd flushes its files every 5 s)"
else
    mapfile -t sources < <(find target/local-cluster -name '*.log' 2>/dev/null)
    described="the native cluster's logs (target/local-cluster/*.log)"
fi
((${#sources[@]} > 0)) || { echo "follow_order: no event log found in $described" >&2; exit 1; }

exec python3 - "$order" "$described" "${sources[@]}" <<'PYTHON'
"""Reads JSON-line events from the files given, keeps one order's, prints them."""
import datetime
import json
import os
import re
import sys

order, described, paths = sys.argv[1], sys.argv[2], sys.argv[3:]


def events_of(path):
    """Each event of a file as a flat dict with 'event', 'service' and 'time'."""
    # A native log is named after its service: create_buy_order.log, or
    # create_buy_order-PORT.log in the tests.
    service_of_file = re.sub(r"(-\d+)?\.log$", "", os.path.basename(path))
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                raw = json.loads(line)
            except ValueError:
                continue
            if not isinstance(raw, dict):
                continue
            if "record" in raw:  # the project's receiver: {"tag", "time", "record"}
                event = dict(raw["record"])
                event["time"] = raw.get("time")
            else:  # stdout JSON, or fluentd's files (the time injected)
                event = dict(raw)
                event.update(raw.get("span") or {})
                event.pop("span", None)
                if "timestamp" in raw:
                    event["time"] = datetime.datetime.fromisoformat(raw["timestamp"]).timestamp()
            event.setdefault("event", event.get("message"))
            event.setdefault("service", service_of_file)
            if isinstance(event.get("time"), (int, float)):
                yield event


everything = [event for path in paths for event in events_of(path)]
created = [e for e in everything if str(e.get("external_id", "")).lower() == order]
if not created:
    print(f"follow_order: no event names order {order}; searched {described}", file=sys.stderr)
    sys.exit(1)
order_ids = {str(e["order_id"]) for e in created if "order_id" in e}
requests = {e["request_id"] for e in created if e.get("request_id")}
client = next((e.get("client_id") for e in created if e.get("client_id") is not None), None)


def belongs(event):
    if str(event.get("external_id", "")).lower() == order or event.get("request_id") in requests:
        return True
    if event.get("event") == "buy_order_events_published":
        return bool(order_ids & set(str(event.get("order_ids", "")).split(",")))
    if event.get("event") == "buy_orders_page_returned" and event.get("client_id") == client:
        # UUIDv7 ids sort by creation time, as pages do (newest first): the
        # page served the order if it lies between its first and last rows.
        newest, oldest = (str(event.get(k) or "").lower() for k in ("first_reference", "last_reference"))
        return bool(newest and oldest) and oldest <= order <= newest
    return False


# A page that served the order: every event of its request.
requests |= {e["request_id"] for e in everything if e.get("request_id") and belongs(e)}

DETAIL = {
    "create_buy_order_request_received": ["valid", "currency", "amount", "idempotence_key", "faults"],
    "btc_price_requested": ["currency"],
    "btc_price_quoted": ["currency", "rate", "cached", "duration_ms"],
    "buy_order_request_idempotence_cache_hit": ["order_id"],
    "buy_order_created": ["order_id", "btc_rate", "btc_amount", "batch", "batch_orders"],
    "create_buy_order_response_returned": ["status", "replayed", "duration_ms"],
    "buy_order_events_published": ["count", "confirm_ms"],
    "buy_order_read_model_synced": ["lag_ms", "queue"],
    "buy_orders_page_requested": ["page_size", "last_reference"],
    "buy_orders_page_returned": ["rows", "first_reference", "last_reference"],
}


def shown(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


journey = sorted((e for e in everything if belongs(e)), key=lambda e: e["time"])
start = next((e["time"] for e in journey if e.get("event") == "create_buy_order_request_received"), journey[0]["time"])
print(f"order {order} (order_id {', '.join(sorted(order_ids)) or '?'}), from {described}")
for event in journey:
    fields = " ".join(f"{k}={shown(event[k])}" for k in DETAIL.get(event["event"], []) if event.get(k) is not None)
    since = (event["time"] - start) * 1000
    print(f"{since:+10.1f} ms  {event['service']:<18} {event['event']:<38} {fields}".rstrip())
PYTHON
