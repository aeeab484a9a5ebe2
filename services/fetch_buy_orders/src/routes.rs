//! The HTTP face: `GET /buy_orders?page_size=10&last_reference=<id>` and
//! `GET /healthcheck`.

use platform::events;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use domain::BuyOrder;
use platform::api_docs;
use platform::api_error::{ApiError, DetailBody, FieldError, ValidationErrorBody};
use platform::auth::{Authenticator, BearerKey, ClientId, KeyCheck};
use platform::health::{
    NotReady, Readiness, Started, Startup, health_response, ready_with_database,
};
use platform::postgres::HeldConnections;
use serde::Serialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::page_reader::PageReader;
use crate::storage::{self, KeysetPage};

const DEFAULT_PAGE_SIZE: i64 = 10;
const MAX_PAGE_SIZE: i64 = 100;

pub(crate) struct Service {
    /// The pages, read many at a time.
    pub pages: PageReader,
    /// The rest of the reads of the read model: cursor checks, healthchecks.
    pub read_model: Arc<HeldConnections>,
    pub startup: Readiness,
    pub authenticator: Arc<Authenticator>,
}

impl Startup for Service {
    fn startup(&self) -> &Readiness {
        &self.startup
    }
}

impl KeyCheck for Service {
    fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

/// `{"rows": [...], "last_reference": "<id>" | null, "has_more": bool}`
#[derive(Serialize, ToSchema)]
struct PageBody {
    /// The page's orders, newest first.
    rows: Vec<BuyOrder>,
    /// The id of the last row, to pass for the next page; null when the page is empty.
    last_reference: Option<Uuid>,
    /// Whether another page follows.
    has_more: bool,
}

/// The query of `GET /buy_orders`, as the API's description shows it; the
/// handler reads the query itself, to report each fault in FastAPI's shape.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only described, never built: see above
struct PageQuery {
    /// How many orders a page holds.
    #[param(minimum = 1, maximum = 100, default = 10)]
    page_size: Option<i64>,
    /// The `id` of the last order of the previous page; absent or empty for
    /// the first page.
    #[param(
        value_type = Option<String>,
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    last_reference: Option<String>,
}

/// The API's description, generated from the handler and the types it answers with.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "fetch_buy_orders",
        description = "Pages through the orders placed, newest first, with keyset paging: \
            pass the last page's `last_reference` to get the next page."
    ),
    paths(buy_orders),
    tags((name = "reading orders", description = "Your orders, newest first, a page at a time")),
    modifiers(&BearerKey),
    security(("api_key" = []))
)]
struct ApiDoc;

struct PageRequest {
    page_size: i64,
    last_reference: Option<Uuid>,
}

pub(crate) fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/buy_orders", get(buy_orders))
        .route(platform::health::PATH, get(healthcheck))
        .merge(service.startup.replica_route())
        .with_state(service)
        .merge(api_docs::router(ApiDoc::openapi()))
}

/// One page of orders, newest first.
#[utoipa::path(
    get,
    path = "/buy_orders",
    tag = "reading orders",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of orders; empty past the last one", body = PageBody),
        (status = 401, description = "No API key, a malformed `Authorization` header, or an unknown \
            or revoked key", body = DetailBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 404, description = "`last_reference` names no order of this client", body = DetailBody),
        (status = 422, description = "`page_size` or `last_reference` is invalid", body = ValidationErrorBody),
        (status = 503, description = "The read model is unavailable or busy, or the service \
            is at capacity or starting; retry", body = DetailBody),
        (status = 500, description = "An unexpected error; the detail quotes a reference", body = DetailBody),
    )
)]

async fn buy_orders(
    _: Started,
    client: ClientId,
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
    let rows = read_rows(&service, client, &request).await;
    let rows = rows.map_err(ApiError::database)?;
    let mut rows =
        rows.map_err(|reference| ApiError::NotFound(format!("no order {reference} was found")))?;
    let page_size = usize::try_from(request.page_size).expect("page_size is within 1..=100");
    let has_more = rows.len() > page_size;
    rows.truncate(page_size);
    let last_reference = rows.last().map(|order| order.id);
    // The page's ends, which tell which orders it served (ids are UUIDv7,
    // in creation order) without listing every row in the event.
    let first_reference = rows.first().map(|order| order.id);
    tracing::info!(
        rows = rows.len(),
        has_more,
        client_id = client.0,
        first_reference = first_reference.map(tracing::field::display),
        last_reference = last_reference.map(tracing::field::display),
        message = events::BUY_ORDERS_PAGE_RETURNED
    );
    Ok(Json(PageBody {
        rows,
        last_reference,
        has_more,
    }))
}

/// The page's rows and one more, which says whether another page follows;
/// or, as the error, a `last_reference` that names no order of the client.
async fn read_rows(
    service: &Service,
    client: ClientId,
    request: &PageRequest,
) -> Result<Result<Vec<BuyOrder>, Uuid>, Arc<sqlx::Error>> {
    let after = request.last_reference;
    let query = KeysetPage {
        client_id: client.0,
        after,
        limit: request.page_size + 1,
    };
    let rows = service.pages.read(query).await?;
    if let (Some(reference), true) = (after, rows.is_empty()) {
        // An empty page: the end of the list, or a reference to no order of ours.
        let read_model = &service.read_model;
        let is_ours =
            read_model.run(async |db| storage::is_order_of(db, client.0, reference).await);
        if !is_ours.await? {
            return Ok(Err(reference));
        }
    }
    Ok(Ok(rows))
}

const HYPHENATED_UUID_LEN: usize = 36;

fn not_a_uuid(why: &str) -> FieldError {
    let msg = format!("Input should be a valid UUID: {why}");
    FieldError::new(&["query", "last_reference"], msg, "uuid_parsing")
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
        // Only the hyphenated form, the one our ids are shown in.
        Some(text) if text.len() != HYPHENATED_UUID_LEN => Err(not_a_uuid(&format!(
            "{} characters where {HYPHENATED_UUID_LEN} were expected",
            text.len()
        ))),
        Some(text) => Uuid::try_parse(text)
            .map(Some)
            .map_err(|error| not_a_uuid(&error.to_string())),
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
    let state = async {
        service.startup.current()?;
        let read_model = service.read_model.ping().await;
        read_model.map_err(|error| NotReady::unreachable("read model", error))?;
        match service.authenticator.key_store() {
            Some(keys) => ready_with_database(&[], keys, "write model (API keys)").await,
            None => Ok(()),
        }
    };
    health_response(state.await)
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
                vec![("last_reference", "67e5504410b1426f9247bb680e5fe0c8")],
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
