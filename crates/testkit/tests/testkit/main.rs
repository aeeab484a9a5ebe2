//! The test support itself: the fake Coinbase's API, per-test databases, the
//! forward-protocol receiver, and the list of services.

mod database;
mod docs;
mod fake_coinbase;
mod fluent_receiver;
mod services_list;
