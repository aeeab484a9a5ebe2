use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::decimal_text::parse_decimal_text;
use crate::fiat_amount::FiatAmount;

/// The most BTC that all stored orders together may buy.
pub const BTC_LIMIT: Decimal = Decimal::from_parts(100, 0, 0, false, 0);

/// BTC amounts are whole satoshis: 8 decimal places.
const BTC_SCALE: u32 = 8;

/// The price of 1 BTC in a fiat currency, kept exactly as quoted
/// (`"48478.880"` keeps its trailing zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BtcRate(Decimal);

/// A quoted price that is not a positive decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a positive decimal price")]
pub struct InvalidBtcRate(pub String);

impl BtcRate {
    /// Reads a quoted price. Fails unless the text is a positive decimal.
    pub fn parse(text: &str) -> Result<Self, InvalidBtcRate> {
        let value = parse_decimal_text(text).map_err(|_| InvalidBtcRate(text.to_owned()))?;
        Self::new(value).ok_or_else(|| InvalidBtcRate(text.to_owned()))
    }

    /// `None` unless the price is positive.
    pub fn new(value: Decimal) -> Option<Self> {
        (value > Decimal::ZERO).then_some(Self(value))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }
}

/// An amount of BTC, always at 8 decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BtcAmount(Decimal);

impl BtcAmount {
    pub const ZERO: BtcAmount = BtcAmount(Decimal::from_parts(0, 0, 0, false, BTC_SCALE));

    /// Reads a stored amount, rounding up to whole satoshis; `None` if negative.
    pub fn new(value: Decimal) -> Option<Self> {
        if value < Decimal::ZERO {
            return None;
        }
        let mut value =
            value.round_dp_with_strategy(BTC_SCALE, rust_decimal::RoundingStrategy::AwayFromZero);
        value.rescale(BTC_SCALE);
        Some(Self(value))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }
}

/// The quotient of an order is larger than a decimal can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the BTC amount of {amount} at a rate of {rate} is too large")]
pub struct BtcAmountTooLarge {
    pub amount: Decimal,
    pub rate: Decimal,
}

/// The BTC that `amount` buys at `rate`: amount / rate, rounded up to whole
/// satoshis. Computed exactly in integers, so no digit of the quotient is lost
/// however small it is, and an exact quotient is never bumped.
/// Fails when the result would not fit in a decimal (absurdly small rates).
pub fn btc_for(amount: FiatAmount, rate: BtcRate) -> Result<BtcAmount, BtcAmountTooLarge> {
    let too_large = || BtcAmountTooLarge {
        amount: amount.value(),
        rate: rate.value(),
    };
    let (amount, rate) = (amount.value(), rate.value());
    // amount = a / 10^sa and rate = r / 10^sr, so in satoshis the quotient is
    // a * 10^(sr + 8) / (r * 10^sa).
    let numerator = amount.mantissa().unsigned_abs();
    let denominator = rate.mantissa().unsigned_abs() * 10_u128.pow(amount.scale());
    let satoshis =
        ceil_div_shifted(numerator, denominator, rate.scale() + BTC_SCALE).ok_or_else(too_large)?;
    let satoshis = i128::try_from(satoshis).map_err(|_| too_large())?;
    Decimal::try_from_i128_with_scale(satoshis, BTC_SCALE)
        .map(BtcAmount)
        .map_err(|_| too_large())
}

/// ceil(numerator * 10^shift / denominator) by long division, one decimal digit
/// at a time, so nothing overflows until the quotient itself does.
fn ceil_div_shifted(numerator: u128, denominator: u128, shift: u32) -> Option<u128> {
    let mut quotient = numerator / denominator;
    let mut remainder = numerator % denominator;
    for _ in 0..shift {
        // remainder < denominator < 2^103, so remainder * 10 cannot overflow.
        let next = remainder * 10;
        quotient = quotient.checked_mul(10)?.checked_add(next / denominator)?;
        remainder = next % denominator;
    }
    if remainder == 0 {
        Some(quotient)
    } else {
        quotient.checked_add(1)
    }
}

impl fmt::Display for BtcRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for BtcAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for BtcRate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl Serialize for BtcAmount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
