//! Settings of the notice store, read from the environment like the platform's own.

use std::time::Duration;

use platform::{
    ConfigError,
    config::{non_blank, parse_or},
};

/// Names of the environment variables the notice store reads, declared once.
pub mod vars {
    /// How long a notice without a due time of its own may stay unacknowledged (ms).
    pub const NOTICE_OVERDUE_AFTER_MS: &str = "NOTICE_OVERDUE_AFTER_MS";
    /// How often an idle watch re-reads the store when no wake-up arrived (ms).
    pub const NOTICE_WATCH_POLL_MS: &str = "NOTICE_WATCH_POLL_MS";

    /// Every variable above, for documentation and deploy checks.
    pub const ALL: &[&str] = &[NOTICE_OVERDUE_AFTER_MS, NOTICE_WATCH_POLL_MS];
}

/// Seven days: a working week and a weekend to acknowledge a notice.
pub const DEFAULT_OVERDUE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// The poll is only the fallback behind LISTEN/NOTIFY, so it can be slow.
pub const DEFAULT_WATCH_POLL: Duration = Duration::from_secs(5);
/// Below this an idle watch would hammer the database.
const MIN_WATCH_POLL: Duration = Duration::from_millis(10);
/// Far beyond any real deadline, and well inside what a PostgreSQL interval holds.
const MAX_OVERDUE_AFTER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How the notice store behaves.
#[derive(Debug, Clone)]
pub struct NoticeSettings {
    /// A notice whose producer set no `due_at` is overdue this long after `issued_at` while
    /// unacknowledged. Applied when read, so a change applies to stored notices too.
    pub overdue_after: Duration,
    /// How often an idle watch stream re-reads the store when no notification woke it: the
    /// safety net for a lost LISTEN connection.
    pub watch_poll: Duration,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        Self {
            overdue_after: DEFAULT_OVERDUE_AFTER,
            watch_poll: DEFAULT_WATCH_POLL,
        }
    }
}

impl NoticeSettings {
    /// Reads [`vars`] from the process environment, with the defaults above.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same over any lookup, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = non_blank(&lookup);
        let millis = |var: &'static str, default: Duration| {
            parse_or(get(var), var, || default.as_millis() as u64).map(Duration::from_millis)
        };
        let settings = Self {
            overdue_after: millis(vars::NOTICE_OVERDUE_AFTER_MS, DEFAULT_OVERDUE_AFTER)?,
            watch_poll: millis(vars::NOTICE_WATCH_POLL_MS, DEFAULT_WATCH_POLL)?,
        };
        if settings.overdue_after > MAX_OVERDUE_AFTER {
            return Err(ConfigError {
                var: vars::NOTICE_OVERDUE_AFTER_MS,
                reason: format!("must be at most {} ms", MAX_OVERDUE_AFTER.as_millis()),
            });
        }
        if settings.watch_poll < MIN_WATCH_POLL {
            return Err(ConfigError {
                var: vars::NOTICE_WATCH_POLL_MS,
                reason: format!("must be at least {} ms", MIN_WATCH_POLL.as_millis()),
            });
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use platform::config::lookup_in as lookup;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = NoticeSettings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(settings.overdue_after, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(settings.watch_poll, DEFAULT_WATCH_POLL);
    }

    #[test]
    fn variables_are_read_and_bad_ones_named() {
        let settings =
            NoticeSettings::from_lookup(lookup(&[(vars::NOTICE_OVERDUE_AFTER_MS, "1500")]))
                .unwrap();
        assert_eq!(settings.overdue_after, Duration::from_millis(1500));
        let err = NoticeSettings::from_lookup(lookup(&[(vars::NOTICE_OVERDUE_AFTER_MS, "soon")]))
            .unwrap_err();
        assert_eq!(err.var, vars::NOTICE_OVERDUE_AFTER_MS);
        let err =
            NoticeSettings::from_lookup(lookup(&[(vars::NOTICE_WATCH_POLL_MS, "0")])).unwrap_err();
        assert_eq!(err.var, vars::NOTICE_WATCH_POLL_MS);
    }
}
