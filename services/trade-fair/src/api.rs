//! The gRPC API `FairService`.
//!
//! Access (see [`access_rules`]): commerce (`fairs.write`) manages fairs, applications,
//! allocation, offers, outcomes and subsidies; `fairs.read` (commerce, park committees) reads
//! fairs, registrations and reports; `fairs.subsidies.read` (commerce, finance) reads
//! subsidies and budgets; an enterprise lists its own invitations (the USCC filter forced to
//! its own) and nothing else. Every error leaves through [`ApiError`]; bad input is
//! INVALID_ARGUMENT naming its field.

use std::sync::Arc;

use chrono::Utc;
use haicheng_proto::fair::v1::{
    self as pb,
    fair_service_server::{FairService, SERVICE_NAME},
};
use platform::{AccessPolicy, ApiError, Outbox, Principal, Rule, Violations, auth::scopes, paging};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::{
    config::Rules,
    convert,
    store::{fairs, invitations, outcomes, registrations, subsidies},
};

/// `policy` with a rule for every FairService method.
pub fn access_rules(policy: AccessPolicy) -> AccessPolicy {
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    let read = Rule::Scope(scopes::FAIRS_READ);
    let write = Rule::Scope(scopes::FAIRS_WRITE);
    let subsidies = Rule::Scope(scopes::FAIR_SUBSIDIES_READ);
    // An enterprise lists its own invitations; the handler forces the filter to its USCC.
    let mut policy = policy.allow(
        &method("ListInvitations"),
        Rule::ScopeOrEnterprise(scopes::FAIRS_READ),
    );
    for name in [
        "GetFair",
        "ListFairs",
        "GetRegistration",
        "ListRegistrations",
        "GetFairReport",
        "GetEnterpriseReport",
        "GetExportTotals",
    ] {
        policy = policy.allow(&method(name), read.clone());
    }
    for name in [
        "CreateFair",
        "UpdateFair",
        "Apply",
        "AllocateBooths",
        "CancelRegistration",
        "AcceptOffer",
        "DeclineOffer",
        "RecordOutcome",
        "ClaimSubsidy",
        "SetSubsidyBudget",
    ] {
        policy = policy.allow(&method(name), write.clone());
    }
    for name in ["ListSubsidies", "GetSubsidyBudget"] {
        policy = policy.allow(&method(name), subsidies.clone());
    }
    policy
}

/// The service's handlers.
#[derive(Clone)]
pub struct FairApi {
    pool: PgPool,
    outbox: Outbox,
    rules: Arc<Rules>,
}

/// Longest cancellation reason accepted.
const MAX_REASON: usize = 500;
/// Years a budget may be set for.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=9999;

fn done<T>(result: Result<T, ApiError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

fn one_id(field: &str, text: &str) -> Result<uuid::Uuid, ApiError> {
    let mut violations = Violations::new();
    let id = convert::id(&mut violations, field, text);
    violations.finish()?;
    Ok(id)
}

impl FairApi {
    pub fn new(pool: PgPool, outbox: Outbox, rules: Arc<Rules>) -> Self {
        Self {
            pool,
            outbox,
            rules,
        }
    }

    async fn create_fair(
        &self,
        r: pb::CreateFairRequest,
    ) -> Result<pb::CreateFairResponse, ApiError> {
        let mut violations = Violations::new();
        let fair = r.fair.unwrap_or_default();
        let spec = convert::fair_spec(
            &mut violations,
            "fair",
            &fair,
            convert::defaults(&self.rules),
        );
        violations.finish()?;
        let spec = spec.ok_or_else(|| ApiError::invalid("fair", "is incomplete"))?;
        let stored = fairs::create(&self.pool, &spec).await?;
        Ok(pb::CreateFairResponse {
            fair: Some(convert::fair(&stored)),
        })
    }

    async fn update_fair(
        &self,
        r: pb::UpdateFairRequest,
    ) -> Result<pb::UpdateFairResponse, ApiError> {
        let id = one_id("fair_id", &r.fair_id)?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let current = fairs::get(&mut conn, id).await?;
        drop(conn);
        let mut violations = Violations::new();
        violations.check(r.expected_version > 0, "expected_version", "is required");
        let fair = r.fair.unwrap_or_default();
        let s = &current.spec;
        let keep = (
            s.small_firm_reserve_percent,
            s.a_class_reserve_percent,
            s.per_firm_cap,
        );
        let spec = convert::fair_spec(&mut violations, "fair", &fair, keep);
        violations.finish()?;
        let spec = spec.ok_or_else(|| ApiError::invalid("fair", "is incomplete"))?;
        let stored = fairs::update(&self.pool, id, &spec, r.expected_version).await?;
        Ok(pb::UpdateFairResponse {
            fair: Some(convert::fair(&stored)),
        })
    }

    async fn get_fair(&self, r: pb::GetFairRequest) -> Result<pb::GetFairResponse, ApiError> {
        let id = one_id("fair_id", &r.fair_id)?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let fair = fairs::get(&mut conn, id).await?;
        let waitlisted = fairs::waitlisted(&self.pool, id).await?;
        Ok(pb::GetFairResponse {
            fair: Some(convert::fair(&fair)),
            waitlisted: waitlisted as i32,
        })
    }

    async fn list_fairs(&self, r: pb::ListFairsRequest) -> Result<pb::ListFairsResponse, ApiError> {
        let mut violations = Violations::new();
        let kind = (r.kind != 0).then(|| convert::kind_from_proto(r.kind));
        violations.check(kind != Some(None), "kind", "is not a fair kind");
        let market = (r.market != 0).then(|| convert::market_from_proto(r.market));
        violations.check(market != Some(None), "market", "is not a market");
        let size = paging::page_size(r.page_size);
        let cursor = paging::decode_token::<fairs::Cursor>(&r.page_token);
        violations.finish()?;
        let (size, cursor) = (size?, cursor?);
        let filter = fairs::Filter {
            kind: kind.flatten(),
            market: market.flatten(),
            external_only: r.external_only,
            open_only: r.open_only,
            include_past: r.include_past,
        };
        let mut page =
            fairs::list(&self.pool, &filter, Utc::now(), cursor.as_ref(), size + 1).await?;
        let next_page_token = if page.len() > size as usize {
            page.truncate(size as usize);
            page.last()
                .map(|f| paging::encode_token(&fairs::Cursor::after(f)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListFairsResponse {
            fairs: page.iter().map(convert::fair).collect(),
            next_page_token,
        })
    }

    async fn list_invitations(
        &self,
        r: pb::ListInvitationsRequest,
    ) -> Result<pb::ListInvitationsResponse, ApiError> {
        let mut violations = Violations::new();
        let fair_id =
            (!r.fair_id.is_empty()).then(|| convert::id(&mut violations, "fair_id", &r.fair_id));
        if !r.uscc.is_empty() {
            convert::uscc(&mut violations, "uscc", &r.uscc);
        }
        violations.check(
            fair_id.is_some() || !r.uscc.is_empty(),
            "fair_id",
            "give a fair, an enterprise or both",
        );
        let status = (r.status != 0).then(|| convert::invitation_status_from_proto(r.status));
        violations.check(
            status != Some(None),
            "status",
            "is not an invitation status",
        );
        violations.finish()?;
        let uscc = (!r.uscc.is_empty()).then_some(r.uscc.as_str());
        let found = invitations::list(&self.pool, fair_id, uscc, status.flatten()).await?;
        Ok(pb::ListInvitationsResponse {
            invitations: found.iter().map(convert::invitation).collect(),
        })
    }

    async fn apply(&self, r: pb::ApplyRequest) -> Result<pb::ApplyResponse, ApiError> {
        let mut violations = Violations::new();
        let fair_id = convert::id(&mut violations, "fair_id", &r.fair_id);
        convert::uscc(&mut violations, "uscc", &r.uscc);
        let booth_type = convert::booth_type_from_proto(r.booth_type);
        violations.check(
            booth_type.is_some(),
            "booth_type",
            "must be standard, brand or custom space",
        );
        violations.check(r.booths > 0, "booths", "must be at least 1");
        violations.finish()?;
        let application = registrations::Application {
            fair_id,
            uscc: r.uscc,
            booth_type: booth_type.ok_or_else(|| ApiError::invalid("booth_type", "is required"))?,
            booths: r.booths as u32,
        };
        let registration = registrations::apply(
            &self.pool,
            &self.outbox,
            &self.rules,
            &application,
            Utc::now(),
        )
        .await?;
        Ok(pb::ApplyResponse {
            registration: Some(convert::registration(&registration)),
        })
    }

    async fn get_registration(
        &self,
        r: pb::GetRegistrationRequest,
    ) -> Result<pb::GetRegistrationResponse, ApiError> {
        let id = one_id("registration_id", &r.registration_id)?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let registration = registrations::get(&mut conn, id).await?;
        Ok(pb::GetRegistrationResponse {
            registration: Some(convert::registration(&registration)),
        })
    }

    async fn list_registrations(
        &self,
        r: pb::ListRegistrationsRequest,
    ) -> Result<pb::ListRegistrationsResponse, ApiError> {
        let mut violations = Violations::new();
        let fair_id = convert::id(&mut violations, "fair_id", &r.fair_id);
        let status = (r.status != 0).then(|| convert::status_from_proto(r.status));
        violations.check(
            status != Some(None),
            "status",
            "is not a registration status",
        );
        violations.finish()?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        fairs::get(&mut conn, fair_id).await?;
        let all = registrations::of_fair(&mut conn, fair_id).await?;
        let registrations = all
            .iter()
            .filter(|reg| status.flatten().is_none_or(|s| reg.status == s))
            .map(convert::registration)
            .collect();
        Ok(pb::ListRegistrationsResponse { registrations })
    }

    async fn allocate_booths(
        &self,
        r: pb::AllocateBoothsRequest,
    ) -> Result<pb::AllocateBoothsResponse, ApiError> {
        let id = one_id("fair_id", &r.fair_id)?;
        let all =
            registrations::allocate(&self.pool, &self.outbox, &self.rules, id, Utc::now()).await?;
        Ok(pb::AllocateBoothsResponse {
            registrations: all.iter().map(convert::registration).collect(),
        })
    }

    async fn cancel(
        &self,
        r: pb::CancelRegistrationRequest,
    ) -> Result<pb::CancelRegistrationResponse, ApiError> {
        let mut violations = Violations::new();
        let id = convert::id(&mut violations, "registration_id", &r.registration_id);
        violations.check(!r.reason.trim().is_empty(), "reason", "is required");
        violations.check(
            r.reason.chars().count() <= MAX_REASON,
            "reason",
            format!("at most {MAX_REASON} characters"),
        );
        violations.finish()?;
        let (cancelled, offered) = registrations::cancel(
            &self.pool,
            &self.outbox,
            &self.rules,
            id,
            r.reason.trim(),
            Utc::now(),
        )
        .await?;
        Ok(pb::CancelRegistrationResponse {
            registration: Some(convert::registration(&cancelled)),
            offered: offered.iter().map(convert::registration).collect(),
        })
    }

    async fn accept(&self, r: pb::AcceptOfferRequest) -> Result<pb::AcceptOfferResponse, ApiError> {
        let id = one_id("registration_id", &r.registration_id)?;
        let confirmed =
            registrations::accept_offer(&self.pool, &self.outbox, id, Utc::now()).await?;
        Ok(pb::AcceptOfferResponse {
            registration: Some(convert::registration(&confirmed)),
        })
    }

    async fn decline(
        &self,
        r: pb::DeclineOfferRequest,
    ) -> Result<pb::DeclineOfferResponse, ApiError> {
        let id = one_id("registration_id", &r.registration_id)?;
        let (declined, offered) =
            registrations::decline_offer(&self.pool, &self.outbox, &self.rules, id, Utc::now())
                .await?;
        Ok(pb::DeclineOfferResponse {
            registration: Some(convert::registration(&declined)),
            offered: offered.iter().map(convert::registration).collect(),
        })
    }

    async fn record_outcome(
        &self,
        r: pb::RecordOutcomeRequest,
    ) -> Result<pb::RecordOutcomeResponse, ApiError> {
        let mut violations = Violations::new();
        let id = convert::id(&mut violations, "registration_id", &r.registration_id);
        violations.check(r.leads >= 0, "leads", "must not be negative");
        violations.check(
            r.intended_orders_fen >= 0,
            "intended_orders_fen",
            "must not be negative",
        );
        violations.check(
            r.signed_export_orders_fen >= 0,
            "signed_export_orders_fen",
            "must not be negative",
        );
        violations.finish()?;
        let figures = outcomes::Figures {
            leads: r.leads,
            intended_orders_fen: r.intended_orders_fen,
            signed_export_orders_fen: r.signed_export_orders_fen,
        };
        let outcome = outcomes::record(&self.pool, &self.outbox, id, figures, Utc::now()).await?;
        Ok(pb::RecordOutcomeResponse {
            outcome: Some(convert::outcome(&outcome)),
        })
    }

    async fn fair_report(
        &self,
        r: pb::GetFairReportRequest,
    ) -> Result<pb::GetFairReportResponse, ApiError> {
        let id = one_id("fair_id", &r.fair_id)?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let fair = fairs::get(&mut conn, id).await?;
        drop(conn);
        let report = outcomes::fair_report(&self.pool, id).await?;
        let sum = |f: fn(&outcomes::Outcome) -> i64| report.outcomes.iter().map(f).sum::<i64>();
        Ok(pb::GetFairReportResponse {
            fair: Some(convert::fair(&fair)),
            invitations: report.invitations as i32,
            confirmed: report.confirmed as i32,
            waitlisted: report.waitlisted as i32,
            cancelled: report.cancelled as i32,
            booths_taken: report.booths_taken as i32,
            leads: sum(|o| i64::from(o.leads)),
            intended_orders_fen: sum(|o| o.intended_orders_fen),
            signed_export_orders_fen: sum(|o| o.signed_export_orders_fen),
            outcomes: report.outcomes.iter().map(convert::outcome).collect(),
            subsidies_fen: report.subsidies_fen,
        })
    }

    async fn enterprise_report(
        &self,
        r: pb::GetEnterpriseReportRequest,
    ) -> Result<pb::GetEnterpriseReportResponse, ApiError> {
        let mut violations = Violations::new();
        convert::uscc(&mut violations, "uscc", &r.uscc);
        violations.finish()?;
        let (regs, outs, years) = outcomes::enterprise_report(&self.pool, &r.uscc).await?;
        Ok(pb::GetEnterpriseReportResponse {
            uscc: r.uscc,
            registrations: regs.iter().map(convert::registration).collect(),
            outcomes: outs.iter().map(convert::outcome).collect(),
            years: years
                .iter()
                .map(|y| pb::EnterpriseYear {
                    year: y.year,
                    fairs: y.fairs,
                    intended_orders_fen: y.intended_orders_fen,
                    signed_export_orders_fen: y.signed_export_orders_fen,
                    census_export_sales_fen: y.census_export_sales_fen,
                    follow_through_percent: y.follow_through_percent(),
                })
                .collect(),
        })
    }

    async fn export_totals(
        &self,
        r: pb::GetExportTotalsRequest,
    ) -> Result<pb::GetExportTotalsResponse, ApiError> {
        let mut violations = Violations::new();
        violations.check(r.from_year >= 0, "from_year", "must not be negative");
        violations.check(r.to_year >= 0, "to_year", "must not be negative");
        violations.check(
            r.to_year == 0 || r.from_year <= r.to_year,
            "to_year",
            "must not be before from_year",
        );
        violations.finish()?;
        let totals = outcomes::export_totals(
            &self.pool,
            (r.from_year > 0).then_some(r.from_year),
            (r.to_year > 0).then_some(r.to_year),
        )
        .await?;
        Ok(pb::GetExportTotalsResponse {
            totals: totals
                .iter()
                .map(|t| pb::ExportTotal {
                    year: t.year,
                    fairs: t.fairs as i32,
                    signed_export_orders_fen: t.signed_export_orders_fen,
                    intended_orders_fen: t.intended_orders_fen,
                })
                .collect(),
        })
    }

    async fn claim_subsidy(
        &self,
        r: pb::ClaimSubsidyRequest,
    ) -> Result<pb::ClaimSubsidyResponse, ApiError> {
        let id = one_id("registration_id", &r.registration_id)?;
        let granted =
            subsidies::claim(&self.pool, &self.outbox, &self.rules, id, Utc::now()).await?;
        Ok(pb::ClaimSubsidyResponse {
            subsidy: Some(convert::subsidy(&granted)),
        })
    }

    async fn list_subsidies(
        &self,
        r: pb::ListSubsidiesRequest,
    ) -> Result<pb::ListSubsidiesResponse, ApiError> {
        let mut violations = Violations::new();
        violations.check(YEARS.contains(&r.year), "year", "must be 2000 to 9999");
        if !r.uscc.is_empty() {
            convert::uscc(&mut violations, "uscc", &r.uscc);
        }
        violations.finish()?;
        let found = subsidies::list(
            &self.pool,
            r.year,
            (!r.uscc.is_empty()).then_some(r.uscc.as_str()),
        )
        .await?;
        Ok(pb::ListSubsidiesResponse {
            total_fen: found.iter().map(|s| s.amount_fen).sum(),
            subsidies: found.iter().map(convert::subsidy).collect(),
        })
    }

    async fn set_budget(
        &self,
        r: pb::SetSubsidyBudgetRequest,
    ) -> Result<pb::SetSubsidyBudgetResponse, ApiError> {
        let mut violations = Violations::new();
        violations.check(YEARS.contains(&r.year), "year", "must be 2000 to 9999");
        violations.check(r.budget_fen >= 0, "budget_fen", "must not be negative");
        violations.finish()?;
        let b = subsidies::set_budget(&self.pool, &self.rules, r.year, r.budget_fen).await?;
        Ok(pb::SetSubsidyBudgetResponse {
            budget: Some(budget(b)),
        })
    }

    async fn get_budget(
        &self,
        r: pb::GetSubsidyBudgetRequest,
    ) -> Result<pb::GetSubsidyBudgetResponse, ApiError> {
        let mut violations = Violations::new();
        violations.check(YEARS.contains(&r.year), "year", "must be 2000 to 9999");
        violations.finish()?;
        let b = subsidies::budget(&self.pool, &self.rules, r.year).await?;
        Ok(pb::GetSubsidyBudgetResponse {
            budget: Some(budget(b)),
        })
    }
}

fn budget(b: subsidies::Budget) -> pb::SubsidyBudget {
    pb::SubsidyBudget {
        year: b.year,
        budget_fen: b.budget_fen,
        granted_fen: b.granted_fen,
    }
}

#[tonic::async_trait]
impl FairService for FairApi {
    #[tracing::instrument(skip_all)]
    async fn create_fair(
        &self,
        request: Request<pb::CreateFairRequest>,
    ) -> Result<Response<pb::CreateFairResponse>, Status> {
        done(self.create_fair(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    async fn update_fair(
        &self,
        request: Request<pb::UpdateFairRequest>,
    ) -> Result<Response<pb::UpdateFairResponse>, Status> {
        done(self.update_fair(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    async fn get_fair(
        &self,
        request: Request<pb::GetFairRequest>,
    ) -> Result<Response<pb::GetFairResponse>, Status> {
        done(self.get_fair(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn list_fairs(
        &self,
        request: Request<pb::ListFairsRequest>,
    ) -> Result<Response<pb::ListFairsResponse>, Status> {
        done(self.list_fairs(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        let uscc = Principal::of(&request)?.restrict_to_self(&request.get_ref().uscc)?;
        let mut message = request.into_inner();
        message.uscc = uscc.clone();
        let detail = serde_json::json!({ "fair_id": message.fair_id });
        let reply = done(self.list_invitations(message).await)?;
        Ok(platform::audit::subject(reply, Some(&uscc), detail))
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id, uscc = %request.get_ref().uscc))]
    async fn apply(
        &self,
        request: Request<pb::ApplyRequest>,
    ) -> Result<Response<pb::ApplyResponse>, Status> {
        done(self.apply(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn get_registration(
        &self,
        request: Request<pb::GetRegistrationRequest>,
    ) -> Result<Response<pb::GetRegistrationResponse>, Status> {
        done(self.get_registration(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    async fn list_registrations(
        &self,
        request: Request<pb::ListRegistrationsRequest>,
    ) -> Result<Response<pb::ListRegistrationsResponse>, Status> {
        done(self.list_registrations(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    async fn allocate_booths(
        &self,
        request: Request<pb::AllocateBoothsRequest>,
    ) -> Result<Response<pb::AllocateBoothsResponse>, Status> {
        done(self.allocate_booths(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    async fn cancel_registration(
        &self,
        request: Request<pb::CancelRegistrationRequest>,
    ) -> Result<Response<pb::CancelRegistrationResponse>, Status> {
        done(self.cancel(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    async fn accept_offer(
        &self,
        request: Request<pb::AcceptOfferRequest>,
    ) -> Result<Response<pb::AcceptOfferResponse>, Status> {
        done(self.accept(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    async fn decline_offer(
        &self,
        request: Request<pb::DeclineOfferRequest>,
    ) -> Result<Response<pb::DeclineOfferResponse>, Status> {
        done(self.decline(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    async fn record_outcome(
        &self,
        request: Request<pb::RecordOutcomeRequest>,
    ) -> Result<Response<pb::RecordOutcomeResponse>, Status> {
        done(self.record_outcome(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    async fn get_fair_report(
        &self,
        request: Request<pb::GetFairReportRequest>,
    ) -> Result<Response<pb::GetFairReportResponse>, Status> {
        done(self.fair_report(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    async fn get_enterprise_report(
        &self,
        request: Request<pb::GetEnterpriseReportRequest>,
    ) -> Result<Response<pb::GetEnterpriseReportResponse>, Status> {
        let uscc = request.get_ref().uscc.clone();
        let reply = done(self.enterprise_report(request.into_inner()).await)?;
        Ok(platform::audit::subject(
            reply,
            Some(&uscc),
            serde_json::Value::Null,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_export_totals(
        &self,
        request: Request<pb::GetExportTotalsRequest>,
    ) -> Result<Response<pb::GetExportTotalsResponse>, Status> {
        done(self.export_totals(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    async fn claim_subsidy(
        &self,
        request: Request<pb::ClaimSubsidyRequest>,
    ) -> Result<Response<pb::ClaimSubsidyResponse>, Status> {
        done(self.claim_subsidy(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn list_subsidies(
        &self,
        request: Request<pb::ListSubsidiesRequest>,
    ) -> Result<Response<pb::ListSubsidiesResponse>, Status> {
        done(self.list_subsidies(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn set_subsidy_budget(
        &self,
        request: Request<pb::SetSubsidyBudgetRequest>,
    ) -> Result<Response<pb::SetSubsidyBudgetResponse>, Status> {
        done(self.set_budget(request.into_inner()).await)
    }

    #[tracing::instrument(skip_all)]
    async fn get_subsidy_budget(
        &self,
        request: Request<pb::GetSubsidyBudgetRequest>,
    ) -> Result<Response<pb::GetSubsidyBudgetResponse>, Status> {
        done(self.get_budget(request.into_inner()).await)
    }
}
