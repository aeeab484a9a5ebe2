//! create_buy_order's HTTP face, run inside this process with the services it
//! waits for (migration, btc_price), on fresh databases, fresh queue names and
//! a fake Coinbase: status codes, error bodies and headers, and that a refused
//! request stores nothing. Faults and the whole cluster are `crates/e2e`'s.

mod locks;
mod price_keeping;
mod replay;
mod validation;

use std::time::Duration;

use platform::rabbitmq::QueueConfig;
use platform::schema;
use sqlx::PgPool;
use testkit::in_process::{listening, upstream};
use testkit::names::unique;
use testkit::settings::{self, database_vars};
use testkit::{Api, FakeCoinbase, InProcess, TestDatabase};

/// The service and what it needs, all dropped together.
struct Harness {
    api: Api,
    coinbase: FakeCoinbase,
    write_model: TestDatabase,
    queue: QueueConfig,
    _read_model: TestDatabase,
    _services: Vec<InProcess>,
}

impl Harness {
    /// Every order asks for its price, so a test sees each rate it sets.
    async fn start() -> Self {
        Self::keeping_prices_for(Duration::ZERO).await
    }

    /// create_buy_order may use a price until it is `price_max_age` old;
    /// btc_price keeps none.
    async fn keeping_prices_for(price_max_age: Duration) -> Self {
        let write_model = TestDatabase::migrated(&schema::WRITE_MODEL).await;
        let read_model = TestDatabase::migrated(&schema::READ_MODEL).await;
        let coinbase = FakeCoinbase::start().await;
        let mut queue = settings::rabbitmq();
        queue.exchange = unique("test_exchange");
        queue.queue = unique("test_queue");
        queue.retry_wait = Duration::from_secs(1);

        let mut databases = database_vars("WRITE_MODEL_DB", write_model.config());
        databases.extend(database_vars("READ_MODEL_DB", read_model.config()));
        let config = migration::Config::from_env(&listening(databases)).expect("config");
        let app = migration::App::build(config).await.expect("binding");
        let migration = InProcess::spawn(app.local_addr().expect("bound"), |s| app.run(s));

        let mut prices = coinbase.env();
        prices.push(("CB_CACHE_TTL_MS".into(), "0".into()));
        let config = btc_price::Config::from_env(&listening(prices)).expect("config");
        let app = btc_price::App::build(config).await.expect("binding");
        let btc_price = InProcess::spawn(app.local_addr().expect("bound"), |s| app.run(s));

        let mut vars = database_vars("WRITE_MODEL_DB", write_model.config());
        vars.extend(queue.to_env());
        vars.extend(upstream("MIGRATION", &migration));
        vars.extend(upstream("BTC_PRICE", &btc_price));
        let max_age_ms = price_max_age.as_millis().to_string();
        vars.push(("CB_CACHE_TTL_MS".into(), max_age_ms));
        let config = create_buy_order::Config::from_env(&listening(vars)).expect("config");
        let app = create_buy_order::App::build(config).await.expect("binding");
        let service = InProcess::spawn(app.local_addr().expect("bound"), |s| app.run(s));
        let service = service.wait_healthy().await;

        Self {
            api: Api::new(service.url(), String::new()),
            coinbase,
            write_model,
            queue,
            _read_model: read_model,
            _services: vec![service, btc_price, migration],
        }
    }

    async fn write_pool(&self) -> PgPool {
        self.write_model.pool().await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        testkit::cluster::remove_queues(&self.queue);
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}
