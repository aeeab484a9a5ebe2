//! The use case: place one buy order, exactly once per idempotence key, never
//! past the 100 BTC limit.

use domain::{BTC_LIMIT, BtcAmount, BuyOrderEvent, FiatAmount, btc_for};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

use crate::outbox_relay::RelayHandle;
use crate::price::PriceClient;
use crate::storage::{self, NewOrder};

/// Every request acts as this client until authentication exists.
pub(crate) const CLIENT_ID: i64 = 1;

/// A valid request to buy BTC.
#[derive(Debug, Clone)]
pub(crate) struct OrderRequest {
    pub amount: FiatAmount,
    pub idempotence_key: Uuid,
}

/// The order a request stands for, and whether it was made just now.
pub(crate) enum Placed {
    Created(BuyOrderEvent),
    Replayed(BuyOrderEvent),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PlaceError {
    #[error("idempotence key {0} was already used for a different order")]
    KeyReused(Uuid),
    #[error("this order would exceed the 100 BTC limit: {remaining} BTC of capacity is left")]
    LimitExceeded { remaining: BtcAmount },
    #[error("{0}")]
    PriceUnavailable(String),
    #[error("write model: {0}")]
    Database(#[from] sqlx::Error),
}

pub(crate) struct PlaceOrder {
    pub pool: PgPool,
    pub prices: PriceClient,
    pub relay: RelayHandle,
}

impl PlaceOrder {
    /// Replays the order of a known key; else prices and stores a new one and
    /// hands its event to the relay.
    pub(crate) async fn place(&self, request: &OrderRequest) -> Result<Placed, PlaceError> {
        if let Some(placed) = replay(&self.pool, request).await? {
            return Ok(placed);
        }
        let currency = request.amount.currency();
        let rate = self
            .prices
            .buy_price(currency)
            .await
            .map_err(PlaceError::PriceUnavailable)?;
        let Ok(btc_amount) = btc_for(request.amount, rate) else {
            // Far more BTC than the limit: refuse without a transaction.
            return Err(PlaceError::LimitExceeded {
                remaining: self.remaining_capacity().await?,
            });
        };
        let order = NewOrder {
            client_id: CLIENT_ID,
            idempotence_key: request.idempotence_key,
            amount: request.amount,
            btc_rate: rate.value(),
            btc_amount,
        };
        let placed = self.store(request, &order).await?;
        if let Placed::Created(event) = &placed {
            self.relay.publish(event.clone());
        }
        Ok(placed)
    }

    /// One short transaction: lock the running total, check the key again
    /// (a request with the same key may have committed while we waited for
    /// the lock), check the limit, insert.
    async fn store(&self, request: &OrderRequest, order: &NewOrder) -> Result<Placed, PlaceError> {
        let mut tx = self.pool.begin().await?;
        let total = storage::lock_running_total(&mut tx).await?;
        if let Some(placed) = replay(&mut *tx, request).await? {
            return Ok(placed);
        }
        check_limit(total, order.btc_amount)?;
        let event = match storage::insert_order(&mut tx, order).await {
            Ok(event) => event,
            Err(error) => return Err(self.refusal(error).await),
        };
        tx.commit().await?;
        Ok(Placed::Created(event))
    }

    /// The CHECK on the running total is the database's own guard of the
    /// limit; it fires only if something bypassed the lock above.
    async fn refusal(&self, error: sqlx::Error) -> PlaceError {
        let constraint = error
            .as_database_error()
            .and_then(|e| e.constraint().map(str::to_owned));
        if constraint.as_deref() != Some("btc_running_total_within_limit") {
            return PlaceError::Database(error);
        }
        match self.remaining_capacity().await {
            Ok(remaining) => PlaceError::LimitExceeded { remaining },
            Err(error) => error,
        }
    }

    async fn remaining_capacity(&self) -> Result<BtcAmount, PlaceError> {
        let total = storage::running_total(&self.pool).await?;
        Ok(capacity_left(total))
    }
}

fn check_limit(total: Decimal, order: BtcAmount) -> Result<(), PlaceError> {
    let remaining = capacity_left(total);
    if order > remaining {
        return Err(PlaceError::LimitExceeded { remaining });
    }
    Ok(())
}

/// What is left under the limit, at 8 decimal places.
fn capacity_left(total: Decimal) -> BtcAmount {
    BtcAmount::new(BTC_LIMIT - total).unwrap_or(BtcAmount::ZERO)
}

/// The stored order of the request's key: replayed if the request matches
/// the one that first used the key, a conflict if not.
async fn replay(
    db: impl sqlx::PgExecutor<'_>,
    request: &OrderRequest,
) -> Result<Option<Placed>, PlaceError> {
    let key = request.idempotence_key;
    let Some(record) = storage::find_idempotence_record(db, CLIENT_ID, key).await? else {
        return Ok(None);
    };
    let same_request = record.currency == request.amount.currency()
        && record.currency_amount == request.amount.value();
    if !same_request {
        return Err(PlaceError::KeyReused(key));
    }
    Ok(Some(Placed::Replayed(record.order)))
}
