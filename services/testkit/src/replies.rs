//! Readers of what a service answered: the fields named by an INVALID_ARGUMENT, the
//! RetryInfo of a RESOURCE_EXHAUSTED.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The fields named by the status's field violations (its `BadRequest` detail), in order;
/// none without that detail.
pub fn fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Asserts that the status is INVALID_ARGUMENT and returns the [`fields`] it names.
pub fn invalid_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    fields(status)
}

/// Asserts RESOURCE_EXHAUSTED with a RetryInfo detail of a positive delay, as every
/// per-caller limit answers.
pub fn assert_exhausted_with_retry(status: &Status) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let retry = status.get_details_retry_info().expect("a RetryInfo detail");
    let delay = retry.retry_delay.expect("a delay");
    assert!(delay > Duration::ZERO, "{delay:?}");
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    fn invalid(fields: &[&str]) -> Status {
        let mut details = ErrorDetails::new();
        for field in fields {
            details.add_bad_request_violation(*field, "bad");
        }
        Status::with_error_details(Code::InvalidArgument, "invalid", details)
    }

    #[test]
    fn fields_are_read_in_order_and_none_without_a_bad_request() {
        assert_eq!(fields(&invalid(&["uscc", "period"])), ["uscc", "period"]);
        assert!(fields(&Status::not_found("x")).is_empty());
        assert_eq!(invalid_fields(&invalid(&["park"])), ["park"]);
    }

    #[test]
    #[should_panic(expected = "NotFound")]
    fn invalid_fields_insists_on_invalid_argument() {
        invalid_fields(&Status::not_found("x"));
    }

    #[test]
    fn exhausted_with_retry_needs_a_positive_delay() {
        let with_delay = |delay| {
            Status::with_error_details(
                Code::ResourceExhausted,
                "slow down",
                ErrorDetails::with_retry_info(Some(delay)),
            )
        };
        assert_exhausted_with_retry(&with_delay(Duration::from_secs(1)));
        let zero = std::panic::catch_unwind(|| {
            assert_exhausted_with_retry(&with_delay(Duration::ZERO));
        });
        assert!(zero.is_err(), "a zero delay is no RetryInfo worth the name");
    }
}
