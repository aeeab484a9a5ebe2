//! The `btc_price` service: `GET /buy?currency=USD` answers the price of 1 BTC
//! in a fiat currency, as Coinbase quotes it. The flow of a request is
//! `routes` (HTTP shapes) -> `quote_cache` (brief caching, one upstream call
//! for concurrent misses) -> `coinbase` (the upstream client).

mod coinbase;
mod quote_cache;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use platform::config::{ConfigError, Env, UpstreamConfig};
use platform::http::{self, ListenConfig};

use crate::coinbase::CoinbaseClient;
use crate::quote_cache::QuoteCache;

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    /// `CB_PROTOCOL`, `CB_HOST`, `CB_PORT`.
    pub coinbase: UpstreamConfig,
    /// `CB_PATH`, e.g. `/v2/prices`.
    pub coinbase_path: String,
    /// `CB_TIMEOUT_MS` (default 2000): how long Coinbase may take to answer.
    pub coinbase_timeout: Duration,
    /// `CB_CACHE_TTL_MS` (default 1000; 0 turns the cache off).
    pub cache_ttl: Duration,
}

impl Config {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: ListenConfig::from_env(env)?,
            coinbase: UpstreamConfig::from_env(env, "CB")?,
            coinbase_path: env.required("CB_PATH")?,
            coinbase_timeout: env.positive_millis("CB_TIMEOUT_MS", 2000)?,
            cache_ttl: env.millis("CB_CACHE_TTL_MS", 1000)?,
        })
    }
}

/// The service, bound to its port and ready to run.
pub struct App {
    listener: http::Listener,
    quotes: Arc<QuoteCache>,
}

impl App {
    /// Binds the listener and builds the Coinbase client. Fails when the port
    /// cannot be bound or the HTTP client cannot be built.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let base_url = format!("{}{}", config.coinbase.base_url(), config.coinbase_path);
        let coinbase = CoinbaseClient::new(base_url, config.coinbase_timeout)
            .map_err(std::io::Error::other)?;
        let quotes = Arc::new(QuoteCache::new(coinbase, config.cache_ttl));
        let listener = http::bind(&config.listen).await?;
        Ok(Self { listener, quotes })
    }

    /// Where it listens (the port the OS chose for port 0), for in-process tests.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        http::serve(self.listener, routes::router(self.quotes), shutdown).await
    }
}
