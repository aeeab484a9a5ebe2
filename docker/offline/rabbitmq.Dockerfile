# Offline stand-in for the pinned upstream rabbitmq management base: Debian's
# RabbitMQ with the management plugin, keeping the contract compose relies
# on (RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS make the first user,
# config files in /etc/rabbitmq/conf.d, data in /var/lib/rabbitmq, the named
# volume; logs on stdout). Built by ./build_base_images.sh as
# rsdist/rabbitmq-base:debian-12 when no registry can be reached.
FROM rsdist/debian:12
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/* \
    && rabbitmq-plugins enable --offline rabbitmq_management \
    && mkdir -p /etc/rabbitmq/conf.d \
    && chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV HOME=/var/lib/rabbitmq RABBITMQ_LOGS=- RABBITMQ_CONFIG_FILES=/etc/rabbitmq/conf.d
EXPOSE 5672 15672
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
