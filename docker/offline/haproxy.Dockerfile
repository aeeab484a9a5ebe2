# Offline stand-in for the pinned upstream haproxy base: Debian's HAProxy
# (2.6, as upstream's pin), keeping the contract of the upstream image that
# the ingress relies on (the configuration at
# /usr/local/etc/haproxy/haproxy.cfg, run in the foreground as an
# unprivileged user, SIGUSR1 for a graceful stop, bash for the healthcheck).
# Built by ./build_base_images.sh as rsdist/haproxy-base:debian-12 when no
# registry can be reached.
FROM rsdist/debian:12
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /usr/local/etc/haproxy \
    && useradd --system --uid 10010 --no-create-home --shell /usr/sbin/nologin ingress
USER 10010
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
