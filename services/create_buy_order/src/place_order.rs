//! The use case: place one buy order, exactly once per idempotence key, never
//! past the 100 BTC limit.

use std::sync::Arc;

use domain::{BTC_LIMIT, BtcAmount, BuyOrderEvent, FiatAmount, btc_for};
use sqlx::PgPool;
use uuid::Uuid;

use crate::batch_writer::BatchWriter;
use crate::outbox_relay::RelayHandle;
use crate::price::PriceClient;
use crate::storage::{self, IdempotenceRecord, NewOrder};

/// Every request acts as this client until authentication exists.
pub(crate) const CLIENT_ID: i64 = 1;

/// A valid request to buy BTC.
#[derive(Debug, Clone)]
pub(crate) struct OrderRequest {
    pub amount: FiatAmount,
    pub idempotence_key: Uuid,
}

/// The order a request stands for, and whether it was made just now.
#[derive(Debug, Clone)]
pub(crate) enum Placed {
    Created(BuyOrderEvent),
    Replayed(BuyOrderEvent),
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum PlaceError {
    #[error("idempotence key {0} was already used for a different order")]
    KeyReused(Uuid),
    #[error("this order would exceed the 100 BTC limit: {remaining} BTC of capacity is left")]
    LimitExceeded { remaining: BtcAmount },
    #[error("{0}")]
    PriceUnavailable(String),
    /// Shared, because one failed transaction fails every order of its batch.
    #[error("write model: {0}")]
    Database(Arc<sqlx::Error>),
}

impl From<sqlx::Error> for PlaceError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(Arc::new(error))
    }
}

pub(crate) struct PlaceOrder {
    pub pool: PgPool,
    pub prices: PriceClient,
    pub writer: BatchWriter,
    pub relay: RelayHandle,
}

impl PlaceOrder {
    /// Replays the order of a known key; else prices the order, has the
    /// writer store it, and hands its event to the relay.
    pub(crate) async fn place(&self, request: &OrderRequest) -> Result<Placed, PlaceError> {
        let key = request.idempotence_key;
        if let Some(record) = storage::find_idempotence_record(&self.pool, CLIENT_ID, key).await? {
            return replay(&record, request.amount, key);
        }
        let currency = request.amount.currency();
        let rate = self
            .prices
            .buy_price(currency)
            .await
            .map_err(PlaceError::PriceUnavailable)?;
        let Ok(btc_amount) = btc_for(request.amount, rate) else {
            // Far more BTC than the limit: refuse without a transaction.
            let total = storage::running_total(&self.pool).await?;
            let remaining = BtcAmount::new(BTC_LIMIT - total).unwrap_or(BtcAmount::ZERO);
            return Err(PlaceError::LimitExceeded { remaining });
        };
        let order = NewOrder {
            external_id: Uuid::now_v7(),
            client_id: CLIENT_ID,
            idempotence_key: key,
            amount: request.amount,
            btc_rate: rate.value(),
            btc_amount,
        };
        let placed = self.writer.store(order).await?;
        if let Placed::Created(event) = &placed {
            self.relay.publish(event.clone());
        }
        Ok(placed)
    }
}

/// The stored order of a key: replayed if the request matches the one that
/// first used the key, a conflict if not.
pub(crate) fn replay(
    record: &IdempotenceRecord,
    amount: FiatAmount,
    key: Uuid,
) -> Result<Placed, PlaceError> {
    let same_request =
        record.currency == amount.currency() && record.currency_amount == amount.value();
    if same_request {
        Ok(Placed::Replayed(record.order.clone()))
    } else {
        Err(PlaceError::KeyReused(key))
    }
}
