# Offline stand-in for the pinned upstream rabbitmq management base: Debian's
# RabbitMQ with the management plugin, keeping the contract compose relies
# on (RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS make the first user,
# config files in /etc/rabbitmq/conf.d, data in /var/lib/rabbitmq, the named
# volume; logs on stdout). Built by ./build_base_images.sh as
# rsdist/rabbitmq-base:debian-12 when no registry can be reached.
FROM rsdist/debian:12
# rabbitmq-server depends on Python for rabbitmqadmin alone, which the
# cluster never runs (rabbitmqctl and the management UI are Erlang): it is
# removed after the install, a sixth of the image.
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server \
    && for package in python3 python3-minimal python3.11 python3.11-minimal \
           libpython3.11-stdlib libpython3.11-minimal media-types; do \
           dpkg --purge --force-depends "$package" || exit 1; \
       done \
    && rm -rf /var/lib/apt/lists/* \
    && rabbitmq-plugins enable --offline rabbitmq_management \
    && mkdir -p /etc/rabbitmq/conf.d \
    && chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV HOME=/var/lib/rabbitmq RABBITMQ_LOGS=- RABBITMQ_CONFIG_FILES=/etc/rabbitmq/conf.d
EXPOSE 5672 15672
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
