//! The gRPC API `ClassificationService`: classes, explanations, the model and overrides.
//!
//! Access (see [`access_rules`]): reads need `classification.read`; setting the model,
//! overriding or lifting a class and publishing a period need `classification.admin`, which
//! only commerce holds. Reads answer from the current ranking or, with `view` PUBLISHED, from
//! a period's published snapshot ([`publication`]). Objections (module `objections`): filed and
//! listed by commerce or by the enterprise itself (kept to its own), decided by commerce.
//! Every error leaves through [`ApiError`]; bad input is INVALID_ARGUMENT naming its field.

mod convert;
mod objections;
mod publication;

use std::sync::Arc;

use haicheng_proto::{
    classification::v1::{
        self as pb,
        classification_service_server::{ClassificationService, SERVICE_NAME},
    },
    common::v1 as common,
};
use platform::{
    AccessPolicy, ApiError, Outbox, Principal, Rule, Violations, audit, auth::scopes, paging,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::{
    domain::{
        Class, Grading, Indicator,
        calendar::ObjectionWindow,
        evaluation::indicators_for,
        explain,
        model::Model,
        notes::{self, Facts, NextClass},
        policy::NoticeRule,
    },
    store::{
        StoreError,
        classes::{self, ClassRow, Filter, OverrideAction},
        models::{self, ModelCache},
        publication::{self as published, View},
    },
};

/// The one place a store error becomes a gRPC status.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(why) => ApiError::Aborted(why),
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
    pool: PgPool,
    outbox: Outbox,
    /// For the notices of overrides.
    rules: Arc<Vec<NoticeRule>>,
    /// Model versions by number, for breakdowns of classes computed with older versions.
    models: ModelCache,
    /// How long objections are accepted after publication.
    objection_window: ObjectionWindow,
    /// The band an enterprise's own explanation rounds the boundary score up to.
    enterprise_boundary_band: f64,
}

/// A page token's cursor: the period, then the listing order (segment, rank, USCC).
type PageCursor = (String, i32, i32, String);

impl ClassificationApi {
    pub fn new(pool: PgPool, outbox: Outbox, rules: Arc<Vec<NoticeRule>>) -> Self {
        Self {
            pool,
            outbox,
            rules,
            models: ModelCache::default(),
            objection_window: ObjectionWindow::default(),
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

    async fn model(&self, version: i64) -> Result<Arc<Model>, ApiError> {
        Ok(self.models.get(&self.pool, version).await?)
    }

    async fn to_proto(&self, row: &ClassRow) -> Result<pb::Classification, ApiError> {
        let model = self.model(row.model_version).await?;
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
        convert::check_uscc(&mut violations, "uscc", uscc);
        let period = convert::optional_period(&mut violations, "period", period);
        let view = publication::view(&mut violations, "view", requested);
        violations.finish()?;
        if principal.enterprise().is_none() {
            return Ok((period, view));
        }
        let is_published = published::is_published_for(&self.pool, uscc, period.as_deref()).await?;
        let view = publication::enterprise_view(requested, view, is_published)?;
        Ok((period, view))
    }

    async fn explain(
        &self,
        principal: &Principal,
        request: pb::ExplainRequest,
    ) -> Result<pb::ExplainResponse, ApiError> {
        let (period, view) = self
            .target(
                principal,
                &request.uscc,
                request.period.as_ref(),
                request.view,
            )
            .await?;
        // An enterprise sees the boundary in a band: the exact one is a competitor's score.
        let band = principal
            .enterprise()
            .map(|_| self.enterprise_boundary_band);
        let row = classes::find(&self.pool, view, &request.uscc, period.as_deref()).await?;
        let model = self.model(row.model_version).await?;
        let classification = convert::classification_to_proto(&row, &model);
        let mut next_class_gap = None;
        let mut next = NextClass::None;
        if let (Grading::Graded, false, Some(target)) = (
            row.grading(),
            row.vetoed,
            row.computed_class().and_then(Class::next_up),
        ) {
            next = match classes::boundary_score(&self.pool, view, &row.period, row.segment, target)
                .await?
            {
                None => NextClass::NoPlaces(target),
                Some(exact) => {
                    let boundary = band.map_or(exact, |band| explain::banded_boundary(exact, band));
                    let parts = explain::breakdown(
                        indicators_for(&model, row.reduced_model),
                        &row.figures,
                        &row.benchmarks(),
                    );
                    let gaps = explain::gaps(&parts, row.score, boundary);
                    let mut gap = convert::gap_to_proto(target, boundary, row.score, &gaps);
                    gap.banded = band.is_some();
                    next_class_gap = Some(gap);
                    match band {
                        Some(_) => NextClass::Band(target, boundary),
                        None => NextClass::Boundary(target, boundary),
                    }
                }
            };
        }
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
        let notes = notes::notes(&facts, &model);
        Ok(pb::ExplainResponse {
            classification: Some(classification),
            next_class_gap,
            notes,
        })
    }

    async fn list(
        &self,
        request: pb::ListClassesRequest,
    ) -> Result<pb::ListClassesResponse, ApiError> {
        let mut violations = Violations::new();
        let class = convert::filter::<common::EnterpriseClass>(
            &mut violations,
            "enterprise_class",
            request.enterprise_class,
        );
        let park = convert::filter::<common::Park>(&mut violations, "park", request.park);
        let segment =
            convert::filter::<common::Segment>(&mut violations, "segment", request.segment);
        let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
        let view = publication::view(&mut violations, "view", request.view);
        let limit = match paging::page_size(request.page_size) {
            Ok(limit) => Some(limit),
            Err(_) => {
                violations.add("page_size", "must not be negative");
                None
            }
        };
        violations.finish()?;
        let limit = limit.unwrap_or(paging::DEFAULT_PAGE_SIZE);
        let cursor: Option<PageCursor> = paging::decode_token(&request.page_token)?;
        let period = cursor.as_ref().map(|(p, ..)| p.clone()).or(period);
        let period = published::resolve_period(&self.pool, view, period).await?;
        let Some(period) = period else {
            return Ok(pb::ListClassesResponse::default());
        };
        let filter = Filter {
            class: class.and_then(Class::from_proto),
            park,
            segment,
        };
        let after = cursor.map(|(_, segment, rank, uscc)| (segment, rank, uscc));
        let mut rows = classes::list(
            &self.pool,
            view,
            &period,
            &filter,
            after.as_ref(),
            limit + 1,
        )
        .await?;
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map_or_else(String::new, |last| {
                paging::encode_token(&(
                    period.clone(),
                    last.segment,
                    last.sort_rank,
                    last.uscc.clone(),
                ))
            })
        } else {
            String::new()
        };
        let mut classifications = Vec::with_capacity(rows.len());
        for row in &rows {
            classifications.push(self.to_proto(row).await?);
        }
        Ok(pb::ListClassesResponse {
            classifications,
            next_page_token,
        })
    }

    async fn set_model(
        &self,
        principal: &Principal,
        request: pb::SetModelRequest,
    ) -> Result<pb::SetModelResponse, ApiError> {
        let mut violations = Violations::new();
        let model = convert::model_from_proto(&mut violations, request.model.as_ref());
        violations.check(
            request.expected_version > 0,
            "expected_version",
            "required: the version last read (GetModel)",
        );
        violations.finish()?;
        let Some(model) = model else {
            return Err(ApiError::invalid("model", "is invalid"));
        };
        let note = request.model.as_ref().map_or("", |m| m.note.as_str());
        let stored = models::store_next(
            &self.pool,
            &model,
            request.expected_version,
            note,
            &principal.identity.to_string(),
        )
        .await?;
        tracing::info!(version = stored.version, by = %principal.identity, "new classification model stored; re-ranking every period");
        Ok(pb::SetModelResponse {
            model: Some(convert::model_to_proto(&stored)),
        })
    }

    async fn override_or_lift(
        &self,
        principal: &Principal,
        uscc: &str,
        period: Option<&common::Period>,
        class: Option<i32>,
        reason: &str,
    ) -> Result<pb::Classification, ApiError> {
        let mut violations = Violations::new();
        convert::check_uscc(&mut violations, "uscc", uscc);
        let period = convert::optional_period(&mut violations, "period", period);
        let class = class.and_then(|value| {
            let class = Class::from_proto(value);
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
        let row = classes::apply_override(
            &self.pool,
            &self.outbox,
            &self.rules,
            uscc,
            period.as_deref(),
            action,
            &principal.identity.to_string(),
        )
        .await?;
        tracing::info!(uscc, period = %row.period, class = ?row.class, by = %principal.identity, "override changed");
        self.to_proto(&row).await
    }

    async fn distribution(
        &self,
        request: pb::GetDistributionRequest,
    ) -> Result<pb::GetDistributionResponse, ApiError> {
        let mut violations = Violations::new();
        let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
        let view = publication::view(&mut violations, "view", request.view);
        violations.finish()?;
        let period = published::resolve_period(&self.pool, view, period).await?;
        let Some(period) = period else {
            return Ok(pb::GetDistributionResponse {
                total: Some(pb::DistributionRow::default()),
                ..Default::default()
            });
        };
        let (rows, model_version) = classes::distribution(&self.pool, view, &period).await?;
        let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        let mut total = pb::DistributionRow::default();
        let rows = rows
            .into_iter()
            .map(|r| {
                total.class_a += count(r.class_a);
                total.class_b += count(r.class_b);
                total.class_c += count(r.class_c);
                total.deferred += count(r.deferred);
                total.exempt += count(r.exempt);
                pb::DistributionRow {
                    park: r.park,
                    segment: r.segment,
                    class_a: count(r.class_a),
                    class_b: count(r.class_b),
                    class_c: count(r.class_c),
                    deferred: count(r.deferred),
                    exempt: count(r.exempt),
                }
            })
            .collect();
        Ok(pb::GetDistributionResponse {
            period: Some(common::Period { code: period }),
            model_version,
            rows,
            total: Some(total),
        })
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
        let row = classes::find(&self.pool, view, &request.uscc, period.as_deref())
            .await
            .map_err(ApiError::from)?;
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
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn explain(
        &self,
        request: Request<pb::ExplainRequest>,
    ) -> Result<Response<pb::ExplainResponse>, Status> {
        let principal = principal(&request)?;
        principal.require_enterprise_self(&request.get_ref().uscc)?;
        let uscc = request.get_ref().uscc.clone();
        let reply = ClassificationApi::explain(self, &principal, request.into_inner()).await?;
        Ok(audit::subject(
            Response::new(reply),
            Some(&uscc),
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
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let stored = if version == 0 {
            models::current(&mut conn).await
        } else {
            models::get(&mut conn, version).await.and_then(|m| {
                m.ok_or_else(|| StoreError::NotFound(format!("model version {version}")))
            })
        }
        .map_err(ApiError::from)?;
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
        Ok(Response::new(
            ClassificationApi::set_model(self, &principal, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn override_class(
        &self,
        request: Request<pb::OverrideClassRequest>,
    ) -> Result<Response<pb::OverrideClassResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let classification = self
            .override_or_lift(
                &principal,
                &r.uscc,
                r.period.as_ref(),
                Some(r.enterprise_class),
                &r.reason,
            )
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
        Ok(Response::new(
            self.distribution(request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn publish_period(
        &self,
        request: Request<pb::PublishPeriodRequest>,
    ) -> Result<Response<pb::PublishPeriodResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.publish(&principal, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn file_objection(
        &self,
        request: Request<pb::FileObjectionRequest>,
    ) -> Result<Response<pb::FileObjectionResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            ClassificationApi::file_objection(self, &principal, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(id = request.get_ref().objection_id))]
    async fn decide_objection(
        &self,
        request: Request<pb::DecideObjectionRequest>,
    ) -> Result<Response<pb::DecideObjectionResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            ClassificationApi::decide_objection(self, &principal, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_objections(
        &self,
        request: Request<pb::ListObjectionsRequest>,
    ) -> Result<Response<pb::ListObjectionsResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            ClassificationApi::list_objections(self, &principal, request.into_inner()).await?,
        ))
    }
}
