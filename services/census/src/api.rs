//! The gRPC API (`haicheng.census.v1.CensusService`): proto in, domain checks, store, proto
//! out. Every error leaves through [`platform::ApiError`], so codes and details are chosen in
//! one place: INVALID_ARGUMENT with a field violation per bad field, NOT_FOUND, ALREADY_EXISTS,
//! ABORTED on a stale version, FAILED_PRECONDITION for a deregistered enterprise.

use chrono::{NaiveDate, Utc};
use haicheng_proto::{
    census::v1::{self as pb, census_service_server::CensusService},
    common::v1 as common,
};
use platform::{
    ApiError, Principal, Violations, audit, paging, server::limits::resource_exhausted,
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    convert::{self, ReturnMessage},
    domain::{
        Grouping, IndustryClass, Period, Rules, Segment, Submission, Totals, Uscc,
        enterprise::{MAX_NAME_CHARS, MAX_REASON_CHARS, text},
    },
    store::{FileView, ListFilter, Registered, Store, StoreError, SubmitOutcome},
};

/// The census service's handlers.
pub struct CensusApi {
    store: Store,
    rules: Rules,
    /// Import rows stored per transaction.
    import_batch_rows: usize,
    /// Rows one import may carry.
    import_max_rows: u64,
}

/// Rows of an import read from the stream: the checked ones for one batch, the refused ones
/// with their violations; `ended` once the stream has no more.
struct Chunk {
    rows: Vec<(i64, Submission)>,
    rejected: Vec<pb::RejectedRow>,
    ended: bool,
}

/// The position in the enterprise list a page token carries: the last USCC served.
#[derive(Serialize, Deserialize)]
struct ListCursor {
    after: String,
}

impl CensusApi {
    pub fn new(store: Store, rules: Rules, import_batch_rows: usize, import_max_rows: u64) -> Self {
        Self {
            store,
            rules,
            import_batch_rows: import_batch_rows.max(1),
            import_max_rows,
        }
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

/// The one place a store error becomes a gRPC status: what the caller can do about it.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::RegisteredDifferently(uscc) => {
                ApiError::AlreadyExists(format!("enterprise {uscc} with different registry data"))
            }
            StoreError::UnknownEnterprise(uscc) => {
                ApiError::NotFound(format!("enterprise with uscc {uscc}"))
            }
            err @ StoreError::Deregistered(_) => ApiError::FailedPrecondition(err.to_string()),
            err @ StoreError::StaleVersion { .. } => {
                ApiError::Aborted(format!("{err}; read it again"))
            }
            // UNAVAILABLE when the database cannot be reached, else INTERNAL.
            StoreError::Database(err) => ApiError::from(err),
        }
    }
}

/// Who is calling, as recorded in versions, revisions and the audit table.
fn caller<T>(request: &Request<T>) -> Result<String, Status> {
    Ok(Principal::of(request)?.identity.to_string())
}

/// Today in China (UTC+8 all year), the calendar registration dates are written in.
fn today_in_china() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// The checked value, or INVALID_ARGUMENT with every violation found.
fn checked<T>(value: Option<T>, violations: Violations) -> Result<T, ApiError> {
    violations.finish()?;
    value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a check failed without a violation")))
}

fn uscc(code: &str, violations: &mut Violations) -> Option<Uscc> {
    Uscc::parse(code)
        .map_err(|e| violations.add("uscc", e.to_string()))
        .ok()
}

fn expected_version(version: i64, violations: &mut Violations) -> Option<i64> {
    if version >= 1 {
        Some(version)
    } else {
        violations.add(
            "expected_version",
            "is required: the version last read (1 or more)",
        );
        None
    }
}

/// A filter enumeration: 0 is "any", a defined value filters, anything else is a violation.
fn enum_filter<T>(
    value: i32,
    parse: impl Fn(i32) -> Option<T>,
    field: &str,
    violations: &mut Violations,
) -> Option<T> {
    if value == 0 {
        return None;
    }
    let parsed = parse(value);
    if parsed.is_none() {
        violations.add(field, format!("{value} is not a defined value"));
    }
    parsed
}

impl CensusApi {
    #[tracing::instrument(skip_all, fields(uscc = %request.uscc))]
    async fn register(
        &self,
        request: pb::RegisterEnterpriseRequest,
        by: &str,
    ) -> Result<pb::RegisterEnterpriseResponse, ApiError> {
        let mut violations = Violations::new();
        let uscc = uscc(&request.uscc, &mut violations);
        let fields = convert::register_input(&request).check(today_in_china(), &mut violations);
        let (uscc, fields) = checked(uscc.zip(fields), violations)?;
        let enterprise = match self.store.register(&uscc, &fields, by).await? {
            Registered::Created(e) => {
                tracing::info!("enterprise registered");
                e
            }
            Registered::Existing(e) => e,
        };
        Ok(pb::RegisterEnterpriseResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
        })
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.uscc))]
    async fn update(
        &self,
        request: pb::UpdateEnterpriseRequest,
        by: &str,
    ) -> Result<pb::UpdateEnterpriseResponse, ApiError> {
        let mut violations = Violations::new();
        let uscc = uscc(&request.uscc, &mut violations);
        let version = expected_version(request.expected_version, &mut violations);
        let fields = convert::update_input(&request).check(today_in_china(), &mut violations);
        let ((uscc, version), fields) = checked(uscc.zip(version).zip(fields), violations)?;
        let enterprise = self.store.update(&uscc, version, fields, by).await?;
        Ok(pb::UpdateEnterpriseResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
        })
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.uscc))]
    async fn deregister(
        &self,
        request: pb::DeregisterEnterpriseRequest,
        by: &str,
    ) -> Result<pb::DeregisterEnterpriseResponse, ApiError> {
        let mut violations = Violations::new();
        let uscc = uscc(&request.uscc, &mut violations);
        let version = expected_version(request.expected_version, &mut violations);
        let reason = text(&request.reason, "reason", MAX_REASON_CHARS, &mut violations);
        let ((uscc, version), reason) = checked(uscc.zip(version).zip(reason), violations)?;
        let enterprise = self.store.deregister(&uscc, version, reason, by).await?;
        Ok(pb::DeregisterEnterpriseResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
        })
    }

    /// A submission's checks: conversion and every domain rule, all violations at once.
    fn check_return(&self, message: ReturnMessage<'_>) -> (Option<Submission>, Violations) {
        let mut violations = Violations::new();
        let input = message.input(&mut violations);
        let submission = input.check(&self.rules, &mut violations);
        (submission, violations)
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.uscc, client_request_id = %request.client_request_id))]
    async fn submit(
        &self,
        request: pb::SubmitReturnRequest,
        by: &str,
    ) -> Result<pb::SubmitReturnResponse, ApiError> {
        let (submission, violations) = self.check_return(ReturnMessage::of_request(&request));
        let submission = checked(submission, violations)?;
        let outcome = self
            .store
            .submit(std::slice::from_ref(&submission), by)
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a submission without outcome")))?;
        let uscc = &submission.content.uscc;
        let (census_return, duplicate) = match outcome {
            SubmitOutcome::Stored(r) => (r, false),
            SubmitOutcome::Duplicate(r) => (r, true),
            SubmitOutcome::UnknownEnterprise => {
                return Err(ApiError::NotFound(format!("enterprise with uscc {uscc}")));
            }
            SubmitOutcome::Deregistered => {
                return Err(ApiError::FailedPrecondition(format!(
                    "enterprise {uscc} is deregistered and takes no new returns"
                )));
            }
            SubmitOutcome::ConflictingRequestId => {
                return Err(ApiError::AlreadyExists(format!(
                    "a submission with client_request_id {:?} but different content",
                    submission.client_request_id
                )));
            }
        };
        Ok(pb::SubmitReturnResponse {
            census_return: Some(convert::return_to_proto(&census_return)),
            duplicate,
        })
    }

    /// Reads the stream to its end, storing a batch whenever one is full; each row stands on
    /// its own, so a bad row is reported and the others go on. The next batch is read and
    /// checked while the last one is being stored (one task, no more than one batch ahead),
    /// so the service's work on the rows overlaps the database's; a batch is stored only
    /// after the one before it committed, so a later row still sees an earlier one.
    ///
    /// A stream of more than `import_max_rows` rows is refused with RESOURCE_EXHAUSTED
    /// ([`too_many_rows`]) as soon as the row past the cap arrives. The batches committed
    /// before it stay stored (each row stands on its own, as the report promises) and the
    /// batch being read is dropped; the caller splits the file and sends it again, and the
    /// rows already stored come back as duplicates of their `client_request_id`.
    #[tracing::instrument(skip_all)]
    async fn import(
        &self,
        mut rows: Streaming<pb::ImportReturnsRow>,
        by: &str,
    ) -> Result<pb::ImportReturnsResponse, Status> {
        let mut report = pb::ImportReturnsResponse::default();
        let mut read = 0;
        let mut chunk = self.read_chunk(&mut rows, &mut read).await?;
        loop {
            report.rejected_rows.append(&mut chunk.rejected);
            if chunk.ended {
                self.import_batch(chunk.rows, &mut report, by).await?;
                break;
            }
            let (stored, next) = tokio::join!(
                self.import_batch(chunk.rows, &mut report, by),
                self.read_chunk(&mut rows, &mut read)
            );
            stored?;
            chunk = next?;
        }
        report.rejected_rows.sort_by_key(|r| r.row_number);
        tracing::info!(
            accepted = report.accepted_count,
            duplicates = report.duplicate_count,
            rejected = report.rejected_rows.len(),
            "import finished"
        );
        Ok(report)
    }

    /// The next batch of checked rows (up to the batch size), and the rows refused by the
    /// checks on the way; `read` counts the rows of the whole stream against the cap.
    async fn read_chunk(
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

    async fn import_batch(
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
        for ((row_number, submission), outcome) in
            row_numbers.into_iter().zip(&submissions).zip(outcomes)
        {
            let reject = |field: &str, reason: String| pb::RejectedRow {
                row_number,
                field: field.to_string(),
                reason,
            };
            match outcome {
                SubmitOutcome::Stored(_) => report.accepted_count += 1,
                SubmitOutcome::Duplicate(_) => {
                    report.accepted_count += 1;
                    report.duplicate_count += 1;
                }
                SubmitOutcome::UnknownEnterprise => report.rejected_rows.push(reject(
                    "uscc",
                    format!(
                        "no enterprise with uscc {} is registered",
                        submission.content.uscc
                    ),
                )),
                SubmitOutcome::Deregistered => report.rejected_rows.push(reject(
                    "uscc",
                    format!(
                        "enterprise {} is deregistered and takes no new returns",
                        submission.content.uscc
                    ),
                )),
                SubmitOutcome::ConflictingRequestId => report.rejected_rows.push(reject(
                    "client_request_id",
                    format!(
                        "{:?} was already used for a submission with different content",
                        submission.client_request_id
                    ),
                )),
            }
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.uscc))]
    async fn file(
        &self,
        request: pb::GetEnterpriseFileRequest,
        reader: &str,
    ) -> Result<pb::GetEnterpriseFileResponse, ApiError> {
        let mut violations = Violations::new();
        let uscc = uscc(&request.uscc, &mut violations);
        let as_of = match &request.as_of {
            None => Some(None),
            Some(time) => {
                let parsed = platform::time::from_timestamp(time);
                if parsed.is_none() {
                    violations.add("as_of", "is not a valid timestamp");
                }
                parsed.map(Some)
            }
        };
        let (uscc, as_of) = checked(uscc.zip(as_of), violations)?;
        let view = FileView {
            as_of,
            all_revisions: request.all_revisions,
        };
        let Some((enterprise, returns)) = self.store.read_file(&uscc, &view, reader).await? else {
            return Err(ApiError::NotFound(match as_of {
                Some(time) => format!("enterprise with uscc {uscc} as of {}", time.to_rfc3339()),
                None => format!("enterprise with uscc {uscc}"),
            }));
        };
        Ok(pb::GetEnterpriseFileResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
            returns: returns.iter().map(convert::return_to_proto).collect(),
        })
    }

    async fn list(
        &self,
        request: pb::ListEnterprisesRequest,
    ) -> Result<pb::ListEnterprisesResponse, ApiError> {
        let mut violations = Violations::new();
        let industry_class = match request.industry_class.as_str() {
            "" => None,
            code => IndustryClass::parse(code)
                .map_err(|e| violations.add("industry_class", e.to_string()))
                .ok()
                .map(|c| c.code().to_string()),
        };
        let name_contains = match request.name_contains.trim() {
            "" => None,
            _ => text(
                &request.name_contains,
                "name_contains",
                MAX_NAME_CHARS,
                &mut violations,
            ),
        };
        let filter = ListFilter {
            park: enum_filter(request.park, convert::park, "park", &mut violations),
            segment: enum_filter(
                request.segment,
                Segment::from_proto,
                "segment",
                &mut violations,
            ),
            industry_class,
            status: enum_filter(request.status, convert::status, "status", &mut violations),
            name_contains,
        };
        let page_size = paging::page_size(request.page_size)
            .map_err(|_| violations.add("page_size", "must not be negative"))
            .ok();
        let cursor = paging::decode_token::<ListCursor>(&request.page_token)
            .map_err(|_| violations.add("page_token", "not a token this service issued"))
            .ok();
        let (page_size, cursor) = checked(page_size.zip(cursor), violations)?;
        let limit = i64::from(page_size);
        let after = cursor.map(|c| c.after);
        let mut enterprises = self
            .store
            .list(&filter, after.as_deref(), limit + 1)
            .await?;
        let next_page_token = if enterprises.len() as i64 > limit {
            enterprises.truncate(page_size as usize);
            enterprises
                .last()
                .map(|e| {
                    paging::encode_token(&ListCursor {
                        after: e.uscc.to_string(),
                    })
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListEnterprisesResponse {
            enterprises: enterprises
                .iter()
                .map(convert::enterprise_to_proto)
                .collect(),
            next_page_token,
        })
    }

    async fn statistics(
        &self,
        request: pb::GetStatisticsRequest,
    ) -> Result<pb::GetStatisticsResponse, ApiError> {
        let mut violations = Violations::new();
        let period = match &request.period {
            None => {
                violations.add("period", "is required");
                None
            }
            Some(p) => Period::parse(&p.code)
                .map_err(|e| violations.add("period", e.to_string()))
                .ok(),
        };
        let grouping = match pb::StatisticsGrouping::try_from(request.group_by) {
            Ok(pb::StatisticsGrouping::Park) => Some(Grouping::Park),
            Ok(pb::StatisticsGrouping::Segment) => Some(Grouping::Segment),
            _ => {
                violations.add("group_by", "must be PARK or SEGMENT");
                None
            }
        };
        let (period, grouping) = checked(period.zip(grouping), violations)?;
        let groups = self.store.statistics(period, grouping).await?;
        let mut total = Totals::default();
        for (_, totals) in &groups {
            total.add(totals);
        }
        Ok(pb::GetStatisticsResponse {
            period: Some(common::Period {
                code: period.code(),
            }),
            rows: groups
                .iter()
                .map(|(group, totals)| convert::statistics_row(Some(*group), totals))
                .collect(),
            total: Some(convert::statistics_row(None, &total)),
        })
    }
}

#[tonic::async_trait]
impl CensusService for CensusApi {
    async fn register_enterprise(
        &self,
        request: Request<pb::RegisterEnterpriseRequest>,
    ) -> Result<Response<pb::RegisterEnterpriseResponse>, Status> {
        let by = caller(&request)?;
        Ok(Response::new(
            self.register(request.into_inner(), &by).await?,
        ))
    }

    async fn update_enterprise(
        &self,
        request: Request<pb::UpdateEnterpriseRequest>,
    ) -> Result<Response<pb::UpdateEnterpriseResponse>, Status> {
        let by = caller(&request)?;
        Ok(Response::new(self.update(request.into_inner(), &by).await?))
    }

    async fn deregister_enterprise(
        &self,
        request: Request<pb::DeregisterEnterpriseRequest>,
    ) -> Result<Response<pb::DeregisterEnterpriseResponse>, Status> {
        let by = caller(&request)?;
        Ok(Response::new(
            self.deregister(request.into_inner(), &by).await?,
        ))
    }

    async fn submit_return(
        &self,
        request: Request<pb::SubmitReturnRequest>,
    ) -> Result<Response<pb::SubmitReturnResponse>, Status> {
        let by = caller(&request)?;
        Ok(Response::new(self.submit(request.into_inner(), &by).await?))
    }

    async fn import_returns(
        &self,
        request: Request<Streaming<pb::ImportReturnsRow>>,
    ) -> Result<Response<pb::ImportReturnsResponse>, Status> {
        let by = caller(&request)?;
        Ok(Response::new(self.import(request.into_inner(), &by).await?))
    }

    async fn get_enterprise_file(
        &self,
        request: Request<pb::GetEnterpriseFileRequest>,
    ) -> Result<Response<pb::GetEnterpriseFileResponse>, Status> {
        let reader = caller(&request)?;
        // An enterprise reads its own file only (the rule let every enterprise in).
        Principal::of(&request)?.require_enterprise_self(&request.get_ref().uscc)?;
        let req = request.into_inner();
        let detail = serde_json::json!({
            "as_of": req.as_of.as_ref().map(|t| t.seconds),
            "all_revisions": req.all_revisions,
        });
        let uscc = req.uscc.clone();
        let reply = self.file(req, &reader).await?;
        Ok(audit::subject(Response::new(reply), Some(&uscc), detail))
    }

    async fn list_enterprises(
        &self,
        request: Request<pb::ListEnterprisesRequest>,
    ) -> Result<Response<pb::ListEnterprisesResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let mut detail = serde_json::json!({
            "park": req.park,
            "segment": req.segment,
            "industry_class": req.industry_class,
            "status": req.status,
            "name_contains": req.name_contains,
        });
        let reply = self.list(req).await?;
        detail["returned"] = reply.enterprises.len().into();
        Ok(audit::subject(Response::new(reply), None, detail))
    }

    async fn get_statistics(
        &self,
        request: Request<pb::GetStatisticsRequest>,
    ) -> Result<Response<pb::GetStatisticsResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let detail = serde_json::json!({
            "period": req.period.as_ref().map(|p| p.code.clone()),
            "group_by": req.group_by,
        });
        let reply = self.statistics(req).await?;
        Ok(audit::subject(Response::new(reply), None, detail))
    }
}
