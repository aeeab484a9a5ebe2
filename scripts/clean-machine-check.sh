#!/usr/bin/env bash
# The README's test command as a new user meets it: ./test.sh from a fresh
# clone of HEAD, inside a fresh container of the Debian base (rsdist/debian:12,
# debootstrap's minimal Debian 12), as root, with nothing of the project's
# installed. It gets only what every machine of this project's kind has
# besides the project: the Rust toolchain (this machine's, mounted read-only),
# kubectl (likewise: the machines have it, Debian's archive does not), a C
# linker for the toolchain, CA certificates (with this network's own CA) and
# this network's host names. No Docker engine runs inside, so the compose suite is
# skipped there, as ./test.sh says.
#
# Slow (everything is installed and compiled from nothing, about 10 minutes
# on 2 cores): run it before resolving a change to the set-up, not in every
# CI run. Exits with ./test.sh's status; the container's output is also kept
# in target/clean-machine-check.log.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"
# shellcheck source=scripts/docker.sh
source scripts/docker.sh
require_docker_engine
scripts/offline-images.sh debian

work=$(mktemp -d)
trap 'docker rm -f rsdist-clean-machine >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git clone -q "$root_dir" "$work/src"

# This machine's host names for the registries (a sandbox may route them).
hosts=()
while read -r address names; do
    [[ -z $address || $address == \#* || $address == 127.* || $address == ::1 ]] && continue
    for name in $names; do hosts+=(--add-host "$name:$address"); done
done </etc/hosts

rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=$(dirname "$(type -P cargo)")
kubectl_bin=$(dirname "$(readlink -f "$(type -P kubectl)")")
custom_cas=/usr/local/share/ca-certificates
mkdir -p target
docker run --rm --name rsdist-clean-machine "${hosts[@]}" \
    -v "$rustup_home:/opt/rustup:ro" -v "$cargo_bin:/opt/cargo-bin:ro" \
    -v "$kubectl_bin:/opt/kubectl-bin:ro" \
    -v "$custom_cas:$custom_cas:ro" -v "$work/src:/src" \
    -e RUSTUP_HOME=/opt/rustup -e CARGO_HOME=/root/.cargo \
    -e PATH=/opt/cargo-bin:/opt/kubectl-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    -e PIP_CERT=/etc/ssl/certs/ca-certificates.crt -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    rsdist/debian:12 bash -euo pipefail -c '
        echo "clean-machine-check: the toolchain'"'"'s needs: gcc, libc6-dev, ca-certificates"
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc libc6-dev ca-certificates >/dev/null
        cd /src
        echo "clean-machine-check: ./test.sh"
        ./test.sh
    ' 2>&1 | tee target/clean-machine-check.log
