//! The settings of the per-caller limits and of reflection, read from the environment like
//! the rest of [`crate::config`] (whose [`vars`] declares their names).

use std::{fmt, str::FromStr, time::Duration};

use crate::config::{ConfigError, parse_or, vars};

/// Calls a principal may make per unit of time in one method group, with a burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Calls per `per`.
    pub calls: u32,
    pub per: Duration,
    /// Calls that may come at once after a quiet spell (the bucket's size).
    pub burst: u32,
}

impl Rate {
    /// Tokens refilled per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.calls) / self.per.as_secs_f64()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit},{}", self.calls, self.burst)
    }
}

/// A rate limit: `off`, or `CALLS/UNIT[,BURST]` with the unit `s`, `m` or `h`
/// (`200/s,400`; `60/m` has a burst of 60, one unit's worth).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit(pub Option<Rate>);

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "off" {
            return Ok(Self(None));
        }
        let expected =
            "expected `off` or CALLS/UNIT[,BURST] with the unit s, m or h (e.g. 200/s,400)";
        let (rate, burst) = match text.split_once(',') {
            Some((rate, burst)) => (rate, Some(burst.trim())),
            None => (text, None),
        };
        let (calls, unit) = rate.split_once('/').ok_or(expected)?;
        let calls: u32 = calls.trim().parse().map_err(|_| expected)?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(expected.into()),
        };
        let burst: u32 = match burst {
            Some(burst) => burst.parse().map_err(|_| expected)?,
            None => calls,
        };
        if calls == 0 || burst == 0 {
            return Err(
                "calls and burst must be more than zero (`off` turns the limit off)".into(),
            );
        }
        Ok(Self(Some(Rate { calls, per, burst })))
    }
}

/// Whether and to whom the process serves gRPC reflection (`grpc.reflection.v1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reflection {
    /// Not served: UNIMPLEMENTED, as for any method the process does not serve.
    Off,
    /// Anyone, without a token (the local default, for grpcurl and similar tools).
    Public,
    /// Callers holding this scope.
    Scope(String),
}

impl FromStr for Reflection {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(Self::Off),
            "public" => Ok(Self::Public),
            _ => match text.strip_prefix("scope:").map(str::trim) {
                Some(scope) if !scope.is_empty() && !scope.contains(char::is_whitespace) => {
                    Ok(Self::Scope(scope.to_string()))
                }
                _ => Err("expected off, public or scope:<scope> (e.g. scope:reflection)".into()),
            },
        }
    }
}

/// Per-caller limits (see [`super`]) and reflection.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitsConfig {
    /// Per principal, for methods whose scope ends in `.read` (`RATE_LIMIT_READS`).
    pub reads: RateLimit,
    /// Per principal, for the other unary methods (`RATE_LIMIT_WRITES`).
    pub writes: RateLimit,
    /// Per principal, for client-streaming methods, counted by call (`RATE_LIMIT_IMPORTS`).
    pub imports: RateLimit,
    /// Server streams one principal may hold open (`WATCH_STREAMS_PER_PRINCIPAL`).
    pub streams_per_principal: usize,
    /// Server streams of authenticated callers open in the process (`WATCH_STREAMS_MAX`);
    /// below `MAX_CONCURRENT_REQUESTS`, so streams leave permits for unary calls.
    pub streams_max: usize,
    /// `GRPC_REFLECTION`.
    pub reflection: Reflection,
}

/// Far above what the bench drives from one principal (about 4,000 file reads per second on
/// two cores), so that only a configured limit is ever met on a laptop.
pub const DEFAULT_READS: &str = "10000/s,20000";
pub const DEFAULT_WRITES: &str = "5000/s,10000";
pub const DEFAULT_IMPORTS: &str = "50/s,100";
pub const DEFAULT_STREAMS_PER_PRINCIPAL: usize = 16;
pub const DEFAULT_STREAMS_MAX: usize = 128;

impl LimitsConfig {
    /// Reads the limits through `get` (a non-blank lookup); `max_concurrent_requests` is the
    /// process-wide cap the stream cap must stay below.
    pub fn from_lookup(
        get: impl Fn(&'static str) -> Option<String>,
        max_concurrent_requests: usize,
    ) -> Result<Self, ConfigError> {
        let rate = |var: &'static str, default: &str| {
            parse_or(get(var), var, || {
                default.parse::<RateLimit>().expect("a valid default")
            })
        };
        // The stream caps' defaults shrink with a small global cap.
        let streams_max = parse_or(
            get(vars::WATCH_STREAMS_MAX),
            vars::WATCH_STREAMS_MAX,
            || DEFAULT_STREAMS_MAX.min(max_concurrent_requests.saturating_sub(1)),
        )?;
        let config = Self {
            reads: rate(vars::RATE_LIMIT_READS, DEFAULT_READS)?,
            writes: rate(vars::RATE_LIMIT_WRITES, DEFAULT_WRITES)?,
            imports: rate(vars::RATE_LIMIT_IMPORTS, DEFAULT_IMPORTS)?,
            streams_per_principal: parse_or(
                get(vars::WATCH_STREAMS_PER_PRINCIPAL),
                vars::WATCH_STREAMS_PER_PRINCIPAL,
                || DEFAULT_STREAMS_PER_PRINCIPAL.min(streams_max),
            )?,
            streams_max,
            reflection: parse_or(get(vars::GRPC_REFLECTION), vars::GRPC_REFLECTION, || {
                Reflection::Public
            })?,
        };
        let invalid = |var, reason: String| Err(ConfigError { var, reason });
        if config.streams_max == 0 || config.streams_max >= max_concurrent_requests {
            return invalid(
                vars::WATCH_STREAMS_MAX,
                format!(
                    "{} must be at least 1 and below {} ({max_concurrent_requests}): open \
                     streams hold admission permits, and unary calls need some too",
                    config.streams_max,
                    vars::MAX_CONCURRENT_REQUESTS
                ),
            );
        }
        if config.streams_per_principal == 0 {
            return invalid(
                vars::WATCH_STREAMS_PER_PRINCIPAL,
                "must be at least 1".into(),
            );
        }
        if config.streams_per_principal > config.streams_max {
            return invalid(
                vars::WATCH_STREAMS_PER_PRINCIPAL,
                format!(
                    "{} is more than {} ({})",
                    config.streams_per_principal,
                    vars::WATCH_STREAMS_MAX,
                    config.streams_max
                ),
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PlatformConfig, lookup_in as lookup};

    #[test]
    fn rates_read_with_a_unit_and_an_optional_burst() {
        let rate = |text: &str| text.parse::<RateLimit>().map(|r| r.0);
        assert_eq!(
            rate("200/s,400"),
            Ok(Some(Rate {
                calls: 200,
                per: Duration::from_secs(1),
                burst: 400
            }))
        );
        let per_minute = rate("60/m").unwrap().unwrap();
        assert_eq!((per_minute.burst, per_minute.per_second()), (60, 1.0));
        assert_eq!(rate("1/h,2").unwrap().unwrap().to_string(), "1/h,2");
        assert_eq!(rate("off"), Ok(None));
        for bad in [
            "200", "0/s", "5/s,0", "5/d", "-1/s", "five/s", "5/s,lots", "",
        ] {
            assert!(rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reflection_is_off_public_or_a_scope() {
        assert_eq!("off".parse(), Ok(Reflection::Off));
        assert_eq!("public".parse(), Ok(Reflection::Public));
        assert_eq!(
            "scope:ops.reflection".parse(),
            Ok(Reflection::Scope("ops.reflection".into()))
        );
        for bad in ["scope:", "scope: a b", "on", "Public"] {
            assert!(bad.parse::<Reflection>().is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_are_generous_and_streams_stay_below_the_global_cap() {
        let config = PlatformConfig::from_lookup("census", 1, lookup(&[])).unwrap();
        assert_eq!(config.limits.streams_max, DEFAULT_STREAMS_MAX);
        assert_eq!(config.limits.reflection, Reflection::Public);
        assert!(config.limits.streams_max < config.max_concurrent_requests);

        let small = [(vars::MAX_CONCURRENT_REQUESTS, "4")];
        let config = PlatformConfig::from_lookup("census", 1, lookup(&small)).unwrap();
        assert_eq!(config.limits.streams_per_principal, 3);
        assert_eq!(
            config.limits.streams_max, 3,
            "the default follows a small cap"
        );
    }

    #[test]
    fn bad_limits_are_named() {
        for (var, value) in [
            (vars::RATE_LIMIT_READS, "fast"),
            (vars::RATE_LIMIT_WRITES, "10/s,0"),
            (vars::RATE_LIMIT_IMPORTS, "1/week"),
            (vars::WATCH_STREAMS_PER_PRINCIPAL, "0"),
            (vars::WATCH_STREAMS_MAX, "256"),
            (vars::WATCH_STREAMS_MAX, "0"),
            (vars::WATCH_STREAMS_PER_PRINCIPAL, "129"),
            (vars::GRPC_REFLECTION, "yes"),
        ] {
            let err =
                PlatformConfig::from_lookup("census", 1, lookup(&[(var, value)])).expect_err(value);
            assert_eq!(err.var, var, "{value}");
        }
    }
}
