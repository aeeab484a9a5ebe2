//! The use case: place one buy order for a client, exactly once per
//! idempotence key of that client, never past the 100 BTC limit nor the
//! client's own. A known key is replayed without a price; else the
//! order is priced, judged and stored by the batch writer, and its event
//! handed to the relay.

use std::future::Future;
use std::sync::Arc;

use domain::{FiatAmount, btc_for};
use platform::auth::ClientId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::batch_writer::{BatchWriter, WriteError};
use crate::outbox_relay::RelayHandle;
use crate::price::{PriceClient, PriceError};
use crate::rules::{self, Placed, Refusal};
use crate::storage::{self, NewOrder};

/// A valid request to buy BTC.
#[derive(Debug, Clone)]
pub(crate) struct OrderRequest {
    pub amount: FiatAmount,
    pub idempotence_key: Uuid,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PlaceError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    PriceUnavailable(#[from] PriceError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("write model: {0}")]
    Database(Arc<sqlx::Error>),
}

impl From<sqlx::Error> for PlaceError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(Arc::new(error))
    }
}

pub(crate) struct PlaceOrder {
    pool: PgPool,
    prices: PriceClient,
    writer: BatchWriter,
    relay: RelayHandle,
}

impl PlaceOrder {
    /// The use case, and its batch writer's task (see [`BatchWriter::new`]).
    pub(crate) fn new(
        pool: PgPool,
        prices: PriceClient,
        relay: RelayHandle,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (writer, writing) = BatchWriter::new(pool.clone());
        let place = Self {
            pool,
            prices,
            writer,
            relay,
        };
        (place, writing)
    }

    /// The write model's pool (for the healthcheck and the start-up wait).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The price service's client (for the healthcheck).
    pub(crate) fn prices(&self) -> &PriceClient {
        &self.prices
    }

    /// Replays the order of a key `client` used before; else prices the
    /// order, has the writer store it, and hands its event to the relay.
    pub(crate) async fn place(
        &self,
        client: ClientId,
        request: &OrderRequest,
    ) -> Result<Placed, PlaceError> {
        let key = request.idempotence_key;
        if let Some(record) = storage::find_idempotence_record(&self.pool, client.0, key).await? {
            return Ok(rules::replay(&record, request.amount, key)?);
        }
        let rate = self.prices.buy_price(request.amount.currency()).await?;
        let Ok(btc_amount) = btc_for(request.amount, rate) else {
            // Far more BTC than the limit: refuse without a transaction.
            let running_total = storage::running_total(&self.pool).await?;
            return Err(Refusal::limit_exceeded(running_total).into());
        };
        let order = NewOrder {
            external_id: Uuid::now_v7(),
            client_id: client.0,
            idempotence_key: key,
            amount: request.amount,
            btc_rate: rate.value(),
            btc_amount,
        };
        let placed = self.writer.store(order).await??;
        if let Placed::Created(event) = &placed {
            self.relay.publish(event.clone());
        }
        Ok(placed)
    }
}
