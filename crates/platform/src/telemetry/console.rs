//! The console: event lines for stdout (or stderr), written by a thread of
//! its own so that a console nobody reads (a full pipe) never blocks a
//! request.
//!
//! A line is appended to a shared buffer under a short lock. The thread is
//! woken only by the line that finds the buffer empty; it then waits a moment
//! for more lines to gather and writes them all with one call. So a burst of
//! events costs one wake-up and one write, where a channel to the thread cost
//! a wake-up, an allocation and a copy for each line; a lone line still
//! leaves within [`GATHER`]. Past [`BUFFERED_BYTES`] of unwritten lines (the
//! console is not being read), lines are dropped and counted.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the thread lets lines gather after the first one wakes it.
const GATHER: Duration = Duration::from_millis(5);
/// Unwritten lines held at most, in bytes.
const BUFFERED_BYTES: usize = 16 << 20;
/// How long the guard waits at exit for the last lines to be written: a
/// console nobody reads must not hold the process at its end either.
const FLUSH_DEADLINE: Duration = Duration::from_secs(2);

/// The writing side, for the JSON lines layer: each `write` is one whole line.
pub(crate) struct ConsoleLines {
    shared: Arc<Shared>,
}

/// Keeps the thread; dropping it writes what is left (waiting at most
/// [`FLUSH_DEADLINE`]) and ends the thread.
pub(crate) struct ConsoleGuard {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Pending>,
    woken: Condvar,
    /// Shared with the metrics, which report it.
    dropped: Arc<AtomicU64>,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Set by the guard: write what is left, then stop.
    closing: bool,
    /// Set by the thread once it has.
    closed: bool,
}

/// Starts the thread writing to `console` (stdout or stderr). Fails only when
/// the thread cannot be started.
pub(crate) fn start(
    console: impl Write + Send + 'static,
) -> std::io::Result<(ConsoleLines, ConsoleGuard)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        woken: Condvar::new(),
        dropped: Arc::default(),
    });
    let writing = shared.clone();
    std::thread::Builder::new()
        .name("telemetry-console".into())
        .spawn(move || writing.write_until_closed(console))?;
    let guard = ConsoleGuard {
        shared: shared.clone(),
    };
    Ok((ConsoleLines { shared }, guard))
}

impl ConsoleGuard {
    /// The count of dropped lines, kept up to date.
    pub(crate) fn drops(&self) -> Arc<AtomicU64> {
        self.shared.dropped.clone()
    }
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves plain bytes: still usable.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn append(&self, line: &[u8]) {
        let mut pending = self.pending();
        if pending.bytes.len() + line.len() > BUFFERED_BYTES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(line);
        drop(pending);
        if was_empty {
            self.woken.notify_all();
        }
    }

    fn write_until_closed(&self, mut console: impl Write) {
        let mut writing = Vec::new();
        loop {
            let mut pending = self.pending();
            while pending.bytes.is_empty() && !pending.closing {
                pending = self
                    .woken
                    .wait(pending)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            let closing = pending.closing;
            if !closing {
                drop(pending);
                std::thread::sleep(GATHER);
                pending = self.pending();
            }
            std::mem::swap(&mut pending.bytes, &mut writing);
            drop(pending);
            // A console that cannot be written to loses its lines; nothing
            // else can be done with them.
            let _ = console.write_all(&writing).and_then(|()| console.flush());
            writing.clear();
            if closing {
                self.pending().closed = true;
                self.woken.notify_all();
                return;
            }
        }
    }
}

impl Write for &ConsoleLines {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.shared.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for ConsoleLines {
    type Writer = &'w Self;

    fn make_writer(&'w self) -> Self::Writer {
        self
    }
}

impl Drop for ConsoleGuard {
    fn drop(&mut self) {
        let mut pending = self.shared.pending();
        pending.closing = true;
        // The thread and this guard wait on the same condition: wake both.
        self.shared.woken.notify_all();
        let _ = self
            .shared
            .woken
            .wait_timeout_while(pending, FLUSH_DEADLINE, |pending| !pending.closed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::captured::Captured;
    use std::sync::mpsc;
    use std::time::Instant;

    fn write_line(lines: &ConsoleLines, line: &str) {
        (&*lines).write_all(line.as_bytes()).expect("never fails");
    }

    #[test]
    fn a_lone_line_is_written_without_waiting_for_more() {
        let kept = Captured::default();
        let (lines, _guard) = start(kept.clone()).expect("a thread");
        write_line(&lines, "one\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while kept.text().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(kept.text(), "one\n");
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let kept = Captured::default();
        let (lines, guard) = start(kept.clone()).expect("a thread");
        let expected: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        for line in expected.split_inclusive('\n') {
            write_line(&lines, line);
        }
        let drops = guard.drops();
        drop(guard);
        assert_eq!(kept.text(), expected);
        assert_eq!(drops.load(Ordering::Relaxed), 0);
    }

    /// A console that takes nothing until it is let go.
    struct Stuck(mpsc::Receiver<()>);

    impl Write for Stuck {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_console_nobody_reads_never_blocks_a_writer_and_what_it_cannot_hold_is_counted() {
        let (let_go, stuck) = mpsc::channel();
        let (lines, guard) = start(Stuck(stuck)).expect("a thread");
        let line = format!("{}\n", "x".repeat(1023));
        // The thread may take one buffer's worth before it sticks; the
        // buffer then fills again, and what is left over is dropped.
        let held = BUFFERED_BYTES / line.len();
        let sent = 2 * held + 100;
        for _ in 0..sent {
            write_line(&lines, &line);
        }
        let dropped = usize::try_from(guard.drops().load(Ordering::Relaxed)).expect("small");
        assert!(
            (100..=sent - held).contains(&dropped),
            "{dropped} of {sent}"
        );
        // Nor does it hold the process at its end: the guard gives up waiting.
        let (dropped_guard, guard_gone) = mpsc::channel();
        std::thread::spawn(move || {
            drop(guard);
            let _ = dropped_guard.send(());
        });
        let gone = guard_gone.recv_timeout(Duration::from_secs(30));
        drop(let_go);
        assert!(
            gone.is_ok(),
            "dropping the guard waited for a console nobody reads"
        );
    }
}
