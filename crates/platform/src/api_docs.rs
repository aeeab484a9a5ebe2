//! The self-description of an HTTP API: `GET /openapi.json`, the OpenAPI 3.1
//! document that utoipa generates from a service's handlers and types, and
//! `GET /docs`, Swagger UI to read and try it. The UI's scripts and styles
//! come from the utoipa-swagger-ui-vendored crate and are served by the
//! service itself, so the page works without internet.

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the interactive page is served.
pub const DOCS_PATH: &str = "/docs";

/// The routes that serve `document` and the page that shows it.
pub fn router(document: OpenApi) -> Router {
    // No online validator badge: it would send the document to swagger.io.
    let config = Config::from(OPENAPI_PATH).validator_url("none");
    SwaggerUi::new(DOCS_PATH)
        .url(OPENAPI_PATH, document)
        .config(config)
        .into()
}
