# shellcheck shell=bash
# apt_install PACKAGE...: installs Debian packages, as root. The package lists
# are updated once per boot (the marker lives in /tmp), and apt waits for the
# dpkg lock rather than fail beside another install. Fails, naming the
# packages, where apt cannot be used. Sourced by the set-up scripts.
apt_install() {
    if [[ $EUID -ne 0 ]] || ! type -P apt-get >/dev/null; then
        printf 'missing: %s; install it, or run this as root on Debian\n' "$*" >&2
        return 1
    fi
    local wait_for_lock=(-o DPkg::Lock::Timeout=600)
    if [[ ! -f /tmp/.rsdist-apt-updated ]]; then
        apt-get update -q "${wait_for_lock[@]}" >&2 && touch /tmp/.rsdist-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${wait_for_lock[@]}" \
        --no-install-recommends "$@" >&2
}
