//! The test support itself: the fake Coinbase's API, and per-test databases.

mod database;
mod fake_coinbase;
mod fluent_receiver;
