#!/usr/bin/env bash
# Builds one run image per compose service on the base images of
# ./build_base_images.sh: the infrastructure with its configuration, and each
# Rust service as its static binary on the runtime base, and the fake
# Coinbase. Without a registry (or with RSDIST_IMAGES=offline) the offline
# path builds the same image names: scripts/offline-images.sh run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
require_docker_engine
if [[ $(image_source) == offline ]]; then
    exec scripts/offline-images.sh run
fi

for service in "${INFRASTRUCTURE_SERVICES[@]}"; do
    docker build -t "rsdist/$service:latest" "services/$service"
done
for service in "${RUST_SERVICES[@]}"; do
    docker build -f services/Dockerfile --build-arg "SERVICE=$service" -t "rsdist/$service:latest" .
done
docker build -f services/Dockerfile --build-arg SERVICE=fake_coinbase --build-arg PACKAGE=testkit \
    -t rsdist/fake_coinbase:latest .
