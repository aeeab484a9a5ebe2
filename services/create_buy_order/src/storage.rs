//! The write model's SQL: idempotence records, the locked running total, and
//! the order, its idempotence record and its outbox row inserted together.

use std::collections::HashMap;

use domain::BuyOrderEvent;
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{Connection, FromRow, PgConnection, PgExecutor, Postgres, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rules::{ClientKey, ClientLimit, IdempotenceRecord, NewOrder};

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

/// What a batch is judged against, read under the running total's lock,
/// which every insert takes, so none of it can move until the transaction
/// ends.
pub(crate) struct Books {
    /// The BTC of every stored order.
    pub running_total: Decimal,
    /// The batch's clients that have a limit of their own.
    pub limits: HashMap<i64, ClientLimit>,
    /// The records of the batch's keys that were used before.
    pub records: HashMap<ClientKey, IdempotenceRecord>,
}

/// The books for a batch of `keys` (each with the client that sent it), in
/// one statement: it runs under the lock, where each round trip holds up
/// every waiting create. The one row of the running total carries the
/// limits as arrays, and is repeated beside each record found, if any.
///
/// Each key is looked up on its own index seek (a LATERAL subquery with
/// `LIMIT 1`, which the planner cannot turn into a join). Otherwise the plan
/// that PostgreSQL keeps for the writer's connection, made while the table was
/// small, scans the whole table in every batch as it grows.
pub(crate) async fn read_books(
    db: impl PgExecutor<'_>,
    keys: &[ClientKey],
) -> Result<Books, sqlx::Error> {
    let sql = format!(
        "SELECT t.btc_amount AS running_total, l.limited_clients, l.client_limits, \
                l.client_totals, found.* \
         FROM btc_running_total t \
         CROSS JOIN ( \
           SELECT coalesce(array_agg(id), '{{}}') AS limited_clients, \
                  coalesce(array_agg(btc_limit), '{{}}') AS client_limits, \
                  coalesce(array_agg(btc_total), '{{}}') AS client_totals \
           FROM client WHERE id = ANY($1) AND btc_limit IS NOT NULL \
         ) l \
         LEFT JOIN ( \
           SELECT k.idempotence_key, f.* \
           FROM UNNEST($1::bigint[], $2::uuid[]) AS k(client_id, idempotence_key) \
           CROSS JOIN LATERAL ( \
             SELECT {ORDER_COLUMNS} FROM idempotence_record r \
             JOIN buy_order o ON o.id = r.buy_order_id \
             JOIN currency c ON c.id = r.currency_id \
             WHERE r.client_id = k.client_id AND r.idempotence_key = k.idempotence_key \
             LIMIT 1 \
           ) f \
         ) found ON true"
    );
    let rows = sqlx::query(&sql)
        .bind(keys.iter().map(|(client, _)| *client).collect::<Vec<_>>())
        .bind(keys.iter().map(|(_, key)| *key).collect::<Vec<_>>())
        .fetch_all(db)
        .await?;
    let first = rows.first().ok_or(sqlx::Error::RowNotFound)?;
    let mut records = HashMap::new();
    for row in &rows {
        if let Some((key, record)) = keyed_record(row)? {
            records.insert(key, record);
        }
    }
    Ok(Books {
        running_total: first.try_get("running_total")?,
        limits: client_limits(first)?,
        records,
    })
}

/// The limits that `row` carries as three arrays, one element per client.
fn client_limits(row: &PgRow) -> Result<HashMap<i64, ClientLimit>, sqlx::Error> {
    let clients: Vec<i64> = row.try_get("limited_clients")?;
    let limits: Vec<Decimal> = row.try_get("client_limits")?;
    let totals: Vec<Decimal> = row.try_get("client_totals")?;
    let limits = limits.into_iter().zip(totals);
    Ok(clients
        .into_iter()
        .zip(limits)
        .map(|(client, (limit, total))| (client, ClientLimit { limit, total }))
        .collect())
}

/// The idempotence record on `row`, if the row has one.
fn keyed_record(row: &PgRow) -> Result<Option<(ClientKey, IdempotenceRecord)>, sqlx::Error> {
    let Some(key) = row.try_get::<Option<Uuid>, _>("idempotence_key")? else {
        return Ok(None);
    };
    let order = OrderRow::from_row(row)?.into_event()?;
    Ok(Some((
        (order.client_id, key),
        IdempotenceRecord::from_event(order),
    )))
}

/// The record of `key` for `client`, with its order, if the key was used.
/// Its own statement rather than the batch lookup with a one-key array: that
/// halved the replay rate in the benchmark, most likely because PostgreSQL
/// keeps planning an `= ANY($2)` statement afresh rather than reuse its plan.
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
    row.map(|row| row.into_event().map(IdempotenceRecord::from_event))
        .transpose()
}

/// Begins a transaction holding the running total's lock until it ends.
/// Every create takes this lock, so creates are serialised against the limit.
/// A function of the schema's owner takes it, since the service's role may not
/// update the row (which `FOR UPDATE` would otherwise require). `BEGIN` and
/// the lock go in one message: one round trip less while every create waits.
///
/// A failure may leave `connection` inside a transaction that sqlx does not
/// know of: it must then be closed, never reused (`HeldConnection::discard`).
pub(crate) async fn begin_locked(
    connection: &mut PgConnection,
) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
    connection
        .begin_with("BEGIN; SELECT lock_btc_running_total()")
        .await
}

/// The running total, without locking it.
pub(crate) async fn running_total(db: impl PgExecutor<'_>) -> Result<Decimal, sqlx::Error> {
    sqlx::query_scalar("SELECT btc_amount FROM btc_running_total")
        .fetch_one(db)
        .await
}

/// Inserts the orders, their idempotence records and their outbox rows in
/// one statement; the trigger adds them all to the running total in one
/// update. The events come back in the order given.
pub(crate) async fn insert_orders(
    tx: &mut PgConnection,
    orders: &[&NewOrder],
) -> Result<Vec<BuyOrderEvent>, sqlx::Error> {
    let sql = "WITH input AS ( \
           SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::numeric[], \
                                $5::numeric[], $6::numeric[], $7::uuid[]) WITH ORDINALITY \
             AS t(external_id, client_id, iso3, currency_amount, btc_rate, btc_amount, \
                  idempotence_key, position) \
         ), \
         o AS ( \
           INSERT INTO buy_order (external_id, client_id, currency_id, currency_amount, btc_rate, btc_amount) \
           SELECT i.external_id, i.client_id, c.id, i.currency_amount, i.btc_rate, i.btc_amount \
           FROM input i JOIN currency c ON c.iso3 = i.iso3 ORDER BY i.position RETURNING * \
         ), \
         r AS ( \
           INSERT INTO idempotence_record (client_id, idempotence_key, currency_id, currency_amount, buy_order_id) \
           SELECT o.client_id, i.idempotence_key, o.currency_id, o.currency_amount, o.id \
           FROM o JOIN input i ON i.external_id = o.external_id \
         ), \
         outbox AS (INSERT INTO buy_order_outbox (buy_order_id) SELECT id FROM o) \
         SELECT o.id, o.client_id, o.external_id, o.created_at, o.currency_id, \
                c.iso3::text AS currency_iso3, o.currency_amount, o.btc_rate, o.btc_amount \
         FROM o JOIN currency c ON c.id = o.currency_id ORDER BY o.id";
    let column = |f: fn(&NewOrder) -> Decimal| orders.iter().map(|o| f(o)).collect::<Vec<_>>();
    let rows: Vec<OrderRow> = sqlx::query_as(sql)
        .bind(orders.iter().map(|o| o.external_id).collect::<Vec<_>>())
        .bind(orders.iter().map(|o| o.client_id).collect::<Vec<_>>())
        .bind(
            orders
                .iter()
                .map(|o| o.amount.currency().iso3())
                .collect::<Vec<_>>(),
        )
        .bind(column(|o| o.amount.value()))
        .bind(column(|o| o.btc_rate))
        .bind(column(|o| o.btc_amount.value()))
        .bind(orders.iter().map(|o| o.idempotence_key).collect::<Vec<_>>())
        .fetch_all(tx)
        .await?;
    rows.into_iter().map(OrderRow::into_event).collect()
}

/// Of the given orders, those whose events still wait in the outbox, locked
/// until the transaction ends. Rows another relay holds are skipped, as are
/// rows already gone: whoever holds a row's lock is the one who publishes it.
pub(crate) async fn claim_outbox_rows(
    tx: &mut PgConnection,
    order_ids: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT buy_order_id FROM buy_order_outbox WHERE buy_order_id = ANY($1) \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(order_ids)
    .fetch_all(tx)
    .await
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

/// How many events wait in the outbox, and how old the oldest is, in seconds.
pub(crate) async fn outbox_backlog(db: impl PgExecutor<'_>) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(enqueued_at))::float8, 0) \
         FROM buy_order_outbox",
    )
    .fetch_one(db)
    .await
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
