use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::currency::Currency;
use crate::decimal_text::parse_decimal_text;

/// Orders are refused from this amount up, in any currency.
const UPPER_BOUND: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// An amount of fiat to spend: positive, below one billion, and written at
/// exactly its currency's decimal places (`"5"` in USD becomes `5.00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FiatAmount {
    currency: Currency,
    value: Decimal,
}

/// Why a fiat amount was refused; the text is meant for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFiatAmount {
    #[error("amount must be a decimal number, such as \"123.45\"")]
    NotADecimal,
    #[error("amount must be greater than 0")]
    NotPositive,
    #[error("amount must be less than 1000000000")]
    TooLarge,
    #[error("amount must have at most {max} decimal places in {currency}; it is never rounded")]
    TooManyDecimalPlaces { currency: Currency, max: u32 },
}

impl FiatAmount {
    /// Reads an amount exactly from its text (a decimal string, or the text of
    /// a JSON number). Fails when it is not a number, not in range, or has more
    /// decimal places than the currency allows.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, InvalidFiatAmount> {
        let value = parse_decimal_text(text).map_err(|_| InvalidFiatAmount::NotADecimal)?;
        Self::new(value, currency)
    }

    /// Checks a decimal against the same rules as [`FiatAmount::parse`].
    pub fn new(value: Decimal, currency: Currency) -> Result<Self, InvalidFiatAmount> {
        if value <= Decimal::ZERO {
            return Err(InvalidFiatAmount::NotPositive);
        }
        if value >= UPPER_BOUND {
            return Err(InvalidFiatAmount::TooLarge);
        }
        let max = currency.decimal_places();
        if value.normalize().scale() > max {
            return Err(InvalidFiatAmount::TooManyDecimalPlaces { currency, max });
        }
        let mut value = value;
        value.rescale(max);
        Ok(Self { currency, value })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The value at the currency's scale.
    pub fn value(&self) -> Decimal {
        self.value
    }
}

impl fmt::Display for FiatAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl Serialize for FiatAmount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InvalidFiatAmount::*;

    #[test]
    fn accepts_positive_amounts_below_a_billion_at_the_currency_scale() {
        for (text, expected) in [
            ("123.45", "123.45"),
            ("0.01", "0.01"),
            ("5", "5.00"),
            ("5.1", "5.10"),
            ("123.450", "123.45"),
            ("999999999.99", "999999999.99"),
            ("1.2345e2", "123.45"),
        ] {
            let amount = FiatAmount::parse(text, Currency::Usd).expect(text);
            assert_eq!(amount.to_string(), expected, "text {text:?}");
        }
    }

    #[test]
    fn refuses_amounts_out_of_range_or_too_precise_without_rounding() {
        let too_precise = TooManyDecimalPlaces {
            currency: Currency::Gbp,
            max: 2,
        };
        for (text, expected) in [
            ("0", NotPositive),
            ("0.00", NotPositive),
            ("-1", NotPositive),
            ("1000000000", TooLarge),
            ("1000000000.00", TooLarge),
            ("123.456", too_precise.clone()),
            ("0.001", too_precise),
            ("abc", NotADecimal),
            ("", NotADecimal),
        ] {
            assert_eq!(
                FiatAmount::parse(text, Currency::Gbp),
                Err(expected),
                "text {text:?}"
            );
        }
    }
}
