//! Writes new orders in groups: every create waits on the one running-total
//! row, so rather than one transaction per order (each holding the row lock
//! across its round trips and its commit), one task takes whatever orders are
//! waiting and stores them in a single short transaction. Under the lock it
//! reads the batch's idempotence records and the running total, lets
//! `rules::decide` judge each order as if they came one at a time, and
//! inserts the accepted ones with one statement. This is the mechanism only;
//! the rules are in `rules`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use domain::BuyOrderEvent;
use platform::postgres::HeldConnection;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::rules::{self, Batch, ClientKey, Decision, NewOrder, Placed, Refusal};
use crate::storage;

/// The most orders stored in one transaction.
const MAX_BATCH: usize = 128;

/// Why the writer could not judge or store an order.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("the batch writer has stopped")]
    Stopped,
    /// Shared, because one failed transaction fails every order of its batch.
    #[error("write model: {0}")]
    Database(Arc<sqlx::Error>),
    #[error("order {0} was inserted, but the insert did not return it")]
    OrderMissing(Uuid),
}

impl From<sqlx::Error> for WriteError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(Arc::new(error))
    }
}

/// An order's fate: placed or refused by the rules, or not judged at all.
pub(crate) type Outcome = Result<Result<Placed, Refusal>, WriteError>;

struct Pending {
    order: NewOrder,
    reply: oneshot::Sender<Outcome>,
}

/// The request side of the writer task.
#[derive(Clone)]
pub(crate) struct BatchWriter {
    sender: mpsc::Sender<Pending>,
}

impl BatchWriter {
    /// The request side, and the writer itself: a task to run (and watch)
    /// for as long as the service serves.
    pub(crate) fn new(pool: PgPool) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
        (Self { sender }, write_batches(pool, receiver))
    }

    /// Stores `order` (or finds why not) in the next batch.
    pub(crate) async fn store(&self, order: NewOrder) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        let pending = Pending { order, reply };
        self.sender
            .send(pending)
            .await
            .map_err(|_| WriteError::Stopped)?;
        outcome.await.map_err(|_| WriteError::Stopped)?
    }
}

async fn write_batches(pool: PgPool, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // One connection for every batch: taking one from the pool for each
    // would add a wait and a round trip while every create waits.
    let mut connection = HeldConnection::new(pool.clone());
    let mut number = 0;
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let orders: Vec<&NewOrder> = batch.iter().map(|pending| &pending.order).collect();
        metrics::histogram!("batch_writer_batch_size").record(orders.len() as f64);
        number += 1;
        let stamp = Batch {
            number,
            orders: orders.len(),
        };
        let outcomes = match write(&mut connection, &orders, stamp).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                connection.discard();
                let outcome = failed_batch(&pool, error).await;
                orders.iter().map(|_| outcome.clone()).collect()
            }
        };
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            // A request that gave up (its client went away) needs no answer.
            let _ = pending.reply.send(outcome);
        }
    }
}

/// One transaction for the batch; an outcome per order, in order.
async fn write(
    connection: &mut HeldConnection,
    orders: &[&NewOrder],
    batch: Batch,
) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = storage::begin_locked(connection.get().await?).await?;
    let keys: Vec<ClientKey> = orders
        .iter()
        .map(|order| (order.client_id, order.idempotence_key))
        .collect();
    let books = storage::read_books(&mut *tx, &keys).await?;
    let decisions = rules::decide(orders, &books.records, books.running_total, &books.limits);
    let accepted: Vec<&NewOrder> = decisions
        .iter()
        .zip(orders)
        .filter(|(decision, _)| matches!(decision, Decision::Insert))
        .map(|(_, order)| *order)
        .collect();
    let events = storage::insert_orders(&mut tx, &accepted).await?;
    tx.commit().await?;
    let mut created = HashMap::new();
    for event in events {
        created.insert(event.external_id, event);
    }
    Ok(decisions
        .into_iter()
        .zip(orders)
        .map(|(decision, order)| outcome(decision, order, &created, batch))
        .collect())
}

/// The outcome of one order once its batch is committed, with `created` the
/// orders the batch inserted, by external id.
fn outcome(
    decision: Decision,
    order: &NewOrder,
    created: &HashMap<Uuid, BuyOrderEvent>,
    batch: Batch,
) -> Outcome {
    let inserted = |external_id: Uuid| {
        created
            .get(&external_id)
            .cloned()
            .ok_or(WriteError::OrderMissing(external_id))
    };
    match decision {
        Decision::Insert => Ok(Ok(Placed::Created(inserted(order.external_id)?, batch))),
        Decision::SameAsEarlier(external_id) => Ok(Ok(Placed::Replayed(inserted(external_id)?))),
        Decision::Stored(decided) => Ok(decided),
        Decision::Refuse(refusal) => Ok(Err(refusal)),
    }
}

/// The outcome of every order of a batch whose transaction failed. The CHECK
/// on the running total is the database's own guard of the limit; it fires
/// only if something bypassed the lock above, and is a refusal like any other.
async fn failed_batch(pool: &PgPool, error: sqlx::Error) -> Outcome {
    let constraint = error.as_database_error().and_then(|e| e.constraint());
    if constraint != Some("btc_running_total_within_limit") {
        return Err(error.into());
    }
    let running_total = storage::running_total(pool).await?;
    Ok(Err(Refusal::limit_exceeded(running_total)))
}
