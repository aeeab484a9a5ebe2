use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::currency::Currency;

/// A stored order as clients see it, in both APIs: decimals as strings at
/// their column's scale, the time in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BuyOrder {
    /// The order's external id; the write model's integer id stays inside.
    pub id: Uuid,
    /// When the order was stored, RFC 3339 with an offset.
    #[serde(with = "crate::timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    pub currency: Currency,
    /// The fiat amount paid, at the currency's 2 decimal places.
    #[schema(value_type = String, pattern = r"^[0-9]{1,9}\.[0-9]{2}$", example = "123.45")]
    pub currency_amount: Decimal,
    /// The Coinbase buy price of 1 BTC in the currency, exactly as quoted.
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]+)?$", example = "48478.88")]
    pub btc_rate: Decimal,
    /// `currency_amount / btc_rate`, rounded up at 8 decimal places.
    #[schema(value_type = String, pattern = r"^[0-9]{1,3}\.[0-9]{8}$", example = "0.00254647")]
    pub btc_amount: Decimal,
}

/// The major version of the event's schema, sent as `schema_version`. A
/// change that consumers can ignore (a new field) keeps it; any other bumps it.
pub const EVENT_SCHEMA_VERSION: u16 = 1;

/// The event published for each new order, from the write model to the read
/// model: one JSON object, decimals as strings, with `schema_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyOrderEvent {
    /// The write model's id, which orders ties and makes redelivery a no-op.
    pub id: i64,
    pub client_id: i64,
    pub external_id: Uuid,
    #[serde(with = "crate::timestamp")]
    pub created_at: OffsetDateTime,
    pub currency_id: i16,
    pub currency_iso3: Currency,
    #[serde(with = "rust_decimal::serde::str")]
    pub currency_amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub btc_rate: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub btc_amount: Decimal,
}

/// A message body that is not a buy-order event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a buy-order event: {0}")]
pub struct InvalidEvent(pub String);

/// The event as it travels. Fields it does not know are ignored, so that a
/// producer can be upgraded before its consumers.
#[derive(Serialize, Deserialize)]
struct Versioned<Event> {
    /// Absent in the events of the first release, which were version 1.
    #[serde(default = "first_version")]
    schema_version: u16,
    #[serde(flatten)]
    event: Event,
}

fn first_version() -> u16 {
    1
}

impl BuyOrderEvent {
    /// Reads an event from a message body. Fails unless it is the JSON of an
    /// event of this major schema version with positive amounts and rate.
    pub fn from_json(body: &[u8]) -> Result<Self, InvalidEvent> {
        let versioned: Versioned<Self> =
            serde_json::from_slice(body).map_err(|error| InvalidEvent(error.to_string()))?;
        if versioned.schema_version != EVENT_SCHEMA_VERSION {
            return Err(InvalidEvent(format!(
                "schema_version {} is not {EVENT_SCHEMA_VERSION}, the version this consumer reads",
                versioned.schema_version
            )));
        }
        let event = versioned.event;
        let positive = [event.currency_amount, event.btc_rate, event.btc_amount]
            .iter()
            .all(|value| *value > Decimal::ZERO);
        if !positive || event.id <= 0 {
            return Err(InvalidEvent("amounts, rate and id must be positive".into()));
        }
        Ok(event)
    }

    /// The JSON message body.
    pub fn to_json(&self) -> Vec<u8> {
        let versioned = Versioned {
            schema_version: EVENT_SCHEMA_VERSION,
            event: self,
        };
        serde_json::to_vec(&versioned).expect("an event always serialises")
    }

    /// The order as clients see it.
    pub fn buy_order(&self) -> BuyOrder {
        BuyOrder {
            id: self.external_id,
            created_at: self.created_at,
            currency: self.currency_iso3,
            currency_amount: self.currency_amount,
            btc_rate: self.btc_rate,
            btc_amount: self.btc_amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_json() -> serde_json::Value {
        json!({
            "schema_version": 1, "id": 7, "client_id": 1, "external_id": "5fa733ae-82b4-4ac0-8478-35ff30dae879",
            "created_at": "2026-11-28T04:40:00.123456Z", "currency_id": 1, "currency_iso3": "USD",
            "currency_amount": "123.45", "btc_rate": "48478.88", "btc_amount": "0.00254647"
        })
    }

    #[test]
    fn an_event_round_trips_through_its_json_exactly() {
        let body = serde_json::to_vec(&event_json()).expect("json");
        let event = BuyOrderEvent::from_json(&body).expect("a valid event");
        assert_eq!(event.btc_amount.to_string(), "0.00254647");
        let again: serde_json::Value = serde_json::from_slice(&event.to_json()).expect("json");
        assert_eq!(again, event_json());
    }

    #[test]
    fn malformed_events_are_refused_with_a_reason() {
        let mut cases = Vec::new();
        for (field, value) in [
            ("btc_amount", json!(0.00254647)),
            ("btc_amount", json!("-1")),
            ("currency_iso3", json!("XXX")),
            ("external_id", json!("not-a-uuid")),
            ("created_at", json!("yesterday")),
            ("schema_version", json!(2)),
            ("schema_version", json!("1")),
        ] {
            let mut event = event_json();
            event[field] = value;
            cases.push(serde_json::to_vec(&event).expect("json"));
        }
        cases.push(b"{not json".to_vec());
        cases.push(b"[]".to_vec());
        for body in cases {
            let refused = BuyOrderEvent::from_json(&body);
            assert!(refused.is_err(), "{}", String::from_utf8_lossy(&body));
        }
    }

    #[test]
    fn a_newer_event_of_the_same_major_version_is_read_and_its_new_fields_ignored() {
        let mut newer = event_json();
        newer["fee"] = json!("0.10");
        newer["client"] = json!({"tier": "gold"});
        let body = serde_json::to_vec(&newer).expect("json");
        let event = BuyOrderEvent::from_json(&body).expect("read despite the new fields");
        let again: serde_json::Value = serde_json::from_slice(&event.to_json()).expect("json");
        assert_eq!(again, event_json());
    }

    #[test]
    fn an_event_from_before_versioning_is_read_as_version_1() {
        let mut first = event_json();
        first
            .as_object_mut()
            .expect("an object")
            .remove("schema_version");
        let body = serde_json::to_vec(&first).expect("json");
        assert!(BuyOrderEvent::from_json(&body).is_ok());
    }

    #[test]
    fn another_major_version_is_refused_naming_it() {
        let mut next = event_json();
        next["schema_version"] = json!(2);
        let body = serde_json::to_vec(&next).expect("json");
        let refused = BuyOrderEvent::from_json(&body).expect_err("version 2");
        assert!(
            refused.to_string().contains("schema_version 2"),
            "{refused}"
        );
    }
}
