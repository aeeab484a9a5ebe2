//! The error responses of every HTTP API, in the shapes FastAPI clients
//! already parse (SPEC section 2).

use crate::events;
use axum::Json;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// One entry of a 422 `detail` list: where the fault is, what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where: `["body", "amount"]`, `["query", "page_size"]`.
    #[schema(example = json!(["body", "amount"]))]
    pub loc: Vec<String>,
    #[schema(example = "Input should have at most 2 decimal places")]
    pub msg: String,
    /// The kind of fault, as FastAPI names it (`missing`, `decimal_parsing`, ...).
    #[serde(rename = "type")]
    #[schema(example = "decimal_max_places")]
    pub kind: String,
}

/// The body of a 422: every fault of the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationErrorBody {
    pub detail: Vec<FieldError>,
}

/// The body of every other error: what went wrong, for a person to read.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailBody {
    #[schema(example = "no BTC price can be had right now; please retry")]
    pub detail: String,
}

/// Why a valid order was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictCode {
    /// The order would take the sum of all orders past 100 BTC.
    BtcLimitExceeded,
    /// The idempotence key was used before with another currency or amount.
    IdempotenceKeyReused,
    /// The order would take the client's own orders past the client's limit.
    ClientBtcLimitExceeded,
}

impl ConflictCode {
    /// The code as it is sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BtcLimitExceeded => "btc_limit_exceeded",
            Self::IdempotenceKeyReused => "idempotence_key_reused",
            Self::ClientBtcLimitExceeded => "client_btc_limit_exceeded",
        }
    }
}

/// The body of a 409: the reason, and its code for programs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictBody {
    #[schema(example = "the order would exceed the 100 BTC limit; 0.50000000 BTC is left")]
    pub detail: String,
    pub code: ConflictCode,
}

impl FieldError {
    /// A fault at `loc` (e.g. `["body", "amount"]`) of kind `kind`.
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            loc: loc.iter().map(|part| (*part).to_owned()).collect(),
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// Every way a request can fail, each with its status and body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422 `{"detail": [{"loc", "msg", "type"}, ...]}`.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// 400 `{"detail": "..."}`.
    #[error("{0}")]
    BadRequest(String),
    /// 401 `{"detail": "..."}` with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// 404 `{"detail": "..."}`.
    #[error("{0}")]
    NotFound(String),
    /// 413 `{"detail": "..."}`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 409 `{"detail": "...", "code": "..."}`.
    #[error("{detail}")]
    Conflict { detail: String, code: ConflictCode },
    /// 502 `{"detail": "..."}`: an upstream answered wrongly.
    #[error("{0}")]
    BadGateway(String),
    /// 503 `{"detail": "..."}`: a dependency is away; the request may be retried.
    #[error("{0}")]
    Unavailable(String),
    /// 504 `{"detail": "..."}`: an upstream did not answer in time.
    #[error("{0}")]
    GatewayTimeout(String),
    /// 500 with a reference; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A database failure: 503 while the database cannot be reached (the
    /// request may be retried), else a 500.
    pub fn database(error: impl Into<std::sync::Arc<sqlx::Error>>) -> Self {
        let error = error.into();
        if database_unavailable(&error) {
            tracing::warn!(error = %error, message = events::DATABASE_UNAVAILABLE);
            Self::Unavailable("the database is unavailable or busy; please retry".into())
        } else {
            Self::internal(error)
        }
    }

    /// Wraps an unexpected error as a 500.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }
}

/// Whether `error` says the database could not be reached, went away or
/// could not answer in time, as opposed to refusing the statement: no pool
/// connection, a broken socket, the server ending the session or cancelling
/// the statement (SQLSTATE class 08, connection exception; class 57,
/// operator intervention: 57P01 when it is shut down, 57014 when the
/// statement timeout fires), or a lock not had within the lock timeout
/// (55P03). Each passes, so the request may be retried.
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57") || code == "55P03"
        }),
        _ => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = |status: StatusCode, detail: String| {
            (status, Json(DetailBody { detail })).into_response()
        };
        match self {
            ApiError::Invalid(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ValidationErrorBody { detail }),
            )
                .into_response(),
            ApiError::BadRequest(message) => detail(StatusCode::BAD_REQUEST, message),
            ApiError::Unauthorized(message) => {
                let mut response = detail(StatusCode::UNAUTHORIZED, message);
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            ApiError::NotFound(message) => detail(StatusCode::NOT_FOUND, message),
            ApiError::Conflict { detail, code } => {
                (StatusCode::CONFLICT, Json(ConflictBody { detail, code })).into_response()
            }
            ApiError::PayloadTooLarge(message) => detail(StatusCode::PAYLOAD_TOO_LARGE, message),
            ApiError::BadGateway(message) => detail(StatusCode::BAD_GATEWAY, message),
            ApiError::Unavailable(message) => detail(StatusCode::SERVICE_UNAVAILABLE, message),
            ApiError::GatewayTimeout(message) => detail(StatusCode::GATEWAY_TIMEOUT, message),
            ApiError::Internal(error) => internal_response(&*error),
        }
    }
}

/// Logs the full cause chain once under a fresh reference, and tells the
/// client only the reference.
fn internal_response(error: &(dyn std::error::Error + 'static)) -> Response {
    let reference = Uuid::new_v4();
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(%reference, error = %chain, message = events::REQUEST_FAILED);
    let detail =
        format!("an error occurred. please contact support and quote reference {reference}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(DetailBody { detail }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("json body"))
    }

    #[tokio::test]
    async fn validation_errors_have_the_fastapi_shape() {
        let error = FieldError::new(&["body", "amount"], "must be > 0", "value_error");
        let (status, body) = body_of(ApiError::Invalid(vec![error])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body,
            json!({"detail": [{"loc": ["body", "amount"], "msg": "must be > 0", "type": "value_error"}]})
        );
    }

    #[tokio::test]
    async fn conflicts_carry_a_code() {
        let conflict = ApiError::Conflict {
            detail: "full".into(),
            code: ConflictCode::BtcLimitExceeded,
        };
        let (status, body) = body_of(conflict).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            body,
            json!({"detail": "full", "code": "btc_limit_exceeded"})
        );
    }

    #[tokio::test]
    async fn internal_errors_show_a_reference_and_hide_the_cause() {
        let (status, body) = body_of(ApiError::internal("password=hunter2 leaked")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let detail = body["detail"].as_str().expect("detail is text");
        let reference = detail.rsplit(' ').next().expect("a last word");
        assert!(detail.starts_with("an error occurred. please contact support"));
        assert!(Uuid::parse_str(reference).is_ok(), "{detail}");
        assert!(!detail.contains("hunter2"));
    }
}
