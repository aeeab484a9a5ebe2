//! The HTTP face: `GET /buy_orders?page_size=10&last_reference=<id>` and
//! `GET /healthcheck`.

use platform::events;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router, middleware};
use domain::BuyOrder;
use platform::api_error::{ApiError, FieldError};
use platform::health::{Readiness, health_response, ready_with_database};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::storage;

/// Every request acts as this client until authentication exists.
const CLIENT_ID: i64 = 1;
const DEFAULT_PAGE_SIZE: i64 = 10;
const MAX_PAGE_SIZE: i64 = 100;

pub(crate) struct Service {
    pub pool: PgPool,
    pub startup: Readiness,
}

/// `{"rows": [...], "last_reference": "<id>" | null, "has_more": bool}`
#[derive(Serialize)]
struct PageBody {
    rows: Vec<BuyOrder>,
    last_reference: Option<Uuid>,
    has_more: bool,
}

struct PageRequest {
    page_size: i64,
    last_reference: Option<Uuid>,
}

pub(crate) fn router(service: Arc<Service>) -> Router {
    let gate = middleware::from_fn_with_state(service.startup.clone(), Readiness::gate);
    Router::new()
        .route("/buy_orders", get(buy_orders))
        .layer(gate)
        .route("/healthcheck", get(healthcheck))
        .with_state(service)
}

async fn buy_orders(
    State(service): State<Arc<Service>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<PageBody>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::Invalid(vec![FieldError::new(
            &["query"],
            rejection.body_text(),
            "query_invalid",
        )])
    })?;
    let request = parse(&query).map_err(ApiError::Invalid)?;
    tracing::info!(
        page_size = request.page_size,
        last_reference = request.last_reference.map(|r| r.to_string()),
        message = events::BUY_ORDERS_PAGE_REQUESTED
    );
    // One row more than asked for says whether another page follows.
    let mut rows = storage::page(
        &service.pool,
        CLIENT_ID,
        request.last_reference,
        request.page_size + 1,
    )
    .await
    .map_err(ApiError::database)?;
    if let (Some(reference), true) = (request.last_reference, rows.is_empty()) {
        // An empty page: the end of the list, or a reference to no order of ours.
        let known = storage::is_order_of(&service.pool, CLIENT_ID, reference).await;
        if !known.map_err(ApiError::database)? {
            return Err(ApiError::NotFound(format!(
                "no order {reference} was found"
            )));
        }
    }
    let page_size = usize::try_from(request.page_size).expect("page_size is within 1..=100");
    let has_more = rows.len() > page_size;
    rows.truncate(page_size);
    let last_reference = rows.last().map(|order| order.id);
    tracing::info!(
        rows = rows.len(),
        has_more,
        message = events::BUY_ORDERS_PAGE_RETURNED
    );
    Ok(Json(PageBody {
        rows,
        last_reference,
        has_more,
    }))
}

fn parse(query: &HashMap<String, String>) -> Result<PageRequest, Vec<FieldError>> {
    let page_size = match query.get("page_size") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(text) => match text.parse::<i64>() {
            Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Ok(size),
            Ok(_) => Err(FieldError::new(
                &["query", "page_size"],
                format!("Input should be between 1 and {MAX_PAGE_SIZE}"),
                "range",
            )),
            Err(_) => Err(FieldError::new(
                &["query", "page_size"],
                "Input should be a valid integer",
                "int_parsing",
            )),
        },
    };
    let last_reference = match query.get("last_reference").filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => Uuid::try_parse(text).map(Some).map_err(|error| {
            let msg = format!("Input should be a valid UUID: {error}");
            FieldError::new(&["query", "last_reference"], msg, "uuid_parsing")
        }),
    };
    match (page_size, last_reference) {
        (Ok(page_size), Ok(last_reference)) => Ok(PageRequest {
            page_size,
            last_reference,
        }),
        (page_size, last_reference) => Err([page_size.err(), last_reference.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

async fn healthcheck(State(service): State<Arc<Service>>) -> Response {
    health_response(ready_with_database(&[&service.startup], &service.pool, "read model").await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn page_size_defaults_to_10_and_accepts_1_to_100() {
        assert_eq!(parse(&query(&[])).map(|r| r.page_size).ok(), Some(10));
        for size in ["1", "7", "100"] {
            let parsed = parse(&query(&[("page_size", size)])).map(|r| r.page_size.to_string());
            assert_eq!(parsed.ok().as_deref(), Some(size));
        }
    }

    #[test]
    fn bad_page_sizes_and_references_are_reported_at_their_location() {
        for (pairs, expected) in [
            (vec![("page_size", "0")], vec![("page_size", "range")]),
            (vec![("page_size", "101")], vec![("page_size", "range")]),
            (
                vec![("page_size", "ten")],
                vec![("page_size", "int_parsing")],
            ),
            (
                vec![("last_reference", "123")],
                vec![("last_reference", "uuid_parsing")],
            ),
            (
                vec![("page_size", "-1"), ("last_reference", "x")],
                vec![("page_size", "range"), ("last_reference", "uuid_parsing")],
            ),
        ] {
            let errors = parse(&query(&pairs)).err().expect("invalid");
            let got: Vec<_> = errors
                .iter()
                .map(|e| (e.loc[1].as_str(), e.kind.as_str()))
                .collect();
            assert_eq!(got, expected, "{pairs:?}");
        }
    }
}
