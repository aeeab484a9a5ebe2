//! A receiver of fluentd's forward protocol, so tests can read the events the
//! services ship: a real TCP server that decodes the Message, Forward and
//! PackedForward modes and answers `{"ack": chunk}` when a sender asks for it.

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmpv::Value;
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One decoded event.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub tag: String,
    /// The event's time, in seconds since the epoch (to the nanosecond the
    /// sender gave, within an f64's precision).
    pub time: Option<f64>,
    pub record: Json,
}

impl ReceivedEvent {
    /// The event's name (its `event` field).
    pub fn name(&self) -> &str {
        self.record["event"].as_str().unwrap_or_default()
    }
}

type Events = Arc<Mutex<Vec<ReceivedEvent>>>;

/// What a receiver does with the events of one message, before it acks them.
pub type EventSink = Arc<dyn Fn(Vec<ReceivedEvent>) + Send + Sync>;

/// A running receiver; it stops when dropped.
pub struct FluentReceiver {
    port: u16,
    events: Events,
    server: tokio::task::JoinHandle<()>,
}

impl FluentReceiver {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Listens on `port` (e.g. one the services were told of before it was up).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("binding the receiver");
        let port = listener.local_addr().expect("its address").port();
        let events = Events::default();
        let kept = events.clone();
        let sink: EventSink = Arc::new(move |decoded| {
            kept.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(decoded);
        });
        let server = tokio::spawn(serve(listener, sink));
        Self {
            port,
            events,
            server,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything received so far.
    pub fn events(&self) -> Vec<ReceivedEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits up to `timeout` for an event matching `wanted`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        wanted: impl Fn(&ReceivedEvent) -> bool,
    ) -> Option<ReceivedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.events().into_iter().find(|e| wanted(e)) {
                return Some(event);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FluentReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Accepts forward-protocol connections on `listener` until it fails, handing
/// every decoded event to `sink`.
pub async fn serve(listener: TcpListener, sink: EventSink) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(receive(stream, sink.clone()));
    }
}

/// Reads whole msgpack values off the stream, however the bytes arrive.
async fn receive(mut stream: TcpStream, sink: EventSink) {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
        loop {
            let mut cursor = Cursor::new(&buffer[..]);
            let Ok(message) = rmpv::decode::read_value(&mut cursor) else {
                break;
            };
            let consumed = usize::try_from(cursor.position()).expect("within the buffer");
            buffer.drain(..consumed);
            let (decoded, ack) = decode(&message);
            sink(decoded);
            if let Some(ack) = ack {
                let mut answer = Vec::new();
                let map = Value::Map(vec![(Value::from("ack"), Value::from(ack))]);
                rmpv::encode::write_value(&mut answer, &map).expect("encoding into memory");
                if stream.write_all(&answer).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The events of one message, and the chunk to acknowledge, if asked.
fn decode(message: &Value) -> (Vec<ReceivedEvent>, Option<String>) {
    let Some(parts) = message.as_array() else {
        return (Vec::new(), None);
    };
    let tag = parts
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let event = |time: Option<&Value>, record: &Value| ReceivedEvent {
        tag: tag.clone(),
        time: time.and_then(event_time),
        record: to_json(record),
    };
    // An entry of Forward and PackedForward: [time, record].
    let entry = |entry: &Value| {
        let parts = entry.as_array()?;
        Some(event(parts.first(), parts.get(1)?))
    };
    let (events, options) = match parts.get(1) {
        // Forward: [tag, [[time, record], ...], options]
        Some(Value::Array(entries)) => (entries.iter().filter_map(entry).collect(), parts.get(2)),
        // PackedForward: [tag, <msgpack stream of [time, record]>, options]
        Some(Value::Binary(packed)) => (
            unpack(packed).iter().filter_map(entry).collect(),
            parts.get(2),
        ),
        Some(Value::String(packed)) => (
            unpack(packed.as_bytes()).iter().filter_map(entry).collect(),
            parts.get(2),
        ),
        // Message: [tag, time, record, options]
        Some(time) => (
            parts
                .get(2)
                .map(|record| event(Some(time), record))
                .into_iter()
                .collect(),
            parts.get(3),
        ),
        None => (Vec::new(), None),
    };
    let chunk = options.and_then(|o| o.as_map()).and_then(|map| {
        map.iter()
            .find(|(k, _)| k.as_str() == Some("chunk"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    });
    (events, chunk)
}

/// The entries, `[time, record]`, of a PackedForward stream.
fn unpack(mut packed: &[u8]) -> Vec<Value> {
    let mut entries = Vec::new();
    while !packed.is_empty() {
        let Ok(entry) = rmpv::decode::read_value(&mut packed) else {
            break;
        };
        entries.push(entry);
    }
    entries
}

/// Seconds since the epoch of a forward-protocol time: an integer, or the
/// EventTime extension (type 0: seconds and nanoseconds, big-endian u32s).
fn event_time(time: &Value) -> Option<f64> {
    match time {
        Value::Integer(seconds) => seconds.as_f64(),
        Value::Ext(0, bytes) if bytes.len() == 8 => {
            let seconds = u32::from_be_bytes(bytes[..4].try_into().ok()?);
            let nanos = u32::from_be_bytes(bytes[4..].try_into().ok()?);
            Some(f64::from(seconds) + f64::from(nanos) / 1e9)
        }
        _ => None,
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => i
            .as_i64()
            .map(Json::from)
            .or_else(|| i.as_u64().map(Json::from))
            .unwrap_or(Json::Null),
        Value::F32(f) => Json::from(f64::from(*f)),
        Value::F64(f) => Json::from(*f),
        Value::String(s) => Json::from(s.as_str().unwrap_or_default()),
        Value::Binary(b) => Json::from(String::from_utf8_lossy(b).into_owned()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().map_or_else(|| k.to_string(), str::to_owned),
                        to_json(v),
                    )
                })
                .collect(),
        ),
        Value::Ext(_, bytes) => Json::from(bytes.clone()),
    }
}

/// A port where connections hang: something listens but never accepts, and
/// its backlog is full, so a connect waits until the client gives up. It
/// shows that a service never waits on an unreachable fluentd.
pub struct BlackHole {
    port: u16,
    _listener: TcpListener,
    _held: Vec<std::net::TcpStream>,
}

impl BlackHole {
    pub async fn start() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("binding");
        let listener = socket.listen(1).expect("listening");
        let port = listener.local_addr().expect("its address").port();
        // Linux queues backlog + 1 connections; these fill the queue.
        let held = (0..2)
            .map(|_| {
                std::net::TcpStream::connect(("127.0.0.1", port)).expect("filling the backlog")
            })
            .collect();
        Self {
            port,
            _listener: listener,
            _held: held,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}
