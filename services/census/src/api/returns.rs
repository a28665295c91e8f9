//! The returns' side of the API: a submission's checks, and an import read from its stream
//! in batches. Each refusal of a submission is described once ([`submission::Refused`]'s
//! field and words): SubmitReturn answers it as a status, an import as a rejected row.

use haicheng_proto::census::v1 as pb;
use platform::{ApiError, Violations, server::limits::resource_exhausted};
use tonic::{Status, Streaming};

use super::{
    CensusApi,
    convert::{self, ReturnMessage},
};
use crate::domain::{Submission, submission::Refused};

/// Rows of an import read from the stream: the checked ones for one batch, the refused ones
/// with their violations; `ended` once the stream has no more.
pub(super) struct Chunk {
    pub rows: Vec<(i64, Submission)>,
    pub rejected: Vec<pb::RejectedRow>,
    pub ended: bool,
}

/// The one place a submission's refusal becomes a gRPC status.
impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::UnknownEnterprise(uscc) => {
                ApiError::NotFound(format!("enterprise with uscc {uscc}"))
            }
            err @ Refused::Deregistered(_) => ApiError::FailedPrecondition(err.to_string()),
            Refused::ConflictingRequestId(id) => ApiError::AlreadyExists(format!(
                "a submission with client_request_id {id:?} but different content"
            )),
        }
    }
}

/// An import's row refused by a rule, in the same words.
fn rejected_row(row_number: i64, refused: &Refused) -> pb::RejectedRow {
    pb::RejectedRow {
        row_number,
        field: refused.field().to_string(),
        reason: refused.to_string(),
    }
}

/// RESOURCE_EXHAUSTED for an import over the row cap, with a RetryInfo (retry at once, in
/// parts) and a QuotaFailure naming the cap.
fn too_many_rows(max_rows: u64) -> Status {
    resource_exhausted(
        format!(
            "an import carries at most {max_rows} rows; split the file and import the parts \
             (rows already stored come back as duplicates)"
        ),
        std::time::Duration::ZERO,
        "ImportReturns",
        format!("at most {max_rows} rows per import"),
    )
}

impl CensusApi {
    /// A submission's checks: conversion and every domain rule, all violations at once.
    pub(super) fn check_return(
        &self,
        message: ReturnMessage<'_>,
    ) -> (Option<Submission>, Violations) {
        let mut violations = Violations::new();
        let input = message.input(&mut violations);
        let submission = input.check(&self.rules, &mut violations);
        (submission, violations)
    }

    /// The next batch of checked rows (up to the batch size), and the rows refused by the
    /// checks on the way; `read` counts the rows of the whole stream against the cap.
    pub(super) async fn read_chunk(
        &self,
        rows: &mut Streaming<pb::ImportReturnsRow>,
        read: &mut u64,
    ) -> Result<Chunk, Status> {
        let mut chunk = Chunk {
            rows: Vec::with_capacity(self.import_batch_rows),
            rejected: Vec::new(),
            ended: false,
        };
        while chunk.rows.len() < self.import_batch_rows {
            let Some(row) = rows.message().await? else {
                chunk.ended = true;
                break;
            };
            *read += 1;
            if *read > self.import_max_rows {
                return Err(too_many_rows(self.import_max_rows));
            }
            let (submission, violations) = self.check_return(ReturnMessage::of_row(&row));
            match submission {
                Some(submission) if violations.is_empty() => {
                    chunk.rows.push((row.row_number, submission))
                }
                _ => chunk
                    .rejected
                    .extend(violations.as_slice().iter().map(|v| pb::RejectedRow {
                        row_number: row.row_number,
                        field: v.field.clone(),
                        reason: v.reason.clone(),
                    })),
            }
        }
        Ok(chunk)
    }

    /// Stores one batch of checked rows and counts each row's outcome in `report`.
    pub(super) async fn import_batch(
        &self,
        batch: Vec<(i64, Submission)>,
        report: &mut pb::ImportReturnsResponse,
        by: &str,
    ) -> Result<(), ApiError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (row_numbers, submissions): (Vec<i64>, Vec<Submission>) = batch.into_iter().unzip();
        let outcomes = self.store.submit(&submissions, by).await?;
        for (row_number, outcome) in row_numbers.into_iter().zip(outcomes) {
            match outcome.as_ref().map(|decision| decision.census_return()) {
                Ok((_, duplicate)) => {
                    report.accepted_count += 1;
                    report.duplicate_count += i64::from(duplicate);
                }
                Err(refused) => report.rejected_rows.push(rejected_row(row_number, refused)),
            }
        }
        Ok(())
    }
}

/// The response of a single submission: the revision, and whether it was a duplicate.
pub(super) fn submitted(
    outcome: Result<crate::domain::submission::Decision, Refused>,
) -> Result<pb::SubmitReturnResponse, ApiError> {
    let decision = outcome?;
    let (census_return, duplicate) = decision.census_return();
    Ok(pb::SubmitReturnResponse {
        census_return: Some(convert::return_to_proto(census_return)),
        duplicate,
    })
}
