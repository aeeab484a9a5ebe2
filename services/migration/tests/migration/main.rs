//! The migration service as a process against real PostgreSQL databases, and
//! the guarantees its write-model schema gives.

mod roles;
mod schema_guards;
mod service;
