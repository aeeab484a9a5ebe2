//! `read_model_sync rebuild`: re-derives the read model from the write
//! model, the golden source. It walks the write model's orders in id order,
//! a batch at a time, and inserts each batch with the consumer's own
//! idempotent insert, so it can run while the cluster runs, be interrupted,
//! and run again: an order already there is left as it is.

use domain::BuyOrderEvent;
use platform::events;
use rust_decimal::Decimal;
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::storage;

/// Orders read and inserted per round trip.
const BATCH: i64 = 1000;

/// What a rebuild found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    /// Orders in the write model.
    pub scanned: u64,
    /// Of those, the ones the read model lacked.
    pub inserted: u64,
}

/// Inserts into the read model every write-model order it lacks. Fails when
/// either database fails; what was inserted before stays, and a rerun
/// carries on.
pub async fn rebuild(write_model: &PgPool, read_model: &PgPool) -> Result<Rebuilt, sqlx::Error> {
    let mut rebuilt = Rebuilt {
        scanned: 0,
        inserted: 0,
    };
    let mut after = 0;
    loop {
        let orders = orders_after(write_model, after).await?;
        let Some(last) = orders.last() else { break };
        after = last.id;
        let batch: Vec<&BuyOrderEvent> = orders.iter().collect();
        rebuilt.inserted += storage::insert_orders(read_model, &batch).await?;
        rebuilt.scanned += orders.len() as u64;
    }
    tracing::info!(
        scanned = rebuilt.scanned,
        inserted = rebuilt.inserted,
        message = events::READ_MODEL_REBUILT
    );
    Ok(rebuilt)
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    client_id: i64,
    external_id: Uuid,
    created_at: OffsetDateTime,
    currency_id: i16,
    currency_iso3: String,
    currency_amount: Decimal,
    btc_rate: Decimal,
    btc_amount: Decimal,
}

/// The next batch of write-model orders with ids above `after`, as events.
async fn orders_after(
    write_model: impl PgExecutor<'_>,
    after: i64,
) -> Result<Vec<BuyOrderEvent>, sqlx::Error> {
    let rows: Vec<OrderRow> = sqlx::query_as(
        "SELECT o.id, o.client_id, o.external_id, o.created_at, o.currency_id, \
                c.iso3::text AS currency_iso3, o.currency_amount, o.btc_rate, o.btc_amount \
         FROM buy_order o JOIN currency c ON c.id = o.currency_id \
         WHERE o.id > $1 ORDER BY o.id LIMIT $2",
    )
    .bind(after)
    .bind(BATCH)
    .fetch_all(write_model)
    .await?;
    rows.into_iter().map(OrderRow::into_event).collect()
}

impl OrderRow {
    fn into_event(self) -> Result<BuyOrderEvent, sqlx::Error> {
        let currency_iso3 = self
            .currency_iso3
            .parse()
            .map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
        Ok(BuyOrderEvent {
            id: self.id,
            client_id: self.client_id,
            external_id: self.external_id,
            created_at: self.created_at,
            currency_id: self.currency_id,
            currency_iso3,
            currency_amount: self.currency_amount,
            btc_rate: self.btc_rate,
            btc_amount: self.btc_amount,
        })
    }
}
