//! The `AUTH_JWT_*` variables: whether and how a service accepts JWTs.

use std::time::Duration;

use super::jwt::{DEFAULT_ALGORITHMS, JwksSource, JwtSettings, parse_algorithms};
use crate::config::{ConfigError, span_or, vars};

/// How often the JWKS is read again when `AUTH_JWT_JWKS_REFRESH` is not set.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(10 * 60);

impl JwtSettings {
    /// The JWT settings, or `None` when `AUTH_JWT_ISSUER` is not set (JWTs are then refused).
    /// With an issuer, `AUTH_JWT_JWKS` is required; the audience defaults to the service's
    /// name. Any other `AUTH_JWT_*` variable without an issuer is an error: a half-done
    /// configuration must not pass for a finished one.
    pub fn from_lookup(
        get: impl Fn(&'static str) -> Option<String>,
        service_name: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = get(vars::AUTH_JWT_ISSUER) else {
            let stray = [
                vars::AUTH_JWT_AUDIENCE,
                vars::AUTH_JWT_JWKS,
                vars::AUTH_JWT_ALGORITHMS,
                vars::AUTH_JWT_JWKS_REFRESH,
            ]
            .into_iter()
            .find(|var| get(var).is_some());
            return match stray {
                Some(var) => Err(ConfigError {
                    var,
                    reason: format!("is set but {} is not", vars::AUTH_JWT_ISSUER),
                }),
                None => Ok(None),
            };
        };
        let jwks = get(vars::AUTH_JWT_JWKS).ok_or_else(|| ConfigError {
            var: vars::AUTH_JWT_JWKS,
            reason: format!(
                "required with {}: the identity provider's key set (a file or an https URL)",
                vars::AUTH_JWT_ISSUER
            ),
        })?;
        let jwks = JwksSource::parse(&jwks).map_err(|reason| ConfigError {
            var: vars::AUTH_JWT_JWKS,
            reason,
        })?;
        let algorithms = parse_algorithms(
            &get(vars::AUTH_JWT_ALGORITHMS).unwrap_or_else(|| DEFAULT_ALGORITHMS.into()),
        )
        .map_err(|reason| ConfigError {
            var: vars::AUTH_JWT_ALGORITHMS,
            reason,
        })?;
        Ok(Some(Self {
            issuer: issuer.trim().to_string(),
            audience: get(vars::AUTH_JWT_AUDIENCE)
                .map(|a| a.trim().to_string())
                .unwrap_or_else(|| service_name.to_string()),
            jwks,
            algorithms,
            refresh: span_or(
                get(vars::AUTH_JWT_JWKS_REFRESH),
                vars::AUTH_JWT_JWKS_REFRESH,
                DEFAULT_REFRESH,
            )?,
        }))
    }
}
