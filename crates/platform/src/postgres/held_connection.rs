//! One connection kept by a task that works serially (the batch writer, the
//! consumer). Taking a connection from the pool for each piece of work costs
//! a wait for it and, when it goes back, sqlx's test of it: a round trip that
//! the server and the task each wake up for. Kept, it costs neither, and it is
//! still tested before use once it has sat idle, as the pool's are.

use std::time::Instant;

use sqlx::Connection;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, Postgres};

use super::TEST_AFTER_IDLE;

/// A connection from `pool`, kept between uses. It is closed, never given
/// back, when it fails or the holder ends: it may be mid-transaction.
pub struct HeldConnection {
    pool: PgPool,
    held: Option<PoolConnection<Postgres>>,
    last_used: Instant,
}

impl HeldConnection {
    /// Holds nothing yet: the first [`HeldConnection::get`] takes a connection.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            held: None,
            last_used: Instant::now(),
        }
    }

    /// The connection, taken from the pool if none is held or the held one
    /// failed its test after sitting idle. Fails when the pool cannot give
    /// one (the database is away).
    pub async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        let idle = self.last_used.elapsed();
        self.last_used = Instant::now();
        let tested = match self.held.as_mut() {
            Some(connection) if idle >= TEST_AFTER_IDLE => connection.ping().await.is_ok(),
            held => held.is_some(),
        };
        if !tested {
            self.discard();
            self.held = Some(self.pool.acquire().await?);
        }
        Ok(self.held.as_mut().expect("a connection was just taken"))
    }

    /// Closes the connection after a failure, which may have left it inside
    /// a transaction (holding its locks); the next use takes another.
    pub fn discard(&mut self) {
        if let Some(mut connection) = self.held.take() {
            connection.close_on_drop();
        }
    }
}

impl Drop for HeldConnection {
    fn drop(&mut self) {
        self.discard();
    }
}
