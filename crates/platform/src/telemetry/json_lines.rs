//! Events as JSON lines, one object per event:
//! `{"timestamp": ..., "level": "INFO", <the event's fields>, "target": ...,
//! "span": {<the fields of the event's span>, "name": ...}}`.
//!
//! Written straight from the fields into one reused buffer per thread. The
//! span's fields are kept as JSON text when the span opens, and copied into
//! each of its events as they are. (tracing-subscriber's JSON formatter, used
//! before, parsed them back into a map for every event and built a map of the
//! event's own fields too; that was most of the cost of an event line.)

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;

use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The layer: writes each event as one line to what `make_writer` gives.
pub struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// A span's fields as JSON object members (`"a":1,"b":"x"`), kept in the span.
struct SpanFields(String);

thread_local! {
    /// The line being written; reused so that an event allocates nothing.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = String::new();
        attrs.record(&mut Members::new(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    // A field recorded later (one declared `Empty`) is appended; a field
    // recorded twice appears twice, and JSON readers take the last.
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(SpanFields(fields)) = span.extensions_mut().get_mut::<SpanFields>() {
            values.record(&mut Members::new(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        LINE.with(|line| {
            // An event written while this thread writes one (from inside a
            // field's Display, say) gets a buffer of its own.
            let mut own = String::new();
            let mut borrowed = line.try_borrow_mut();
            let line = match borrowed.as_deref_mut() {
                Ok(reused) => reused,
                Err(_) => &mut own,
            };
            line.clear();
            write_line(line, event, ctx.event_span(event));
            let _ = self
                .make_writer
                .make_writer_for(event.metadata())
                .write_all(line.as_bytes());
        });
    }
}

fn write_line<S>(line: &mut String, event: &Event<'_>, span: Option<SpanRef<'_, S>>)
where
    S: for<'a> LookupSpan<'a>,
{
    let metadata = event.metadata();
    line.push_str("{\"timestamp\":");
    push_timestamp(line, OffsetDateTime::now_utc());
    let _ = write!(line, ",\"level\":\"{}\"", metadata.level());
    let mut members = Members::after_first(line);
    event.record(&mut members);
    line.push_str(",\"target\":");
    push_string(line, metadata.target());
    if let Some(span) = span {
        line.push_str(",\"span\":{");
        if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
            line.push_str(fields);
            if !fields.is_empty() {
                line.push(',');
            }
        }
        line.push_str("\"name\":");
        push_string(line, span.name());
        line.push('}');
    }
    line.push_str("}\n");
}

/// `at` in RFC 3339 to the microsecond, in UTC, as a JSON string; written
/// by hand because `time`'s formatter allocates a string for it.
fn push_timestamp(line: &mut String, at: OffsetDateTime) {
    let (date, clock) = (at.date(), at.time());
    let _ = write!(
        line,
        "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z\"",
        date.year(),
        u8::from(date.month()),
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second(),
        clock.microsecond()
    );
}

/// Writes fields as JSON object members onto text that may already hold some.
struct Members<'a> {
    text: &'a mut String,
    first: bool,
}

impl<'a> Members<'a> {
    /// Onto `text`, which holds members already if it is not empty.
    fn new(text: &'a mut String) -> Self {
        let first = text.is_empty();
        Self { text, first }
    }

    /// Onto an object that already has a member.
    fn after_first(text: &'a mut String) -> Self {
        Self { text, first: false }
    }

    fn key(&mut self, field: &Field) -> &mut String {
        if !self.first {
            self.text.push(',');
        }
        self.first = false;
        push_string(self.text, field.name());
        self.text.push(':');
        self.text
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        push_string(self.key(field), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let _ = write!(self.key(field), "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let _ = write!(self.key(field), "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let _ = write!(self.key(field), "{value}");
    }

    // JSON has no NaN or infinity: those become strings.
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            let _ = write!(self.key(field), "{value}");
        } else {
            push_string(self.key(field), &value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = self.key(field);
        text.push('"');
        let _ = write!(Escaping(text), "{value:?}");
        text.push('"');
    }
}

/// `value` as a JSON string.
fn push_string(text: &mut String, value: &str) {
    text.push('"');
    let _ = Escaping(text).write_str(value);
    text.push('"');
}

/// Appends what is written to it with JSON's string escapes.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, value: &str) -> fmt::Result {
        let mut plain_from = 0;
        for (at, byte) in value.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(&value[plain_from..at]);
            plain_from = at + 1;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.push_str(escape);
            }
        }
        self.0.push_str(&value[plain_from..]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::captured::Captured;
    use time::format_description::well_known::Rfc3339;
    use tracing_subscriber::layer::SubscriberExt;

    /// The lines `emit` writes, each parsed.
    fn lines_of(emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let written = Captured::default();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(written.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        written
            .text()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
            .collect()
    }

    #[test]
    fn an_event_in_a_span_carries_its_own_fields_and_the_spans() {
        let lines = lines_of(|| {
            let span = tracing::info_span!(
                "request",
                request_id = "r-1",
                client_id = tracing::field::Empty
            );
            let _entered = span.enter();
            span.record("client_id", 7);
            tracing::warn!(
                order_id = -3,
                amount = %"1.50",
                sent = true,
                ratio = 0.5,
                message = "buy_order_created"
            );
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["message"], "buy_order_created");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["order_id"], -3);
        assert_eq!(line["amount"], "1.50");
        assert_eq!(line["sent"], true);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["target"], module_path!());
        assert_eq!(
            line["span"],
            serde_json::json!({"request_id": "r-1", "client_id": 7, "name": "request"})
        );
        let timestamp = line["timestamp"].as_str().expect("a timestamp");
        assert!(
            OffsetDateTime::parse(timestamp, &Rfc3339).is_ok(),
            "{timestamp}"
        );
    }

    #[test]
    fn an_event_outside_any_span_has_no_span_member() {
        let lines = lines_of(|| tracing::info!(message = "service_started"));
        assert_eq!(lines[0]["message"], "service_started");
        assert!(lines[0].get("span").is_none());
    }

    #[test]
    fn text_with_quotes_backslashes_and_control_characters_stays_one_json_string() {
        let awkward = "a \"quoted\" C:\\path\nnext\tline \u{1} \u{7f} é";
        let lines = lines_of(|| {
            tracing::error!(error = %awkward, detail = awkward, message = "request_failed");
        });
        assert_eq!(lines[0]["error"], awkward);
        assert_eq!(lines[0]["detail"], awkward);
    }

    #[test]
    fn numbers_that_json_cannot_hold_become_strings() {
        let lines = lines_of(|| tracing::info!(ratio = f64::NAN, message = "x"));
        assert_eq!(lines[0]["ratio"], "NaN");
    }
}
