//! The one mapping from domain errors to gRPC `Status`, with `google.rpc` details.
//!
//! A service keeps its own error enum and converts it into [`ApiError`]; everything that
//! leaves through gRPC goes through [`ApiError`]'s `Into<Status>`, so codes and details are
//! chosen in one place. Internal errors are logged with their cause and answered without it,
//! but with the trace id to quote. A database that cannot be reached (connection lost or
//! refused, pool timed out, server shutting down or out of connections) is UNAVAILABLE: the
//! caller should retry, and the service serves again as soon as PostgreSQL is back.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// An error as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input: one violation per bad field.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<Violation>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// Optimistic concurrency: the caller's expected version is stale.
    #[error("version conflict: {0}")]
    Aborted(String),
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A dependency (the database) is briefly unreachable: the client should retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected error")]
    Internal(#[from] anyhow::Error),
}

/// One bad field and why, in the request's own field path (`indicators.employees_total`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub reason: String,
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects the violations of one request, so all are reported at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// Adds a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, reason: impl Into<String>) {
        if !ok {
            self.add(field, reason);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }

    /// `Ok(())` when nothing was found, else INVALID_ARGUMENT with every violation.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument(self.0))
        }
    }
}

impl ApiError {
    /// INVALID_ARGUMENT for a single field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![Violation {
            field: field.into(),
            reason: reason.into(),
        }])
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(format!("the database cannot be reached ({err}); retry"))
        } else {
            Self::Internal(anyhow::Error::new(err).context("database"))
        }
    }
}

/// Whether `err` means the database cannot be reached right now (rather than a bad query):
/// an I/O error, a pool timeout or a closed pool, or a PostgreSQL error of class 08
/// (connection exception), 57P01-57P03 (admin or crash shutdown, cannot connect now) or
/// 53300 (too many connections).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// [`is_unavailable`] anywhere in an error's chain (a store error wrapping a sqlx error): the
/// test for "retry later, it is not this request's fault" (an API call, a consumed event).
pub fn database_unavailable(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
        .any(is_unavailable)
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        let message = err.to_string();
        match err {
            ApiError::InvalidArgument(violations) => {
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| FieldViolation::new(v.field, v.reason))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ApiError::NotFound(_) => Status::not_found(message),
            ApiError::AlreadyExists(_) => Status::already_exists(message),
            ApiError::Aborted(_) => Status::aborted(message),
            ApiError::FailedPrecondition(_) => Status::failed_precondition(message),
            ApiError::PermissionDenied(_) => Status::permission_denied(message),
            ApiError::Unavailable(_) => Status::unavailable(message),
            ApiError::Internal(cause) if database_unavailable(&cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable");
                Status::unavailable("the database cannot be reached; retry")
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Status::internal(match crate::telemetry::current_trace_id() {
                    Some(trace) => {
                        format!("internal error; quote trace id {trace} to the service's operators")
                    }
                    None => "internal error; the service log has the cause".to_string(),
                })
            }
        }
    }
}

/// The canonical name of a status code, as gRPC spells it (`INVALID_ARGUMENT`): the audit
/// log's `code` and the CLI's errors.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_violation_becomes_a_field_violation_detail() {
        let mut violations = Violations::new();
        violations.check(false, "uscc", "check character mismatch");
        violations.check(true, "name", "never added");
        violations.add("period", "expected YYYY or YYYYQn");
        let status: Status = violations.finish().unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["uscc", "period"]);
    }

    #[test]
    fn internal_errors_hide_their_cause_and_name_the_trace_id() {
        crate::telemetry::init_for_tests();
        let span = tracing::info_span!("call");
        let trace = span.in_scope(crate::telemetry::current_trace_id).unwrap();
        let status: Status =
            span.in_scope(|| ApiError::Internal(anyhow::anyhow!("password=hunter2")).into());
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
        assert!(status.message().contains(&trace), "{}", status.message());
    }

    #[test]
    fn an_unreachable_database_is_unavailable_and_a_bad_query_is_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for err in [
            sqlx::Error::Io(refused),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
        ] {
            let status: Status = ApiError::from(err).into();
            assert_eq!(status.code(), Code::Unavailable);
        }
        let wrapped: Status = ApiError::Internal(
            anyhow::Error::new(sqlx::Error::PoolTimedOut).context("storing the return"),
        )
        .into();
        assert_eq!(wrapped.code(), Code::Unavailable);
        let bad_query: Status = ApiError::from(sqlx::Error::RowNotFound).into();
        assert_eq!(bad_query.code(), Code::Internal);
    }
}
