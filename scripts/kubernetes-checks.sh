#!/usr/bin/env bash
# The Kubernetes manifests checked offline: each overlay of deploy/kubernetes
# built with `kubectl kustomize`, and every object it renders validated with
# kubernetes-validate --strict (unknown fields are errors) against the oldest
# and the newest Kubernetes minor still supported on 2026-12-07. Renders go
# to target/kubernetes/. What the YAML says (probes, flows, settings) is
# tested by the kubernetes test of crates/e2e; no cluster runs here.
#
# kubernetes-validate (PyPI, pinned) is installed into a virtualenv of its
# own under $RSDIST_TOOLS_DIR (default target/tools): its schemas are 100 MB,
# which the fresh-install check of scripts/check-tool-installs.sh need not
# unpack every run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly VALIDATOR_VERSION=1.37.0
readonly KUBERNETES_VERSIONS=(1.35.0 1.37.0)
tools_dir=${RSDIST_TOOLS_DIR:-$PWD/target/tools}
venv=$tools_dir/kubernetes-validate
out=target/kubernetes

log() { printf 'kubernetes-checks: %s\n' "$*" >&2; }

# The machines of this project have kubectl; Debian 12's archive has none.
type -P kubectl >/dev/null || {
    log "kubectl is not on PATH: it builds the overlays (kubectl kustomize, kubectl 1.27 or later);"
    log "install it from the Kubernetes project's packages (pkgs.k8s.io) or your distribution's"
    exit 1
}
if [[ ! -x $venv/bin/kubernetes-validate ]]; then
    log "installing kubernetes-validate $VALIDATOR_VERSION into $venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "kubernetes-validate==$VALIDATOR_VERSION" >&2
fi

mkdir -p "$out"
for overlay in deploy/kubernetes/overlays/*/; do
    name=$(basename "$overlay")
    kubectl kustomize "$overlay" >"$out/$name.yaml"
    for version in "${KUBERNETES_VERSIONS[@]}"; do
        "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$out/$name.yaml" || {
            log "FAILED: overlays/$name against Kubernetes $version"
            exit 1
        }
    done
    log "passed: overlays/$name ($(grep -c '^kind:' "$out/$name.yaml") objects) against Kubernetes ${KUBERNETES_VERSIONS[*]}"
done
