//! End-to-end tests of the whole cluster, in `tests/e2e`: the five service
//! binaries as processes on loopback, on a real PostgreSQL and RabbitMQ, with
//! the fake Coinbase as the only stand-in. This library is empty; the crate
//! exists so that tests spanning every service have a home of their own.
