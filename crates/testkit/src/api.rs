//! The two public APIs as a client sees them, for tests that run against a
//! cluster this process started or one already running (`./test.sh --cluster`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// A response as a test looks at it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub replayed: bool,
    /// The `x-request-id` the service answered with.
    pub request_id: Option<String>,
    /// The `Retry-After` header, when the service sent one.
    pub retry_after: Option<String>,
    pub text: String,
}

impl Reply {
    /// The body as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// How long the client keeps an idle connection for reuse: well under the
/// services' own idle limit (`HTTP_HEADER_TIMEOUT_MS`, 10 s by default), so
/// that a request never goes out on a connection the service is closing.
/// (reqwest's default, 90 s, let a test that paused for 10 s meet a
/// connection closed under its request.)
const IDLE_CONNECTION_KEPT: Duration = Duration::from_secs(5);

/// A reqwest client whose idle connections the services have not closed.
fn http_client(timeout: Option<Duration>) -> reqwest::Client {
    let builder = reqwest::Client::builder().pool_idle_timeout(IDLE_CONNECTION_KEPT);
    let builder = match timeout {
        Some(timeout) => builder.timeout(timeout),
        None => builder,
    };
    builder.build().expect("a client with these settings")
}

/// A client of `PUT /buy_order` and `GET /buy_orders`.
#[derive(Clone)]
pub struct Api {
    create_url: String,
    fetch_url: String,
    http: reqwest::Client,
    /// The API key sent as `Authorization: Bearer`, if any.
    key: Option<String>,
}

impl Api {
    /// A client of the services at these base URLs, sending the
    /// development key of `.env` (`DEV_API_KEY`, a key of client 1).
    pub fn new(create_url: String, fetch_url: String) -> Self {
        Self {
            create_url,
            fetch_url,
            http: http_client(None),
            key: Some(crate::settings::dev_api_key()).filter(|key| !key.is_empty()),
        }
    }

    /// The same client, sending `key` (or no key at all).
    pub fn with_key(mut self, key: Option<&str>) -> Self {
        self.key = key.map(str::to_owned);
        self
    }

    /// The same client, giving up on a request after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = http_client(Some(timeout));
        self
    }

    /// A client of the cluster published on this machine at the `.env` ports.
    pub fn published() -> Self {
        let variables = crate::settings::variables();
        let port = |name: &str| variables.get(name).cloned().unwrap_or_default();
        Self::new(
            format!("http://127.0.0.1:{}", port("CREATE_BUY_ORDER_EXT_PORT")),
            format!("http://127.0.0.1:{}", port("FETCH_BUY_ORDERS_EXT_PORT")),
        )
    }

    /// The base URLs of create_buy_order and fetch_buy_orders.
    pub fn base_urls(&self) -> [&str; 2] {
        [&self.create_url, &self.fetch_url]
    }

    /// `PUT /buy_order` with a JSON body.
    pub async fn put_order(&self, body: &Value) -> Reply {
        let url = format!("{}/buy_order", self.create_url);
        self.send(self.http.put(url).json(body)).await
    }

    /// `PUT /buy_order`, or the transport error when no answer came (for
    /// tests that cut the service off mid-request).
    pub async fn try_put_order(&self, body: &Value) -> Result<Reply, reqwest::Error> {
        let url = format!("{}/buy_order", self.create_url);
        self.try_send(self.http.put(url).json(body)).await
    }

    /// `PUT /buy_order` for `amount` in `currency` with a fresh key.
    pub async fn buy(&self, currency: &str, amount: &str) -> Reply {
        let key = Uuid::new_v4().to_string();
        self.put_order(&json!({"currency": currency, "amount": amount, "idempotence_key": key}))
            .await
    }

    /// `PUT /buy_order` with a raw body and content type.
    pub async fn put_raw(&self, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let url = format!("{}/buy_order", self.create_url);
        let mut request = self.http.put(url).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request).await
    }

    /// `GET /buy_orders` with the given query string (e.g. `page_size=7`).
    pub async fn get_orders(&self, query: &str) -> Reply {
        let url = format!("{}/buy_orders?{query}", self.fetch_url);
        self.send(self.http.get(url)).await
    }

    /// `GET /buy_orders`, or the transport error when no answer came.
    pub async fn try_get_orders(&self, query: &str) -> Result<Reply, reqwest::Error> {
        let url = format!("{}/buy_orders?{query}", self.fetch_url);
        self.try_send(self.http.get(url)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        self.try_send(request).await.expect("the service answers")
    }

    async fn try_send(&self, request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers();
        let replayed = headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let header = |name: &str| {
            let value = headers.get(name).and_then(|v| v.to_str().ok());
            value.map(str::to_owned)
        };
        let (request_id, retry_after) = (header("x-request-id"), header("retry-after"));
        let text = response.text().await?;
        Ok(Reply {
            status,
            replayed,
            request_id,
            retry_after,
            text,
        })
    }
}
