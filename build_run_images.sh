#!/usr/bin/env bash
# Builds one run image per compose service on the base images of
# ./build_base_images.sh: the infrastructure with its configuration, and each
# Rust service as its static binary on the runtime base.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
require_docker_engine

for service in "${INFRASTRUCTURE_SERVICES[@]}"; do
    docker build -t "rsdist/$service:latest" "services/$service"
done
for service in "${RUST_SERVICES[@]}"; do
    docker build -f services/Dockerfile --build-arg "SERVICE=$service" -t "rsdist/$service:latest" .
done
