# The offline image of one Rust binary, distroless: the release binary built
# on the host (the build context holds it as ./service), the shared libraries
# it links (found by ldd), the CA bundle, and a passwd line for user 10001.
# No shell and no package manager: the healthcheck is the binary's own
# `healthcheck` subcommand. The five services, the fake Coinbase and the log
# receiver (LOG_DIR=/fluentd/log) are all built from this file.
FROM rsdist/runtime:debian-12 AS parts
# This stage only assembles files (as root, to own them as the image needs);
# the image itself runs as 10001.
# hadolint ignore=DL3002
USER 0:0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY service /rootfs/usr/local/bin/service
ARG LOG_DIR=""
# ldd names each library twice over (/lib is /usr/lib here); copying the files
# the links resolve to, under the names the binary asks for, is all it needs.
RUN ldd /rootfs/usr/local/bin/service \
        | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' \
        | xargs cp --parents --dereference --target-directory=/rootfs \
    && mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && echo 'rsdist:x:10001:10001::/nonexistent:/nonexistent' >/rootfs/etc/passwd \
    && echo 'rsdist:x:10001:' >/rootfs/etc/group \
    && chmod 1777 /rootfs/tmp \
    && if [ -n "$LOG_DIR" ]; then mkdir -p "/rootfs$LOG_DIR" && chown 10001:10001 "/rootfs$LOG_DIR"; fi

FROM scratch
COPY --from=parts /rootfs /
USER 10001:10001
ENV SERVICE_HOST=0.0.0.0
HEALTHCHECK --interval=5s --timeout=4s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]
