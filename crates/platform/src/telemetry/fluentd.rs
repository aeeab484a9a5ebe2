//! Events shipped to fluentd over its forward protocol, without ever making
//! the caller wait. The tracing layer turns an event into a record and hands
//! it to a bounded queue with `try_send`; a thread of its own sends batches in
//! Forward mode and waits for fluentd's ack before forgetting them. While
//! fluentd is away the queue fills up to its bound, further events are
//! dropped and counted, the thread retries every `LOGGING_RETRY_S`, reports
//! the count on stderr, and delivery resumes by itself.
//!
//! The records themselves (span and event fields captured with their types,
//! the EventTime, the msgpack shape) are `tracing-fluentd`'s. Its transport is
//! not used: its queue is unbounded, it counts no drops while fluentd is
//! away, and it does not wait for acks; the transport here does all three.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{ConfigError, Env};
use tracing_fluentd::{FieldFormatter, FlattenFmt, fluent};

/// Events sent in one Forward message at most.
const BATCH: usize = 256;
/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long to wait for a write or an ack; a busy fluentd may take a while.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// `LOGGING_HOST`, `LOGGING_PORT`, `LOGGING_RETRY_S` (default 5),
/// `LOGGING_TAG` (default `rsdist`) and `LOGGING_BUFFER` (default 10000
/// events held while fluentd is away).
#[derive(Debug, Clone)]
pub struct FluentdConfig {
    pub host: String,
    pub port: u16,
    pub retry_wait: Duration,
    /// `{LOGGING_TAG}.{service}`
    pub tag: String,
    pub buffer: usize,
    pub service: &'static str,
}

impl FluentdConfig {
    /// Fails on a missing or malformed variable.
    pub fn from_env(env: &Env, service: &'static str) -> Result<Self, ConfigError> {
        let tag: String = env.optional("LOGGING_TAG", "rsdist".to_owned())?;
        Ok(Self {
            host: env.required("LOGGING_HOST")?,
            port: env.required("LOGGING_PORT")?,
            retry_wait: env.seconds("LOGGING_RETRY_S", 5)?,
            tag: format!("{tag}.{service}"),
            buffer: env.optional("LOGGING_BUFFER", 10_000)?,
            service,
        })
    }
}

/// Counters shared by the layer and the forwarder.
#[derive(Default)]
struct Counters {
    /// Events queued or being sent, not yet acknowledged.
    in_flight: AtomicUsize,
    /// Events dropped because the queue was full.
    dropped: AtomicU64,
}

/// The tracing layer: records events onto the queue.
pub struct FluentdLayer {
    sender: SyncSender<fluent::Record>,
    counters: Arc<Counters>,
    service: &'static str,
}

/// The sending side's handle, for flushing at shutdown.
pub struct Forwarder {
    counters: Arc<Counters>,
}

impl FluentdLayer {
    /// Starts the forwarding thread and returns the layer that feeds it.
    pub fn start(config: FluentdConfig) -> (Self, Forwarder) {
        let (sender, receiver) = sync_channel(config.buffer);
        let counters = Arc::new(Counters::default());
        let service = config.service;
        let sending = Sending {
            config,
            receiver,
            counters: counters.clone(),
            reported: 0,
            reachable: None,
        };
        let spawned = std::thread::Builder::new()
            .name("fluentd".into())
            .spawn(move || sending.run());
        if let Err(error) = spawned {
            eprintln!("{service}: telemetry: cannot start the fluentd thread: {error}");
        }
        (
            Self {
                sender,
                counters: counters.clone(),
                service,
            },
            Forwarder { counters },
        )
    }
}

impl Forwarder {
    /// Waits until every queued event is acknowledged, or `deadline` passes.
    pub fn flush(&self, deadline: Duration) {
        let started = Instant::now();
        while self.counters.in_flight.load(Ordering::SeqCst) > 0 && started.elapsed() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for FluentdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // Span and event fields are captured by tracing-fluentd's formatter,
    // which keeps their types and lets an event's own field win over a span's.
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        FlattenFmt.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        FlattenFmt.on_record(id, values, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut record = fluent::Record::now();
        FlattenFmt.on_event(&mut record, event, ctx.event_span(event));
        // The message of our events is the event's name.
        if let Some(name) = record.remove("message") {
            record.insert("event".into(), name);
        }
        record.insert("service".into(), self.service.into());
        self.counters.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.sender.try_send(record).is_err() {
            self.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("log_events_dropped_total", "sink" => "fluentd").increment(1);
        }
    }
}

/// The forwarding thread's state.
struct Sending {
    config: FluentdConfig,
    receiver: Receiver<fluent::Record>,
    counters: Arc<Counters>,
    reported: u64,
    /// Whether the last attempt reached fluentd, so that only changes are told.
    reachable: Option<bool>,
}

impl Sending {
    fn run(mut self) {
        let mut unsent = Vec::with_capacity(BATCH);
        loop {
            match self.connect() {
                Ok(mut stream) => {
                    self.reachable = Some(true);
                    self.report_drops();
                    match self.forward(&mut stream, &mut unsent) {
                        Ok(()) => return, // every layer is gone: the process is ending
                        Err(error) => self.unreachable(&format!("lost fluentd: {error}")),
                    }
                }
                Err(error) => self.unreachable(&format!("cannot reach fluentd: {error}")),
            }
            self.report_drops();
            std::thread::sleep(self.config.retry_wait);
        }
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let address: SocketAddr = (self.config.host.as_str(), self.config.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the host has no address"))?;
        let stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Sends batches until the connection fails. A batch that was not
    /// acknowledged stays in `unsent`, to be sent again on the next connection.
    fn forward(
        &mut self,
        stream: &mut TcpStream,
        unsent: &mut Vec<fluent::Record>,
    ) -> io::Result<()> {
        loop {
            if unsent.is_empty() {
                match self.receiver.recv_timeout(Duration::from_secs(1)) {
                    Ok(entry) => unsent.push(entry),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                }
            }
            while unsent.len() < BATCH {
                match self.receiver.try_recv() {
                    Ok(entry) => unsent.push(entry),
                    Err(_) => break,
                }
            }
            let chunk = uuid::Uuid::new_v4().simple().to_string();
            // Forward mode: `[tag, [[time, record], ...], {"chunk": id}]`.
            let message = (&self.config.tag, &*unsent, Options { chunk: &chunk });
            let bytes = rmp_serde::to_vec_named(&message).map_err(io::Error::other)?;
            stream.write_all(&bytes)?;
            await_ack(stream, &chunk)?;
            metrics::counter!("log_events_sent_total", "sink" => "fluentd")
                .increment(unsent.len() as u64);
            self.counters
                .in_flight
                .fetch_sub(unsent.len(), Ordering::SeqCst);
            unsent.clear();
        }
    }

    fn report_drops(&mut self) {
        let dropped = self.counters.dropped.load(Ordering::Relaxed);
        if dropped > self.reported {
            let (service, host, port) = (self.config.service, &self.config.host, self.config.port);
            eprintln!(
                "{service}: telemetry: dropped {} events ({dropped} in all) while fluentd at {host}:{port} was unreachable",
                dropped - self.reported
            );
            self.reported = dropped;
        }
    }

    fn unreachable(&mut self, what: &str) {
        if self.reachable != Some(false) {
            let (service, retry) = (self.config.service, self.config.retry_wait);
            eprintln!("{service}: telemetry: {what}; retrying every {retry:?}");
        }
        self.reachable = Some(false);
    }
}

/// A Forward message's options: the chunk id that fluentd's ack names.
#[derive(Serialize)]
struct Options<'a> {
    chunk: &'a str,
}

/// fluentd's answer to a message sent with a chunk id.
#[derive(Deserialize)]
struct Ack {
    ack: String,
}

/// Reads fluentd's `{"ack": chunk}`.
fn await_ack(stream: &mut TcpStream, chunk: &str) -> io::Result<()> {
    let answer: Ack = rmp_serde::from_read(stream)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, format!("no ack: {error}")))?;
    if answer.ack == chunk {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("ack for chunk {} instead of {chunk}", answer.ack),
        ))
    }
}
