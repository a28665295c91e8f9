//! The audit log: every refused call, every read of enterprise data and every notice read,
//! kept at least six months (the Cybersecurity Law's minimum for network logs).
//!
//! - [`layer`]: a tower layer on the gRPC server that records each refusal
//!   (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED) and each call of a method the
//!   service declared an audited read ([`crate::Platform::audit_reads`]): method, principal
//!   (or `anonymous`), peer address, status code; never the credential. A handler names what
//!   it read (the USCC, the filters) with [`Subject`] in its response's extensions.
//! - [`writer`]: records go through a bounded queue to one task that inserts them in batches.
//!   When the queue is full an audited read fails with UNAVAILABLE rather than show data
//!   that leaves no trace; a refusal is answered all the same (and counted as dropped).
//! - [`api`]: `haicheng.audit.v1.AuditService/ListAuditRecords`, scope `audit.read`.
//! - Retention: the runtime role may only INSERT and SELECT the table (see [`crate::db`]),
//!   so rows older than `AUDIT_RETENTION` are pruned through `audit_prune`, a SECURITY
//!   DEFINER function of the owner role that never deletes a row younger than 183 days.

pub mod api;
pub mod layer;
pub mod writer;

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

pub use layer::AuditLayer;
pub use writer::{AuditLog, Writer};

use crate::config::{ConfigError, DAY, span_or, vars};

/// The shortest retention accepted: six months, rounded up (183 days). `audit_prune` keeps
/// this much whatever it is asked.
pub const MIN_RETENTION: Duration = Duration::from_secs(183 * 24 * 60 * 60);

/// The audit part of the platform's configuration, and the owner role that migrates.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// `DATABASE_OWNER_URL`: the owner role's connection string. The `migrate` command needs
    /// it; a serving process that has it (development launchers only) migrates with it first.
    pub database_owner_url: Option<SecretString>,
    /// `AUDIT_RETENTION`: records older than this are pruned (default 400 days).
    pub retention: Duration,
}

impl AuditConfig {
    pub fn from_lookup(get: &impl Fn(&'static str) -> Option<String>) -> Result<Self, ConfigError> {
        let retention = span_or(get(vars::AUDIT_RETENTION), vars::AUDIT_RETENTION, DAY * 400)?;
        if retention < MIN_RETENTION {
            return Err(ConfigError {
                var: vars::AUDIT_RETENTION,
                reason: format!(
                    "{} days is shorter than the 183 days (six months) audit records must be kept",
                    retention.as_secs() / 86_400
                ),
            });
        }
        Ok(Self {
            database_owner_url: get(vars::DATABASE_OWNER_URL).map(SecretString::from),
            retention,
        })
    }
}

/// What a handler read, for the audit record of its call: put it in the response's
/// extensions ([`subject`]); tonic carries them into the HTTP response the layer sees.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    /// The enterprise whose data was read, when there is one.
    pub uscc: Option<String>,
    /// Anything else worth keeping (filters, ids, counts), as a JSON object.
    pub detail: Value,
}

/// `response` with its audit [`Subject`]: the USCC read (if one) and a JSON detail.
pub fn subject<T>(
    mut response: tonic::Response<T>,
    uscc: Option<&str>,
    detail: Value,
) -> tonic::Response<T> {
    response.extensions_mut().insert(Subject {
        uscc: uscc.filter(|u| !u.is_empty()).map(str::to_string),
        detail,
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PlatformConfig, lookup_in};

    #[test]
    fn retention_defaults_to_400_days_and_refuses_less_than_six_months() {
        let config = PlatformConfig::from_lookup("census", 1, lookup_in(&[])).unwrap();
        assert_eq!(config.audit.retention, DAY * 400);
        assert!(config.audit.database_owner_url.is_none());
        let config =
            PlatformConfig::from_lookup("census", 1, lookup_in(&[(vars::AUDIT_RETENTION, "183d")]))
                .unwrap();
        assert_eq!(config.audit.retention, MIN_RETENTION);
        for short in ["182d", "90d", "24h"] {
            let err = PlatformConfig::from_lookup(
                "census",
                1,
                lookup_in(&[(vars::AUDIT_RETENTION, short)]),
            )
            .unwrap_err();
            assert_eq!(err.var, vars::AUDIT_RETENTION, "{short}");
        }
    }
}
