//! How a command fails: what it prints on stderr, and its exit code.
//!
//! | exit | meaning |
//! | --- | --- |
//! | 0 | done |
//! | 1 | the service refused the call: its code and message, and one line per bad field |
//! | 2 | bad arguments or local input (a file that does not parse, no token): nothing was sent |
//! | 3 | the service could not be reached, or answered UNAVAILABLE: try again later |
//!
//! A refused call prints `error: CODE: message`, then, when the status carries
//! `google.rpc.BadRequest` details, `  field: reason` for each field violation, and when it
//! carries a `google.rpc.RetryInfo` (a per-caller limit), `  retry after: N ms`. With `-o json`
//! the same goes to stderr as one JSON document, so a script reads the fields from there.

use serde_json::{Value, json};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::output::Format;

pub use platform::error::code_name;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments or input; nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// The service answered with an error status.
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Refused(Status),
    /// No connection to the service at `address`.
    #[error("cannot reach the {service} service at {address}: {cause}")]
    Unreachable {
        service: &'static str,
        address: String,
        cause: String,
    },
}

impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        Self::Refused(status)
    }
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Refused(status) if status.code() == Code::Unavailable => 3,
            CliError::Refused(_) => 1,
            CliError::Unreachable { .. } => 3,
        }
    }

    /// The text for stderr.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.render_text(),
            Format::Json => {
                let mut text = serde_json::to_string(&self.to_json()).unwrap_or_default();
                text.push('\n');
                text
            }
        }
    }

    fn render_text(&self) -> String {
        let mut out = format!("error: {self}\n");
        for (field, reason) in self.field_violations() {
            out.push_str(&format!("  {field}: {reason}\n"));
        }
        if let Some(ms) = self.retry_after_ms() {
            out.push_str(&format!("  retry after: {ms} ms\n"));
        }
        if self.tls_refused_plaintext() {
            out.push_str(
                "  hint: the service may speak TLS only; pass --ca, --cert and --key \
                 (HAICHENG_CA, HAICHENG_CERT, HAICHENG_KEY: haicheng dev prints the export)\n",
            );
        }
        out
    }

    /// The delay of a refusal's `google.rpc.RetryInfo`, in milliseconds.
    fn retry_after_ms(&self) -> Option<u128> {
        let CliError::Refused(status) = self else {
            return None;
        };
        status
            .get_details_retry_info()
            .and_then(|retry| retry.retry_delay)
            .map(|delay| delay.as_millis())
    }

    /// Whether this looks like a TLS server refusing a plaintext client: the HTTP/2 preface
    /// answered with a TLS alert, which the client reads as a broken frame.
    fn tls_refused_plaintext(&self) -> bool {
        matches!(self, CliError::Refused(status)
            if status.code() == Code::Internal
                && status.message().contains("h2 protocol error")
                && !crate::client::tls_chosen())
    }

    fn to_json(&self) -> Value {
        let (code, message) = match self {
            CliError::Usage(message) => ("USAGE", message.clone()),
            CliError::Refused(status) => (code_name(status.code()), status.message().to_string()),
            CliError::Unreachable { .. } => ("UNREACHABLE", self.to_string()),
        };
        let violations: Vec<Value> = self
            .field_violations()
            .into_iter()
            .map(|(field, reason)| json!({ "field": field, "reason": reason }))
            .collect();
        json!({
            "error": {
                "code": code,
                "message": message,
                "field_violations": violations,
                "retry_after_ms": self.retry_after_ms(),
                "exit_code": self.exit_code(),
            }
        })
    }

    /// The `google.rpc.BadRequest` field violations of a refused call, in order.
    fn field_violations(&self) -> Vec<(String, String)> {
        let CliError::Refused(status) = self else {
            return Vec::new();
        };
        status
            .get_details_bad_request()
            .map(|details| {
                details
                    .field_violations
                    .into_iter()
                    .map(|v| (v.field, v.description))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    fn bad_return() -> Status {
        Status::with_error_details(
            Code::InvalidArgument,
            "invalid argument: indicators.production_staff: 130 exceeds employees_total (120); period: expected YYYY or YYYYQn",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new(
                    "indicators.production_staff",
                    "130 exceeds employees_total (120)",
                ),
                FieldViolation::new("period", "expected YYYY or YYYYQn"),
            ]),
        )
    }

    #[test]
    fn a_refusal_prints_its_code_message_and_one_line_per_field() {
        let error = CliError::from(bad_return());
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            error.render(Format::Table),
            "error: INVALID_ARGUMENT: invalid argument: indicators.production_staff: 130 exceeds employees_total (120); period: expected YYYY or YYYYQn\n\
             \x20 indicators.production_staff: 130 exceeds employees_total (120)\n\
             \x20 period: expected YYYY or YYYYQn\n"
        );
    }

    #[test]
    fn with_json_output_the_error_is_json_too() {
        let text = CliError::from(bad_return()).render(Format::Json);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(value["error"]["exit_code"], 1);
        assert_eq!(
            value["error"]["field_violations"][0],
            json!({"field": "indicators.production_staff", "reason": "130 exceeds employees_total (120)"})
        );
    }

    #[test]
    fn a_limit_prints_when_to_retry() {
        let limited = CliError::from(Status::with_error_details(
            Code::ResourceExhausted,
            "department:finance is calling faster than its limit for reads",
            ErrorDetails::with_retry_info(Some(std::time::Duration::from_millis(1500))),
        ));
        assert_eq!(
            limited.render(Format::Table),
            "error: RESOURCE_EXHAUSTED: department:finance is calling faster than its limit for reads\n\
             \x20 retry after: 1500 ms\n"
        );
        let value: Value = serde_json::from_str(&limited.render(Format::Json)).unwrap();
        assert_eq!(value["error"]["retry_after_ms"], 1500);
    }

    #[test]
    fn a_status_without_details_prints_one_line() {
        let error = CliError::from(Status::not_found("enterprise with uscc X not found"));
        assert_eq!(
            error.render(Format::Table),
            "error: NOT_FOUND: enterprise with uscc X not found\n"
        );
    }

    #[test]
    fn exit_codes_tell_refused_from_bad_input_from_unreachable() {
        assert_eq!(CliError::usage("no token").exit_code(), 2);
        assert_eq!(
            CliError::from(Status::permission_denied("no")).exit_code(),
            1
        );
        assert_eq!(CliError::from(Status::unavailable("db")).exit_code(), 3);
        let unreachable = CliError::Unreachable {
            service: "census",
            address: "127.0.0.1:1".into(),
            cause: "connection refused".into(),
        };
        assert_eq!(unreachable.exit_code(), 3);
        assert_eq!(
            unreachable.render(Format::Table),
            "error: cannot reach the census service at 127.0.0.1:1: connection refused\n"
        );
    }
}
