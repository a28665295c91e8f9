//! Configuration of the inspection service: the platform's part, and the numbers of the
//! rules (sampling ratios, the joint-visit window, the caps, code validity, rectification,
//! publication in working days of the one calendar (`platform::calendar`), the fewest ratings
//! shown). Every variable is validated at start; a bad one names itself.

use platform::{
    ConfigError, PlatformConfig, ServiceConfig,
    calendar::{Calendar, WindowVars, window_from},
    config::{non_blank, parse_or},
};

use crate::domain::Limits;

/// The gRPC port when `GRPC_ADDR` is not set.
pub const DEFAULT_GRPC_PORT: u16 = 50056;

/// Names of the environment variables this service reads besides the platform's.
pub mod vars {
    /// Sampling ratio of tier A, percent with up to two decimals (default 3).
    pub const RATIO_A_PERCENT: &str = "INSPECTION_RATIO_A_PERCENT";
    /// Tier B (default 10).
    pub const RATIO_B_PERCENT: &str = "INSPECTION_RATIO_B_PERCENT";
    /// Tier C (default 40).
    pub const RATIO_C_PERCENT: &str = "INSPECTION_RATIO_C_PERCENT";
    /// Tier D (default 100).
    pub const RATIO_D_PERCENT: &str = "INSPECTION_RATIO_D_PERCENT";
    /// Tasks of one firm at most this many days apart merge into one visit (default 30, 0–90).
    pub const JOINT_WINDOW_DAYS: &str = "INSPECTION_JOINT_WINDOW_DAYS";
    /// Routine visits per department and firm a year (default 1, 1–12).
    pub const ROUTINE_CAP_PER_DEPARTMENT: &str = "INSPECTION_ROUTINE_CAP_PER_DEPARTMENT";
    /// Visits of all departments per firm a year (default 4, 1–24).
    pub const VISIT_CAP_TOTAL: &str = "INSPECTION_VISIT_CAP_TOTAL";
    /// Days a code stays valid after the visit's day (default 7, 0–30).
    pub const CODE_VALID_DAYS: &str = "INSPECTION_CODE_VALID_DAYS";
    /// Days to rectify a finding when the inspector sets none (default 30, 1–365).
    pub const RECTIFICATION_DAYS: &str = "INSPECTION_RECTIFICATION_DAYS";
    /// Working days after recording by which a result is published (default 20, 1–30).
    pub const RESULT_PUBLISH_WORKING_DAYS: &str = "INSPECTION_RESULT_PUBLISH_WORKING_DAYS";
    /// The fewest ratings a department reads an aggregate of (default 5, 2–100).
    pub const MIN_RATINGS_SHOWN: &str = "INSPECTION_MIN_RATINGS_SHOWN";
    /// A plan puts a firm's tasks within this many days after its anchor day (default 60, 1–180).
    pub const PLAN_SPREAD_DAYS: &str = "INSPECTION_PLAN_SPREAD_DAYS";
    /// A triggered follow-up (class C, land shortfall) is due this many days on (default 30, 1–180).
    pub const FOLLOW_UP_DAYS: &str = "INSPECTION_FOLLOW_UP_DAYS";
    /// Public holidays (non-working days besides weekends): `2026-01-01, 2026-10-01..2026-10-07`.
    pub const NON_WORKING_DAYS: &str = "CALENDAR_NON_WORKING_DAYS";
    /// Saturdays and Sundays that are working days (调休), same syntax.
    pub const EXTRA_WORKING_DAYS: &str = "CALENDAR_EXTRA_WORKING_DAYS";

    pub const ALL: &[&str] = &[
        RATIO_A_PERCENT,
        RATIO_B_PERCENT,
        RATIO_C_PERCENT,
        RATIO_D_PERCENT,
        JOINT_WINDOW_DAYS,
        ROUTINE_CAP_PER_DEPARTMENT,
        VISIT_CAP_TOTAL,
        CODE_VALID_DAYS,
        RECTIFICATION_DAYS,
        RESULT_PUBLISH_WORKING_DAYS,
        MIN_RATINGS_SHOWN,
        PLAN_SPREAD_DAYS,
        FOLLOW_UP_DAYS,
        NON_WORKING_DAYS,
        EXTRA_WORKING_DAYS,
    ];
}

/// The rules' numbers and the calendar they count working days in.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub limits: Limits,
    pub calendar: Calendar,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub platform: PlatformConfig,
    pub rules: Rules,
}

/// A percentage with up to two decimals ("3", "2.5", "12.25") in basis points, 0 to 100 %.
fn percent_bp(raw: &str) -> Option<u32> {
    let (whole, fraction) = raw.trim().split_once('.').unwrap_or((raw.trim(), ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !(whole.chars().chain(fraction.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<2}").parse().ok()?;
    let bp = whole.checked_mul(100)?.checked_add(fraction)?;
    (bp <= 10_000).then_some(bp)
}

fn ratio(
    get: &dyn Fn(&'static str) -> Option<String>,
    var: &'static str,
    default_bp: u32,
) -> Result<u32, ConfigError> {
    match get(var) {
        None => Ok(default_bp),
        Some(raw) => percent_bp(&raw).ok_or_else(|| ConfigError {
            var,
            reason: format!("{raw:?}: a percentage from 0 to 100 with up to two decimals"),
        }),
    }
}

fn number(
    get: &dyn Fn(&'static str) -> Option<String>,
    var: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let value: u32 = parse_or(get(var), var, || default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError {
            var,
            reason: format!("{value}: must be {} to {}", range.start(), range.end()),
        })
    }
}

fn limits(get: &dyn Fn(&'static str) -> Option<String>) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    Ok(Limits {
        ratios_bp: [
            ratio(get, vars::RATIO_A_PERCENT, d.ratios_bp[0])?,
            ratio(get, vars::RATIO_B_PERCENT, d.ratios_bp[1])?,
            ratio(get, vars::RATIO_C_PERCENT, d.ratios_bp[2])?,
            ratio(get, vars::RATIO_D_PERCENT, d.ratios_bp[3])?,
        ],
        joint_window_days: number(get, vars::JOINT_WINDOW_DAYS, d.joint_window_days, 0..=90)?,
        routine_cap_per_department: number(
            get,
            vars::ROUTINE_CAP_PER_DEPARTMENT,
            d.routine_cap_per_department,
            1..=12,
        )?,
        visit_cap_total: number(get, vars::VISIT_CAP_TOTAL, d.visit_cap_total, 1..=24)?,
        code_valid_days: number(get, vars::CODE_VALID_DAYS, d.code_valid_days, 0..=30)?,
        rectification_days: number(get, vars::RECTIFICATION_DAYS, d.rectification_days, 1..=365)?,
        result_publish_working_days: d.result_publish_working_days,
        min_ratings_shown: number(get, vars::MIN_RATINGS_SHOWN, d.min_ratings_shown, 2..=100)?,
        plan_spread_days: number(get, vars::PLAN_SPREAD_DAYS, d.plan_spread_days, 1..=180)?,
        follow_up_days: number(get, vars::FOLLOW_UP_DAYS, d.follow_up_days, 1..=180)?,
    })
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_lookup(crate::SPEC.name, DEFAULT_GRPC_PORT, &lookup)?;
        let get = non_blank(&lookup);
        let mut limits = limits(&get)?;
        // The publication deadline is a window of the one calendar (default 20 working days).
        let with_default = |var: &'static str| {
            get(var).or_else(|| {
                (var == vars::RESULT_PUBLISH_WORKING_DAYS)
                    .then(|| Limits::default().result_publish_working_days.to_string())
            })
        };
        let window = window_from(
            &with_default,
            WindowVars {
                working_days: vars::RESULT_PUBLISH_WORKING_DAYS,
                min_days: 1,
                non_working_days: vars::NON_WORKING_DAYS,
                extra_working_days: vars::EXTRA_WORKING_DAYS,
            },
        )?;
        limits.result_publish_working_days = window.working_days;
        Ok(Self {
            platform,
            rules: Rules {
                limits,
                calendar: window.calendar,
            },
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
    fn every_variable_is_in_the_readme() {
        let readme = include_str!("../README.md");
        for var in vars::ALL {
            assert!(
                readme.contains(&format!("`{var}`")),
                "{var} is not in the README"
            );
        }
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let config = Config::from_lookup(lookup_in(&[])).unwrap();
        assert_eq!(config.rules.limits, Limits::default());
        assert_eq!(config.rules.limits.ratios_bp, [300, 1_000, 4_000, 10_000]);
        assert_eq!(config.rules.limits.result_publish_working_days, 20);
    }

    #[test]
    fn ratios_are_percentages_with_two_decimals_at_most() {
        assert_eq!(percent_bp("3"), Some(300));
        assert_eq!(percent_bp("2.5"), Some(250));
        assert_eq!(percent_bp("12.25"), Some(1_225));
        assert_eq!(percent_bp("100"), Some(10_000));
        assert_eq!(percent_bp("100.01"), None);
        assert_eq!(percent_bp("1.234"), None);
        assert_eq!(percent_bp("-1"), None);
        let config = Config::from_lookup(lookup_in(&[(vars::RATIO_B_PERCENT, "20")])).unwrap();
        assert_eq!(config.rules.limits.ratios_bp[1], 2_000);
    }

    #[test]
    fn a_bad_number_names_its_variable_at_and_one_past_each_limit() {
        for (var, ok, bad) in [
            (vars::RATIO_A_PERCENT, "100", "101"),
            (vars::JOINT_WINDOW_DAYS, "90", "91"),
            (vars::ROUTINE_CAP_PER_DEPARTMENT, "1", "0"),
            (vars::VISIT_CAP_TOTAL, "24", "25"),
            (vars::CODE_VALID_DAYS, "30", "31"),
            (vars::RECTIFICATION_DAYS, "1", "0"),
            (vars::RESULT_PUBLISH_WORKING_DAYS, "30", "31"),
            (vars::RESULT_PUBLISH_WORKING_DAYS, "1", "0"),
            (vars::MIN_RATINGS_SHOWN, "2", "1"),
            (vars::PLAN_SPREAD_DAYS, "180", "181"),
            (vars::FOLLOW_UP_DAYS, "180", "181"),
        ] {
            assert!(
                Config::from_lookup(lookup_in(&[(var, ok)])).is_ok(),
                "{var}={ok}"
            );
            let err = Config::from_lookup(lookup_in(&[(var, bad)])).unwrap_err();
            assert_eq!(err.var, var, "{var}={bad}");
        }
    }
}
