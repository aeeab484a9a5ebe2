//! The write model's SQL: idempotence records, the locked running total, and
//! the order, its idempotence record and its outbox row inserted together.

use domain::{BtcAmount, BuyOrderEvent, Currency, FiatAmount};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

/// What an idempotence key was first used for, and the order it made.
pub(crate) struct IdempotenceRecord {
    pub currency: Currency,
    pub currency_amount: Decimal,
    pub order: BuyOrderEvent,
}

/// The columns of an order as the event carries them.
const ORDER_COLUMNS: &str = "o.id, o.client_id, o.external_id, o.created_at, o.currency_id, \
     c.iso3::text AS currency_iso3, o.currency_amount, o.btc_rate, o.btc_amount";

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

impl OrderRow {
    fn into_event(self) -> Result<BuyOrderEvent, sqlx::Error> {
        let currency = self
            .currency_iso3
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(BuyOrderEvent {
            id: self.id,
            client_id: self.client_id,
            external_id: self.external_id,
            created_at: self.created_at,
            currency_id: self.currency_id,
            currency_iso3: currency,
            currency_amount: self.currency_amount,
            btc_rate: self.btc_rate,
            btc_amount: self.btc_amount,
        })
    }
}

/// The record of `key` for `client`, with its order, if the key was used.
pub(crate) async fn find_idempotence_record(
    db: impl PgExecutor<'_>,
    client_id: i64,
    key: Uuid,
) -> Result<Option<IdempotenceRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM idempotence_record r \
         JOIN buy_order o ON o.id = r.buy_order_id \
         JOIN currency c ON c.id = r.currency_id \
         WHERE r.client_id = $1 AND r.idempotence_key = $2"
    );
    let row: Option<OrderRow> = sqlx::query_as(&sql)
        .bind(client_id)
        .bind(key)
        .fetch_optional(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let order = row.into_event()?;
    Ok(Some(IdempotenceRecord {
        currency: order.currency_iso3,
        currency_amount: order.currency_amount,
        order,
    }))
}

/// Locks the running total until the transaction ends, and reads it. Every
/// create takes this lock, so creates are serialised against the limit.
pub(crate) async fn lock_running_total(tx: &mut PgConnection) -> Result<Decimal, sqlx::Error> {
    sqlx::query_scalar("SELECT btc_amount FROM btc_running_total FOR UPDATE")
        .fetch_one(tx)
        .await
}

/// The running total, without locking it.
pub(crate) async fn running_total(db: impl PgExecutor<'_>) -> Result<Decimal, sqlx::Error> {
    sqlx::query_scalar("SELECT btc_amount FROM btc_running_total")
        .fetch_one(db)
        .await
}

/// A new order to store.
pub(crate) struct NewOrder {
    pub client_id: i64,
    pub idempotence_key: Uuid,
    pub amount: FiatAmount,
    pub btc_rate: Decimal,
    pub btc_amount: BtcAmount,
}

/// Inserts the order, its idempotence record and its outbox row in one
/// statement; the trigger adds it to the running total.
pub(crate) async fn insert_order(
    tx: &mut PgConnection,
    order: &NewOrder,
) -> Result<BuyOrderEvent, sqlx::Error> {
    let sql = "WITH c AS (SELECT id, iso3 FROM currency WHERE iso3 = $3), \
         o AS ( \
           INSERT INTO buy_order (external_id, client_id, currency_id, currency_amount, btc_rate, btc_amount) \
           SELECT $1, $2, c.id, $4, $5, $6 FROM c RETURNING * \
         ), \
         r AS ( \
           INSERT INTO idempotence_record (client_id, idempotence_key, currency_id, currency_amount, buy_order_id) \
           SELECT client_id, $7, currency_id, currency_amount, id FROM o \
         ), \
         outbox AS (INSERT INTO buy_order_outbox (buy_order_id) SELECT id FROM o) \
         SELECT o.id, o.client_id, o.external_id, o.created_at, o.currency_id, \
                c.iso3::text AS currency_iso3, o.currency_amount, o.btc_rate, o.btc_amount \
         FROM o JOIN c ON c.id = o.currency_id";
    let row: OrderRow = sqlx::query_as(sql)
        .bind(Uuid::now_v7())
        .bind(order.client_id)
        .bind(order.amount.currency().iso3())
        .bind(order.amount.value())
        .bind(order.btc_rate)
        .bind(order.btc_amount.value())
        .bind(order.idempotence_key)
        .fetch_one(tx)
        .await?;
    row.into_event()
}

/// Up to `limit` unpublished orders enqueued at least `min_age_ms` ago, locked
/// (skipping rows another relay holds) until the transaction ends.
pub(crate) async fn claim_outbox(
    tx: &mut PgConnection,
    min_age_ms: i64,
    limit: i64,
) -> Result<Vec<BuyOrderEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM buy_order_outbox b \
         JOIN buy_order o ON o.id = b.buy_order_id \
         JOIN currency c ON c.id = o.currency_id \
         WHERE b.enqueued_at <= clock_timestamp() - make_interval(secs => $1::float8 / 1000) \
         ORDER BY b.buy_order_id LIMIT $2 FOR UPDATE OF b SKIP LOCKED"
    );
    let rows: Vec<OrderRow> = sqlx::query_as(&sql)
        .bind(min_age_ms)
        .bind(limit)
        .fetch_all(tx)
        .await?;
    rows.into_iter().map(OrderRow::into_event).collect()
}

/// Forgets outbox rows whose events RabbitMQ confirmed.
pub(crate) async fn delete_from_outbox(
    db: impl PgExecutor<'_>,
    order_ids: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM buy_order_outbox WHERE buy_order_id = ANY($1)")
        .bind(order_ids)
        .execute(db)
        .await
        .map(drop)
}
