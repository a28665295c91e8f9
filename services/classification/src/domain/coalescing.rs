//! When a dirty period is re-ranked (coalescing): once no change arrived for the debounce,
//! or once its oldest unranked change is the maximum delay old, whichever comes first. Pure:
//! the re-ranker reads the times (the database's) and asks [`Debounce::wait`]; a test steps
//! a [`Dirty`] period through a virtual clock and counts the re-ranks.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The coalescing times (`CLASSIFICATION_RERANK_DEBOUNCE_MS`, `…_MAX_DELAY_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    /// Quiet time after the last change.
    pub debounce: Duration,
    /// Longest wait of the first unranked change.
    pub max_delay: Duration,
}

impl Debounce {
    /// How long after `now` a period whose unranked changes arrived from `first` to `last`
    /// is due; zero when it is due now.
    pub fn wait(&self, first: DateTime<Utc>, last: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
        let quiet = last + self.debounce;
        let oldest = first + self.max_delay;
        (quiet.min(oldest) - now).to_std().unwrap_or(Duration::ZERO)
    }
}

/// A period's unranked changes: when the first and the last arrived (`dirty_periods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dirty {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

impl Dirty {
    /// The period after a change at `at`: dirty since the first unranked change.
    pub fn mark(dirty: Option<Dirty>, at: DateTime<Utc>) -> Dirty {
        match dirty {
            Some(d) => Dirty { last: at, ..d },
            None => Dirty {
                first: at,
                last: at,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_700_000_000_000 + ms).unwrap()
    }

    #[test]
    fn due_after_the_quiet_time_or_the_maximum_delay_whichever_is_first() {
        let d = Debounce {
            debounce: Duration::from_millis(200),
            max_delay: Duration::from_millis(2000),
        };
        assert_eq!(d.wait(at(0), at(0), at(0)), Duration::from_millis(200));
        assert_eq!(
            d.wait(at(0), at(1900), at(1900)),
            Duration::from_millis(100)
        );
        assert_eq!(d.wait(at(0), at(100), at(400)), Duration::ZERO);
    }
}
