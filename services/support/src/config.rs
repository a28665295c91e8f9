//! Configuration of the support service: the platform's part and the publicity window (公示期)
//! of a round, counted in working days of the one calendar (`platform::calendar`).

use chrono::{DateTime, Utc};

use platform::{
    ConfigError, PlatformConfig, ServiceConfig,
    calendar::{ObjectionWindow, WindowVars, objection_deadline, window_from},
    config::non_blank,
};

/// The gRPC port when `GRPC_ADDR` is not set.
pub const DEFAULT_GRPC_PORT: u16 = 50055;

/// Names of the environment variables this service reads besides the platform's.
pub mod vars {
    /// Working days a round's list is published for objections (default 5, 0 to 30; 0, no
    /// publicity, is for a development stack: `deploy/check` requires at least 1).
    pub const PUBLICITY_WORKING_DAYS: &str = "SUPPORT_PUBLICITY_WORKING_DAYS";
    /// Public holidays (non-working days besides weekends): `2026-01-01, 2026-10-01..2026-10-07`.
    pub const NON_WORKING_DAYS: &str = "CALENDAR_NON_WORKING_DAYS";
    /// Saturdays and Sundays that are working days (调休), same syntax.
    pub const EXTRA_WORKING_DAYS: &str = "CALENDAR_EXTRA_WORKING_DAYS";

    pub const ALL: &[&str] = &[PUBLICITY_WORKING_DAYS, NON_WORKING_DAYS, EXTRA_WORKING_DAYS];
}

/// The numbers of the rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The publicity window of a round's list, and the calendar review deadlines are
    /// counted in.
    pub publicity: ObjectionWindow,
}

impl Rules {
    /// The end of the publicity of a list published at `now`: 24:00 CST of the window's last
    /// working day; with no window (0 days), `now`.
    pub fn publicity_deadline(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.publicity.deadline(now)
    }

    /// The review deadline of an application made at `now`: `days` working days on.
    pub fn review_deadline(&self, now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        objection_deadline(now, &self.publicity.calendar, days)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub platform: PlatformConfig,
    pub rules: Rules,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_lookup(crate::SPEC.name, DEFAULT_GRPC_PORT, &lookup)?;
        let get = non_blank(&lookup);
        let publicity = window_from(
            &get,
            WindowVars {
                working_days: vars::PUBLICITY_WORKING_DAYS,
                min_days: 0,
                non_working_days: vars::NON_WORKING_DAYS,
                extra_working_days: vars::EXTRA_WORKING_DAYS,
            },
        )?;
        Ok(Self {
            platform,
            rules: Rules { publicity },
        })
    }
}

impl ServiceConfig for Config {
    fn platform(&self) -> &PlatformConfig {
        &self.platform
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::config::lookup_in;

    #[test]
    fn a_bad_window_names_its_variable() {
        let err =
            Config::from_lookup(lookup_in(&[(vars::PUBLICITY_WORKING_DAYS, "31")])).unwrap_err();
        assert_eq!(err.var, vars::PUBLICITY_WORKING_DAYS);
        let err =
            Config::from_lookup(lookup_in(&[(vars::NON_WORKING_DAYS, "2026-13-01")])).unwrap_err();
        assert_eq!(err.var, vars::NON_WORKING_DAYS);
    }

    #[test]
    fn the_window_defaults_to_five_working_days_and_none_closes_at_publication() {
        let config = Config::from_lookup(lookup_in(&[])).unwrap();
        assert_eq!(config.rules.publicity.working_days, 5);
        let now = Utc::now();
        assert!(config.rules.publicity_deadline(now) > now + chrono::Duration::days(5));
        let none = Config::from_lookup(lookup_in(&[(vars::PUBLICITY_WORKING_DAYS, "0")])).unwrap();
        assert_eq!(none.rules.publicity_deadline(now), now);
    }
}
