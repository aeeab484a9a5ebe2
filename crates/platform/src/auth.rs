//! Who is calling: every request to the public APIs carries
//! `Authorization: Bearer <api key>`, and the key names the client. Keys live
//! in the write model as SHA-256 hashes (`api_key`); a checked key is cached
//! for `AUTH_CACHE_TTL_MS`, so the hot path makes no database round trip and
//! a revocation takes effect within that time. `AUTH_REQUIRED=false` turns
//! checking off: every request then acts as client 1, as in the original.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::api_error::ApiError;
use crate::coalescing_cache::CoalescingCache;
use crate::config::{ConfigError, Env};
use crate::events;

/// The client a request acts for, as its API key names it; handlers take it
/// as an extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(pub i64);

/// The client every request acts for when checking is off.
pub const OPEN_API_CLIENT: ClientId = ClientId(1);

/// Checked keys held at most, good or bad; past it the cache starts afresh.
const CACHE_CAPACITY: usize = 10_000;

/// `AUTH_REQUIRED` (default true) and `AUTH_CACHE_TTL_MS` (default 5000).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub required: bool,
    /// How long a checked key is trusted; also the longest a revoked key
    /// goes on working.
    pub cache_ttl: Duration,
}

impl AuthConfig {
    /// Fails on a malformed variable, or a zero TTL.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            required: env.optional("AUTH_REQUIRED", true)?,
            cache_ttl: env.positive_millis("AUTH_CACHE_TTL_MS", 5_000)?,
        })
    }
}

/// The SHA-256 of a key: what the write model keeps instead of the key.
pub fn key_hash(key: &str) -> KeyHash {
    Sha256::digest(key.as_bytes()).into()
}

/// A key as the write model knows it: its SHA-256.
type KeyHash = [u8; 32];

/// Checks keys against the write model's `api_key` table, through a cache.
pub struct Authenticator {
    /// The write model, where the keys are; None when checking is off.
    keys: Option<PgPool>,
    /// How long a checked key is trusted (`AUTH_CACHE_TTL_MS`).
    cache_ttl: Duration,
    /// Each checked key's client (None: no such key, or revoked); concurrent
    /// first uses of a key share one lookup.
    checked: CoalescingCache<KeyHash, Option<ClientId>, Arc<sqlx::Error>>,
}

impl Authenticator {
    /// Checks keys against the `api_key` table reached through `keys`,
    /// unless `config` turns checking off.
    pub fn new(config: AuthConfig, keys: PgPool) -> Arc<Self> {
        Arc::new(Self {
            keys: config.required.then_some(keys),
            cache_ttl: config.cache_ttl,
            checked: CoalescingCache::with_capacity(CACHE_CAPACITY),
        })
    }

    /// Checks nothing: every request acts as client 1.
    pub fn open() -> Arc<Self> {
        Arc::new(Self {
            keys: None,
            cache_ttl: Duration::ZERO,
            checked: CoalescingCache::with_capacity(CACHE_CAPACITY),
        })
    }

    /// The pool keys are checked through, if they are checked (for the
    /// service's healthcheck).
    pub fn key_store(&self) -> Option<&PgPool> {
        self.keys.as_ref()
    }

    /// The client of the request's key. Fails with 401 on a missing,
    /// malformed, unknown or revoked key, and 503 when the key cannot be
    /// checked (the write model is away).
    pub async fn client(&self, headers: &HeaderMap) -> Result<ClientId, ApiError> {
        let Some(keys) = self.key_store() else {
            return Ok(OPEN_API_CLIENT);
        };
        let key = bearer_key(headers)?;
        let hash = key_hash(key);
        let (client, _) = self.checked.get(&hash, || self.look_up(keys, hash)).await;
        client.map_err(ApiError::database)?.ok_or_else(|| {
            tracing::info!(message = events::API_KEY_REFUSED);
            ApiError::Unauthorized("the API key is unknown or revoked".into())
        })
    }

    /// Finds the key's client and notes its use, in one statement; the
    /// lookup is by hash, so the time it takes tells nothing of the key.
    /// The answer, good or bad, is trusted for the cache's TTL.
    async fn look_up(
        &self,
        keys: &PgPool,
        hash: KeyHash,
    ) -> Result<(Option<ClientId>, Duration), Arc<sqlx::Error>> {
        let client: Option<i64> = sqlx::query_scalar(
            "UPDATE api_key SET last_used_at = now() \
             WHERE key_hash = $1 AND revoked_at IS NULL RETURNING client_id",
        )
        .bind(&hash[..])
        .fetch_optional(keys)
        .await?;
        Ok((client.map(ClientId), self.cache_ttl))
    }
}

/// The key of `Authorization: Bearer <key>`.
fn bearer_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    let refused = |why: &str| {
        tracing::info!(reason = why, message = events::API_KEY_REFUSED);
        ApiError::Unauthorized(format!("{why}: send Authorization: Bearer <your API key>"))
    };
    let header = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| refused("no API key"))?;
    let value = header
        .to_str()
        .map_err(|_| refused("a malformed Authorization header"))?;
    let (scheme, key) = value
        .split_once(' ')
        .ok_or_else(|| refused("a malformed Authorization header"))?;
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(refused("a malformed Authorization header"));
    }
    Ok(key)
}

/// State that holds a service's key check, for the [`ClientId`] extractor.
pub trait KeyCheck {
    /// The service's key check, with its cache of checked keys.
    fn authenticator(&self) -> &Authenticator;
}

/// An extractor rather than a middleware layer, which would box the rest of
/// the route anew for every request. Put before the body's extractor, it
/// answers 401 (or 503) before any other work unless the request's key names
/// a client, whom it adds to the request's span.
impl<S: KeyCheck + Send + Sync> FromRequestParts<Arc<S>> for ClientId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<S>) -> Result<Self, Response> {
        let client = state
            .authenticator()
            .client(&parts.headers)
            .await
            .map_err(IntoResponse::into_response)?;
        tracing::Span::current().record("client_id", client.0);
        Ok(client)
    }
}

/// Declares the bearer scheme (`api_key`) in an API's OpenAPI document.
pub struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API key of the client, as issued by `migration clients issue-key`",
            ))
            .build();
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(value).expect("a header"),
        );
        headers
    }

    #[test]
    fn the_key_is_read_from_a_bearer_authorization_only() {
        let key = |value: &str| {
            bearer_key(&with_authorization(value))
                .ok()
                .map(str::to_owned)
        };
        assert_eq!(key("Bearer rsd_abc").as_deref(), Some("rsd_abc"));
        assert_eq!(key("bearer rsd_abc").as_deref(), Some("rsd_abc"));
        for malformed in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "rsd_abc",
            "Token rsd_abc",
        ] {
            assert_eq!(key(malformed), None, "{malformed}");
        }
        assert!(bearer_key(&HeaderMap::new()).is_err());
    }

    #[test]
    fn keys_are_kept_as_their_sha256() {
        // echo -n abc | sha256sum
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: String = key_hash("abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }
}
