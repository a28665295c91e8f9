//! Protobuf `Timestamp` ↔ `chrono::DateTime<Utc>`, both ways, one rule for every service.
//!
//! A timestamp from a caller is refused (`None`) unless it is one the protobuf contract
//! allows: nanoseconds in `0..1_000_000_000` and a time from 0001-01-01 to 9999-12-31
//! (UTC), which is also a time PostgreSQL and RFC 3339 can hold. Every `DateTime<Utc>` a
//! service makes itself fits a `Timestamp`, so that direction cannot fail.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// 0001-01-01T00:00:00Z, the earliest time a protobuf `Timestamp` may carry.
const MIN_SECONDS: i64 = -62_135_596_800;
/// 9999-12-31T23:59:59Z, the latest.
const MAX_SECONDS: i64 = 253_402_300_799;

/// A time as a protobuf `Timestamp`.
pub fn to_timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        // Below 2e9 (a leap second's nanos), so it fits an i32.
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A caller's timestamp as a time; `None` when it is outside what a timestamp may mean.
pub fn from_timestamp(at: &Timestamp) -> Option<DateTime<Utc>> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&at.seconds) {
        return None;
    }
    let nanos = u32::try_from(at.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(at.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_survives_the_round_trip_to_the_nanosecond() {
        let at = DateTime::parse_from_rfc3339("2025-06-30T08:15:42.123456789Z")
            .unwrap()
            .to_utc();
        assert_eq!(from_timestamp(&to_timestamp(at)), Some(at));
    }

    #[test]
    fn the_contract_s_first_and_last_second_are_accepted() {
        let first = from_timestamp(&Timestamp {
            seconds: MIN_SECONDS,
            nanos: 0,
        })
        .unwrap();
        assert_eq!(first.to_rfc3339(), "0001-01-01T00:00:00+00:00");
        let last = Timestamp {
            seconds: MAX_SECONDS,
            nanos: 999_999_999,
        };
        assert_eq!(
            from_timestamp(&last).unwrap().to_rfc3339(),
            "9999-12-31T23:59:59.999999999+00:00"
        );
    }

    #[test]
    fn out_of_range_timestamps_are_refused() {
        for (seconds, nanos) in [
            (MIN_SECONDS - 1, 0),
            (MAX_SECONDS + 1, 0),
            (i64::MAX, 0),
            (i64::MIN, 0),
            (0, -1),
            (0, 1_000_000_000),
            (0, i32::MAX),
        ] {
            assert_eq!(
                from_timestamp(&Timestamp { seconds, nanos }),
                None,
                "{seconds}s {nanos}ns"
            );
        }
    }
}
