# The offline image of one Rust service: the release binary built on the host
# (the build context holds it as ./service) on the Debian runtime base, with
# the same user, entrypoint and healthcheck as services/Dockerfile.
FROM rsdist/runtime:debian-12
COPY service /usr/local/bin/service
USER 10001:10001
ENV SERVICE_HOST=0.0.0.0
HEALTHCHECK --interval=5s --timeout=4s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]
