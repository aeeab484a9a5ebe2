//! The name of every event the services emit, in one place: each is the
//! `message` of a tracing event (`tracing::info!(order_id, message = events::BUY_ORDER_CREATED)`),
//! and a test keeps this list and the catalogue in docs/operations.md equal.

// Every service

/// A request found its database away (it answers 503).
pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";
/// A request ended in a 500.
pub const REQUEST_FAILED: &str = "request_failed";
/// GET /healthcheck.
pub const HEALTH_CHECKED: &str = "health_checked";
/// Shutdown began: the healthcheck answers 503 from now, and the server goes
/// on serving for `notice_ms` before it stops accepting.
pub const READINESS_WITHDRAWN: &str = "readiness_withdrawn";
/// At shutdown, the outbox relay or the consumer did not stop within 5 s.
pub const BACKGROUND_TASK_NOT_STOPPED: &str = "background_task_not_stopped";
/// A background task (batch writer, outbox relay, consumer) ended while the
/// service ran; the service stops and exits non-zero.
pub const BACKGROUND_TASK_STOPPED: &str = "background_task_stopped";
/// A request was not answered within HTTP_REQUEST_TIMEOUT_MS (it got a 503).
pub const REQUEST_TIMED_OUT: &str = "request_timed_out";
/// A request came while HTTP_MAX_CONCURRENT_REQUESTS were in progress (it got a 503).
pub const REQUEST_SHED: &str = "request_shed";
/// Accepting a connection failed (e.g. out of file descriptors); retried.
pub const CONNECTION_NOT_ACCEPTED: &str = "connection_not_accepted";
/// A connection ended on an error: the client went away or its headers were too slow (debug).
pub const CONNECTION_CLOSED_WITH_ERROR: &str = "connection_closed_with_error";
/// At shutdown, requests in flight did not finish within SHUTDOWN_DEADLINE_MS.
pub const REQUESTS_NOT_DRAINED: &str = "requests_not_drained";
/// The migration service is not healthy yet; retried.
pub const WAITING_FOR_MIGRATIONS: &str = "waiting_for_migrations";
/// The migration service reports healthy.
pub const MIGRATIONS_APPLIED: &str = "migrations_applied";
/// A pool first reaches its database.
pub const CONNECTED_TO_DATABASE: &str = "connected_to_database";
/// A connection attempt failed; retried.
pub const FAILED_TO_CONNECT_TO_DATABASE: &str = "failed_to_connect_to_database";
/// Closing a RabbitMQ connection at shutdown failed (its messages go back to the queue anyway).
pub const QUEUE_CLOSE_FAILED: &str = "queue_close_failed";
/// A RabbitMQ connection attempt failed; retried.
pub const FAILED_TO_CONNECT_TO_QUEUE: &str = "failed_to_connect_to_queue";
/// A RabbitMQ connection opened.
pub const CONNECTED_TO_QUEUE: &str = "connected_to_queue";
/// The broker holds the queue as the other type than Q_QUEUE_TYPE names; retried.
pub const QUEUE_TYPE_MISMATCH: &str = "queue_type_mismatch";
/// A variable is missing or malformed; the process exits 1.
pub const SERVICE_MISCONFIGURED: &str = "service_misconfigured";
/// The process ends cleanly.
pub const SERVICE_SHUT_DOWN: &str = "service_shut_down";
/// The process ends on an error (e.g. its port is taken).
pub const SERVICE_FAILED: &str = "service_failed";
/// SIGTERM or SIGINT.
pub const SHUTDOWN_SIGNAL_RECEIVED: &str = "shutdown_signal_received";
/// The process starts.
pub const SERVICE_STARTED: &str = "service_started";

// migration

/// Connecting or migrating failed; retried.
pub const FAILED_TO_MIGRATE_DATABASE: &str = "failed_to_migrate_database";
/// A database's migrations are applied (or were already).
pub const DATABASE_MIGRATED: &str = "database_migrated";

// btc_price

/// GET /buy arrives.
pub const BTC_PRICE_REQUESTED: &str = "btc_price_requested";
/// Coinbase failed: error status, unusable body, timeout, unreachable.
pub const COINBASE_CLIENT_EXCEPTION_OCCURRED: &str = "coinbase_client_exception_occurred";
/// A price is answered.
pub const BTC_PRICE_QUOTED: &str = "btc_price_quoted";

// create_buy_order

/// The sweep published events left behind.
pub const OUTBOX_SWEPT: &str = "outbox_swept";
/// The sweep could not read the outbox; retried next sweep.
pub const OUTBOX_SWEEP_FAILED: &str = "outbox_sweep_failed";
/// RabbitMQ refused or returned an event; it stays in the outbox.
pub const BUY_ORDER_EVENT_NOT_CONFIRMED: &str = "buy_order_event_not_confirmed";
/// The relay claimed the outbox rows of fresh events, to publish them (debug).
pub const OUTBOX_ROWS_CLAIMED: &str = "outbox_rows_claimed";
/// Events were confirmed by RabbitMQ and removed from the outbox (debug).
pub const BUY_ORDER_EVENTS_PUBLISHED: &str = "buy_order_events_published";
/// The relay could not claim fresh events in the outbox, or forget them once
/// confirmed; a later sweep publishes them (perhaps again, which is harmless).
pub const OUTBOX_CLAIM_FAILED: &str = "outbox_claim_failed";
/// Every answer, whatever its status.
pub const CREATE_BUY_ORDER_RESPONSE_RETURNED: &str = "create_buy_order_response_returned";
/// A PUT /buy_order body was read.
pub const CREATE_BUY_ORDER_REQUEST_RECEIVED: &str = "create_buy_order_request_received";
/// A key was seen before; the stored order is replayed.
pub const BUY_ORDER_REQUEST_IDEMPOTENCE_CACHE_HIT: &str = "buy_order_request_idempotence_cache_hit";
/// An order was committed.
pub const BUY_ORDER_CREATED: &str = "buy_order_created";
/// 503: no usable price.
pub const BTC_PRICE_UNAVAILABLE: &str = "btc_price_unavailable";
/// 409: the key was used for another order.
pub const IDEMPOTENCE_KEY_REUSED: &str = "idempotence_key_reused";
/// 409: the order would cross 100 BTC.
pub const BTC_LIMIT_EXCEEDED: &str = "btc_limit_exceeded";
/// The relay is behind; the outbox sweep publishes the event instead (debug).
pub const OUTBOX_RELAY_CHANNEL_FULL: &str = "outbox_relay_channel_full";
/// The outbox relay has a confirming channel.
pub const QUEUE_PUBLISHER_CONNECTED: &str = "queue_publisher_connected";
/// Declaring the topology failed; retried.
pub const QUEUE_PUBLISHER_SETUP_FAILED: &str = "queue_publisher_setup_failed";
/// The relay lost its channel; it reconnects.
pub const QUEUE_PUBLISHER_DISCONNECTED: &str = "queue_publisher_disconnected";

// read_model_sync

/// An order's row is committed and its message acknowledged.
pub const BUY_ORDER_READ_MODEL_SYNCED: &str = "buy_order_read_model_synced";
/// The read model refused a batch for a passing reason; it is retried, and no more messages are taken meanwhile.
pub const FAILED_TO_SYNC_BUY_ORDER_READ_MODEL: &str = "failed_to_sync_buy_order_read_model";
/// A message was parked on the dead-letter queue.
pub const BUY_ORDER_EVENT_DEAD_LETTERED: &str = "buy_order_event_dead_lettered";
/// Subscribed to the queue.
pub const QUEUE_LISTENER_STARTING_CONSUMPTION: &str = "queue_listener_starting_consumption";
/// Declaring or subscribing failed; retried.
pub const QUEUE_LISTENER_SETUP_FAILED: &str = "queue_listener_setup_failed";
/// The subscription ended; it resubscribes.
pub const QUEUE_LISTENER_DISCONNECTED: &str = "queue_listener_disconnected";

// fetch_buy_orders

/// GET /buy_orders with valid parameters.
pub const BUY_ORDERS_PAGE_REQUESTED: &str = "buy_orders_page_requested";
/// A page was answered.
pub const BUY_ORDERS_PAGE_RETURNED: &str = "buy_orders_page_returned";

// read_model_sync's commands

/// `read_model_sync rebuild` finished.
pub const READ_MODEL_REBUILT: &str = "read_model_rebuilt";
/// `read_model_sync replay-dead-letters` finished.
pub const DEAD_LETTERS_REPLAYED: &str = "dead_letters_replayed";

// who is calling

/// An order was refused: it would take its client past the client's own BTC limit.
pub const CLIENT_BTC_LIMIT_EXCEEDED: &str = "client_btc_limit_exceeded";
/// A request was answered 401: no key, a malformed header, or an unknown or revoked key.
pub const API_KEY_REFUSED: &str = "api_key_refused";

// migration's client commands

/// `migration clients create` made a client.
pub const CLIENT_CREATED: &str = "client_created";
/// `migration clients set-limit` set or cleared a client's BTC limit.
pub const CLIENT_BTC_LIMIT_SET: &str = "client_btc_limit_set";
/// `migration clients issue-key` issued a key (the key itself is never logged).
pub const API_KEY_ISSUED: &str = "api_key_issued";
/// `migration clients revoke-key` revoked a key.
pub const API_KEY_REVOKED: &str = "api_key_revoked";
/// The development key of `DEV_API_KEY` was made a key of client 1.
pub const DEV_API_KEY_INSTALLED: &str = "dev_api_key_installed";
