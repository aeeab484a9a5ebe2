//! Exact order accounting through faults. A stream of creates records every
//! request it made; afterwards each request that got no 200 is retried with
//! the same idempotence key until it does (the client's duty, and safe by
//! idempotence). Then every order the ledger holds must be listed exactly
//! once by GET /buy_orders, and the listing must have grown by exactly that
//! many orders: nothing lost, nothing duplicated, nothing else.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::Api;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long the read model may take to show every order after a fault.
const CONSISTENT_WITHIN: Duration = Duration::from_secs(120);

/// What a stream of creates saw: by idempotence key, the body sent and the
/// order id once a 200 came.
#[derive(Default)]
pub struct Ledger {
    requests: BTreeMap<String, (Value, Option<String>)>,
    /// Answers other than 200, by status (or "no answer"), for the report.
    pub failures: BTreeMap<String, usize>,
    /// When each answer came, and whether it was a 200 or a 503, in order.
    answers: Vec<(Instant, Answer)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    Unavailable,
    OtherFailure,
}

/// What clients saw of a fault, from the moment it was made.
#[derive(Debug)]
pub struct Outage {
    /// Creates answered 503 after the fault.
    pub unavailable: usize,
    /// Other failures (no answer at all, for one).
    pub other_failures: usize,
    /// From the first failure after the fault to the last one.
    pub failing_for: Duration,
    /// From the fault to the first 200 after the last failure.
    pub creates_back_after: Duration,
}

impl Ledger {
    /// Records one request and its outcome.
    pub fn record(&mut self, body: Value, outcome: &Result<testkit::Reply, reqwest::Error>) {
        let key = body["idempotence_key"].as_str().expect("a key").to_owned();
        let answer = match outcome {
            Ok(reply) if reply.status == 200 => Answer::Ok,
            Ok(reply) if reply.status == 503 => Answer::Unavailable,
            _ => Answer::OtherFailure,
        };
        self.answers.push((Instant::now(), answer));
        let id = match outcome {
            Ok(reply) if reply.status == 200 => Some(order_id(reply)),
            Ok(reply) => {
                *self.failures.entry(reply.status.to_string()).or_default() += 1;
                None
            }
            Err(_) => {
                *self.failures.entry("no answer".into()).or_default() += 1;
                None
            }
        };
        let entry = self.requests.entry(key).or_insert((body, None));
        entry.1 = entry.1.take().or(id);
    }

    /// What the answers after `fault` show of it.
    pub fn outage_since(&self, fault: Instant) -> Outage {
        let after: Vec<_> = self.answers.iter().filter(|(at, _)| *at >= fault).collect();
        let failed: Vec<Instant> = after
            .iter()
            .filter(|(_, answer)| *answer != Answer::Ok)
            .map(|(at, _)| *at)
            .collect();
        let count = |kind| after.iter().filter(|(_, answer)| *answer == kind).count();
        let (first, last) = (failed.first().copied(), failed.last().copied());
        let back = after
            .iter()
            .find(|(at, answer)| *answer == Answer::Ok && last.is_none_or(|last| *at > last))
            .map(|(at, _)| *at);
        Outage {
            unavailable: count(Answer::Unavailable),
            other_failures: count(Answer::OtherFailure),
            failing_for: first.zip(last).map_or(Duration::ZERO, |(f, l)| l - f),
            creates_back_after: back.map_or(Duration::ZERO, |back| back - fault),
        }
    }

    /// Requests still without a 200.
    fn unanswered(&self) -> Vec<Value> {
        let pending = self.requests.values().filter(|(_, id)| id.is_none());
        pending.map(|(body, _)| body.clone()).collect()
    }

    /// Retries every request without a 200, with its own key, until each has one.
    pub async fn settle(&mut self, api: &Api) {
        let start = Instant::now();
        loop {
            let pending = self.unanswered();
            if pending.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < CONSISTENT_WITHIN,
                "{} creates never got a 200 on retry; failures {:?}",
                pending.len(),
                self.failures
            );
            for body in pending {
                let outcome = api.try_put_order(&body).await;
                if let Ok(reply) = &outcome {
                    assert!(
                        reply.status == 200 || reply.status.is_server_error(),
                        "a retry with the same key: {} {}",
                        reply.status,
                        reply.text
                    );
                }
                self.record(body, &outcome);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The order ids of every request, all answered 200.
    pub fn placed(&self) -> Vec<String> {
        self.requests
            .values()
            .map(|(_, id)| id.clone().expect("settled"))
            .collect()
    }
}

fn order_id(reply: &testkit::Reply) -> String {
    reply.json()["buy_order"]["id"]
        .as_str()
        .expect("an order id")
        .to_owned()
}

/// Creates of `amount` USD with fresh keys from `workers` concurrent clients,
/// until stopped.
pub struct CreateStream {
    stop: CancellationToken,
    ledger: Arc<Mutex<Ledger>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl CreateStream {
    pub fn start(api: &Api, workers: usize, amount: &'static str) -> Self {
        let stop = CancellationToken::new();
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let workers = (0..workers)
            .map(|_| {
                let (api, stop, ledger) = (api.clone(), stop.clone(), ledger.clone());
                tokio::spawn(async move {
                    while !stop.is_cancelled() {
                        let key = Uuid::new_v4().to_string();
                        let body =
                            json!({"currency": "USD", "amount": amount, "idempotence_key": key});
                        let outcome = api.try_put_order(&body).await;
                        let failed = !matches!(&outcome, Ok(reply) if reply.status == 200);
                        ledger.lock().expect("the ledger").record(body, &outcome);
                        if failed {
                            // A service that is down is not hammered.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            ledger,
            workers,
        }
    }

    /// Orders answered 200 so far.
    pub fn placed_so_far(&self) -> usize {
        let ledger = self.ledger.lock().expect("the ledger");
        ledger
            .requests
            .values()
            .filter(|(_, id)| id.is_some())
            .count()
    }

    /// The order ids answered 200 so far.
    pub fn acknowledged(&self) -> Vec<String> {
        let ledger = self.ledger.lock().expect("the ledger");
        ledger
            .requests
            .values()
            .filter_map(|(_, id)| id.clone())
            .collect()
    }

    /// Waits until at least `count` more orders were placed (so a fault
    /// lands mid-stream).
    pub async fn wait_for_more(&self, count: usize) {
        let target = self.placed_so_far() + count;
        let start = Instant::now();
        while self.placed_so_far() < target {
            assert!(
                start.elapsed() < CONSISTENT_WITHIN,
                "the stream of creates stalled"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the stream and hands over what it saw.
    pub async fn stop(self) -> Ledger {
        self.stop.cancel();
        for worker in self.workers {
            worker.await.expect("a stream worker");
        }
        Arc::try_unwrap(self.ledger)
            .ok()
            .expect("the workers are done")
            .into_inner()
            .expect("the ledger")
    }
}

/// First pages from `workers` concurrent clients, until stopped: how many
/// were served, and the answers other than 200 by status (or "no answer").
pub struct PageStream {
    stop: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<(usize, BTreeMap<String, usize>)>>,
}

impl PageStream {
    pub fn start(api: &Api, workers: usize) -> Self {
        let stop = CancellationToken::new();
        let workers = (0..workers)
            .map(|_| tokio::spawn(read_first_pages(api.clone(), stop.clone())))
            .collect();
        Self { stop, workers }
    }

    /// Stops the stream; the pages served, and the failures by status.
    pub async fn stop(self) -> (usize, BTreeMap<String, usize>) {
        self.stop.cancel();
        let mut served = 0;
        let mut failures = BTreeMap::new();
        for worker in self.workers {
            let (ok, failed) = worker.await.expect("a page worker");
            served += ok;
            for (status, count) in failed {
                *failures.entry(status).or_default() += count;
            }
        }
        (served, failures)
    }
}

async fn read_first_pages(api: Api, stop: CancellationToken) -> (usize, BTreeMap<String, usize>) {
    let (mut served, mut failures) = (0, BTreeMap::<String, usize>::new());
    while !stop.is_cancelled() {
        match api.try_get_orders("page_size=10").await {
            Ok(reply) if reply.status == 200 => served += 1,
            Ok(reply) => *failures.entry(reply.status.to_string()).or_default() += 1,
            Err(_) => *failures.entry("no answer".into()).or_default() += 1,
        }
    }
    (served, failures)
}

/// Every order GET /buy_orders lists, newest first, page by page.
pub async fn listed_ids(api: &Api) -> Vec<String> {
    let rows = listed_rows(api).await;
    rows.iter()
        .filter_map(|row| row["id"].as_str().map(str::to_owned))
        .collect()
}

/// Every row GET /buy_orders lists, newest first, page by page.
pub async fn listed_rows(api: &Api) -> Vec<Value> {
    let mut listed = Vec::new();
    let mut query = "page_size=100".to_owned();
    loop {
        let page = api.get_orders(&query).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let page = page.json();
        listed.extend(page["rows"].as_array().cloned().unwrap_or_default());
        match page["last_reference"].as_str() {
            Some(last) if page["has_more"] == true => {
                query = format!("page_size=100&last_reference={last}");
            }
            _ => return listed,
        }
    }
}

/// The accounting of one fault test, printed for the record.
pub struct Accounting {
    pub created: usize,
    pub found: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub unexpected: usize,
}

/// Waits until GET /buy_orders lists exactly the orders listed `before` plus
/// those `placed`, each once; panics with the accounting if it never does.
pub async fn assert_listed_exactly(api: &Api, before: &[String], placed: &[String]) -> Accounting {
    let (exact, accounting) = listed_exactly_within(api, before, placed, CONSISTENT_WITHIN).await;
    assert!(
        exact,
        "the read model does not hold exactly the orders placed"
    );
    accounting
}

/// Whether GET /buy_orders comes to list exactly the orders listed `before`
/// plus those `placed`, each once, within `within`; and the accounting of
/// the last listing, which it prints.
pub async fn listed_exactly_within(
    api: &Api,
    before: &[String],
    placed: &[String],
    within: Duration,
) -> (bool, Accounting) {
    let start = Instant::now();
    loop {
        let accounting = account(&listed_ids(api).await, before, placed);
        let exact =
            accounting.lost == 0 && accounting.duplicated == 0 && accounting.unexpected == 0;
        if exact || start.elapsed() > within {
            eprintln!(
                "accounting: created {}, found {}, lost {}, duplicated {}, unexpected {}",
                accounting.created,
                accounting.found,
                accounting.lost,
                accounting.duplicated,
                accounting.unexpected
            );
            return (exact, accounting);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn account(listed: &[String], before: &[String], placed: &[String]) -> Accounting {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in listed {
        *seen.entry(id.as_str()).or_default() += 1;
    }
    let expected: HashMap<&str, ()> = before
        .iter()
        .chain(placed)
        .map(|id| (id.as_str(), ()))
        .collect();
    let count = |id: &String| seen.get(id.as_str()).copied().unwrap_or(0);
    Accounting {
        created: placed.len(),
        found: placed.iter().filter(|id| count(id) >= 1).count(),
        lost: before
            .iter()
            .chain(placed)
            .filter(|id| count(id) == 0)
            .count(),
        duplicated: seen.values().filter(|n| **n > 1).count(),
        unexpected: seen.keys().filter(|id| !expected.contains_key(*id)).count(),
    }
}
