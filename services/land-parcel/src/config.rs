//! Configuration of the land-parcel service: the platform's part and every number of the
//! land rules (DOMAIN.md, land), each with its default and its variable.

use std::time::Duration;

use platform::{
    ConfigError, PlatformConfig, ServiceConfig,
    auth::Department,
    config::{non_blank, parse_or},
};

pub use crate::domain::LandRules;
use crate::domain::{
    evaluation::EvaluationRules,
    grant::PlotRatioMinimums,
    idle::IdleRules,
    lateness::LatenessRules,
    low_efficiency::LowEfficiencyRules,
    supply::{LEASE_YEARS_CAP, TermRules},
};

/// The gRPC port when `GRPC_ADDR` is not set.
pub const DEFAULT_GRPC_PORT: u16 = 50053;

/// Names of the environment variables this service reads besides the platform's.
pub mod vars {
    /// Statutory maximum term of industrial land, years (default 50).
    pub const INDUSTRIAL_MAX_YEARS: &str = "LAND_INDUSTRIAL_MAX_YEARS";
    /// Of commercial land (default 40).
    pub const COMMERCIAL_MAX_YEARS: &str = "LAND_COMMERCIAL_MAX_YEARS";
    /// Of public service land (default 50).
    pub const PUBLIC_SERVICE_MAX_YEARS: &str = "LAND_PUBLIC_SERVICE_MAX_YEARS";
    /// Longest flexible term, years (default 20).
    pub const FLEXIBLE_MAX_YEARS: &str = "LAND_FLEXIBLE_MAX_YEARS";
    /// Longest lease of lease-then-transfer, years (default 5, at most 10).
    pub const LEASE_MAX_YEARS: &str = "LAND_LEASE_MAX_YEARS";
    /// Least yearly rent, per mille of the price (default 50 = 5 %).
    pub const MIN_YEARLY_RENT_PERMILLE: &str = "LAND_MIN_YEARLY_RENT_PERMILLE";
    /// Minimum plot ratio of textiles, thousandths (default 800).
    pub const PLOT_RATIO_MIN_TEXTILE: &str = "LAND_PLOT_RATIO_MIN_TEXTILE";
    /// Of apparel (default 1000).
    pub const PLOT_RATIO_MIN_APPAREL: &str = "LAND_PLOT_RATIO_MIN_APPAREL";
    /// Of leather, fur and luggage (default 1000).
    pub const PLOT_RATIO_MIN_LUGGAGE_LEATHER: &str = "LAND_PLOT_RATIO_MIN_LUGGAGE_LEATHER";
    /// Damages per day late, per mille of the price (default 1).
    pub const LATE_DAMAGES_PERMILLE: &str = "LAND_LATE_DAMAGES_PERMILLE_PER_DAY";
    /// Months of a late start before take-back review (default 6).
    pub const TAKE_BACK_AFTER_MONTHS: &str = "LAND_TAKE_BACK_AFTER_MONTHS";
    /// Days to rectify a shortfall (default 180).
    pub const RECTIFICATION_DAYS: &str = "LAND_RECTIFICATION_DAYS";
    /// Months without a start before land is idle (default 12).
    pub const IDLE_NOT_STARTED_MONTHS: &str = "LAND_IDLE_NOT_STARTED_MONTHS";
    /// Months of standstill after an early stop before land is idle (default 12).
    pub const IDLE_STOPPED_MONTHS: &str = "LAND_IDLE_STOPPED_MONTHS";
    /// Investment share under which a stop counts, percent (default 25).
    pub const IDLE_INVESTMENT_PERCENT: &str = "LAND_IDLE_INVESTMENT_PERCENT";
    /// How often the idle pass runs, seconds (default 3600).
    pub const IDLE_CHECK_SECONDS: &str = "LAND_IDLE_CHECK_SECONDS";
    /// Idle fee, percent of the price (default 20).
    pub const IDLE_FEE_PERCENT: &str = "LAND_IDLE_FEE_PERCENT";
    /// Months idle before take-back review (default 24).
    pub const IDLE_TAKE_BACK_MONTHS: &str = "LAND_IDLE_TAKE_BACK_MONTHS";
    /// Months after completion before the low-efficiency rule applies (default 24).
    pub const LOW_EFFICIENCY_AFTER_MONTHS: &str = "LAND_LOW_EFFICIENCY_AFTER_MONTHS";
    /// Share of a commitment under which land is low-efficiency, percent (default 50).
    pub const LOW_EFFICIENCY_PERCENT: &str = "LAND_LOW_EFFICIENCY_PERCENT";
    /// Shortest long-term lease and renewal, years (default 5).
    pub const LONG_LEASE_MIN_YEARS: &str = "LAND_LONG_LEASE_MIN_YEARS";
    /// Longest long-term lease and renewal, years (default 20).
    pub const LONG_LEASE_MAX_YEARS: &str = "LAND_LONG_LEASE_MAX_YEARS";
    /// Smallest unit of a split building, hundredths of a m² (default 30000 = 300 m²).
    pub const MIN_UNIT_CENTI_M2: &str = "LAND_MIN_UNIT_CENTI_M2";
    /// Departments told of evaluation changes, comma-separated (default natural_resources,commerce).
    pub const NOTICE_DEPARTMENTS: &str = "LAND_NOTICE_DEPARTMENTS";

    /// Every variable above, for documentation and deploy checks.
    pub const ALL: &[&str] = &[
        INDUSTRIAL_MAX_YEARS,
        COMMERCIAL_MAX_YEARS,
        PUBLIC_SERVICE_MAX_YEARS,
        FLEXIBLE_MAX_YEARS,
        LEASE_MAX_YEARS,
        MIN_YEARLY_RENT_PERMILLE,
        PLOT_RATIO_MIN_TEXTILE,
        PLOT_RATIO_MIN_APPAREL,
        PLOT_RATIO_MIN_LUGGAGE_LEATHER,
        LATE_DAMAGES_PERMILLE,
        TAKE_BACK_AFTER_MONTHS,
        RECTIFICATION_DAYS,
        IDLE_NOT_STARTED_MONTHS,
        IDLE_STOPPED_MONTHS,
        IDLE_INVESTMENT_PERCENT,
        IDLE_CHECK_SECONDS,
        IDLE_FEE_PERCENT,
        IDLE_TAKE_BACK_MONTHS,
        LOW_EFFICIENCY_AFTER_MONTHS,
        LOW_EFFICIENCY_PERCENT,
        LONG_LEASE_MIN_YEARS,
        LONG_LEASE_MAX_YEARS,
        MIN_UNIT_CENTI_M2,
        NOTICE_DEPARTMENTS,
    ];
}

#[derive(Debug, Clone)]
pub struct Config {
    pub platform: PlatformConfig,
    pub rules: LandRules,
    /// Interval of the idle land pass.
    pub idle_check: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same as [`from_env`](Self::from_env) over any lookup, for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_lookup(crate::SPEC.name, DEFAULT_GRPC_PORT, &lookup)?;
        let get = non_blank(&lookup);
        let rules = rules(&get)?;
        let idle_seconds: u64 = parse_or(
            get(vars::IDLE_CHECK_SECONDS),
            vars::IDLE_CHECK_SECONDS,
            || 3600,
        )?;
        if idle_seconds == 0 {
            return Err(ConfigError {
                var: vars::IDLE_CHECK_SECONDS,
                reason: "must be positive".into(),
            });
        }
        Ok(Self {
            platform,
            rules,
            idle_check: Duration::from_secs(idle_seconds),
        })
    }
}

/// A variable's value when set and not blank.
type Get<'a> = &'a dyn Fn(&'static str) -> Option<String>;

/// Every rule's numbers, each from its variable or its default.
fn rules(get: Get<'_>) -> Result<LandRules, ConfigError> {
    let d = LandRules::default();
    let terms = term_rules(get, &d.terms)?;
    let plot_ratio_minimums = plot_ratio_minimums(get, &d.plot_ratio_minimums)?;
    let number = |var: &'static str, default: u32| parse_or(get(var), var, || default);
    let lateness = LatenessRules {
        damages_permille_per_day: number(
            vars::LATE_DAMAGES_PERMILLE,
            d.lateness.damages_permille_per_day,
        )?,
        take_back_after_months: number(
            vars::TAKE_BACK_AFTER_MONTHS,
            d.lateness.take_back_after_months,
        )?,
    };
    let evaluation = EvaluationRules {
        rectification_days: number(vars::RECTIFICATION_DAYS, d.evaluation.rectification_days)?,
    };
    let idle = idle_rules(get, &d.idle)?;
    let low_efficiency = low_efficiency_rules(get, &d.low_efficiency)?;
    let min_unit_centi_m2: i64 = parse_or(
        get(vars::MIN_UNIT_CENTI_M2),
        vars::MIN_UNIT_CENTI_M2,
        || d.min_unit_centi_m2,
    )?;
    if min_unit_centi_m2 < 1 {
        return Err(ConfigError {
            var: vars::MIN_UNIT_CENTI_M2,
            reason: "must be positive".into(),
        });
    }
    let notice_departments = match get(vars::NOTICE_DEPARTMENTS) {
        None => d.notice_departments.clone(),
        Some(list) => departments(&list).map_err(|reason| ConfigError {
            var: vars::NOTICE_DEPARTMENTS,
            reason,
        })?,
    };
    Ok(LandRules {
        terms,
        plot_ratio_minimums,
        lateness,
        evaluation,
        idle,
        low_efficiency,
        min_unit_centi_m2,
        notice_departments,
        idle_notice_departments: d.idle_notice_departments,
        review_notice_departments: d.review_notice_departments,
        disposal_notice_departments: d.disposal_notice_departments,
    })
}

/// A number from its variable or its default, within `range`.
fn bounded(
    get: Get<'_>,
    var: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let value: u32 = parse_or(get(var), var, || default)?;
    if !range.contains(&value) {
        return Err(ConfigError {
            var,
            reason: format!("{} to {}", range.start(), range.end()),
        });
    }
    Ok(value)
}

/// The idle rule, its fee (0 to 100 %) and its take-back review (after the idle months).
fn idle_rules(get: Get<'_>, d: &IdleRules) -> Result<IdleRules, ConfigError> {
    let number = |var: &'static str, default: u32| parse_or(get(var), var, || default);
    let rules = IdleRules {
        not_started_months: number(vars::IDLE_NOT_STARTED_MONTHS, d.not_started_months)?,
        stopped_months: number(vars::IDLE_STOPPED_MONTHS, d.stopped_months)?,
        investment_percent: number(vars::IDLE_INVESTMENT_PERCENT, d.investment_percent)?,
        fee_percent: bounded(get, vars::IDLE_FEE_PERCENT, d.fee_percent, 0..=100)?,
        take_back_months: bounded(
            get,
            vars::IDLE_TAKE_BACK_MONTHS,
            d.take_back_months,
            1..=600,
        )?,
    };
    if rules.take_back_months < rules.not_started_months.max(rules.stopped_months) {
        return Err(ConfigError {
            var: vars::IDLE_TAKE_BACK_MONTHS,
            reason: "at least the months that make land idle".into(),
        });
    }
    Ok(rules)
}

fn low_efficiency_rules(
    get: Get<'_>,
    d: &LowEfficiencyRules,
) -> Result<LowEfficiencyRules, ConfigError> {
    Ok(LowEfficiencyRules {
        after_completion_months: bounded(
            get,
            vars::LOW_EFFICIENCY_AFTER_MONTHS,
            d.after_completion_months,
            0..=600,
        )?,
        threshold_percent: bounded(
            get,
            vars::LOW_EFFICIENCY_PERCENT,
            d.threshold_percent,
            1..=100,
        )?,
    })
}

/// The term rules: every term 1 to 70 years, the lease phase at most [`LEASE_YEARS_CAP`].
fn term_rules(get: Get<'_>, d: &TermRules) -> Result<TermRules, ConfigError> {
    let years = |var: &'static str, default: u32| -> Result<u32, ConfigError> {
        let value: u32 = parse_or(get(var), var, || default)?;
        if value == 0 || value > 70 {
            return Err(ConfigError {
                var,
                reason: "1 to 70 years".into(),
            });
        }
        Ok(value)
    };
    let terms = TermRules {
        industrial_max_years: years(vars::INDUSTRIAL_MAX_YEARS, d.industrial_max_years)?,
        commercial_max_years: years(vars::COMMERCIAL_MAX_YEARS, d.commercial_max_years)?,
        public_service_max_years: years(
            vars::PUBLIC_SERVICE_MAX_YEARS,
            d.public_service_max_years,
        )?,
        flexible_max_years: years(vars::FLEXIBLE_MAX_YEARS, d.flexible_max_years)?,
        lease_max_years: years(vars::LEASE_MAX_YEARS, d.lease_max_years)?,
        min_yearly_rent_permille: parse_or(
            get(vars::MIN_YEARLY_RENT_PERMILLE),
            vars::MIN_YEARLY_RENT_PERMILLE,
            || d.min_yearly_rent_permille,
        )?,
        long_lease_min_years: years(vars::LONG_LEASE_MIN_YEARS, d.long_lease_min_years)?,
        long_lease_max_years: years(vars::LONG_LEASE_MAX_YEARS, d.long_lease_max_years)?,
    };
    if terms.long_lease_min_years > terms.long_lease_max_years {
        return Err(ConfigError {
            var: vars::LONG_LEASE_MAX_YEARS,
            reason: format!("at least {} years", terms.long_lease_min_years),
        });
    }
    if terms.lease_max_years > LEASE_YEARS_CAP {
        return Err(ConfigError {
            var: vars::LEASE_MAX_YEARS,
            reason: format!("at most {LEASE_YEARS_CAP} years"),
        });
    }
    Ok(terms)
}

/// The segments' minimum plot ratios, 1 to 20000 thousandths each.
fn plot_ratio_minimums(
    get: Get<'_>,
    m: &PlotRatioMinimums,
) -> Result<PlotRatioMinimums, ConfigError> {
    let milli = |var: &'static str, default: i64| -> Result<i64, ConfigError> {
        let value: i64 = parse_or(get(var), var, || default)?;
        if !(1..=20_000).contains(&value) {
            return Err(ConfigError {
                var,
                reason: "1 to 20000 thousandths".into(),
            });
        }
        Ok(value)
    };
    Ok(PlotRatioMinimums {
        textile: milli(vars::PLOT_RATIO_MIN_TEXTILE, m.textile)?,
        apparel: milli(vars::PLOT_RATIO_MIN_APPAREL, m.apparel)?,
        luggage_leather: milli(vars::PLOT_RATIO_MIN_LUGGAGE_LEATHER, m.luggage_leather)?,
    })
}

/// `natural_resources,commerce` → departments; unknown names are refused.
fn departments(list: &str) -> Result<Vec<Department>, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let department =
            Department::parse(name).ok_or_else(|| format!("unknown department {name:?}"))?;
        if !out.contains(&department) {
            out.push(department);
        }
    }
    if out.is_empty() {
        return Err("name at least one department".into());
    }
    Ok(out)
}

impl ServiceConfig for Config {
    fn platform(&self) -> &PlatformConfig {
        &self.platform
    }
}

#[cfg(test)]
mod tests {
    use platform::config::lookup_in;

    use super::*;

    #[test]
    fn defaults_are_the_domain_reference_numbers() {
        let config = Config::from_lookup(lookup_in(&[])).unwrap();
        assert_eq!(config.rules, LandRules::default());
        assert_eq!(config.rules.terms.industrial_max_years, 50);
        assert_eq!(config.rules.terms.flexible_max_years, 20);
        assert_eq!(config.rules.terms.lease_max_years, 5);
        assert_eq!(config.rules.terms.min_yearly_rent_permille, 50);
        assert_eq!(config.rules.lateness.damages_permille_per_day, 1);
        assert_eq!(config.rules.lateness.take_back_after_months, 6);
        assert_eq!(config.rules.idle.fee_percent, 20);
        assert_eq!(config.rules.idle.take_back_months, 24);
        assert_eq!(config.rules.low_efficiency.threshold_percent, 50);
        assert_eq!(config.rules.terms.long_lease_min_years, 5);
        assert_eq!(config.rules.terms.long_lease_max_years, 20);
    }

    #[test]
    fn the_new_rules_are_bounded_and_refused_by_name() {
        for (var, bad) in [
            (vars::IDLE_FEE_PERCENT, "101"),
            (vars::IDLE_TAKE_BACK_MONTHS, "11"),
            (vars::LOW_EFFICIENCY_PERCENT, "0"),
            (vars::LONG_LEASE_MIN_YEARS, "21"),
        ] {
            let err = Config::from_lookup(lookup_in(&[(var, bad)])).unwrap_err();
            let want = if var == vars::LONG_LEASE_MIN_YEARS {
                vars::LONG_LEASE_MAX_YEARS
            } else {
                var
            };
            assert_eq!(err.var, want, "{var}={bad}");
        }
        let ok = Config::from_lookup(lookup_in(&[(vars::IDLE_FEE_PERCENT, "100")])).unwrap();
        assert_eq!(ok.rules.idle.fee_percent, 100);
    }

    #[test]
    fn a_lease_past_ten_years_and_unknown_departments_are_refused_by_name() {
        let err = Config::from_lookup(lookup_in(&[(vars::LEASE_MAX_YEARS, "11")])).unwrap_err();
        assert_eq!(err.var, vars::LEASE_MAX_YEARS);
        let ok = Config::from_lookup(lookup_in(&[(vars::LEASE_MAX_YEARS, "10")])).unwrap();
        assert_eq!(ok.rules.terms.lease_max_years, 10);
        let err =
            Config::from_lookup(lookup_in(&[(vars::NOTICE_DEPARTMENTS, "army")])).unwrap_err();
        assert_eq!(err.var, vars::NOTICE_DEPARTMENTS);
        let err =
            Config::from_lookup(lookup_in(&[(vars::FLEXIBLE_MAX_YEARS, "zero")])).unwrap_err();
        assert_eq!(err.var, vars::FLEXIBLE_MAX_YEARS);
    }
}
