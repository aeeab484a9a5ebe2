#!/usr/bin/env bash
# The whole test suite:
#   ./test.sh            static checks of the container and script files and
#                        of the Kubernetes manifests, then
#                        PostgreSQL and RabbitMQ made reachable (installed and
#                        started on a fresh Debian machine), then every test of
#                        the workspace against them; then, where a Docker
#                        engine answers, the compose suite (--compose) and
#                        the HA suite (--ha).
#                        Fails on any failure.
#   ./test.sh --compose  the compose suite alone: builds the images (offline
#                        from Debian's packages where no registry answers),
#                        brings the cluster up from nothing with the fake
#                        Coinbase, runs the black-box tests against its
#                        published ports and the container faults, and removes
#                        the cluster, its network and volumes afterwards.
#   ./test.sh --ha       the HA suite alone: the cluster on replicated stores
#                        (docker-compose.ha.yml) from nothing, faults of the
#                        stores' nodes one at a time, then the black-box tests
#                        against what the faults left.
#   ./test.sh --cluster  the end-to-end tests that need no process control, run
#                        against a cluster already up at the .env ports (compose
#                        or scripts/local-cluster.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/env.sh
source scripts/env.sh

nextest_available() { cargo nextest --version >/dev/null 2>&1; }

run_tests() {
    if nextest_available; then
        cargo nextest run --no-fail-fast "$@"
    else
        echo "test.sh: cargo-nextest not found; using cargo test" >&2
        cargo test --no-fail-fast "$@"
    fi
}

blackbox_tests() {
    if nextest_available; then
        cargo nextest run -p e2e --test e2e -E 'test(/^blackbox::/)'
    else
        cargo test -p e2e --test e2e blackbox::
    fi
}

blackbox_against_published_ports() { RSDIST_E2E_TARGET=published blackbox_tests; }

# The base images take minutes of downloading and unpacking, little CPU: a
# full run builds them in the background while the workspace compiles.
start_base_images() {
    # shellcheck source=scripts/docker.sh
    source scripts/docker.sh
    if base_images_missing; then
        # Installs with apt here, not beside the other scripts' installs.
        if [[ $(image_source) == offline ]]; then scripts/offline-images.sh tools; fi
        mkdir -p target
        { ./build_base_images.sh && build_ha_images; } >target/base-images.log 2>&1 &
        base_images_pid=$!
        echo "test.sh: building the base images in the background (target/base-images.log)"
    fi
}

# The fault tests of the compose cluster, or of the HA cluster, one at a
# time; each test's accounting (created, found, lost, duplicated) is printed
# at the end, passed or not.
cluster_tests() {
    export RSDIST_COMPOSE="${compose[*]}"
    # A failed test's last lines are its panic message, with the accounting
    # just above, not twenty frames of the async runtime.
    export RUST_BACKTRACE=0
    if nextest_available; then
        cargo nextest run -p e2e --test compose_cluster --run-ignored only --test-threads 1 \
            --no-fail-fast --success-output final -E "$1"
    else
        cargo test -p e2e --test compose_cluster -- --ignored --test-threads 1 --nocapture "${@:2}"
    fi
}

# Images built (offline from Debian's packages where no registry answers),
# the compose command found, and what is left of an earlier run removed.
prepare_compose() {
    # shellcheck source=scripts/docker.sh
    source scripts/docker.sh
    require_docker_engine
    find_compose
    if [[ -n ${base_images_pid:-} ]]; then
        wait "$base_images_pid" || { cat target/base-images.log; exit 1; }
        base_images_pid=
    fi
    # Once per run: the HA suite runs on the images the compose suite built.
    if [[ -z ${run_images_built:-} ]]; then
        if base_images_missing; then ./build_base_images.sh; fi
        ./build_run_images.sh
        run_images_built=1
    fi
    use_fake_coinbase
    remove_cluster
}

# The default or the HA cluster, whichever is up: its containers, network
# and volumes (down with both files removes what either made).
remove_cluster() {
    local both=(-f docker-compose.yml -f docker-compose.ha.yml)
    if [[ " ${compose[*]} " == *" docker-compose.ha.yml "* ]]; then both=(); fi
    COMPOSE_PROFILES=fake_coinbase "${compose[@]}" "${both[@]}" down -v --remove-orphans >/dev/null 2>&1
}

# Brings the cluster up from nothing: within $1 seconds, or fails.
up_from_nothing() {
    local started=$SECONDS
    replica_scale_args
    "${compose[@]}" up -d "${scale_args[@]}"
    wait_until_healthy "$1"
    echo "test.sh: $2 healthy $((SECONDS - started)) s after up"
}

compose_suite() {
    prepare_compose
    trap remove_cluster EXIT
    up_from_nothing 300 "compose cluster"
    echo "test.sh: black-box tests against the compose cluster"
    blackbox_against_published_ports
    echo "test.sh: container faults, one at a time"
    cluster_tests 'not test(/^ha::/)' --skip ha::
    remove_cluster
}

ha_suite() {
    prepare_compose
    if ha_images_missing; then build_ha_images; fi
    use_ha
    trap remove_cluster EXIT
    up_from_nothing 420 "HA cluster"
    echo "test.sh: faults of the replicated stores, one at a time"
    cluster_tests 'test(/^ha::/)' ha::
    echo "test.sh: black-box tests against the HA cluster, after its faults"
    blackbox_against_published_ports
    remove_cluster
}

docker_engine_answers() { type -P docker >/dev/null && docker info >/dev/null 2>&1; }

case ${1:-} in
    --cluster)
        echo "test.sh: black-box tests against http://localhost:$CREATE_BUY_ORDER_EXT_PORT and :$FETCH_BUY_ORDERS_EXT_PORT"
        echo "test.sh: skipped here: the fault and white-box tests, which start, stop and inspect processes and databases"
        blackbox_against_published_ports
        exit
        ;;
    --compose)
        compose_suite
        exit
        ;;
    --ha)
        ha_suite
        exit
        ;;
esac

if docker_engine_answers; then start_base_images; fi
# The static checks, run from nothing: hadolint installed afresh, so that a
# fresh machine's set-up is what every run exercises.
scripts/check-tool-installs.sh
# The Kubernetes overlays built and validated against the API's schemas.
scripts/kubernetes-checks.sh
scripts/backing-services.sh
# Chromium, Prometheus and schemathesis, which the API tests drive.
scripts/test-tools.sh
# The end-to-end tests run the service binaries as processes; cargo builds a
# package's binaries for its own tests only, so build them all first, with the
# tests in the same invocation: the same features, so nextest rebuilds nothing.
cargo build --workspace --all-targets
run_tests --workspace
echo "test.sh: the black-box tests again, with AUTH_REQUIRED=false and no API key, as the original's clients"
RSDIST_E2E_AUTH_REQUIRED=false blackbox_tests
if docker_engine_answers; then
    compose_suite
    ha_suite
else
    echo "test.sh: no Docker engine answers: the compose and HA suites (./test.sh --compose, --ha) were not run"
fi
