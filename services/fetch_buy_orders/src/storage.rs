//! The read model's SQL: keyset pages of clients' orders, newest first, many
//! pages in one statement. Each page is one seek on (client_id, created_at
//! DESC, id DESC), whatever its depth.

use std::cmp::Reverse;

use domain::BuyOrder;
use rust_decimal::Decimal;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    external_id: Uuid,
    created_at: OffsetDateTime,
    currency_iso3: String,
    currency_amount: Decimal,
    btc_rate: Decimal,
    btc_amount: Decimal,
}

/// Whether `external_id` is one of the client's orders.
pub(crate) async fn is_order_of(
    db: impl PgExecutor<'_>,
    client_id: i64,
    external_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT exists (SELECT FROM buy_order WHERE external_id = $1 AND client_id = $2)",
    )
    .bind(external_id)
    .bind(client_id)
    .fetch_one(db)
    .await
}

/// A page to read: up to `limit` of the client's orders, newest first,
/// after the order `after` if given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeysetPage {
    pub client_id: i64,
    pub after: Option<Uuid>,
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
struct PageRow {
    /// Which query of the batch the row answers, from 1.
    query: i64,
    /// The read model's own id, which breaks ties of `created_at`.
    id: i64,
    #[sqlx(flatten)]
    order: Row,
}

/// The pages of several queries with one statement, one page per query in
/// their order. Each query's cursor is one seek by its external id, and its
/// page one seek on (client_id, created_at DESC, id DESC) from there, however
/// deep; a query without a cursor starts above every order. An unknown
/// cursor gives an empty page (see [`is_order_of`]).
pub(crate) async fn pages(
    db: impl PgExecutor<'_>,
    queries: &[KeysetPage],
) -> Result<Vec<Vec<BuyOrder>>, sqlx::Error> {
    let column = |field: fn(&KeysetPage) -> i64| queries.iter().map(field).collect::<Vec<_>>();
    let mut rows: Vec<PageRow> = sqlx::query_as(
        "SELECT q.query, page.* \
         FROM unnest($1::int8[], $2::uuid[], $3::int8[]) WITH ORDINALITY \
              AS q (client_id, after, lim, query) \
         CROSS JOIN LATERAL ( \
             SELECT created_at, id FROM buy_order \
             WHERE external_id = q.after AND client_id = q.client_id \
             UNION ALL \
             SELECT 'infinity', 9223372036854775807 WHERE q.after IS NULL \
         ) AS cursor (created_at, id) \
         CROSS JOIN LATERAL ( \
             SELECT id, external_id, created_at, currency_iso3::text AS currency_iso3, \
                    currency_amount, btc_rate, btc_amount \
             FROM buy_order \
             WHERE client_id = q.client_id AND (created_at, id) < (cursor.created_at, cursor.id) \
             ORDER BY created_at DESC, id DESC LIMIT q.lim \
         ) AS page",
    )
    .bind(column(|q| q.client_id))
    .bind(queries.iter().map(|q| q.after).collect::<Vec<_>>())
    .bind(column(|q| q.limit))
    .fetch_all(db)
    .await?;
    // The rows come in page order, but SQL only promises an order that is
    // asked for; checking it here is cheaper than a sort in the statement.
    let page_order = |row: &PageRow| (row.query, Reverse((row.order.created_at, row.id)));
    if !rows.is_sorted_by_key(page_order) {
        rows.sort_by_key(page_order);
    }
    let mut pages: Vec<Vec<BuyOrder>> = queries.iter().map(|_| Vec::new()).collect();
    for row in rows {
        let page = usize::try_from(row.query - 1)
            .ok()
            .and_then(|index| pages.get_mut(index))
            .ok_or_else(|| sqlx::Error::Protocol(format!("a row for query {}", row.query)))?;
        page.push(into_buy_order(row.order)?);
    }
    Ok(pages)
}

fn into_buy_order(row: Row) -> Result<BuyOrder, sqlx::Error> {
    let currency = row
        .currency_iso3
        .parse()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(BuyOrder {
        id: row.external_id,
        created_at: row.created_at,
        currency,
        currency_amount: row.currency_amount,
        btc_rate: row.btc_rate,
        btc_amount: row.btc_amount,
    })
}
