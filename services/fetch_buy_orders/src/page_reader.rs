//! Reads the pages asked for at the same moment with one statement. Each
//! page on its own cost a round trip, and PostgreSQL a statement, a snapshot
//! and a wake-up; under load those were most of a page's CPU. A few reader
//! tasks take whatever queries are waiting, read their pages together on a
//! held connection, and hand each request its own. A lone request waits for
//! nobody: it is read as soon as a reader is free.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use domain::BuyOrder;
use platform::postgres::HeldConnections;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::storage::{self, KeysetPage};

/// The most pages read in one statement.
const MAX_BATCH: usize = 64;
/// Readers at once: while one batch is in the database, the next gathers.
const READERS: usize = 2;
/// How long past its statement's own bound a batch's answer may take.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// A page, or why it could not be read (shared by every page of its batch).
pub(crate) type PageResult = Result<Vec<BuyOrder>, Arc<sqlx::Error>>;

struct Pending {
    query: KeysetPage,
    reply: oneshot::Sender<PageResult>,
}

/// The request side of the readers.
pub(crate) struct PageReader {
    sender: mpsc::Sender<Pending>,
}

impl PageReader {
    /// The request side, and the readers: work to run (and watch) for as
    /// long as the service serves. It ends once the request side is dropped.
    pub(crate) fn new(
        connections: Arc<HeldConnections>,
        deadline: Duration,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
        let receiver = Arc::new(Mutex::new(receiver));
        let readers = async move {
            let mut readers = JoinSet::new();
            for _ in 0..READERS {
                readers.spawn(read_batches(
                    connections.clone(),
                    receiver.clone(),
                    deadline,
                ));
            }
            // The first reader to panic passes its panic on at once.
            while let Some(ended) = readers.join_next().await {
                if let Err(error) = ended
                    && error.is_panic()
                {
                    std::panic::resume_unwind(error.into_panic());
                }
            }
        };
        (Self { sender }, readers)
    }

    /// The page `query` asks for, read in the next batch.
    pub(crate) async fn read(&self, query: KeysetPage) -> PageResult {
        let (reply, page) = oneshot::channel();
        let stopped = || Arc::new(sqlx::Error::PoolClosed);
        self.sender
            .send(Pending { query, reply })
            .await
            .map_err(|_| stopped())?;
        page.await.map_err(|_| stopped())?
    }
}

/// How long a batch may take: as long as the server may run its statement
/// (`READ_MODEL_DB_STATEMENT_TIMEOUT_MS`, zero for no bound) and a margin
/// for the answer, but never longer than a request waits for it. The server
/// cancels a statement that runs too long; this bounds what it cannot: a
/// connection gone silent (a cut network), which would otherwise hold a
/// reader until TCP gives up, many minutes later.
pub(crate) fn batch_deadline(statement_timeout: Duration, request_timeout: Duration) -> Duration {
    if statement_timeout.is_zero() {
        return request_timeout;
    }
    (statement_timeout + ANSWER_MARGIN).min(request_timeout)
}

async fn read_batches(
    connections: Arc<HeldConnections>,
    receiver: Arc<Mutex<mpsc::Receiver<Pending>>>,
    deadline: Duration,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.lock().await.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Requests that gave up meanwhile (timed out, or their client went
        // away) are not read for.
        batch.retain(|pending| !pending.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let queries: Vec<KeysetPage> = batch.iter().map(|pending| pending.query).collect();
        metrics::histogram!("page_reader_batch_size").record(queries.len() as f64);
        let read = connections.run(async |db| storage::pages(db, &queries).await);
        let within_deadline = tokio::time::timeout(deadline, read).await;
        match within_deadline.unwrap_or_else(|_| Err(deadline_passed(deadline))) {
            Ok(pages) => {
                for (pending, page) in batch.drain(..).zip(pages) {
                    // A request that has just given up needs no answer.
                    let _ = pending.reply.send(Ok(page));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// The error of a batch cut off at its deadline (its connection was
/// dropped, and so closed): the database is away, as far as a client can tell.
fn deadline_passed(deadline: Duration) -> sqlx::Error {
    let why = format!("no answer within {} ms", deadline.as_millis());
    sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_may_take_its_statements_bound_and_a_margin_but_never_past_its_requests() {
        let s = Duration::from_secs;
        for (statement_timeout, request_timeout, deadline) in [
            (s(5), s(15), s(10)),  // the defaults
            (s(1), s(15), s(6)),   // a tighter bound on statements
            (s(20), s(15), s(15)), // no request waits that long
            (s(0), s(15), s(15)),  // no bound on statements
        ] {
            assert_eq!(
                batch_deadline(statement_timeout, request_timeout),
                deadline,
                "statement timeout {statement_timeout:?}, request timeout {request_timeout:?}"
            );
        }
    }
}
