# The offline `log` service: the project's own forward-protocol receiver
# (crates/testkit/src/bin/fluent_receiver.rs). It stands in for fluentd only
# where fluentd's image cannot be had, Debian having no fluentd package: same
# port, acknowledgements, and every event as a JSON line on the logging_data
# volume (/fluentd/log/events.jsonl). The build context holds the binary as
# ./service.
FROM rsdist/runtime:debian-12
USER 0:0
RUN mkdir -p /fluentd/log && chown 10001:10001 /fluentd/log
COPY service /usr/local/bin/service
USER 10001:10001
EXPOSE 24224
HEALTHCHECK --interval=5s --timeout=4s --retries=5 CMD ["/usr/local/bin/service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]
