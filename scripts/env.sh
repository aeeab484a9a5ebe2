# shellcheck shell=bash
# Sourced by the scripts: exports the defaults of .env for every variable that
# the environment does not already set, so that `NAME=value ./script` wins.
_env_file="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.env"
while IFS='=' read -r _name _value; do
    [[ $_name =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    if [[ -z ${!_name+set} ]]; then
        export "$_name=$_value"
    fi
done <"$_env_file"
unset _env_file _name _value

# The Authorization header the curl scripts send: API_KEY if set, else the
# development key of .env (none when both are empty, for AUTH_REQUIRED=false).
# shellcheck disable=SC2034 # used by the scripts that source this file
auth_header=()
if [[ -n ${API_KEY:-${DEV_API_KEY:-}} ]]; then
    # shellcheck disable=SC2034 # used by the scripts that source this file
    auth_header=(-H "Authorization: Bearer ${API_KEY:-$DEV_API_KEY}")
fi
