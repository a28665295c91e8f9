//! The gRPC API `ClassificationService`: classes, explanations, the model and overrides.
//!
//! Access (see [`access_rules`]): reads need `classification.read`; setting the model,
//! overriding or lifting a class and publishing a period need `classification.admin`, which
//! only commerce holds. Reads answer from the current ranking or, with `view` PUBLISHED, from
//! a period's published snapshot ([`publication`]). Objections (module `objections`): filed and
//! listed by commerce or by the enterprise itself (kept to its own), decided by commerce.
//! Every error leaves through [`ApiError`]; bad input is INVALID_ARGUMENT naming its field.

pub mod classes;
pub mod convert;
pub mod objections;
pub mod publication;

use haicheng_proto::{
    classification::v1::{
        self as pb,
        classification_service_server::{ClassificationService, SERVICE_NAME},
    },
    common::v1 as common,
};
use platform::{AccessPolicy, ApiError, Principal, Rule, Violations, audit, auth::scopes};
use tonic::{Request, Response, Status};

use crate::{
    domain::{
        Indicator,
        calendar::ObjectionWindow,
        explain,
        notes::{self, Facts},
    },
    store::{
        Store, StoreError,
        classes::{ClassRow, OverrideAction},
        objections::to_proto as objection_to_proto,
        publication::{self as published, View},
    },
};

/// The one place a store error becomes a gRPC status.
impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

/// A store error as the API's error.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::VersionConflict(why) => ApiError::Aborted(why),
            StoreError::Precondition(why) => ApiError::FailedPrecondition(why),
            StoreError::Database(err) => err.into(),
            StoreError::Other(err) => ApiError::Internal(err),
        }
    }
}

/// `policy` with a rule for every ClassificationService method.
pub fn access_rules(policy: AccessPolicy) -> AccessPolicy {
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    let read = Rule::Scope(scopes::CLASSIFICATION_READ);
    let admin = Rule::Scope(scopes::CLASSIFICATION_ADMIN);
    // An enterprise reads its own class and explanation (the handlers keep it to them).
    let own = Rule::ScopeOrEnterprise(scopes::CLASSIFICATION_READ);
    policy
        .allow(&method("GetClass"), own.clone())
        .allow(&method("ListClasses"), read.clone())
        .allow(&method("Explain"), own)
        .allow(&method("GetModel"), read.clone())
        .allow(&method("GetDistribution"), read)
        .allow(&method("SetModel"), admin.clone())
        .allow(&method("OverrideClass"), admin.clone())
        .allow(&method("LiftOverride"), admin.clone())
        .allow(&method("PublishPeriod"), admin.clone())
        .allow(&method("FinalizePeriod"), admin.clone())
        .allow(&method("DecideObjection"), admin)
        // An enterprise files and lists its own objections (the handlers keep it to them).
        .allow(
            &method("FileObjection"),
            Rule::ScopeOrEnterprise(scopes::CLASSIFICATION_ADMIN),
        )
        .allow(
            &method("ListObjections"),
            Rule::ScopeOrEnterprise(scopes::CLASSIFICATION_ADMIN),
        )
}

/// The service's handlers.
#[derive(Clone)]
pub struct ClassificationApi {
    store: Store,
    /// How long objections are accepted after publication.
    objection_window: ObjectionWindow,
    /// Development mode: a publication may announce no objection window (a rehearsal).
    development: bool,
    /// The band an enterprise's own explanation rounds the boundary score up to.
    enterprise_boundary_band: f64,
}

impl ClassificationApi {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            objection_window: ObjectionWindow::default(),
            development: false,
            enterprise_boundary_band: explain::DEFAULT_BOUNDARY_BAND,
        }
    }

    /// The band an enterprise sees the next class's boundary score in (default 5 points).
    pub fn with_enterprise_boundary_band(mut self, band: f64) -> Self {
        self.enterprise_boundary_band = band;
        self
    }

    /// The objection window as configured (default: 5 working days, weekends off).
    pub fn with_objection_window(mut self, window: ObjectionWindow) -> Self {
        self.objection_window = window;
        self
    }

    /// Development mode: a publication may announce a window shorter than the configured one,
    /// or none (the demo finalizes a period at once).
    pub fn in_development(mut self, development: bool) -> Self {
        self.development = development;
        self
    }

    async fn to_proto(&self, row: &ClassRow) -> Result<pb::Classification, ApiError> {
        let model = self.store.model(row.model_version).await?;
        Ok(convert::classification_to_proto(row, &model))
    }

    /// Validates a (uscc, optional period, view) triple; for an enterprise, the view is the
    /// one it may read ([`publication::enterprise_view`]).
    async fn target(
        &self,
        principal: &Principal,
        uscc: &str,
        period: Option<&common::Period>,
        requested: i32,
    ) -> Result<(Option<String>, View), ApiError> {
        let mut violations = Violations::new();
        violations.uscc("uscc", uscc);
        let period = convert::optional_period(&mut violations, "period", period);
        let view = publication::view(&mut violations, "view", requested);
        violations.finish()?;
        if principal.enterprise().is_none() {
            return Ok((period, view));
        }
        let is_published = self.store.is_published_for(uscc, period.as_deref()).await?;
        let view = publication::enterprise_view(requested, view, is_published)?;
        Ok((period, view))
    }

    /// Sets (`class`) or lifts an override, the request's fields checked.
    async fn override_or_lift(
        &self,
        principal: &Principal,
        uscc: &str,
        period: Option<&common::Period>,
        class: Option<i32>,
        reason: &str,
    ) -> Result<pb::Classification, ApiError> {
        let mut violations = Violations::new();
        violations.uscc("uscc", uscc);
        let period = convert::optional_period(&mut violations, "period", period);
        let class = class.and_then(|value| {
            let class = crate::domain::Class::from_proto(value);
            if class.is_none() {
                violations.add("enterprise_class", "must be A, B or C");
            }
            class
        });
        convert::check_reason(&mut violations, "reason", reason);
        violations.finish()?;
        let action = match class {
            Some(class) => OverrideAction::Set { class, reason },
            None => OverrideAction::Lift { reason },
        };
        let by = principal.identity.to_string();
        let row = self
            .store
            .apply_override(uscc, period.as_deref(), action, &by)
            .await?;
        tracing::info!(uscc, period = %row.period, class = ?row.class, by, "override changed");
        self.to_proto(&row).await
    }
}

fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    Principal::of(request).cloned()
}

#[tonic::async_trait]
impl ClassificationService for ClassificationApi {
    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn get_class(
        &self,
        request: Request<pb::GetClassRequest>,
    ) -> Result<Response<pb::GetClassResponse>, Status> {
        let principal = principal(&request)?;
        principal.require_enterprise_self(&request.get_ref().uscc)?;
        let request = request.into_inner();
        let (period, view) = self
            .target(
                &principal,
                &request.uscc,
                request.period.as_ref(),
                request.view,
            )
            .await?;
        let row = self
            .store
            .find_class(view, &request.uscc, period.as_deref())
            .await?;
        let reply = pb::GetClassResponse {
            classification: Some(self.to_proto(&row).await?),
        };
        let detail = serde_json::json!({ "period": row.period, "view": request.view });
        Ok(audit::subject(
            Response::new(reply),
            Some(&request.uscc),
            detail,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_classes(
        &self,
        request: Request<pb::ListClassesRequest>,
    ) -> Result<Response<pb::ListClassesResponse>, Status> {
        let query = classes::list_query(request.get_ref())?;
        let period = self.store.resolve_period(query.view, query.period).await?;
        let Some(period) = period else {
            return Ok(Response::new(pb::ListClassesResponse::default()));
        };
        let limit = query.limit;
        let mut rows = self
            .store
            .list_classes(
                query.view,
                &period,
                &query.filter,
                query.after.as_ref(),
                limit + 1,
            )
            .await
            .map_err(ApiError::from)?;
        let next_page_token = classes::next_page_token(&mut rows, limit, &period);
        let mut classifications = Vec::with_capacity(rows.len());
        for row in &rows {
            classifications.push(self.to_proto(row).await?);
        }
        Ok(Response::new(pb::ListClassesResponse {
            classifications,
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn explain(
        &self,
        request: Request<pb::ExplainRequest>,
    ) -> Result<Response<pb::ExplainResponse>, Status> {
        let principal = principal(&request)?;
        principal.require_enterprise_self(&request.get_ref().uscc)?;
        let request = request.into_inner();
        let (period, view) = self
            .target(
                &principal,
                &request.uscc,
                request.period.as_ref(),
                request.view,
            )
            .await?;
        // An enterprise sees the boundary in a band: the exact one is a competitor's score.
        let band = principal
            .enterprise()
            .map(|_| self.enterprise_boundary_band);
        let row = self
            .store
            .find_class(view, &request.uscc, period.as_deref())
            .await?;
        let model = self.store.model(row.model_version).await?;
        let classification = convert::classification_to_proto(&row, &model);
        let (next, next_class_gap) =
            classes::next_class(&self.store, view, &row, &model, band).await?;
        let facts = Facts {
            uscc: &row.uscc,
            grading: row.grading(),
            registration_date: row.registration_date,
            reduced_model: row.reduced_model,
            missing: classification
                .breakdown
                .iter()
                .filter(|i| i.missing)
                .filter_map(|i| Indicator::from_proto(i.indicator))
                .collect(),
            vetoed: row.vetoed,
            class: row.class(),
            computed_class: row.computed_class(),
            override_reason: row.override_reason.as_deref(),
            cohort_size: row.cohort_size,
            score: row.score,
            next,
        };
        let reply = pb::ExplainResponse {
            notes: notes::notes(&facts, &model),
            classification: Some(classification),
            next_class_gap,
        };
        Ok(audit::subject(
            Response::new(reply),
            Some(&request.uscc),
            serde_json::Value::Null,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_model(
        &self,
        request: Request<pb::GetModelRequest>,
    ) -> Result<Response<pb::GetModelResponse>, Status> {
        let version = request.into_inner().version;
        if version < 0 {
            return Err(
                ApiError::invalid("version", "must not be negative (0: the current one)").into(),
            );
        }
        let stored = self.store.model_version(version).await?;
        Ok(Response::new(pb::GetModelResponse {
            model: Some(convert::model_to_proto(&stored)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn set_model(
        &self,
        request: Request<pb::SetModelRequest>,
    ) -> Result<Response<pb::SetModelResponse>, Status> {
        let principal = principal(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let model = convert::model_from_proto(&mut violations, request.model.as_ref());
        violations.check(
            request.expected_version > 0,
            "expected_version",
            "required: the version last read (GetModel)",
        );
        violations.finish()?;
        let Some(model) = model else {
            return Err(ApiError::invalid("model", "is invalid").into());
        };
        let note = request.model.as_ref().map_or("", |m| m.note.as_str());
        let by = principal.identity.to_string();
        let stored = self
            .store
            .store_model(&model, request.expected_version, note, &by)
            .await?;
        tracing::info!(
            version = stored.version,
            by,
            "new classification model stored; re-ranking every period"
        );
        Ok(Response::new(pb::SetModelResponse {
            model: Some(convert::model_to_proto(&stored)),
        }))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn override_class(
        &self,
        request: Request<pb::OverrideClassRequest>,
    ) -> Result<Response<pb::OverrideClassResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let class = Some(r.enterprise_class);
        let classification = self
            .override_or_lift(&principal, &r.uscc, r.period.as_ref(), class, &r.reason)
            .await?;
        Ok(Response::new(pb::OverrideClassResponse {
            classification: Some(classification),
        }))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn lift_override(
        &self,
        request: Request<pb::LiftOverrideRequest>,
    ) -> Result<Response<pb::LiftOverrideResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let classification = self
            .override_or_lift(&principal, &r.uscc, r.period.as_ref(), None, &r.reason)
            .await?;
        Ok(Response::new(pb::LiftOverrideResponse {
            classification: Some(classification),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_distribution(
        &self,
        request: Request<pb::GetDistributionRequest>,
    ) -> Result<Response<pb::GetDistributionResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
        let view = publication::view(&mut violations, "view", request.view);
        violations.finish()?;
        let Some(period) = self.store.resolve_period(view, period).await? else {
            return Ok(Response::new(pb::GetDistributionResponse {
                total: Some(pb::DistributionRow::default()),
                ..Default::default()
            }));
        };
        let (rows, model_version) = self
            .store
            .distribution(view, &period)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(classes::distribution(
            period,
            rows,
            model_version,
        )))
    }

    #[tracing::instrument(skip_all)]
    async fn publish_period(
        &self,
        request: Request<pb::PublishPeriodRequest>,
    ) -> Result<Response<pb::PublishPeriodResponse>, Status> {
        let by = principal(&request)?.identity.to_string();
        let request = request.into_inner();
        let period = publication::period_to_publish(&request)?;
        let announced =
            publication::announced_window(&request, &self.objection_window, self.development)?;
        let publish = published::PublishRequest {
            period: &period,
            note: request.note.trim(),
            principal: &by,
            objection_working_days: request.objection_working_days,
        };
        // The end of the objection window, as FileObjection counts it.
        let deadline = |published_at| Some(announced.deadline(published_at));
        let (publication, outcome) = self.store.publish(publish, deadline).await?;
        tracing::info!(
            period,
            by,
            enterprises = publication.enterprises,
            model_version = publication.model_version,
            reranked_changes = outcome.reranked_changes,
            notices = outcome.settled.notices,
            "period published"
        );
        Ok(Response::new(pb::PublishPeriodResponse {
            publication: Some(published::to_proto(&publication)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn finalize_period(
        &self,
        request: Request<pb::FinalizePeriodRequest>,
    ) -> Result<Response<pb::FinalizePeriodResponse>, Status> {
        let by = principal(&request)?.identity.to_string();
        let period = publication::period_to_finalize(request.get_ref())?;
        let finalization = (self.store)
            .finalize(&self.objection_window, &period, &by)
            .await?;
        tracing::info!(
            period,
            by,
            amended = finalization.amendments.len(),
            "period finalized"
        );
        Ok(Response::new(pb::FinalizePeriodResponse {
            finalization: Some(finalization),
        }))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn file_objection(
        &self,
        request: Request<pb::FileObjectionRequest>,
    ) -> Result<Response<pb::FileObjectionResponse>, Status> {
        let principal = principal(&request)?;
        let request = request.into_inner();
        let filing = objections::filing(&request)?;
        principal
            .require_enterprise_self(&request.uscc)
            .map_err(objections::denied)?;
        let by = principal.identity.to_string();
        let new = filing.new_objection(&request, &by);
        let row = self
            .store
            .file_objection(&self.objection_window, new)
            .await?;
        tracing::info!(id = row.id, uscc = %row.uscc, period = %row.period, by, "objection filed");
        Ok(Response::new(pb::FileObjectionResponse {
            objection: Some(objection_to_proto(&row)?),
        }))
    }

    #[tracing::instrument(skip_all, fields(id = request.get_ref().objection_id))]
    async fn decide_objection(
        &self,
        request: Request<pb::DecideObjectionRequest>,
    ) -> Result<Response<pb::DecideObjectionResponse>, Status> {
        let by = principal(&request)?.identity.to_string();
        let request = request.into_inner();
        let decision = objections::decision(&request)?;
        let row = self
            .store
            .decide_objection(request.objection_id, decision, request.reason.trim(), &by)
            .await?;
        tracing::info!(id = row.id, uscc = %row.uscc, period = %row.period, state = %row.state, by, "objection decided");
        Ok(Response::new(pb::DecideObjectionResponse {
            objection: Some(objection_to_proto(&row)?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_objections(
        &self,
        request: Request<pb::ListObjectionsRequest>,
    ) -> Result<Response<pb::ListObjectionsResponse>, Status> {
        let principal = principal(&request)?;
        let request = request.into_inner();
        let (filter, limit) = objections::list_query(&principal, &request)?;
        let before: Option<i64> = platform::paging::decode_token(&request.page_token)?;
        let rows = self
            .store
            .list_objections(&filter, before, limit + 1)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(objections::page(rows, limit)?))
    }
}
