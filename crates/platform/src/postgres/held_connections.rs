//! Connections held for requests that each need one for a moment (a page of
//! orders). sqlx's pool tests every connection as it comes back: a round trip
//! per query that the server and the service each wake up for. These are lent
//! and given back without one. A connection that is not given back, because
//! its request failed or was dropped midway, is closed instead: it may be in
//! the middle of a statement.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnection, PgPool};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::HeldConnection;

/// A fixed number of connections from one pool, lent one request at a time.
pub struct HeldConnections {
    shelf: Mutex<Vec<HeldConnection>>,
    turns: Semaphore,
    /// How long a request waits for a connection: the pool's acquire timeout.
    wait: Duration,
}

impl HeldConnections {
    /// Holds up to the pool's size of connections, each taken from `pool`
    /// when it is first used, and never given back to it.
    pub fn new(pool: &PgPool) -> Self {
        let size = pool.options().get_max_connections() as usize;
        let shelf = (0..size).map(|_| HeldConnection::new(pool.clone()));
        Self {
            shelf: Mutex::new(shelf.collect()),
            turns: Semaphore::new(size),
            wait: pool.options().get_acquire_timeout(),
        }
    }

    /// A connection for one piece of work. Fails with `PoolTimedOut` when
    /// none is free within the pool's acquire timeout.
    pub async fn lend(&self) -> Result<LentConnection<'_>, sqlx::Error> {
        let turn = tokio::time::timeout(self.wait, self.turns.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .expect("the semaphore is never closed");
        let held = self
            .shelf()
            .pop()
            .expect("a turn has a connection to go with it");
        Ok(LentConnection {
            from: self,
            held: Some(held),
            given_back: false,
            _turn: turn,
        })
    }

    /// Does `work` on a lent connection, and gives the connection back only
    /// once `work` has succeeded: one whose work failed, or was dropped
    /// midway, is closed. Fails as [`Self::lend`] and [`LentConnection::get`]
    /// do, or with `work`'s error.
    pub async fn run<T>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let mut lent = self.lend().await?;
        let done = work(lent.get().await?).await?;
        lent.give_back();
        Ok(done)
    }

    /// One round trip on a lent connection, for a healthcheck. Fails when the
    /// database cannot be reached or every connection stays busy.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.run(async |db| super::ping(db).await).await
    }

    fn shelf(&self) -> std::sync::MutexGuard<'_, Vec<HeldConnection>> {
        // The shelf is only pushed to and popped from: a panic elsewhere
        // cannot leave it half changed.
        self.shelf.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection lent by [`HeldConnections`]; closed on drop unless given back.
pub struct LentConnection<'a> {
    from: &'a HeldConnections,
    held: Option<HeldConnection>,
    given_back: bool,
    // Dropped after the connection is back on the shelf (fields drop after
    // `drop`), so the next turn always finds one there.
    _turn: SemaphorePermit<'a>,
}

impl LentConnection<'_> {
    /// The connection, tested first if it sat idle, or a new one from the
    /// pool. Fails when the pool cannot give one (the database is away).
    pub async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        self.held.as_mut().expect("held until dropped").get().await
    }

    /// Puts the connection back for the next request, once its work is done.
    pub fn give_back(mut self) {
        self.given_back = true;
    }
}

impl Drop for LentConnection<'_> {
    fn drop(&mut self) {
        let Some(mut held) = self.held.take() else {
            return;
        };
        if !self.given_back {
            held.discard();
        }
        self.from.shelf().push(held);
    }
}
