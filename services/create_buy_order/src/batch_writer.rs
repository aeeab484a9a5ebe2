//! Writes new orders in groups: every create waits on the one running-total
//! row, so rather than one transaction per order (each holding the row lock
//! across its round trips and its commit), one task takes whatever orders are
//! waiting and stores them in a single short transaction. All guarantees are
//! those of one order at a time: under the lock each order is checked against
//! the idempotence records (stored and earlier in the batch) and the capacity
//! left, in arrival order, before one statement inserts the accepted ones.

use std::collections::HashMap;

use domain::{BTC_LIMIT, BtcAmount};
use rust_decimal::Decimal;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::place_order::{PlaceError, Placed, replay};
use crate::storage::{self, IdempotenceRecord, NewOrder};

/// The most orders stored in one transaction.
const MAX_BATCH: usize = 128;

type Outcome = Result<Placed, PlaceError>;

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
    /// Starts the writer task on `pool`.
    pub(crate) fn start(pool: PgPool) -> Self {
        let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(pool, receiver));
        Self { sender }
    }

    /// Stores `order` (or finds why not) in the next batch.
    pub(crate) async fn store(&self, order: NewOrder) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        let stopped = || PlaceError::from(sqlx::Error::PoolClosed);
        self.sender
            .send(Pending { order, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

async fn write_batches(pool: PgPool, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let orders: Vec<&NewOrder> = batch.iter().map(|pending| &pending.order).collect();
        let outcomes = match write(&pool, &orders).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                let error = refusal(&pool, error).await;
                orders.iter().map(|_| Err(error.clone())).collect()
            }
        };
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            // A request that gave up (its client went away) needs no answer.
            let _ = pending.reply.send(outcome);
        }
    }
}

/// One transaction for the batch; an outcome per order, in order.
async fn write(pool: &PgPool, orders: &[&NewOrder]) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let total = storage::lock_running_total(&mut tx).await?;
    let client_id = orders.first().map_or(0, |order| order.client_id);
    let keys: Vec<Uuid> = orders.iter().map(|order| order.idempotence_key).collect();
    let stored: HashMap<Uuid, IdempotenceRecord> =
        storage::find_idempotence_records(&mut *tx, client_id, &keys)
            .await?
            .into_iter()
            .collect();
    let decisions = decide(orders, &stored, BTC_LIMIT - total);
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
        .map(|(d, order)| d.outcome(order, &created))
        .collect())
}

/// What becomes of one order of a batch.
enum Decision {
    Insert,
    /// The key was used before, by a stored order or one earlier in the batch.
    Replay(Box<Outcome>),
    /// The key is used earlier in this batch by an order still to be inserted.
    SameAsEarlier(Uuid),
    Refuse(PlaceError),
}

impl Decision {
    fn outcome(self, order: &NewOrder, created: &HashMap<Uuid, domain::BuyOrderEvent>) -> Outcome {
        match self {
            Decision::Insert => created
                .get(&order.external_id)
                .cloned()
                .map(Placed::Created)
                .ok_or_else(|| PlaceError::from(sqlx::Error::RowNotFound)),
            Decision::Replay(outcome) => *outcome,
            Decision::SameAsEarlier(external_id) => created
                .get(&external_id)
                .cloned()
                .map(Placed::Replayed)
                .ok_or_else(|| PlaceError::from(sqlx::Error::RowNotFound)),
            Decision::Refuse(error) => Err(error),
        }
    }
}

/// Applies the rules to each order in arrival order, as if one at a time.
fn decide(
    orders: &[&NewOrder],
    stored: &HashMap<Uuid, IdempotenceRecord>,
    capacity: Decimal,
) -> Vec<Decision> {
    let mut remaining = capacity;
    let mut earlier: HashMap<Uuid, &NewOrder> = HashMap::new();
    orders
        .iter()
        .map(|order| {
            let key = order.idempotence_key;
            if let Some(record) = stored.get(&key) {
                return Decision::Replay(Box::new(replay(record, order.amount, key)));
            }
            if let Some(first) = earlier.get(&key) {
                return if first.amount == order.amount {
                    Decision::SameAsEarlier(first.external_id)
                } else {
                    Decision::Refuse(PlaceError::KeyReused(key))
                };
            }
            if order.btc_amount.value() > remaining {
                let remaining = BtcAmount::new(remaining).unwrap_or(BtcAmount::ZERO);
                return Decision::Refuse(PlaceError::LimitExceeded { remaining });
            }
            remaining -= order.btc_amount.value();
            earlier.insert(key, order);
            Decision::Insert
        })
        .collect()
}

/// The CHECK on the running total is the database's own guard of the limit;
/// it fires only if something bypassed the lock above.
async fn refusal(pool: &PgPool, error: sqlx::Error) -> PlaceError {
    let constraint = error
        .as_database_error()
        .and_then(|e| e.constraint().map(str::to_owned));
    if constraint.as_deref() != Some("btc_running_total_within_limit") {
        return PlaceError::from(error);
    }
    match storage::running_total(pool).await {
        Ok(total) => PlaceError::LimitExceeded {
            remaining: BtcAmount::new(BTC_LIMIT - total).unwrap_or(BtcAmount::ZERO),
        },
        Err(error) => PlaceError::from(error),
    }
}

#[cfg(test)]
mod tests {
    use domain::{BuyOrderEvent, Currency, FiatAmount};
    use time::OffsetDateTime;

    use super::*;

    fn order(key: u128, amount: &str, btc: &str) -> NewOrder {
        NewOrder {
            external_id: Uuid::now_v7(),
            client_id: 1,
            idempotence_key: Uuid::from_u128(key),
            amount: FiatAmount::parse(amount, Currency::Usd).expect("valid"),
            btc_rate: Decimal::ONE,
            btc_amount: BtcAmount::new(btc.parse().expect("decimal")).expect("positive"),
        }
    }

    fn stored(amount: &str) -> IdempotenceRecord {
        let order = BuyOrderEvent {
            id: 1,
            client_id: 1,
            external_id: Uuid::now_v7(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            currency_id: 1,
            currency_iso3: Currency::Usd,
            currency_amount: amount.parse().expect("decimal"),
            btc_rate: Decimal::ONE,
            btc_amount: Decimal::ONE,
        };
        IdempotenceRecord {
            currency: Currency::Usd,
            currency_amount: order.currency_amount,
            order,
        }
    }

    fn kinds(decisions: &[Decision]) -> Vec<&'static str> {
        decisions
            .iter()
            .map(|decision| match decision {
                Decision::Insert => "insert",
                Decision::Replay(outcome) if outcome.is_ok() => "replay",
                Decision::Replay(_) => "reused",
                Decision::SameAsEarlier(_) => "same as earlier",
                Decision::Refuse(PlaceError::LimitExceeded { .. }) => "limit",
                Decision::Refuse(PlaceError::KeyReused(_)) => "reused",
                Decision::Refuse(_) => "other",
            })
            .collect()
    }

    #[test]
    fn a_batch_is_decided_as_if_its_orders_came_one_at_a_time() {
        let orders = [
            order(1, "10.00", "40"),
            order(2, "10.00", "40"),
            order(1, "10.00", "40"),
            order(1, "11.00", "40"),
            order(3, "10.00", "40"),
            order(4, "10.00", "20"),
            order(5, "10.00", "0.00000001"),
            order(6, "5.00", "1"),
            order(7, "6.00", "1"),
        ];
        let stored = HashMap::from([
            (Uuid::from_u128(6), stored("5.00")),
            (Uuid::from_u128(7), stored("5.00")),
        ]);
        let refs: Vec<&NewOrder> = orders.iter().collect();
        let decisions = decide(&refs, &stored, Decimal::from(100));
        assert_eq!(
            kinds(&decisions),
            [
                "insert",          // 40 of 100
                "insert",          // 80 of 100
                "same as earlier", // key 1 again, same request
                "reused",          // key 1 again, another amount
                "limit",           // 40 more would make 120
                "insert",          // exactly 100
                "limit",           // not one satoshi more
                "replay",          // key 6 is stored with this request
                "reused",          // key 7 is stored with another amount
            ]
        );
    }
}
