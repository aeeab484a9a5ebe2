//! Service plumbing shared by every binary: configuration from the environment
//! (`config`), telemetry (`telemetry`), waiting out backing services (`retry`,
//! `postgres`, `rabbitmq`, `migrations_gate`), the embedded schema (`schema`),
//! a cache whose concurrent misses share one fetch (`coalescing_cache`), and
//! the HTTP side: serving with graceful shutdown (`http`, `shutdown`,
//! `service`), request ids (`request_id`), readiness (`health`), who is
//! calling (`auth`), the FastAPI-shaped error responses (`api_error`), the
//! self-description (`api_docs`: `/openapi.json` and `/docs`) and the
//! Prometheus metrics (`metrics`).

pub mod api_docs;
pub mod api_error;
pub mod auth;
pub mod coalescing_cache;
pub mod config;
pub mod events;
pub mod health;
pub mod http;
pub mod metrics;
pub mod migrations_gate;
pub mod postgres;
pub mod queue_session;
pub mod rabbitmq;
pub mod request_id;
pub mod retry;
pub mod schema;
pub mod service;
pub mod shutdown;
pub mod telemetry;
