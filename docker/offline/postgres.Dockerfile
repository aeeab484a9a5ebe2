# Offline stand-in for the pinned upstream postgres base: Debian's PostgreSQL
# with an entrypoint that keeps the contract compose and the run images rely
# on (POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB create the superuser
# and the database on first start; the data directory is PGDATA, the named
# volume; `postgres` and `pg_isready` on PATH). Built by
# ./build_base_images.sh as rsdist/postgres-base:debian-12 when no registry
# can be reached.
FROM rsdist/debian:12
# No default cluster: the entrypoint makes the one on the volume.
# Smaller than the package's closure, where Debian allows: the locale sources
# are not installed (C.UTF-8 is built into glibc), and the LLVM JIT goes (two
# thirds of the image: LLVM, z3 and the bitcode). postgresql-15 depends on
# libllvm14 without a way round, so the JIT is removed after the install;
# PostgreSQL only loads its JIT provider when a query is costly enough, finds
# none and runs the query without it, and our configs set jit = off besides.
# Perl goes too: only postgresql-common's wrapper scripts use it, and the
# entrypoint calls the server's own programs.
RUN mkdir -p /etc/postgresql-common \
    && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \
    && echo 'path-exclude /usr/share/i18n/*' >/etc/dpkg/dpkg.cfg.d/02-rsdist-no-locale-sources \
    && apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       -o Dpkg::Options::=--force-confold postgresql-15 \
    && dpkg --purge --force-depends libllvm14 libz3-4 perl perl-modules-5.36 libperl5.36 \
    && rm -rf /usr/lib/postgresql/15/lib/bitcode /usr/lib/postgresql/15/lib/llvmjit* \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
# A fast shutdown, as the upstream image asks for.
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
