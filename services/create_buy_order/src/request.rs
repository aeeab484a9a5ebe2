//! Reading a `PUT /buy_order` body into a valid [`OrderRequest`], or into
//! every fault it has, in FastAPI's 422 shape. The amount is read from the
//! JSON text itself, so a JSON number is never passed through a float.

use std::collections::HashMap;

use domain::{Currency, FiatAmount, InvalidFiatAmount};
use platform::api_error::FieldError;
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use uuid::Uuid;

use crate::place_order::OrderRequest;

/// The body `PUT /buy_order` takes. It documents the wire shape in the API's
/// description; [`parse`] reads the body itself, so that every fault is
/// reported at once and the amount's text is kept exact.
#[derive(ToSchema)]
#[allow(dead_code)] // only described, never built: see above
pub(crate) struct OrderBody {
    currency: Currency,
    /// Above 0 and below 1,000,000,000, with at most 2 decimal places (more
    /// are refused, not rounded): a decimal string, or a JSON number, which
    /// is read from its text, never through a float.
    #[schema(schema_with = amount_schema)]
    amount: String,
    /// Names the request, so that a retry cannot place a second order.
    idempotence_key: Uuid,
}

/// The amounts [`parse`] accepts, as text: 1 to 9 whole digits and up to 2
/// places, or 0 with 1 or 2 places that are not both zero.
const AMOUNT_PATTERN: &str = r"^([1-9][0-9]{0,8}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$";

/// `amount`: a string of [`AMOUNT_PATTERN`], or a number in the same range
/// and of at most 2 places.
fn amount_schema() -> Schema {
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(AMOUNT_PATTERN))
        .examples(["123.45"]);
    let number = ObjectBuilder::new()
        .schema_type(Type::Number)
        .exclusive_minimum(Some(0))
        .exclusive_maximum(Some(1_000_000_000))
        .multiple_of(Some(0.01));
    OneOfBuilder::new().item(text).item(number).into()
}

/// Reads the body. Fails with one entry per faulty field.
pub(crate) fn parse(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<OrderRequest, Vec<FieldError>> {
    if !content_type.is_some_and(is_json) {
        let msg = "the body must be JSON, sent with Content-Type: application/json";
        return Err(vec![FieldError::new(&["body"], msg, "content_type")]);
    }
    let fields: HashMap<String, &RawValue> = serde_json::from_slice(body).map_err(|error| {
        let (msg, kind) = if error.is_data() {
            (
                "Input should be a JSON object".to_owned(),
                "model_attributes_type",
            )
        } else {
            (format!("JSON decode error: {error}"), "json_invalid")
        };
        vec![FieldError::new(&["body"], msg, kind)]
    })?;
    let currency = field(&fields, "currency").and_then(currency);
    // Amounts are checked even when the currency is not, so that the client
    // hears of every fault at once; all currencies have the same places.
    let amount = field(&fields, "amount")
        .and_then(|raw| amount(raw, *currency.as_ref().unwrap_or(&Currency::Usd)));
    let idempotence_key = field(&fields, "idempotence_key").and_then(idempotence_key);
    match (currency, amount, idempotence_key) {
        (Ok(_), Ok(amount), Ok(idempotence_key)) => Ok(OrderRequest {
            amount,
            idempotence_key,
        }),
        (currency, amount, key) => Err([currency.err(), amount.err(), key.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn field<'a>(
    fields: &HashMap<String, &'a RawValue>,
    name: &str,
) -> Result<&'a RawValue, FieldError> {
    fields
        .get(name)
        .copied()
        .filter(|raw| raw.get() != "null")
        .ok_or_else(|| FieldError::new(&["body", name], "Field required", "missing"))
}

fn string(raw: &RawValue, name: &str) -> Result<String, FieldError> {
    serde_json::from_str(raw.get()).map_err(|_| {
        FieldError::new(
            &["body", name],
            "Input should be a valid string",
            "string_type",
        )
    })
}

fn currency(raw: &RawValue) -> Result<Currency, FieldError> {
    string(raw, "currency")?.parse().map_err(|_| {
        FieldError::new(
            &["body", "currency"],
            "Input should be 'EUR', 'GBP' or 'USD'",
            "enum",
        )
    })
}

fn amount(raw: &RawValue, currency: Currency) -> Result<FiatAmount, FieldError> {
    let text = raw.get();
    let text = if text.starts_with('"') {
        string(raw, "amount")?
    } else {
        text.to_owned()
    };
    FiatAmount::parse(&text, currency).map_err(|error| {
        let kind = match error {
            InvalidFiatAmount::NotADecimal => "decimal_parsing",
            InvalidFiatAmount::NotPositive => "greater_than",
            InvalidFiatAmount::TooLarge => "less_than",
            InvalidFiatAmount::TooManyDecimalPlaces { .. } => "decimal_max_places",
        };
        FieldError::new(&["body", "amount"], error.to_string(), kind)
    })
}

fn idempotence_key(raw: &RawValue) -> Result<Uuid, FieldError> {
    let text = string(raw, "idempotence_key")?;
    Uuid::try_parse(&text).map_err(|error| {
        let msg = format!("Input should be a valid UUID: {error}");
        FieldError::new(&["body", "idempotence_key"], msg, "uuid_parsing")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json");
    const KEY: &str = "5fa733ae-82b4-4ac0-8478-35ff30dae879";

    fn faults(content_type: Option<&str>, body: &str) -> Vec<(Vec<String>, String)> {
        parse(content_type, body.as_bytes())
            .expect_err("the body is invalid")
            .into_iter()
            .map(|e| (e.loc, e.kind))
            .collect()
    }

    fn loc(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn a_valid_body_gives_the_request_with_the_amount_read_exactly() {
        for amount in [r#""123.45""#, "123.45", "1.2345e2", r#""123.450""#] {
            let body =
                format!(r#"{{"currency": "GBP", "amount": {amount}, "idempotence_key": "{KEY}"}}"#);
            let request = parse(JSON, body.as_bytes()).expect("valid");
            assert_eq!(request.amount.to_string(), "123.45", "amount {amount}");
            assert_eq!(request.amount.currency(), Currency::Gbp);
            assert_eq!(request.idempotence_key.to_string(), KEY);
        }
    }

    #[test]
    fn each_faulty_field_is_reported_at_its_location() {
        for (body, expected) in [
            (
                r#"{"currency": "usd", "amount": "1", "idempotence_key": "5fa733ae-82b4-4ac0-8478-35ff30dae879"}"#,
                vec![(loc(&["body", "currency"]), "enum")],
            ),
            (
                r#"{"currency": "USD", "amount": "0", "idempotence_key": "5fa733ae-82b4-4ac0-8478-35ff30dae879"}"#,
                vec![(loc(&["body", "amount"]), "greater_than")],
            ),
            (
                r#"{"currency": "USD", "amount": 123.456, "idempotence_key": "5fa733ae-82b4-4ac0-8478-35ff30dae879"}"#,
                vec![(loc(&["body", "amount"]), "decimal_max_places")],
            ),
            (
                r#"{"currency": "USD", "amount": true, "idempotence_key": "5fa733ae-82b4-4ac0-8478-35ff30dae879"}"#,
                vec![(loc(&["body", "amount"]), "decimal_parsing")],
            ),
            (
                r#"{"currency": "USD", "amount": "1"}"#,
                vec![(loc(&["body", "idempotence_key"]), "missing")],
            ),
            (
                r#"{"currency": 5, "amount": "abc", "idempotence_key": "nope"}"#,
                vec![
                    (loc(&["body", "currency"]), "string_type"),
                    (loc(&["body", "amount"]), "decimal_parsing"),
                    (loc(&["body", "idempotence_key"]), "uuid_parsing"),
                ],
            ),
            (
                "{}",
                vec![
                    (loc(&["body", "currency"]), "missing"),
                    (loc(&["body", "amount"]), "missing"),
                    (loc(&["body", "idempotence_key"]), "missing"),
                ],
            ),
            ("{\"currency\": ", vec![(loc(&["body"]), "json_invalid")]),
            ("", vec![(loc(&["body"]), "json_invalid")]),
            ("[1, 2]", vec![(loc(&["body"]), "model_attributes_type")]),
        ] {
            let expected: Vec<_> = expected
                .into_iter()
                .map(|(l, k)| (l, k.to_owned()))
                .collect();
            assert_eq!(faults(JSON, body), expected, "body {body}");
        }
    }

    #[test]
    fn a_body_that_is_not_sent_as_json_is_refused() {
        let body = format!(r#"{{"currency": "USD", "amount": "1", "idempotence_key": "{KEY}"}}"#);
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            assert_eq!(
                faults(content_type, &body),
                vec![(loc(&["body"]), "content_type".to_owned())]
            );
        }
        assert!(parse(Some("application/json; charset=utf-8"), body.as_bytes()).is_ok());
    }
}
