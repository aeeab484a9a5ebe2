//! The rules of placing orders, apart from how they are stored (no I/O): a
//! known idempotence key replays its order or, with another request, is
//! refused; the 100 BTC limit is never crossed, nor a client's own limit;
//! and a batch of orders, from any number of clients, is decided as if its
//! orders came one at a time, in arrival order. Idempotence keys belong to
//! their client: two clients' equal keys are two keys.

use std::collections::HashMap;

use domain::{BTC_LIMIT, BtcAmount, BuyOrderEvent, Currency, FiatAmount};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The order a request stands for, and whether it was made just now (and
/// then in which of the writer's transactions).
#[derive(Debug, Clone)]
pub(crate) enum Placed {
    Created(BuyOrderEvent, Batch),
    Replayed(BuyOrderEvent),
}

/// The writer's transaction an order was stored in: its number since the
/// process started, and how many orders it held. Events carry it, so that
/// one order's journey shows what it shared its commit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Batch {
    pub number: u64,
    pub orders: usize,
}

/// Why the rules refuse an order.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("idempotence key {0} was already used for a different order")]
    KeyReused(Uuid),
    #[error("this order would exceed the 100 BTC limit: {remaining} BTC of capacity is left")]
    LimitExceeded { remaining: BtcAmount },
    #[error("this order would exceed your limit of {limit} BTC: {remaining} BTC of it is left")]
    ClientLimitExceeded {
        limit: BtcAmount,
        remaining: BtcAmount,
    },
}

/// A client's own BTC limit, and the BTC of its stored orders.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientLimit {
    pub limit: Decimal,
    pub total: Decimal,
}

impl Refusal {
    /// The limit refusal, given the running total of every stored order.
    pub(crate) fn limit_exceeded(running_total: Decimal) -> Self {
        let remaining = BtcAmount::new(BTC_LIMIT - running_total).unwrap_or(BtcAmount::ZERO);
        Self::LimitExceeded { remaining }
    }

    /// The client-limit refusal, given the client's limit and its total.
    pub(crate) fn client_limit_exceeded(client: ClientLimit) -> Self {
        let btc = |value| BtcAmount::new(value).unwrap_or(BtcAmount::ZERO);
        Self::ClientLimitExceeded {
            limit: btc(client.limit),
            remaining: btc(client.limit - client.total),
        }
    }
}

/// A new order to store.
pub(crate) struct NewOrder {
    /// The id clients will know the order by (UUIDv7: time-ordered).
    pub external_id: Uuid,
    pub client_id: i64,
    pub idempotence_key: Uuid,
    pub amount: FiatAmount,
    pub btc_rate: Decimal,
    pub btc_amount: BtcAmount,
}

/// What an idempotence key was first used for, and the order it made.
pub(crate) struct IdempotenceRecord {
    pub currency: Currency,
    pub currency_amount: Decimal,
    pub order: BuyOrderEvent,
}

impl IdempotenceRecord {
    /// The record of the order a key made, with the request it stands for.
    pub(crate) fn from_event(order: BuyOrderEvent) -> Self {
        Self {
            currency: order.currency_iso3,
            currency_amount: order.currency_amount,
            order,
        }
    }
}

/// An idempotence key as the client that used it owns it.
pub(crate) type ClientKey = (i64, Uuid);

/// The stored order of a key: replayed if the request matches the one that
/// first used the key, refused if not.
pub(crate) fn replay(
    record: &IdempotenceRecord,
    amount: FiatAmount,
    key: Uuid,
) -> Result<Placed, Refusal> {
    let same_request =
        record.currency == amount.currency() && record.currency_amount == amount.value();
    if same_request {
        Ok(Placed::Replayed(record.order.clone()))
    } else {
        Err(Refusal::KeyReused(key))
    }
}

/// What becomes of one order of a batch.
#[derive(Debug)]
pub(crate) enum Decision {
    Insert,
    /// The key was used by a stored order: its replay, or its refusal.
    Stored(Result<Placed, Refusal>),
    /// The key is used earlier in this batch, by the order with this
    /// external id, which is to be inserted: this one replays it.
    SameAsEarlier(Uuid),
    Refuse(Refusal),
}

/// Applies the rules to each order in arrival order, as if one at a time:
/// `stored` holds the idempotence records of the batch's keys,
/// `running_total` the BTC of every stored order, and `limits` the clients
/// of the batch that have a limit of their own.
pub(crate) fn decide(
    orders: &[&NewOrder],
    stored: &HashMap<ClientKey, IdempotenceRecord>,
    running_total: Decimal,
    limits: &HashMap<i64, ClientLimit>,
) -> Vec<Decision> {
    let mut total = running_total;
    let mut limits = limits.clone();
    let mut earlier: HashMap<ClientKey, &NewOrder> = HashMap::new();
    orders
        .iter()
        .map(|order| {
            let key = (order.client_id, order.idempotence_key);
            if let Some(record) = stored.get(&key) {
                return Decision::Stored(replay(record, order.amount, key.1));
            }
            if let Some(first) = earlier.get(&key) {
                return if first.amount == order.amount {
                    Decision::SameAsEarlier(first.external_id)
                } else {
                    Decision::Refuse(Refusal::KeyReused(key.1))
                };
            }
            let btc = order.btc_amount.value();
            if total + btc > BTC_LIMIT {
                return Decision::Refuse(Refusal::limit_exceeded(total));
            }
            if let Some(client) = limits.get_mut(&order.client_id) {
                if client.total + btc > client.limit {
                    return Decision::Refuse(Refusal::client_limit_exceeded(*client));
                }
                client.total += btc;
            }
            total += btc;
            earlier.insert(key, order);
            Decision::Insert
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use domain::{BuyOrderEvent, Currency, FiatAmount};
    use time::OffsetDateTime;

    use super::*;

    fn order(key: u128, amount: &str, btc: &str) -> NewOrder {
        order_of(1, key, amount, btc)
    }

    fn order_of(client_id: i64, key: u128, amount: &str, btc: &str) -> NewOrder {
        NewOrder {
            external_id: Uuid::now_v7(),
            client_id,
            idempotence_key: Uuid::from_u128(key),
            amount: FiatAmount::parse(amount, Currency::Usd).expect("valid"),
            btc_rate: Decimal::ONE,
            btc_amount: BtcAmount::new(btc.parse().expect("decimal")).expect("positive"),
        }
    }

    fn stored(amount: &str) -> IdempotenceRecord {
        let order = BuyOrderEvent {
            id: 1,
            client_id: 1,
            external_id: Uuid::now_v7(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            currency_id: 1,
            currency_iso3: Currency::Usd,
            currency_amount: amount.parse().expect("decimal"),
            btc_rate: Decimal::ONE,
            btc_amount: Decimal::ONE,
        };
        IdempotenceRecord {
            currency: Currency::Usd,
            currency_amount: order.currency_amount,
            order,
        }
    }

    fn kinds(decisions: &[Decision]) -> Vec<&'static str> {
        decisions
            .iter()
            .map(|decision| match decision {
                Decision::Insert => "insert",
                Decision::Stored(Ok(_)) => "replay",
                Decision::Stored(Err(_)) | Decision::Refuse(Refusal::KeyReused(_)) => "reused",
                Decision::SameAsEarlier(_) => "same as earlier",
                Decision::Refuse(Refusal::LimitExceeded { .. }) => "limit",
                Decision::Refuse(Refusal::ClientLimitExceeded { .. }) => "client limit",
            })
            .collect()
    }

    #[test]
    fn a_batch_is_decided_as_if_its_orders_came_one_at_a_time() {
        let orders = [
            order(1, "10.00", "40"),
            order(2, "10.00", "40"),
            order(1, "10.00", "40"),
            order(1, "11.00", "40"),
            order(3, "10.00", "40"),
            order(4, "10.00", "20"),
            order(5, "10.00", "0.00000001"),
            order(6, "5.00", "1"),
            order(7, "6.00", "1"),
        ];
        let stored = HashMap::from([
            ((1, Uuid::from_u128(6)), stored("5.00")),
            ((1, Uuid::from_u128(7)), stored("5.00")),
        ]);
        let refs: Vec<&NewOrder> = orders.iter().collect();
        let decisions = decide(&refs, &stored, Decimal::ZERO, &HashMap::new());
        assert_eq!(
            kinds(&decisions),
            [
                "insert",          // 40 of 100
                "insert",          // 80 of 100
                "same as earlier", // key 1 again, same request
                "reused",          // key 1 again, another amount
                "limit",           // 40 more would make 120
                "insert",          // exactly 100
                "limit",           // not one satoshi more
                "replay",          // key 6 is stored with this request
                "reused",          // key 7 is stored with another amount
            ]
        );
    }

    #[test]
    fn keys_belong_to_their_client_and_a_client_limit_binds_only_its_client() {
        let orders = [
            order_of(1, 1, "10.00", "0.6"),
            order_of(2, 1, "10.00", "0.6"), // client 2's key 1 is another key
            order_of(2, 1, "10.00", "0.6"), // client 2 repeats its own request
            order_of(1, 2, "10.00", "0.5"), // client 1 would reach 1.1 of its 1.0
            order_of(1, 3, "10.00", "0.4"), // exactly its 1.0
            order_of(2, 2, "10.00", "5"),   // client 2 has no limit of its own
            order_of(3, 9, "10.00", "0.3"), // client 3 has a stored record of key 9
            order_of(1, 4, "10.00", "0.00000001"), // not one satoshi past 1.0
        ];
        let stored = HashMap::from([((3, Uuid::from_u128(9)), stored("10.00"))]);
        let limits = HashMap::from([(
            1,
            ClientLimit {
                limit: Decimal::ONE,
                total: Decimal::ZERO,
            },
        )]);
        let refs: Vec<&NewOrder> = orders.iter().collect();
        let decisions = decide(&refs, &stored, Decimal::ZERO, &limits);
        assert_eq!(
            kinds(&decisions),
            [
                "insert",
                "insert",
                "same as earlier",
                "client limit",
                "insert",
                "insert",
                "replay",
                "client limit",
            ]
        );
    }

    #[test]
    fn the_client_limit_refusal_says_what_is_left_of_it() {
        let refusal = Refusal::client_limit_exceeded(ClientLimit {
            limit: "2".parse().expect("decimal"),
            total: "1.25".parse().expect("decimal"),
        });
        assert_eq!(
            refusal.to_string(),
            "this order would exceed your limit of 2.00000000 BTC: 0.75000000 BTC of it is left"
        );
    }

    #[test]
    fn the_limit_refusal_says_what_is_left() {
        let refusal = Refusal::limit_exceeded("99.5".parse().expect("decimal"));
        assert_eq!(
            refusal.to_string(),
            "this order would exceed the 100 BTC limit: 0.50000000 BTC of capacity is left"
        );
        let full = Refusal::limit_exceeded(BTC_LIMIT);
        assert!(full.to_string().contains(": 0.00000000 BTC"), "{full}");
    }
}
