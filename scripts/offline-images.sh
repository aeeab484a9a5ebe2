#!/usr/bin/env bash
# Builds the cluster's images without an image registry, from Debian's
# packages and the host-built release binaries, under the names that
# docker-compose.yml uses:
#   scripts/offline-images.sh tools   installs debootstrap if it is missing
#   scripts/offline-images.sh debian  rsdist/debian:12 alone (debootstrap, then
#                                     docker import; kept once built)
#   scripts/offline-images.sh bases   rsdist/debian:12 (debootstrap, then
#                                     docker import; kept once built), and
#                                     the runtime, postgres, rabbitmq and
#                                     haproxy bases
#   scripts/offline-images.sh run     the run images of the nine services and
#                                     the fake Coinbase
#   scripts/offline-images.sh ha      the HA cluster's store images: etcd and
#                                     Patroni (docker-compose.ha.yml)
# ./build_base_images.sh and ./build_run_images.sh call it when no registry
# answers, or when RSDIST_IMAGES=offline.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/docker.sh
source scripts/docker.sh

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
OFFLINE_BASE_TAG=debian-12

log() { printf 'offline-images: %s\n' "$*" >&2; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Debian 12 from Debian's packages: a minimal debootstrap, imported as an
# image, without documentation, translations, downloaded packages or apt's
# caches; images built on it drop those too (dpkg and apt settings).
build_debian_base() {
    if image_exists rsdist/debian:12; then
        log "rsdist/debian:12 exists; not rebuilt"
        return
    fi
    install_tools
    local rootfs
    rootfs=$(mktemp -d)
    log "debootstrap bookworm from $DEBIAN_MIRROR"
    debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >&2
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-rsdist-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
SLIM
    cat >"$rootfs/etc/apt/apt.conf.d/01-rsdist-slim" <<'SLIM'
APT::Install-Recommends "false";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
SLIM
    rm -rf "$rootfs"/usr/share/{doc,man,info,locale}/* "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - rsdist/debian:12 >/dev/null
    rm -rf "$rootfs"
    log "built rsdist/debian:12"
}

install_tools() { type -P debootstrap >/dev/null || { log "installing debootstrap"; apt_install debootstrap; }; }

# shellcheck source=scripts/apt.sh
source scripts/apt.sh

# Runs a command, showing its output only if it fails (docker build is chatty).
quietly() {
    local output
    output=$("$@" 2>&1) || { printf '%s\n' "$output" >&2; return 1; }
}

# --force-rm: a failed step leaves no stopped container behind.
build() {
    local image=${*: -2:1}
    quietly docker build --force-rm "$@"
    log "built $image"
}

bases() {
    build_debian_base
    build -f docker/offline/runtime.Dockerfile -t "rsdist/runtime:$OFFLINE_BASE_TAG" docker/offline
    local base
    for base in postgres rabbitmq haproxy; do
        build -f "docker/offline/$base.Dockerfile" -t "rsdist/$base-base:$OFFLINE_BASE_TAG" docker/offline
    done
}

# The distroless image of a host-built binary (docker/offline/service.Dockerfile):
# a context folder holding it as ./service; further arguments go to docker build.
binary_image() {
    local binary=$1 image=$2 context
    context=target/images/$binary
    mkdir -p "$context"
    cp "target/release/$binary" "$context/service"
    build -f docker/offline/service.Dockerfile "${@:3}" -t "$image" "$context"
}

run() {
    log "building the release binaries on the host"
    local packages=("${RUST_SERVICES[@]/#/-p}")
    cargo build --release --quiet --bins "${packages[@]}" -p testkit
    local model
    for model in write_model read_model; do
        build --build-arg "BASE=rsdist/postgres-base:$OFFLINE_BASE_TAG" -t "rsdist/$model:latest" "services/$model"
    done
    build --build-arg "BASE=rsdist/rabbitmq-base:$OFFLINE_BASE_TAG" -t rsdist/queue:latest services/queue
    build --build-arg "BASE=rsdist/haproxy-base:$OFFLINE_BASE_TAG" -t rsdist/ingress:latest services/ingress
    # The log receiver stands in for fluentd, writing where fluentd would.
    binary_image fluent_receiver rsdist/log:latest --build-arg LOG_DIR=/fluentd/log
    local service
    for service in "${RUST_SERVICES[@]}" fake_coinbase; do
        binary_image "$service" "rsdist/$service:latest"
    done
}

# On Debian 12, as the registry path builds them on Debian's pinned image.
ha() {
    build_debian_base
    local image
    for image in "${HA_IMAGES[@]}"; do
        build --build-arg BASE=rsdist/debian:12 -t "rsdist/$image:latest" "services/ha/$image"
    done
}

require_docker_engine
case ${1:-} in
    tools) install_tools ;;
    debian) build_debian_base ;;
    bases) bases ;;
    run) run ;;
    ha) ha ;;
    *) echo "usage: $0 tools|debian|bases|run|ha" >&2; exit 2 ;;
esac
