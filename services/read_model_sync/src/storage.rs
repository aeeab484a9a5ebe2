//! The read model's SQL: one idempotent insert for a batch of orders.

use domain::BuyOrderEvent;
use sqlx::PgExecutor;

/// Inserts the orders not already there; a redelivered event changes nothing.
pub(crate) async fn insert_orders(
    db: impl PgExecutor<'_>,
    events: &[&BuyOrderEvent],
) -> Result<u64, sqlx::Error> {
    let column = |f: fn(&BuyOrderEvent) -> _| events.iter().map(|e| f(e)).collect::<Vec<_>>();
    let done = sqlx::query(
        "INSERT INTO buy_order (id, external_id, client_id, created_at, currency_id, currency_iso3, \
                                currency_amount, btc_rate, btc_amount) \
         SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::bigint[], $4::timestamptz[], \
                              $5::smallint[], $6::text[], $7::numeric[], $8::numeric[], $9::numeric[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.external_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.client_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.currency_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.currency_iso3.iso3()).collect::<Vec<_>>())
    .bind(column(|e| e.currency_amount))
    .bind(column(|e| e.btc_rate))
    .bind(column(|e| e.btc_amount))
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Whether retrying can never help: the data itself is refused (SQLSTATE
/// classes 22, data exception, and 23, integrity constraint violation).
pub(crate) fn is_permanent(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
}
