# The runtime base of every Rust service: Alpine with CA certificates (for
# Coinbase's TLS) and an unprivileged user. Built by ./build_base_images.sh
# as rsdist/runtime:3.22.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
    && adduser -D -H -u 10001 rsdist
USER 10001:10001
