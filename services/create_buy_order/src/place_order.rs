//! The use case: place one buy order for a client, exactly once per
//! idempotence key of that client, never past the 100 BTC limit nor the
//! client's own. A known key is replayed without asking for a price; else
//! the order is priced, judged and stored by the batch writer (which also
//! finds known keys, under its lock), and its event handed to the relay.

use std::future::Future;
use std::sync::Arc;

use domain::{FiatAmount, btc_for};
use platform::auth::ClientId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::batch_writer::{BatchWriter, WriteError};
use crate::outbox_relay::RelayHandle;
use crate::price::{PriceClient, PriceError};
use crate::rules::{self, NewOrder, Placed, Refusal};
use crate::storage;

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
        let currency = request.amount.currency();
        let rate = match self.prices.at_hand(currency) {
            // The writer finds a known key under its lock anyway, so with a
            // price at hand a lookup of our own would only repeat its work.
            Some(rate) => rate,
            // A replay needs no price: look for one before asking.
            None => match self.replay_if_known(client, request).await? {
                Some(replayed) => return Ok(replayed),
                None => self.prices.buy_price(currency).await?,
            },
        };
        let Ok(btc_amount) = btc_for(request.amount, rate) else {
            return self.refuse_beyond_any_limit(client, request).await;
        };
        let order = NewOrder {
            external_id: Uuid::now_v7(),
            client_id: client.0,
            idempotence_key: request.idempotence_key,
            amount: request.amount,
            btc_rate: rate.value(),
            btc_amount,
        };
        let placed = self.writer.store(order).await??;
        if let Placed::Created(event, _) = &placed {
            self.relay.publish(event.clone());
        }
        Ok(placed)
    }

    /// The order of an earlier request with this key, or the refusal of a
    /// different request with it; `None` for a new key.
    async fn replay_if_known(
        &self,
        client: ClientId,
        request: &OrderRequest,
    ) -> Result<Option<Placed>, PlaceError> {
        let key = request.idempotence_key;
        match storage::find_idempotence_record(&self.pool, client.0, key).await? {
            Some(record) => Ok(Some(rules::replay(&record, request.amount, key)?)),
            None => Ok(None),
        }
    }

    /// An order for far more BTC than the limit is refused without a
    /// transaction, unless its key tells of an earlier request.
    async fn refuse_beyond_any_limit(
        &self,
        client: ClientId,
        request: &OrderRequest,
    ) -> Result<Placed, PlaceError> {
        if let Some(replayed) = self.replay_if_known(client, request).await? {
            return Ok(replayed);
        }
        let running_total = storage::running_total(&self.pool).await?;
        Err(Refusal::limit_exceeded(running_total).into())
    }
}
