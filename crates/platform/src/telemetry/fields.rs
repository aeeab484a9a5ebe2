//! Tracing fields as typed msgpack values: numbers stay numbers, booleans
//! stay booleans, and anything else is its display text.

use std::fmt;

use rmpv::Value;
use tracing::field::{Field, Visit};

/// The fields of one event or span, in the order they were recorded.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields(pub Vec<(String, Value)>);

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        // The message of our events is the event's name.
        let name = if field.name() == "message" {
            "event"
        } else {
            field.name()
        };
        self.0.push((name.to_owned(), value));
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields arrive here wrapped so that Debug prints their Display.
        self.push(field, Value::from(format!("{value:?}")));
    }
}
