//! Configuration of the trade-fair service: the platform's part and the bureau's rules with
//! their defaults (every default of the issue is here, each behind one variable).

use std::time::Duration;

use platform::{
    ConfigError, PlatformConfig, ServiceConfig,
    config::{non_blank, parse_or},
};

pub use crate::domain::Rules;
use crate::domain::{eligibility::Thresholds, subsidy::SubsidyPolicy};

/// The gRPC port when `GRPC_ADDR` is not set.
pub const DEFAULT_GRPC_PORT: u16 = 50054;

/// Names of the environment variables this service reads besides the platform's.
pub mod vars {
    /// Export sales (fen) a trading firm (segment `TRADE`, or no segment known) needs in its
    /// latest year for an external fair (default 1050000000, 10.5 M yuan ≈ 1.5 M USD).
    pub const MIN_EXPORT_SALES_TRADE_FEN: &str = "TRADE_FAIR_MIN_EXPORT_SALES_TRADE_FEN";
    /// … a producer (a manufacturing segment) needs (default 525000000, 5.25 M yuan ≈
    /// 0.75 M USD).
    pub const MIN_EXPORT_SALES_PRODUCER_FEN: &str = "TRADE_FAIR_MIN_EXPORT_SALES_PRODUCER_FEN";
    /// Sessions of a fair's kind a firm that broke the rules at one of them is barred from
    /// (default 4, as the Canton Fair does).
    pub const BREACH_BARRED_SESSIONS: &str = "TRADE_FAIR_BREACH_BARRED_SESSIONS";
    /// Default share of booths kept for small firms, percent (default 20).
    pub const SMALL_FIRM_RESERVE_PERCENT: &str = "TRADE_FAIR_SMALL_FIRM_RESERVE_PERCENT";
    /// Default share of booths kept for invited A-class firms until the window closes (default 10).
    pub const A_CLASS_RESERVE_PERCENT: &str = "TRADE_FAIR_A_CLASS_RESERVE_PERCENT";
    /// Default most booths per firm and fair (default 10).
    pub const PER_FIRM_CAP: &str = "TRADE_FAIR_PER_FIRM_CAP";
    /// How long a waitlist offer holds its booths, hours (default 48).
    pub const OFFER_HOLD_HOURS: &str = "TRADE_FAIR_OFFER_HOLD_HOURS";
    /// Share of the booth fee a cancellation after the window costs, percent (default 30).
    pub const LATE_CANCELLATION_FEE_PERCENT: &str = "TRADE_FAIR_LATE_CANCELLATION_FEE_PERCENT";
    /// Subsidy share of the booth fee for domestic-market fairs, percent (default 0).
    pub const SUBSIDY_DOMESTIC_PERCENT: &str = "TRADE_FAIR_SUBSIDY_DOMESTIC_PERCENT";
    /// … for traditional export markets (default 50).
    pub const SUBSIDY_TRADITIONAL_PERCENT: &str = "TRADE_FAIR_SUBSIDY_TRADITIONAL_PERCENT";
    /// … for emerging markets (default 70).
    pub const SUBSIDY_EMERGING_PERCENT: &str = "TRADE_FAIR_SUBSIDY_EMERGING_PERCENT";
    /// Most subsidy per booth, fen (default 3000000, 30,000 yuan).
    pub const SUBSIDY_PER_BOOTH_CAP_FEN: &str = "TRADE_FAIR_SUBSIDY_PER_BOOTH_CAP_FEN";
    /// Most subsidy per firm and year, fen (default 20000000, 200,000 yuan).
    pub const SUBSIDY_PER_FIRM_YEAR_CAP_FEN: &str = "TRADE_FAIR_SUBSIDY_PER_FIRM_YEAR_CAP_FEN";
    /// The yearly subsidy budget, fen, for years without one set through the API (default
    /// 500000000, 5 M yuan).
    pub const SUBSIDY_YEARLY_BUDGET_FEN: &str = "TRADE_FAIR_SUBSIDY_YEARLY_BUDGET_FEN";
    /// How often offers are expired, reserves released and open fairs swept for
    /// invitations, ms (default 5000).
    pub const SWEEP_MS: &str = "TRADE_FAIR_SWEEP_MS";

    /// Every variable above, for documentation and deploy checks.
    pub const ALL: &[&str] = &[
        MIN_EXPORT_SALES_TRADE_FEN,
        MIN_EXPORT_SALES_PRODUCER_FEN,
        BREACH_BARRED_SESSIONS,
        SMALL_FIRM_RESERVE_PERCENT,
        A_CLASS_RESERVE_PERCENT,
        PER_FIRM_CAP,
        OFFER_HOLD_HOURS,
        LATE_CANCELLATION_FEE_PERCENT,
        SUBSIDY_DOMESTIC_PERCENT,
        SUBSIDY_TRADITIONAL_PERCENT,
        SUBSIDY_EMERGING_PERCENT,
        SUBSIDY_PER_BOOTH_CAP_FEN,
        SUBSIDY_PER_FIRM_YEAR_CAP_FEN,
        SUBSIDY_YEARLY_BUDGET_FEN,
        SWEEP_MS,
    ];
}

#[derive(Debug, Clone)]
pub struct Config {
    pub platform: PlatformConfig,
    pub rules: Rules,
    /// Period of the background sweep.
    pub sweep: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same as [`from_env`](Self::from_env) over any lookup, for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_lookup(crate::SPEC.name, DEFAULT_GRPC_PORT, &lookup)?;
        let read = Read(Box::new(non_blank(&lookup)));
        Ok(Self {
            platform,
            rules: rules(&read)?,
            sweep: Duration::from_millis(u64::from(read.positive(vars::SWEEP_MS, 5_000)?)),
        })
    }
}

/// Reads the service's variables, each checked for its kind of number.
struct Read<'a>(Box<dyn Fn(&'static str) -> Option<String> + 'a>);

impl Read<'_> {
    fn percent(&self, var: &'static str, default: u32) -> Result<u32, ConfigError> {
        let value: u32 = parse_or((self.0)(var), var, || default)?;
        if value > 100 {
            return Err(ConfigError {
                var,
                reason: format!("{value} is more than 100 %"),
            });
        }
        Ok(value)
    }

    fn money(&self, var: &'static str, default: i64) -> Result<i64, ConfigError> {
        let value: i64 = parse_or((self.0)(var), var, || default)?;
        if value < 0 {
            return Err(ConfigError {
                var,
                reason: "must not be negative".into(),
            });
        }
        Ok(value)
    }

    fn positive(&self, var: &'static str, default: u32) -> Result<u32, ConfigError> {
        let value: u32 = parse_or((self.0)(var), var, || default)?;
        if value == 0 {
            return Err(ConfigError {
                var,
                reason: "must be at least 1".into(),
            });
        }
        Ok(value)
    }
}

/// The bureau's rules from their variables (the defaults of [`Rules::default`]).
fn rules(read: &Read) -> Result<Rules, ConfigError> {
    let d = Rules::default();
    let small = read.percent(
        vars::SMALL_FIRM_RESERVE_PERCENT,
        d.default_small_firm_reserve_percent,
    )?;
    let a_class = read.percent(
        vars::A_CLASS_RESERVE_PERCENT,
        d.default_a_class_reserve_percent,
    )?;
    if small + a_class > 100 {
        return Err(ConfigError {
            var: vars::A_CLASS_RESERVE_PERCENT,
            reason: "the two reserves together exceed 100 %".into(),
        });
    }
    Ok(Rules {
        export_thresholds: Thresholds {
            trade_fen: read.money(
                vars::MIN_EXPORT_SALES_TRADE_FEN,
                d.export_thresholds.trade_fen,
            )?,
            producer_fen: read.money(
                vars::MIN_EXPORT_SALES_PRODUCER_FEN,
                d.export_thresholds.producer_fen,
            )?,
        },
        breach_barred_sessions: read
            .positive(vars::BREACH_BARRED_SESSIONS, d.breach_barred_sessions)?,
        default_small_firm_reserve_percent: small,
        default_a_class_reserve_percent: a_class,
        default_per_firm_cap: read.positive(vars::PER_FIRM_CAP, d.default_per_firm_cap)?,
        offer_hold: chrono::Duration::hours(i64::from(read.positive(vars::OFFER_HOLD_HOURS, 48)?)),
        late_cancellation_fee_percent: read.percent(
            vars::LATE_CANCELLATION_FEE_PERCENT,
            d.late_cancellation_fee_percent,
        )?,
        subsidy: subsidy_policy(read, &d.subsidy)?,
        default_yearly_budget_fen: read
            .money(vars::SUBSIDY_YEARLY_BUDGET_FEN, d.default_yearly_budget_fen)?,
    })
}

fn subsidy_policy(read: &Read, d: &SubsidyPolicy) -> Result<SubsidyPolicy, ConfigError> {
    Ok(SubsidyPolicy {
        domestic_percent: read.percent(vars::SUBSIDY_DOMESTIC_PERCENT, d.domestic_percent)?,
        traditional_percent: read
            .percent(vars::SUBSIDY_TRADITIONAL_PERCENT, d.traditional_percent)?,
        emerging_percent: read.percent(vars::SUBSIDY_EMERGING_PERCENT, d.emerging_percent)?,
        per_booth_cap_fen: read.money(vars::SUBSIDY_PER_BOOTH_CAP_FEN, d.per_booth_cap_fen)?,
        per_firm_year_cap_fen: read
            .money(vars::SUBSIDY_PER_FIRM_YEAR_CAP_FEN, d.per_firm_year_cap_fen)?,
    })
}

impl ServiceConfig for Config {
    fn platform(&self) -> &PlatformConfig {
        &self.platform
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(platform::config::lookup_in(pairs))
    }

    #[test]
    fn defaults_are_the_issue_s() {
        let config = load(&[]).unwrap();
        assert_eq!(config.rules, Rules::default());
        assert_eq!(config.rules.default_small_firm_reserve_percent, 20);
        assert_eq!(config.rules.offer_hold, chrono::Duration::hours(48));
        assert_eq!(config.rules.subsidy.traditional_percent, 50);
        assert_eq!(config.rules.subsidy.emerging_percent, 70);
    }

    #[test]
    fn values_are_read_and_bad_ones_named() {
        let config = load(&[
            (vars::OFFER_HOLD_HOURS, "24"),
            (vars::MIN_EXPORT_SALES_TRADE_FEN, "5"),
            (vars::MIN_EXPORT_SALES_PRODUCER_FEN, "3"),
            (vars::BREACH_BARRED_SESSIONS, "2"),
        ])
        .unwrap();
        assert_eq!(config.rules.offer_hold, chrono::Duration::hours(24));
        assert_eq!(config.rules.export_thresholds.trade_fen, 5);
        assert_eq!(config.rules.export_thresholds.producer_fen, 3);
        assert_eq!(config.rules.breach_barred_sessions, 2);
        for (var, value) in [
            (vars::SMALL_FIRM_RESERVE_PERCENT, "120"),
            (vars::A_CLASS_RESERVE_PERCENT, "90"),
            (vars::OFFER_HOLD_HOURS, "0"),
            (vars::SUBSIDY_PER_BOOTH_CAP_FEN, "-1"),
            (vars::SWEEP_MS, "often"),
            (vars::MIN_EXPORT_SALES_PRODUCER_FEN, "-1"),
            (vars::BREACH_BARRED_SESSIONS, "0"),
        ] {
            assert_eq!(load(&[(var, value)]).unwrap_err().var, var);
        }
    }
}
