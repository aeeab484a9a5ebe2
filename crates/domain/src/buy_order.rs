use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::currency::Currency;

/// A stored order as clients see it, in both APIs: decimals as strings at
/// their column's scale, the time in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuyOrder {
    /// The order's external id; the write model's integer id stays inside.
    pub id: Uuid,
    #[serde(with = "crate::timestamp")]
    pub created_at: OffsetDateTime,
    pub currency: Currency,
    pub currency_amount: Decimal,
    pub btc_rate: Decimal,
    pub btc_amount: Decimal,
}

/// The event published for each new order, from the write model to the read
/// model: one JSON object, decimals as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl BuyOrderEvent {
    /// Reads an event from a message body. Fails unless it is the JSON of an
    /// event with positive amounts and rate.
    pub fn from_json(body: &[u8]) -> Result<Self, InvalidEvent> {
        let event: Self =
            serde_json::from_slice(body).map_err(|error| InvalidEvent(error.to_string()))?;
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
        serde_json::to_vec(self).expect("an event always serialises")
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
            "id": 7, "client_id": 1, "external_id": "5fa733ae-82b4-4ac0-8478-35ff30dae879",
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
            ("surprise", json!(true)),
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
}
