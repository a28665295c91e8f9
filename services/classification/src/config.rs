//! Configuration of the classification service: the platform's part, the defaults of the
//! first model version, the re-ranker's timing, and the support-policy rules.
//!
//! The model settings seed version 1 only; after that the stored versions rule and a new one
//! is made through `SetModel`.

use std::time::Duration;

use platform::{
    ConfigError, PlatformConfig, ServiceConfig,
    config::{non_blank, parse_or},
};

use notices::NoticeSettings;

use crate::{
    clock::Clock,
    domain::{
        Indicator, Model, Weighted,
        calendar::{self, ObjectionWindow},
        explain,
        model::DEFAULT_CAP,
        policy::{self, NoticeRule},
    },
};

/// The gRPC port when `GRPC_ADDR` is not set.
pub const DEFAULT_GRPC_PORT: u16 = 50052;

/// Names of the environment variables this service reads besides the platform's.
pub mod vars {
    /// Share of class A in percent (default 10).
    pub const QUOTA_A_PERCENT: &str = "CLASSIFICATION_QUOTA_A_PERCENT";
    /// Share of class B in percent (default 30); C takes the rest.
    pub const QUOTA_B_PERCENT: &str = "CLASSIFICATION_QUOTA_B_PERCENT";
    /// Firms registered fewer years than this before the period's end are deferred (default 3).
    pub const DEFERRAL_YEARS: &str = "CLASSIFICATION_DEFERRAL_YEARS";
    /// Cap of value / benchmark of an indicator without its own (default 1.5).
    pub const INDICATOR_CAP: &str = "CLASSIFICATION_INDICATOR_CAP";
    /// Full model, `indicator=weight[:cap],…` (default tax_per_mu=30,output_per_mu=20,…).
    pub const WEIGHTS: &str = "CLASSIFICATION_WEIGHTS";
    /// Revenue (fen) under which the reduced model applies (default 2000000000, 20 M yuan).
    pub const REDUCED_REVENUE_THRESHOLD_FEN: &str = "CLASSIFICATION_REDUCED_REVENUE_THRESHOLD_FEN";
    /// Reduced model, same syntax as the weights (default tax_per_mu=70,tax_per_energy=30).
    pub const REDUCED_WEIGHTS: &str = "CLASSIFICATION_REDUCED_WEIGHTS";
    /// Four-digit industry classes exempt by type, comma-separated (default none).
    pub const EXEMPT_INDUSTRY_CLASSES: &str = "CLASSIFICATION_EXEMPT_INDUSTRY_CLASSES";
    /// Quiet time after the last change of a period before it is re-ranked (default 200 ms).
    pub const RERANK_DEBOUNCE_MS: &str = "CLASSIFICATION_RERANK_DEBOUNCE_MS";
    /// Longest a change waits for its re-rank while changes keep coming (default 2000 ms).
    pub const RERANK_MAX_DELAY_MS: &str = "CLASSIFICATION_RERANK_MAX_DELAY_MS";
    /// How often the re-ranker looks for work when no notification woke it (default 1000 ms).
    pub const RERANK_POLL_MS: &str = "CLASSIFICATION_RERANK_POLL_MS";
    /// Support-policy rules as a JSON array (default: the mapping of DOMAIN.md).
    pub const NOTICE_RULES: &str = "CLASSIFICATION_NOTICE_RULES";
    /// Quiet time after a period's last change of class before its notices go out: `30s`
    /// (the default), `500ms`, `2m`, or `0s` for at once after each re-rank.
    pub const NOTICE_SETTLE: &str = "CLASSIFICATION_NOTICE_SETTLE";
    /// Working days after the day of publication in which objections are accepted (default 5,
    /// 1 to 30).
    pub const OBJECTION_WORKING_DAYS: &str = "CLASSIFICATION_OBJECTION_WORKING_DAYS";
    /// Non-working days besides weekends (public holidays), comma-separated dates and
    /// inclusive ranges: `2026-01-01,2026-10-01..2026-10-07` (default none).
    pub const NON_WORKING_DAYS: &str = "CLASSIFICATION_NON_WORKING_DAYS";
    /// Saturdays and Sundays that are working days (adjusted working days), same syntax
    /// (default none).
    pub const EXTRA_WORKING_DAYS: &str = "CLASSIFICATION_EXTRA_WORKING_DAYS";
    /// Width in score points of the band an enterprise's own explanation rounds the next
    /// class's boundary score up to (default 5): the exact boundary is one named competitor's
    /// score. Departments see it exactly.
    pub const ENTERPRISE_BOUNDARY_BAND: &str = "CLASSIFICATION_ENTERPRISE_BOUNDARY_BAND";

    /// Every variable above, for documentation and deploy checks.
    pub const ALL: &[&str] = &[
        QUOTA_A_PERCENT,
        QUOTA_B_PERCENT,
        DEFERRAL_YEARS,
        INDICATOR_CAP,
        WEIGHTS,
        REDUCED_REVENUE_THRESHOLD_FEN,
        REDUCED_WEIGHTS,
        EXEMPT_INDUSTRY_CLASSES,
        RERANK_DEBOUNCE_MS,
        RERANK_MAX_DELAY_MS,
        RERANK_POLL_MS,
        NOTICE_RULES,
        NOTICE_SETTLE,
        OBJECTION_WORKING_DAYS,
        NON_WORKING_DAYS,
        EXTRA_WORKING_DAYS,
        ENTERPRISE_BOUNDARY_BAND,
    ];
}

/// When dirty periods are re-ranked.
#[derive(Debug, Clone)]
pub struct RerankConfig {
    /// A period is re-ranked once no change arrived for this long…
    pub debounce: Duration,
    /// …or once its oldest unranked change is this old, whichever comes first.
    pub max_delay: Duration,
    /// Fallback poll, for notifications lost while the listener reconnects.
    pub poll: Duration,
    /// A period's notices go out once its classes have not changed for this long.
    pub notice_settle: Duration,
}

/// The default of [`vars::NOTICE_SETTLE`].
pub const DEFAULT_NOTICE_SETTLE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Config {
    pub platform: PlatformConfig,
    /// Content of model version 1, stored when the database has no model yet.
    pub initial_model: Model,
    pub rerank: RerankConfig,
    pub notice_rules: Vec<NoticeRule>,
    /// The notice store's settings (its variables are in `notices::vars`).
    pub notices: NoticeSettings,
    /// How long objections to a published ranking are accepted.
    pub objection_window: ObjectionWindow,
    /// The band an enterprise's explanation rounds the boundary score up to.
    pub enterprise_boundary_band: f64,
    /// Where the time of the day-dependent rules is read: the system clock; a test fixes it.
    pub clock: Clock,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same as [`from_env`](Self::from_env) over any lookup, for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_lookup(crate::SPEC.name, DEFAULT_GRPC_PORT, &lookup)?;
        let get = non_blank(&lookup);
        Ok(Self {
            platform,
            initial_model: initial_model(&get)?,
            rerank: rerank(&get)?,
            notice_rules: notice_rules(&get)?,
            notices: NoticeSettings::from_lookup(&lookup)?,
            objection_window: objection_window(&get)?,
            enterprise_boundary_band: boundary_band(&get)?,
            clock: Clock::System,
        })
    }
}

/// A variable's value, `None` when unset or blank.
type Get<'a> = dyn Fn(&'static str) -> Option<String> + 'a;

/// The enterprise's boundary band: a finite number of points above zero.
fn boundary_band(get: &Get<'_>) -> Result<f64, ConfigError> {
    let var = vars::ENTERPRISE_BOUNDARY_BAND;
    let band: f64 = parse_or(get(var), var, || explain::DEFAULT_BOUNDARY_BAND)?;
    if band.is_finite() && band > 0.0 {
        Ok(band)
    } else {
        Err(ConfigError {
            var,
            reason: format!("{band} must be a number of score points above 0 (e.g. 5)"),
        })
    }
}

/// Model version 1 from the variables over the domain's defaults, validated as a whole.
fn initial_model(get: &Get<'_>) -> Result<Model, ConfigError> {
    let defaults = Model::default();
    let cap: f64 = parse_or(get(vars::INDICATOR_CAP), vars::INDICATOR_CAP, || {
        DEFAULT_CAP
    })?;
    let weights = |var: &'static str, default: &[Weighted]| match get(var) {
        None => Ok(default
            .iter()
            .map(|w| Weighted { cap, ..w.clone() })
            .collect()),
        Some(spec) => parse_weights(&spec, cap).map_err(|reason| ConfigError { var, reason }),
    };
    let mut model = Model {
        indicators: weights(vars::WEIGHTS, &defaults.indicators)?,
        quota_a_percent: parse_or(get(vars::QUOTA_A_PERCENT), vars::QUOTA_A_PERCENT, || {
            defaults.quota_a_percent
        })?,
        quota_b_percent: parse_or(get(vars::QUOTA_B_PERCENT), vars::QUOTA_B_PERCENT, || {
            defaults.quota_b_percent
        })?,
        deferral_years: parse_or(get(vars::DEFERRAL_YEARS), vars::DEFERRAL_YEARS, || {
            defaults.deferral_years
        })?,
        exempt_industry_classes: get(vars::EXEMPT_INDUSTRY_CLASSES)
            .map(|list| {
                list.split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        ..defaults.clone()
    };
    model.reduced.revenue_threshold_fen = parse_or(
        get(vars::REDUCED_REVENUE_THRESHOLD_FEN),
        vars::REDUCED_REVENUE_THRESHOLD_FEN,
        || defaults.reduced.revenue_threshold_fen,
    )?;
    model.reduced.indicators = weights(vars::REDUCED_WEIGHTS, &defaults.reduced.indicators)?;
    match model.validate().into_iter().next() {
        Some((field, reason)) => Err(model_error(&field, &reason)),
        None => Ok(model),
    }
}

/// A problem of the model as a whole, named by the variable that set the field.
fn model_error(field: &str, reason: &str) -> ConfigError {
    let var = match field {
        "quota_a_percent" => vars::QUOTA_A_PERCENT,
        "quota_b_percent" => vars::QUOTA_B_PERCENT,
        "deferral_years" => vars::DEFERRAL_YEARS,
        f if f.starts_with("reduced_model.revenue") => vars::REDUCED_REVENUE_THRESHOLD_FEN,
        f if f.starts_with("reduced_model") => vars::REDUCED_WEIGHTS,
        f if f.starts_with("exempt_industry") => vars::EXEMPT_INDUSTRY_CLASSES,
        f if f.ends_with(".cap") => vars::INDICATOR_CAP,
        _ => vars::WEIGHTS,
    };
    ConfigError {
        var,
        reason: format!("{field}: {reason}"),
    }
}

fn rerank(get: &Get<'_>) -> Result<RerankConfig, ConfigError> {
    let millis = |var, default: u64| parse_or(get(var), var, || default).map(Duration::from_millis);
    Ok(RerankConfig {
        debounce: millis(vars::RERANK_DEBOUNCE_MS, 200)?,
        max_delay: millis(vars::RERANK_MAX_DELAY_MS, 2_000)?,
        poll: millis(vars::RERANK_POLL_MS, 1_000)?,
        notice_settle: match get(vars::NOTICE_SETTLE) {
            None => DEFAULT_NOTICE_SETTLE,
            Some(text) => parse_duration(&text).map_err(|reason| ConfigError {
                var: vars::NOTICE_SETTLE,
                reason,
            })?,
        },
    })
}

/// A whole number with a unit: `ms`, `s` or `m` (`30s`, `500ms`, `2m`, `0s`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?}: expected a number with a unit (ms, s or m), e.g. 30s"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a whole number before the unit, e.g. 30s"))?;
    let millis_per_unit = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s or m)")),
    };
    number
        .checked_mul(millis_per_unit)
        .filter(|ms| *ms <= 24 * 3_600_000)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?}: at most a day (1440m)"))
}

/// The objection window: its length and the calendar of working days it is counted in (the
/// platform's one calendar).
fn objection_window(get: &Get<'_>) -> Result<ObjectionWindow, ConfigError> {
    calendar::window_from(
        get,
        calendar::WindowVars {
            working_days: vars::OBJECTION_WORKING_DAYS,
            min_days: 1,
            non_working_days: vars::NON_WORKING_DAYS,
            extra_working_days: vars::EXTRA_WORKING_DAYS,
        },
    )
}

/// The support-policy rules: the domain's mapping, or a JSON array replacing it.
fn notice_rules(get: &Get<'_>) -> Result<Vec<NoticeRule>, ConfigError> {
    let rules = match get(vars::NOTICE_RULES) {
        None => policy::default_rules(),
        Some(json) => serde_json::from_str(&json).map_err(|err| ConfigError {
            var: vars::NOTICE_RULES,
            reason: format!("not a JSON array of rules: {err}"),
        })?,
    };
    policy::validate_rules(&rules).map_err(|reason| ConfigError {
        var: vars::NOTICE_RULES,
        reason,
    })?;
    Ok(rules)
}

/// Parses `tax_per_mu=30,output_per_mu=20:1.2,…` (`indicator=weight[:cap]`).
fn parse_weights(spec: &str, default_cap: f64) -> Result<Vec<Weighted>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (name, rest) = item
                .split_once('=')
                .ok_or(format!("{item:?}: expected indicator=weight[:cap]"))?;
            let indicator = Indicator::parse(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = Indicator::ALL.iter().map(|i| i.name()).collect();
                format!("unknown indicator {name:?}; known: {}", known.join(", "))
            })?;
            let (weight, cap) = match rest.split_once(':') {
                Some((w, c)) => (w, Some(c)),
                None => (rest, None),
            };
            let weight = weight
                .trim()
                .parse()
                .map_err(|e| format!("{item:?}: weight: {e}"))?;
            let cap = match cap {
                Some(c) => c
                    .trim()
                    .parse()
                    .map_err(|e| format!("{item:?}: cap: {e}"))?,
                None => default_cap,
            };
            Ok(Weighted {
                indicator,
                weight,
                cap,
            })
        })
        .collect()
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
    fn defaults_are_the_domain_defaults() {
        let config = load(&[]).unwrap();
        assert_eq!(config.initial_model, Model::default());
        assert_eq!(config.notice_rules, policy::default_rules());
        assert_eq!(config.rerank.debounce, Duration::from_millis(200));
        assert_eq!(config.rerank.max_delay, Duration::from_secs(2));
        assert_eq!(config.rerank.notice_settle, Duration::from_secs(30));
        assert_eq!(config.objection_window, ObjectionWindow::default());
        assert_eq!(config.objection_window.working_days, 5);
    }

    #[test]
    fn the_objection_window_is_read_and_bad_values_are_named() {
        let config = load(&[
            (vars::OBJECTION_WORKING_DAYS, "3"),
            (vars::NON_WORKING_DAYS, "2026-10-01..2026-10-07, 2026-01-01"),
            (vars::EXTRA_WORKING_DAYS, "2026-10-10"),
        ])
        .unwrap();
        let window = config.objection_window;
        assert_eq!(window.working_days, 3);
        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert!(!window.calendar.is_working_day(day("2026-10-05")));
        assert!(!window.calendar.is_working_day(day("2026-01-01")));
        assert!(window.calendar.is_working_day(day("2026-10-10")));

        for (var, value) in [
            (vars::OBJECTION_WORKING_DAYS, "0"),
            (vars::OBJECTION_WORKING_DAYS, "31"),
            (vars::OBJECTION_WORKING_DAYS, "five"),
            (vars::NON_WORKING_DAYS, "2026-02-30"),
            (vars::NON_WORKING_DAYS, "2026-10-07..2026-10-01"),
            (vars::EXTRA_WORKING_DAYS, "2026-10-12"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}: {err}");
        }
        // A day in both lists is named by the list of adjusted working days.
        let err = load(&[
            (vars::NON_WORKING_DAYS, "2026-10-10"),
            (vars::EXTRA_WORKING_DAYS, "2026-10-10"),
        ])
        .unwrap_err();
        assert_eq!(err.var, vars::EXTRA_WORKING_DAYS, "{err}");
    }

    #[test]
    fn the_settle_time_takes_a_unit_and_bad_ones_are_named() {
        let settle =
            |text: &str| load(&[(vars::NOTICE_SETTLE, text)]).map(|c| c.rerank.notice_settle);
        assert_eq!(settle("0s").unwrap(), Duration::ZERO);
        assert_eq!(settle("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(settle(" 2m ").unwrap(), Duration::from_secs(120));
        assert_eq!(settle("45s").unwrap(), Duration::from_secs(45));
        for bad in [
            "30",
            "s",
            "-1s",
            "1.5s",
            "10h",
            "1441m",
            "99999999999999999999s",
        ] {
            let err = settle(bad).unwrap_err();
            assert_eq!(err.var, vars::NOTICE_SETTLE, "{bad}: {err}");
        }
    }

    #[test]
    fn weights_quotas_and_rules_are_read_and_bad_ones_named() {
        let config = load(&[
            (vars::WEIGHTS, "tax_per_mu=60, export_share=40:2"),
            (vars::QUOTA_A_PERCENT, "5"),
            (vars::EXEMPT_INDUSTRY_CLASSES, "5131, 5132"),
        ])
        .unwrap();
        let model = config.initial_model;
        assert_eq!(
            model.indicators[0],
            Weighted::new(Indicator::TaxPerMu, 60.0)
        );
        assert_eq!(model.indicators[1].cap, 2.0);
        assert_eq!(model.quota_a_percent, 5.0);
        assert!(model.exempt_industry_classes.contains("5132"));

        for (var, value) in [
            (vars::WEIGHTS, "tax_per_acre=1"),
            (vars::QUOTA_B_PERCENT, "95"),
            (vars::RERANK_DEBOUNCE_MS, "soon"),
            (vars::NOTICE_RULES, "[{}]"),
            (vars::EXEMPT_INDUSTRY_CLASSES, "17"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{err}");
        }
    }
}
