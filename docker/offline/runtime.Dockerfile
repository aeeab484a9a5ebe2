# Offline stand-in for the Alpine runtime base of the Rust services: Debian
# with CA certificates and the same unprivileged user. The host-built release
# binaries link against glibc, which Debian 12 has. Built by
# ./build_base_images.sh as rsdist/runtime:debian-12.
FROM rsdist/debian:12
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --no-create-home --uid 10001 --user-group rsdist
USER 10001:10001
