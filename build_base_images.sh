#!/usr/bin/env bash
# Builds the base images the run images start from:
#   rsdist/builder:1.95   Rust on musl, with the workspace's dependencies compiled
#   rsdist/runtime:3.22   Alpine, CA certificates, an unprivileged user
#   rsdist/postgres-base, rsdist/rabbitmq-base, rsdist/fluentd-base,
#   rsdist/haproxy-base   the infrastructure images, pinned, under our names
# Without a registry (or with RSDIST_IMAGES=offline) it builds their offline
# stand-ins from Debian's packages instead: scripts/offline-images.sh bases.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
require_docker_engine
if [[ $(image_source) == offline ]]; then
    exec scripts/offline-images.sh bases
fi

infrastructure=(
    "postgres:17-alpine rsdist/postgres-base:17-alpine"
    "rabbitmq:4.0-management-alpine rsdist/rabbitmq-base:4.0-management-alpine"
    "fluent/fluentd:v1.17-debian-1 rsdist/fluentd-base:v1.17-debian-1"
    "haproxy:2.6 rsdist/haproxy-base:2.6"
)
for pair in "${infrastructure[@]}"; do
    read -r upstream ours <<<"$pair"
    docker pull "$upstream"
    docker tag "$upstream" "$ours"
done
docker build -f docker/runtime.Dockerfile -t rsdist/runtime:3.22 docker
docker build -f docker/builder.Dockerfile -t rsdist/builder:1.95 .
