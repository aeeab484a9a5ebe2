//! `fluent_receiver`: the project's own receiver of fluentd's forward
//! protocol as a process. It stands in for fluentd only where fluentd's image
//! cannot be had (no registry, and Debian ships no fluentd): it listens on
//! `FLUENT_RECEIVER_PORT` (default 24224), acknowledges what it received, and
//! appends every event as a JSON line (`{"tag": ..., "time": <seconds>,
//! "record": {...}}`) to
//! `FLUENT_RECEIVER_DIR/events.jsonl` (default /fluentd/log). Not to stdout:
//! under compose that would make the engine's log driver carry every event a
//! second time. Its image has no shell, so the binary reads the file back:
//! - `fluent_receiver events` prints it; `events --follow` goes on printing
//!   what arrives, as `tail -f` would;
//! - `fluent_receiver healthcheck` connects to a running one.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use platform::shutdown::signal_received;
use testkit::fluent_receiver::{EventSink, ReceivedEvent, serve};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<ExitCode> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let port: u16 = var("FLUENT_RECEIVER_PORT", "24224")
        .parse()
        .map_err(|_| std::io::Error::other("FLUENT_RECEIVER_PORT is not a port"))?;
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return Ok(match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("fluent_receiver: port {port}: {error}");
                ExitCode::FAILURE
            }
        });
    }
    let dir = var("FLUENT_RECEIVER_DIR", "/fluentd/log");
    let path = Path::new(&dir).join("events.jsonl");
    if std::env::args().nth(1).as_deref() == Some("events") {
        let follow = std::env::args().nth(2).as_deref() == Some("--follow");
        return print_events(&path, follow)
            .await
            .map(|()| ExitCode::SUCCESS);
    }
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    println!("fluent_receiver listening on port {port}, writing to {dir}/events.jsonl");
    tokio::select! {
        () = serve(listener, json_lines_to(file)) => Ok(ExitCode::FAILURE),
        () = signal_received() => Ok(ExitCode::SUCCESS),
    }
}

/// Copies the events file to stdout; with `follow`, keeps copying what is
/// appended until interrupted.
async fn print_events(path: &Path, follow: bool) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    loop {
        let mut stdout = std::io::stdout().lock();
        std::io::copy(&mut file, &mut stdout)?;
        stdout.flush()?;
        drop(stdout);
        if !follow {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            () = signal_received() => return Ok(()),
        }
    }
}

/// A sink that writes each event as one JSON line to `file`, flushed before
/// the sender is acknowledged.
fn json_lines_to(file: File) -> EventSink {
    let file = Arc::new(Mutex::new(BufWriter::new(file)));
    Arc::new(move |events: Vec<ReceivedEvent>| {
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            let line =
                serde_json::json!({"tag": event.tag, "time": event.time, "record": event.record});
            // A full disk must not stop the acks: the services would buffer
            // and then drop their events anyway, and say so.
            let _ = writeln!(file, "{line}");
        }
        let _ = file.flush();
    })
}
