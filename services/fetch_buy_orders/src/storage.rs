//! The read model's SQL: keyset pages of one client's orders, newest first.
//! Each page is one seek on (client_id, created_at DESC, id DESC), whatever
//! its depth.

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

const COLUMNS: &str = "external_id, created_at, currency_iso3::text AS currency_iso3, \
                       currency_amount, btc_rate, btc_amount";

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

/// Up to `limit` of the client's orders, newest first, after the order
/// `after` if given. The cursor's position is a subquery the planner runs
/// first, so even a deep page is one round trip and one index seek; an
/// unknown cursor gives an empty page (see [`is_order_of`]).
pub(crate) async fn page(
    db: impl PgExecutor<'_>,
    client_id: i64,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<BuyOrder>, sqlx::Error> {
    let rows: Vec<Row> = match after {
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM buy_order WHERE client_id = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            );
            sqlx::query_as(&sql)
                .bind(client_id)
                .bind(limit)
                .fetch_all(db)
                .await?
        }
        Some(reference) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM buy_order WHERE client_id = $1 \
                 AND (created_at, id) < ( \
                   SELECT created_at, id FROM buy_order WHERE external_id = $2 AND client_id = $1 \
                 ) \
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            );
            sqlx::query_as(&sql)
                .bind(client_id)
                .bind(reference)
                .bind(limit)
                .fetch_all(db)
                .await?
        }
    };
    rows.into_iter().map(into_buy_order).collect()
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
