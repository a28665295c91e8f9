//! Configuration of the census service: the platform's part and the census's own rules.

use platform::{
    ConfigError, PlatformConfig, ServiceConfig,
    config::{non_blank, parse_or},
};

use crate::domain::Rules;

/// The gRPC port when `GRPC_ADDR` is not set.
pub const DEFAULT_GRPC_PORT: u16 = 50051;

/// Names of the census's own environment variables, declared once.
pub mod vars {
    /// R&D spend may exceed revenue times this factor only when the return carries
    /// `rd_exceeds_revenue_flag`; default 1.0.
    pub const RD_REVENUE_FACTOR: &str = "CENSUS_RD_REVENUE_FACTOR";
    /// Rows of an import stored per transaction; default 2,000 (500-row batches imported at 0.7x
    /// the speed, BENCHMARKS.md).
    pub const IMPORT_BATCH_ROWS: &str = "CENSUS_IMPORT_BATCH_ROWS";
    /// Rows one ImportReturns stream may carry; beyond them the stream is refused with
    /// RESOURCE_EXHAUSTED ("split the file"); default 200,000.
    pub const IMPORT_MAX_ROWS: &str = "CENSUS_IMPORT_MAX_ROWS";

    /// Every variable above, for documentation and deploy checks.
    pub const ALL: &[&str] = &[RD_REVENUE_FACTOR, IMPORT_BATCH_ROWS, IMPORT_MAX_ROWS];
}

#[derive(Debug, Clone)]
pub struct Config {
    pub platform: PlatformConfig,
    /// The local choices of the census rules.
    pub rules: Rules,
    /// Rows of an import written in one transaction: larger batches mean fewer round trips,
    /// smaller ones shorter locks.
    pub import_batch_rows: usize,
    /// Rows one import may carry: a cap on the work (and the report) one call can demand.
    pub import_max_rows: u64,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same as [`from_env`](Self::from_env) over any lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let platform = PlatformConfig::from_lookup(crate::SPEC.name, DEFAULT_GRPC_PORT, &lookup)?;
        let get = non_blank(&lookup);
        let factor: f64 = parse_or(
            get(vars::RD_REVENUE_FACTOR),
            vars::RD_REVENUE_FACTOR,
            || 1.0,
        )?;
        if !(factor.is_finite() && factor > 0.0) {
            return Err(ConfigError {
                var: vars::RD_REVENUE_FACTOR,
                reason: format!("{factor} must be a positive number"),
            });
        }
        let import_batch_rows: usize = parse_or(
            get(vars::IMPORT_BATCH_ROWS),
            vars::IMPORT_BATCH_ROWS,
            || 2000,
        )?;
        if !(1..=10_000).contains(&import_batch_rows) {
            return Err(ConfigError {
                var: vars::IMPORT_BATCH_ROWS,
                reason: format!("{import_batch_rows} must be between 1 and 10000"),
            });
        }
        // Twice the bench's 100,000-row file; a city's census is tens of thousands of firms.
        let import_max_rows: u64 =
            parse_or(get(vars::IMPORT_MAX_ROWS), vars::IMPORT_MAX_ROWS, || {
                200_000
            })?;
        if import_max_rows == 0 {
            return Err(ConfigError {
                var: vars::IMPORT_MAX_ROWS,
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            platform,
            rules: Rules {
                rd_revenue_factor: factor,
            },
            import_batch_rows,
            import_max_rows,
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

    use platform::config::lookup_in as lookup;

    #[test]
    fn the_rd_factor_defaults_to_one_and_can_be_set() {
        let config = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(config.rules.rd_revenue_factor, 1.0);
        assert_eq!(config.import_batch_rows, 2000);
        assert_eq!(config.import_max_rows, 200_000);
        let config = Config::from_lookup(lookup(&[(vars::RD_REVENUE_FACTOR, "1.5")])).unwrap();
        assert_eq!(config.rules.rd_revenue_factor, 1.5);
    }

    #[test]
    fn a_bad_factor_or_batch_size_is_named() {
        for (var, value) in [
            (vars::RD_REVENUE_FACTOR, "-1"),
            (vars::RD_REVENUE_FACTOR, "NaN"),
            (vars::RD_REVENUE_FACTOR, "lots"),
            (vars::IMPORT_BATCH_ROWS, "0"),
            (vars::IMPORT_MAX_ROWS, "0"),
            (vars::IMPORT_MAX_ROWS, "many"),
        ] {
            let err = Config::from_lookup(lookup(&[(var, value)])).unwrap_err();
            assert_eq!(err.var, var);
        }
    }
}
