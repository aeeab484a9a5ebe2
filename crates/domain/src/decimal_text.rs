use rust_decimal::Decimal;

/// Text that is not a plain decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a decimal number")]
pub struct NotADecimal(pub String);

/// Reads a decimal exactly from its text, as JSON writes numbers: an optional
/// `-`, digits, an optional fraction and an optional exponent (`1.5e2`).
///
/// Stricter than `Decimal::from_str`, which also takes `_` separators and a
/// leading `+`: what a client sends is either exactly a number or refused.
/// Fails on any other text, or a value beyond 28 significant digits.
pub fn parse_decimal_text(text: &str) -> Result<Decimal, NotADecimal> {
    let invalid = || NotADecimal(text.to_owned());
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    if !is_plain_decimal(mantissa) {
        return Err(invalid());
    }
    let value = Decimal::from_str_exact(mantissa).map_err(|_| invalid())?;
    match exponent {
        None => Ok(value),
        Some(exponent) => shift_by_exponent(value, exponent).ok_or_else(invalid),
    }
}

/// `-?digits(.digits)?`
fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

fn shift_by_exponent(value: Decimal, exponent: &str) -> Option<Decimal> {
    let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
        return None;
    }
    let magnitude: u32 = digits.parse().ok()?;
    if exponent.starts_with('-') {
        let mut shifted = value;
        shifted
            .set_scale(value.scale().checked_add(magnitude)?)
            .ok()?;
        Some(shifted)
    } else {
        // 10^29 to 10^38 fit an i128 but not a Decimal: refused, not a panic.
        let factor = Decimal::try_from_i128_with_scale(10_i128.checked_pow(magnitude)?, 0).ok()?;
        value.checked_mul(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_decimal_and_json_number_text_exactly() {
        for (text, expected) in [
            ("123.45", "123.45"),
            ("0.01", "0.01"),
            ("-5", "-5"),
            ("007", "7"),
            ("1.50", "1.50"),
            ("1.2345e2", "123.4500"),
            ("12345E-2", "123.45"),
            ("1e+3", "1000"),
        ] {
            let parsed = parse_decimal_text(text).expect(text);
            assert_eq!(parsed.to_string(), expected, "text {text:?}");
        }
    }

    #[test]
    fn refuses_anything_that_is_not_exactly_a_number() {
        for text in [
            "", "abc", "1_000", "+5", " 5", "5 ", ".5", "5.", "1.2.3", "1e", "e5", "1e5000",
            "0x10", "NaN", "1,5", "--1", "1e29", "1e30", "2.5e38", "1e39", "1e999",
        ] {
            assert!(
                parse_decimal_text(text).is_err(),
                "text {text:?} was accepted"
            );
        }
    }
}
