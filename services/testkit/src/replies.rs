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
