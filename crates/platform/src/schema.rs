//! The schemas of both databases, embedded from `migrations/` at build time so
//! that a binary carries the exact SQL it was built against.

use sqlx::migrate::Migrator;

/// `migrations/write_model`: the golden source of truth.
pub static WRITE_MODEL: Migrator = sqlx::migrate!("../../migrations/write_model");

/// `migrations/read_model`: the denormalised rows behind GET /buy_orders.
pub static READ_MODEL: Migrator = sqlx::migrate!("../../migrations/read_model");
