//! Times as clients and the queue see them: RFC 3339 in UTC with exactly six
//! fractional digits (PostgreSQL keeps microseconds), so every timestamp has
//! the same length and timestamps also sort correctly as text.

use serde::{Deserializer, Serializer};
use time::{OffsetDateTime, UtcOffset};

/// `2026-11-28T04:55:36.770972Z`
pub fn format(time: OffsetDateTime) -> String {
    let utc = time.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.microsecond()
    )
}

/// For `#[serde(with = "crate::timestamp")]`: writes [`format`], reads any RFC 3339.
pub fn serialize<S: Serializer>(time: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format(*time))
}

/// Reads any RFC 3339 time.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn always_six_fractional_digits_in_utc() {
        for (input, expected) in [
            ("2026-11-28T04:55:36.770972Z", "2026-11-28T04:55:36.770972Z"),
            ("2026-11-28T04:55:36Z", "2026-11-28T04:55:36.000000Z"),
            ("2026-11-28T04:55:36.5Z", "2026-11-28T04:55:36.500000Z"),
            (
                "2026-11-28T05:55:36.000001+01:00",
                "2026-11-28T04:55:36.000001Z",
            ),
        ] {
            let time = OffsetDateTime::parse(input, &Rfc3339).expect(input);
            assert_eq!(format(time), expected);
        }
    }
}
