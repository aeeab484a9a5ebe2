use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fiat currency in which BTC can be bought, by its ISO 4217 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(rename_all = "UPPERCASE", example = "USD")]
pub enum Currency {
    Eur,
    Gbp,
    Usd,
}

/// A currency code that is not one of the accepted ISO 4217 codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported currency {0:?}: expected one of EUR, GBP, USD")]
pub struct UnknownCurrency(pub String);

impl Currency {
    /// Every accepted currency, in code order.
    pub const ALL: [Currency; 3] = [Currency::Eur, Currency::Gbp, Currency::Usd];

    /// The ISO 4217 code, upper case.
    pub fn iso3(self) -> &'static str {
        match self {
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Usd => "USD",
        }
    }

    /// How many decimal places an amount in this currency may have.
    pub fn decimal_places(self) -> u32 {
        2
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;

    /// Codes are matched exactly: `usd` is refused rather than guessed at.
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|currency| currency.iso3() == code)
            .ok_or_else(|| UnknownCurrency(code.to_owned()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iso3())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.iso3())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_three_upper_case_codes() {
        for (code, expected) in [
            ("EUR", Ok(Currency::Eur)),
            ("GBP", Ok(Currency::Gbp)),
            ("USD", Ok(Currency::Usd)),
            ("usd", Err(UnknownCurrency("usd".into()))),
            ("XXX", Err(UnknownCurrency("XXX".into()))),
            ("", Err(UnknownCurrency(String::new()))),
            (" USD", Err(UnknownCurrency(" USD".into()))),
        ] {
            assert_eq!(code.parse::<Currency>(), expected, "code {code:?}");
        }
    }

    #[test]
    fn every_currency_has_two_decimal_places_and_round_trips() {
        for currency in Currency::ALL {
            assert_eq!(currency.decimal_places(), 2);
            assert_eq!(currency.iso3().parse::<Currency>(), Ok(currency));
        }
    }
}
