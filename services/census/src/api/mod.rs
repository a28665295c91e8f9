//! The gRPC API (`haicheng.census.v1.CensusService`): the trait methods are the handlers.
//! Proto in (parsed with [`Violations`] and [`convert`]), load → decide → commit through the
//! [`Store`], proto out. Every error leaves through [`platform::ApiError`], mapped once here
//! (store errors, registry refusals) and in [`returns`] (a submission's refusals):
//! INVALID_ARGUMENT with a field violation per bad field, NOT_FOUND, ALREADY_EXISTS, ABORTED
//! on a version conflict, FAILED_PRECONDITION for a deregistered enterprise.

pub mod convert;
pub mod reads;
mod returns;

use chrono::{NaiveDate, Utc};
use haicheng_proto::{
    census::v1::{self as pb, census_service_server::CensusService},
    common::v1 as common,
};
use platform::{ApiError, Principal, Violations, audit};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    domain::{
        Rules, Totals,
        enterprise::{MAX_REASON_CHARS, text},
        registry::{Change, ChangeCommand, Refused},
    },
    store::{FileView, Registered, Store, StoreError},
};
use convert::ReturnMessage;

/// The census service's handlers.
pub struct CensusApi {
    store: Store,
    rules: Rules,
    /// Import rows stored per transaction.
    import_batch_rows: usize,
    /// Rows one import may carry.
    import_max_rows: u64,
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

/// The one place a store error (and a registry refusal) becomes a gRPC status: what the
/// caller can do about it.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Refused(Refused::RegisteredDifferently(uscc)) => {
                ApiError::AlreadyExists(format!("enterprise {uscc} with different registry data"))
            }
            StoreError::Refused(Refused::UnknownEnterprise(uscc)) => {
                ApiError::NotFound(format!("enterprise with uscc {uscc}"))
            }
            StoreError::Refused(err @ Refused::Deregistered(_)) => {
                ApiError::FailedPrecondition(err.to_string())
            }
            StoreError::Refused(err @ Refused::VersionConflict { .. }) => {
                ApiError::Aborted(format!("{err}; read it again"))
            }
            // UNAVAILABLE when the database cannot be reached, else INTERNAL.
            StoreError::Database(err) => ApiError::from(err),
        }
    }
}

/// A store error in a handler: the status its [`ApiError`] says.
impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
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

/// A change request's checked command: the USCC, the version last read, and the change.
fn change_command(
    uscc: &str,
    version: i64,
    change: impl FnOnce(&mut Violations) -> Option<Change>,
) -> Result<ChangeCommand, ApiError> {
    let mut violations = Violations::new();
    let uscc = violations.uscc("uscc", uscc);
    let expected_version = expected_version(version, &mut violations);
    let change = change(&mut violations);
    let ((uscc, expected_version), change) =
        checked(uscc.zip(expected_version).zip(change), violations)?;
    Ok(ChangeCommand {
        uscc,
        expected_version,
        change,
    })
}

#[tonic::async_trait]
impl CensusService for CensusApi {
    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn register_enterprise(
        &self,
        request: Request<pb::RegisterEnterpriseRequest>,
    ) -> Result<Response<pb::RegisterEnterpriseResponse>, Status> {
        let by = caller(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let uscc = violations.uscc("uscc", &request.uscc);
        let fields = convert::register_input(&request).check(today_in_china(), &mut violations);
        let (uscc, fields) = checked(uscc.zip(fields), violations)?;
        let enterprise = match self.store.register(&uscc, &fields, &by).await? {
            Registered::Created(e) => {
                tracing::info!("enterprise registered");
                e
            }
            Registered::Existing(e) => e,
        };
        Ok(Response::new(pb::RegisterEnterpriseResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
        }))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn update_enterprise(
        &self,
        request: Request<pb::UpdateEnterpriseRequest>,
    ) -> Result<Response<pb::UpdateEnterpriseResponse>, Status> {
        let by = caller(&request)?;
        let request = request.into_inner();
        let command = change_command(&request.uscc, request.expected_version, |violations| {
            let fields = convert::update_input(&request).check(today_in_china(), violations);
            fields.map(Change::Fields)
        })?;
        let enterprise = self.store.change(command, &by).await?;
        Ok(Response::new(pb::UpdateEnterpriseResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
        }))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn deregister_enterprise(
        &self,
        request: Request<pb::DeregisterEnterpriseRequest>,
    ) -> Result<Response<pb::DeregisterEnterpriseResponse>, Status> {
        let by = caller(&request)?;
        let request = request.into_inner();
        let command = change_command(&request.uscc, request.expected_version, |violations| {
            let reason = text(&request.reason, "reason", MAX_REASON_CHARS, violations);
            reason.map(|reason| Change::Deregister { reason })
        })?;
        let enterprise = self.store.change(command, &by).await?;
        Ok(Response::new(pb::DeregisterEnterpriseResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
        }))
    }

    #[tracing::instrument(skip_all, fields(
        uscc = %request.get_ref().uscc,
        client_request_id = %request.get_ref().client_request_id,
    ))]
    async fn submit_return(
        &self,
        request: Request<pb::SubmitReturnRequest>,
    ) -> Result<Response<pb::SubmitReturnResponse>, Status> {
        let by = caller(&request)?;
        let (submission, violations) =
            self.check_return(ReturnMessage::of_request(request.get_ref()));
        let submission = checked(submission, violations)?;
        let outcome = self
            .store
            .submit(std::slice::from_ref(&submission), &by)
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a submission without outcome")))?;
        Ok(Response::new(returns::submitted(outcome)?))
    }

    /// Reads the stream to its end, storing a batch whenever one is full; each row stands on
    /// its own, so a bad row is reported and the others go on. The next batch is read and
    /// checked while the last one is being stored (one task, no more than one batch ahead),
    /// so the service's work on the rows overlaps the database's; a batch is stored only
    /// after the one before it committed, so a later row still sees an earlier one.
    ///
    /// A stream of more than `import_max_rows` rows is refused with RESOURCE_EXHAUSTED as
    /// soon as the row past the cap arrives. The batches committed before it stay stored
    /// (each row stands on its own, as the report promises) and the batch being read is
    /// dropped; the caller splits the file and sends it again, and the rows already stored
    /// come back as duplicates of their `client_request_id`.
    #[tracing::instrument(skip_all)]
    async fn import_returns(
        &self,
        request: Request<Streaming<pb::ImportReturnsRow>>,
    ) -> Result<Response<pb::ImportReturnsResponse>, Status> {
        let by = caller(&request)?;
        let mut rows = request.into_inner();
        let mut report = pb::ImportReturnsResponse::default();
        let mut read = 0;
        let mut chunk = self.read_chunk(&mut rows, &mut read).await?;
        loop {
            report.rejected_rows.append(&mut chunk.rejected);
            if chunk.ended {
                self.import_batch(chunk.rows, &mut report, &by).await?;
                break;
            }
            let (stored, next) = tokio::join!(
                self.import_batch(chunk.rows, &mut report, &by),
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
        Ok(Response::new(report))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn get_enterprise_file(
        &self,
        request: Request<pb::GetEnterpriseFileRequest>,
    ) -> Result<Response<pb::GetEnterpriseFileResponse>, Status> {
        let reader = caller(&request)?;
        // An enterprise reads its own file only (the rule let every enterprise in).
        Principal::of(&request)?.require_enterprise_self(&request.get_ref().uscc)?;
        let request = request.into_inner();
        let detail = serde_json::json!({
            "as_of": request.as_of.as_ref().map(|t| t.seconds),
            "all_revisions": request.all_revisions,
        });
        let mut violations = Violations::new();
        let uscc = violations.uscc("uscc", &request.uscc);
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
        let found = self.store.read_file(&uscc, &view, &reader).await?;
        let Some((enterprise, returns)) = found else {
            return Err(ApiError::NotFound(match as_of {
                Some(time) => format!("enterprise with uscc {uscc} as of {}", time.to_rfc3339()),
                None => format!("enterprise with uscc {uscc}"),
            })
            .into());
        };
        let reply = pb::GetEnterpriseFileResponse {
            enterprise: Some(convert::enterprise_to_proto(&enterprise)),
            returns: returns.iter().map(convert::return_to_proto).collect(),
        };
        Ok(audit::subject(
            Response::new(reply),
            Some(&request.uscc),
            detail,
        ))
    }

    async fn list_enterprises(
        &self,
        request: Request<pb::ListEnterprisesRequest>,
    ) -> Result<Response<pb::ListEnterprisesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut detail = serde_json::json!({
            "park": request.park,
            "segment": request.segment,
            "industry_class": request.industry_class,
            "status": request.status,
            "name_contains": request.name_contains,
        });
        let query = reads::list_query(&request)?;
        let limit = i64::from(query.page_size) + 1;
        let found = self
            .store
            .list(&query.filter, query.after.as_deref(), limit)
            .await?;
        let reply = reads::list_page(found, query.page_size);
        detail["returned"] = reply.enterprises.len().into();
        Ok(audit::subject(Response::new(reply), None, detail))
    }

    async fn get_statistics(
        &self,
        request: Request<pb::GetStatisticsRequest>,
    ) -> Result<Response<pb::GetStatisticsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let detail = serde_json::json!({
            "period": request.period.as_ref().map(|p| p.code.clone()),
            "group_by": request.group_by,
        });
        let (period, grouping) = reads::statistics_query(&request)?;
        let groups = self.store.statistics(period, grouping).await?;
        let mut total = Totals::default();
        for (_, totals) in &groups {
            total.add(totals);
        }
        let reply = pb::GetStatisticsResponse {
            period: Some(common::Period {
                code: period.code(),
            }),
            rows: groups
                .iter()
                .map(|(group, totals)| convert::statistics_row(Some(*group), totals))
                .collect(),
            total: Some(convert::statistics_row(None, &total)),
        };
        Ok(audit::subject(Response::new(reply), None, detail))
    }
}
