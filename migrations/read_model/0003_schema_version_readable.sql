-- The services may read which migrations were applied, so that where no
-- migration service stays up to ask (a Kubernetes Job), each waits until the
-- schema it was built for is there (MIGRATIONS_GATE=schema).
GRANT SELECT ON _sqlx_migrations TO rsdist_read_model_writer, rsdist_read_model_reader;
