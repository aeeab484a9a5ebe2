use super::*;
use crate::currency::Currency;

fn order(amount: &str, rate: &str) -> Result<BtcAmount, BtcAmountTooLarge> {
    let amount = FiatAmount::parse(amount, Currency::Usd).expect("test amount is valid");
    let rate = BtcRate::parse(rate).expect("test rate is valid");
    btc_for(amount, rate)
}

/// (fiat amount, BTC rate, BTC bought or None when too large), checked against
/// Python's `fractions.Fraction` with a ceiling at 8 decimal places.
const VECTORS: &[(&str, &str, Option<&str>)] = &[
    ("1.00", "3", Some("0.33333334")),
    ("1.00", "4", Some("0.25000000")),
    ("0.01", "48478.88", Some("0.00000021")),
    ("999999999.99", "0.01", Some("99999999999.00000000")),
    ("123.45", "48478.88", Some("0.00254647")),
    ("100.00", "7", Some("14.28571429")),
    ("50000.00", "50000", Some("1.00000000")),
    ("0.01", "1", Some("0.01000000")),
    ("1.00", "0.00000001", Some("100000000.00000000")),
    ("999999999.99", "99999.99", Some("10000.00099991")),
    ("10.00", "2.5", Some("4.00000000")),
    ("1.00", "8", Some("0.12500000")),
    ("1.00", "1.25", Some("0.80000000")),
    ("0.03", "3", Some("0.01000000")),
    ("48478.88", "48478.88", Some("1.00000000")),
    ("123.45", "0.5", Some("246.90000000")),
    ("1.00", "3.00000001", Some("0.33333334")),
    ("250000.00", "48478.88", Some("5.15688482")),
    ("0.01", "100000000", Some("0.00000001")),
    ("0.01", "100000001", Some("0.00000001")),
    ("5000.00", "33333.33", Some("0.15000002")),
    ("77.77", "0.07", Some("1111.00000000")),
    ("999999999.99", "1", Some("999999999.99000000")),
    ("1.00", "48478.123456789", Some("0.00002063")),
    (
        "100.00",
        "3.141592653589793238462643383",
        Some("31.83098862"),
    ),
    ("0.01", "9999999999999999999999999999", Some("0.00000001")),
    ("1.00", "7.922816251426433759354395033", Some("0.12621775")),
    ("0.02", "0.0000000000000000000000000003", None),
    ("12345.67", "0.000000000000000000001", None),
    ("300.00", "123.456789012345678901234567", Some("2.43000003")),
    ("1.00", "999999999999999999.99999999", Some("0.00000001")),
    ("0.01", "0.0000001", Some("100000.00000000")),
    ("42.00", "21.00000000000000000000000001", Some("2.00000000")),
    ("999999999.99", "0.00000000000000001", None),
];

#[test]
fn btc_amount_is_the_exact_quotient_rounded_up_to_whole_satoshis() {
    assert!(VECTORS.len() >= 30);
    for &(amount, rate, expected) in VECTORS {
        let bought = order(amount, rate).map(|btc| btc.to_string()).ok();
        assert_eq!(bought.as_deref(), expected, "{amount} at {rate}");
    }
}

#[test]
fn an_exact_quotient_is_not_bumped_and_an_inexact_one_always_is() {
    assert_eq!(
        order("1.00", "4").map(|b| b.to_string()),
        Ok("0.25000000".into())
    );
    assert_eq!(
        order("1.00", "3").map(|b| b.to_string()),
        Ok("0.33333334".into())
    );
}

#[test]
fn the_remainder_beyond_28_significant_digits_still_rounds_up() {
    // 0.01 / 9999999999999999999999999999 is about 1e-30: a decimal division
    // at 28 digits says zero, the exact maths says one satoshi.
    let smallest = order("0.01", "9999999999999999999999999999").expect("fits");
    assert_eq!(smallest.to_string(), "0.00000001");
}

#[test]
fn rates_must_be_positive_decimals() {
    for text in ["0", "-1", "0.00", "abc", "", "1_000"] {
        assert!(BtcRate::parse(text).is_err(), "rate {text:?} was accepted");
    }
    assert_eq!(
        BtcRate::parse("48478.880").map(|r| r.to_string()),
        Ok("48478.880".into())
    );
}

#[test]
fn stored_btc_amounts_are_kept_at_eight_places() {
    let stored = BtcAmount::new(rust_decimal::Decimal::new(25, 2)).expect("positive");
    assert_eq!(stored.to_string(), "0.25000000");
    assert_eq!(BtcAmount::ZERO.to_string(), "0.00000000");
    assert!(BtcAmount::new(rust_decimal::Decimal::new(-1, 0)).is_none());
}
