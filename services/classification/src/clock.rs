//! Where the service reads the time of the rules that depend on the day (the objection
//! window): the system clock, or an instant a test fixes, so a test about "today" never
//! waits for a date to change.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The service's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant (tests).
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// Now, to the microsecond: what PostgreSQL stores, so an answer carries exactly what is
    /// stored.
    pub fn now(&self) -> DateTime<Utc> {
        let now = match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => *at,
        };
        now.duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(now)
    }
}
