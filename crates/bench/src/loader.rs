//! Loads synthetic orders straight into the read model with COPY, so the
//! paging depth can be measured on a million rows without creating them one
//! by one. The rows belong to client 1 and are older than any real order.

use std::time::Instant;

use platform::postgres::DatabaseConfig;
use sqlx::postgres::PgPoolCopyExt;

/// Synthetic ids start here, far above the write model's.
const FIRST_ID: u64 = 1_000_000_000_000;
const BATCH: u64 = 50_000;

pub(crate) async fn load(read_model: &DatabaseConfig, rows: u64) -> Result<(), sqlx::Error> {
    let pool = read_model.connect().await?;
    let started = Instant::now();
    let mut loaded = 0;
    while loaded < rows {
        let count = BATCH.min(rows - loaded);
        let mut copy = pool
            .copy_in_raw(
                "COPY buy_order (id, external_id, client_id, created_at, currency_id, currency_iso3, \
                 currency_amount, btc_rate, btc_amount) FROM STDIN",
            )
            .await?;
        copy.send(batch(loaded, count).into_bytes()).await?;
        copy.finish().await?;
        loaded += count;
        eprint!("\rload: {loaded}/{rows} rows   ");
    }
    sqlx::query("ANALYZE buy_order").execute(&pool).await?;
    eprintln!(
        "\rload: {rows} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `count` rows in COPY's text format, one second apart, ending a year ago.
fn batch(from: u64, count: u64) -> String {
    let mut text = String::with_capacity(usize::try_from(count * 160).unwrap_or(0));
    for n in from..from + count {
        let id = FIRST_ID + n;
        let external_id = uuid::Uuid::new_v4();
        let seconds_ago = 365 * 24 * 3600 + n;
        text.push_str(&format!(
            "{id}\t{external_id}\t1\t{}\t1\tUSD\t100.00\t48478.88\t0.00206276\n",
            timestamp(seconds_ago)
        ));
    }
    text
}

/// A `timestamptz` literal `seconds_ago` seconds before 2026-01-01.
fn timestamp(seconds_ago: u64) -> String {
    let start_of_2026 = 1_767_225_600;
    let unix = start_of_2026 - i64::try_from(seconds_ago).unwrap_or(0);
    let time =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}
