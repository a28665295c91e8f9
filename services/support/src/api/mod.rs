//! `SupportService`: the trait methods are the handlers. Each parses its request with
//! [`Violations`] (INVALID_ARGUMENT naming every bad field), checks who may act, and calls
//! the store (load → decide → commit); refusals become statuses once, in [`errors`].

mod errors;

use std::sync::Arc;

use chrono::Utc;
use haicheng_proto::support::v1::{
    self as pb,
    support_service_server::{SERVICE_NAME, SupportService},
};
use platform::{
    AccessPolicy, ApiError, Principal, Rule, Violations,
    auth::scopes,
    paging::{decode_token, encode_token, page_size},
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    config::Rules,
    convert,
    domain::{eligibility::check_all, payment::Settlement},
    store::{ApplicationFilter, PaymentFilter, RoundView, Store, read_model::Expense},
};

/// The service's access rules: every department reads, a policy's issuer writes, finance
/// pays; an enterprise reads policies and its own benefits, asks the calculator about
/// itself and objects to a list for itself.
pub fn access_rules(policy: AccessPolicy) -> AccessPolicy {
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    let mut policy = policy;
    for name in [
        "GetPolicy",
        "ListPolicies",
        "ListPayments",
        "CheckEligibility",
        "FileObjection",
        "Apply",
        "ListApplications",
        "GetEnterpriseBenefits",
    ] {
        policy = policy.allow(&method(name), Rule::ScopeOrEnterprise(scopes::SUPPORT_READ));
    }
    for name in ["GetRound", "GetPolicyReport"] {
        policy = policy.allow(&method(name), Rule::Scope(scopes::SUPPORT_READ));
    }
    for name in [
        "PutPolicy",
        "RunRound",
        "DecideObjection",
        "FinalizeRound",
        "DecideApplication",
        "RecordExpense",
    ] {
        policy = policy.allow(&method(name), Rule::Scope(scopes::SUPPORT_WRITE));
    }
    policy.allow(&method("RecordPayment"), Rule::Scope(scopes::SUPPORT_PAY))
}

/// The gRPC service.
pub struct SupportApi {
    store: Store,
    rules: Arc<Rules>,
}

impl SupportApi {
    pub fn new(store: Store, rules: Arc<Rules>) -> Self {
        Self { store, rules }
    }
}

fn id(v: &mut Violations, field: &str, text: &str) -> Option<Uuid> {
    v.uuid(field, text)
}

/// The id a page token carries (the last id of the page before).
pub fn uuid_token(token: &str) -> Result<Option<Uuid>, ApiError> {
    decode_token::<String>(token)?
        .map(|id| Uuid::parse_str(&id))
        .transpose()
        .map_err(|_| ApiError::invalid("page_token", "not a token this service issued"))
}

/// Cuts `items` to `size` and returns the token of the next page (empty on the last).
fn next_token<T>(items: &mut Vec<T>, size: u32, id: impl Fn(&T) -> Uuid) -> String {
    if items.len() > size as usize {
        items.truncate(size as usize);
        items
            .last()
            .map(|last| encode_token(&id(last).to_string()))
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// A round as the store shows it (with its period and objections).
fn round_message(view: &RoundView) -> pb::Round {
    convert::round_to_proto(&view.round, view.period, &view.objections)
}

/// A department writing a policy or running its round must be the policy's issuer.
fn require_issuer(
    principal: &Principal,
    issuer: platform::auth::Department,
) -> Result<(), ApiError> {
    match principal.department() {
        Some(d) if d == issuer => Ok(()),
        _ => Err(ApiError::PermissionDenied(format!(
            "{} is not the issuer of this policy ({})",
            principal.identity,
            issuer.as_str()
        ))),
    }
}

#[tonic::async_trait]
impl SupportService for SupportApi {
    async fn put_policy(
        &self,
        request: Request<pb::PutPolicyRequest>,
    ) -> Result<Response<pb::PutPolicyResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let spec = match req.spec.as_ref() {
            Some(spec) => convert::spec_from_proto(&mut v, spec),
            None => {
                v.add("spec", "is required");
                None
            }
        };
        v.check(
            req.expected_version >= 0,
            "expected_version",
            "must not be negative",
        );
        v.finish()?;
        let spec = spec.ok_or_else(|| ApiError::invalid("spec", "is invalid"))?;
        let by = principal.identity.to_string();
        let policy = self
            .store
            .put_policy(spec, req.expected_version, principal.department(), &by)
            .await?;
        Ok(Response::new(pb::PutPolicyResponse {
            policy: Some(convert::policy_to_proto(&policy)),
        }))
    }

    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let policy_id = convert::parse_policy_id(&mut v, "id", &req.id);
        v.check(req.version >= 0, "version", "must not be negative");
        v.finish()?;
        let policy_id = policy_id.unwrap_or_default();
        let policy = self.store.policy(&policy_id, req.version).await?;
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(convert::policy_to_proto(&policy)),
        }))
    }

    async fn list_policies(
        &self,
        request: Request<pb::ListPoliciesRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let after: String = decode_token(&req.page_token)?.unwrap_or_default();
        let mut policies = self.store.policies(&after, i64::from(size) + 1).await?;
        let next_page_token = if policies.len() > size as usize {
            policies.truncate(size as usize);
            policies
                .last()
                .map(|p| encode_token(&p.spec.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListPoliciesResponse {
            policies: policies.iter().map(convert::policy_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn run_round(
        &self,
        request: Request<pb::RunRoundRequest>,
    ) -> Result<Response<pb::RunRoundResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let policy_id = convert::parse_policy_id(&mut v, "policy_id", &req.policy_id);
        v.finish()?;
        let policy_id = policy_id.unwrap_or_default();
        let policy = self.store.policy(&policy_id, 0).await?;
        require_issuer(&principal, policy.spec.issuer)?;
        let rules = self.rules.clone();
        let view = self
            .store
            .run_round(&policy_id, Utc::now(), |now| rules.publicity_deadline(now))
            .await?;
        Ok(Response::new(pb::RunRoundResponse {
            round: Some(round_message(&view)),
        }))
    }

    async fn get_round(
        &self,
        request: Request<pb::GetRoundRequest>,
    ) -> Result<Response<pb::GetRoundResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let round_id = id(&mut v, "round_id", &req.round_id);
        v.finish()?;
        let view = self.store.round(round_id.unwrap_or_default()).await?;
        Ok(Response::new(pb::GetRoundResponse {
            round: Some(round_message(&view)),
        }))
    }

    async fn file_objection(
        &self,
        request: Request<pb::FileObjectionRequest>,
    ) -> Result<Response<pb::FileObjectionResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let round_id = id(&mut v, "round_id", &req.round_id);
        let uscc = v.uscc("uscc", &req.uscc);
        let reason = v.text("reason", &req.reason, convert::MAX_TEXT_CHARS);
        v.finish()?;
        let (Some(round_id), Some(uscc), Some(reason)) = (round_id, uscc, reason) else {
            return Err(ApiError::invalid("request", "is incomplete").into());
        };
        principal.require_enterprise_self(uscc.as_str())?;
        // Besides the firm itself, commerce objects on a firm's behalf.
        if principal.enterprise().is_none()
            && principal.department() != Some(platform::auth::Department::Commerce)
        {
            return Err(ApiError::PermissionDenied(format!(
                "{} may not object to a list: the enterprise itself or commerce may",
                principal.identity
            ))
            .into());
        }
        let objection = self
            .store
            .file_objection(
                round_id,
                uscc.as_str(),
                reason,
                principal.identity.to_string(),
                Utc::now(),
            )
            .await?;
        Ok(Response::new(pb::FileObjectionResponse {
            objection: Some(convert::objection_to_proto(&objection)),
        }))
    }

    async fn decide_objection(
        &self,
        request: Request<pb::DecideObjectionRequest>,
    ) -> Result<Response<pb::DecideObjectionResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let objection_id = id(&mut v, "objection_id", &req.objection_id);
        let reason = v.text("reason", &req.reason, convert::MAX_TEXT_CHARS);
        v.finish()?;
        let decided = self
            .store
            .decide_objection(
                objection_id.unwrap_or_default(),
                req.upheld,
                reason.unwrap_or_default(),
                Utc::now(),
            )
            .await?;
        Ok(Response::new(pb::DecideObjectionResponse {
            objection: Some(convert::objection_to_proto(&decided.objection)),
            entry: decided.entry.as_ref().map(convert::entry_to_proto),
        }))
    }

    async fn finalize_round(
        &self,
        request: Request<pb::FinalizeRoundRequest>,
    ) -> Result<Response<pb::FinalizeRoundResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let round_id = id(&mut v, "round_id", &req.round_id);
        v.finish()?;
        let round_id = round_id.unwrap_or_default();
        let view = self.store.round(round_id).await?;
        let policy = self
            .store
            .policy(&view.round.policy_id, view.round.policy_version)
            .await?;
        require_issuer(&principal, policy.spec.issuer)?;
        let (view, orders) = self.store.finalize(round_id, Utc::now()).await?;
        Ok(Response::new(pb::FinalizeRoundResponse {
            round: Some(round_message(&view)),
            orders: orders
                .iter()
                .map(|o| convert::order_to_proto(o, view.period))
                .collect(),
        }))
    }

    async fn record_payment(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Result<Response<pb::RecordPaymentResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let order_id = id(&mut v, "order_id", &req.order_id);
        let (voucher, refusal) = (req.voucher.trim(), req.refusal_reason.trim());
        let settlement = match (voucher.is_empty(), refusal.is_empty()) {
            (true, true) => {
                v.add(
                    "voucher",
                    "a voucher number (paid) or a refusal_reason is required",
                );
                None
            }
            (false, false) => {
                v.add(
                    "refusal_reason",
                    "give either a voucher or a refusal_reason, not both",
                );
                None
            }
            (false, true) => v
                .text("voucher", voucher, convert::MAX_TEXT_CHARS)
                .map(|voucher| Settlement::Paid { voucher }),
            (true, false) => v
                .text("refusal_reason", refusal, convert::MAX_TEXT_CHARS)
                .map(|reason| Settlement::Refused { reason }),
        };
        v.finish()?;
        let (Some(order_id), Some(settlement)) = (order_id, settlement) else {
            return Err(ApiError::invalid("request", "is incomplete").into());
        };
        let (order, period) = self.store.settle(order_id, settlement, Utc::now()).await?;
        Ok(Response::new(pb::RecordPaymentResponse {
            order: Some(convert::order_to_proto(&order, period)),
        }))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        if !req.policy_id.is_empty() {
            convert::parse_policy_id(&mut v, "policy_id", &req.policy_id);
        }
        if !req.uscc.is_empty() {
            v.uscc("uscc", &req.uscc);
        }
        let state = match req.state {
            0 => None,
            n => {
                let state = convert::payment_state_from_proto(n);
                if state.is_none() {
                    v.add("state", format!("{n} is not a known value"));
                }
                state
            }
        };
        v.finish()?;
        let size = page_size(req.page_size)?;
        let after = uuid_token(&req.page_token)?;
        let filter = PaymentFilter {
            policy_id: req.policy_id,
            uscc: principal.restrict_to_self(&req.uscc)?,
            state,
            year: None,
        };
        let mut orders = self
            .store
            .payments(&filter, after, i64::from(size) + 1)
            .await?;
        let next_page_token = next_token(&mut orders, size, |(o, _)| o.id);
        Ok(Response::new(pb::ListPaymentsResponse {
            orders: orders
                .iter()
                .map(|(o, period)| convert::order_to_proto(o, *period))
                .collect(),
            next_page_token,
        }))
    }

    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let policy_id = convert::parse_policy_id(&mut v, "policy_id", &req.policy_id);
        let uscc = v.uscc("uscc", &req.uscc);
        v.finish()?;
        let (Some(policy_id), Some(uscc)) = (policy_id, uscc) else {
            return Err(ApiError::invalid("request", "is incomplete").into());
        };
        principal.require_enterprise_self(uscc.as_str())?;
        let policy = self.store.policy(&policy_id, 0).await?;
        let facts = self
            .store
            .facts_of(uscc.as_str(), policy.spec.period)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("enterprise {uscc} in the census")))?;
        let (eligible, results) = check_all(&policy.spec.conditions, &facts);
        Ok(Response::new(pb::CheckEligibilityResponse {
            eligible,
            conditions: results
                .iter()
                .map(convert::clause_result_to_proto)
                .collect(),
            entitled_fen: if eligible {
                policy.spec.benefit.entitled(&facts)
            } else {
                0
            },
        }))
    }

    async fn apply(
        &self,
        request: Request<pb::ApplyRequest>,
    ) -> Result<Response<pb::ApplyResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let policy_id = convert::parse_policy_id(&mut v, "policy_id", &req.policy_id);
        let uscc = v.uscc("uscc", &req.uscc);
        v.finish()?;
        let (Some(policy_id), Some(uscc)) = (policy_id, uscc) else {
            return Err(ApiError::invalid("request", "is incomplete").into());
        };
        principal.require_enterprise_self(uscc.as_str())?;
        if principal.enterprise().is_none() && !principal.has_scope(scopes::SUPPORT_WRITE) {
            return Err(principal.require(scopes::SUPPORT_WRITE).unwrap_err());
        }
        let rules = self.rules.clone();
        let now = Utc::now();
        let (application, conditions) = self
            .store
            .apply(&policy_id, uscc.as_str(), now, |at, days| {
                rules.review_deadline(at, days)
            })
            .await?;
        Ok(Response::new(pb::ApplyResponse {
            application: Some(convert::application_to_proto(
                &application,
                &conditions,
                now,
            )),
        }))
    }

    async fn decide_application(
        &self,
        request: Request<pb::DecideApplicationRequest>,
    ) -> Result<Response<pb::DecideApplicationResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let application_id = id(&mut v, "application_id", &req.application_id);
        let reason = v.text("reason", &req.reason, convert::MAX_TEXT_CHARS);
        v.finish()?;
        let (Some(application_id), Some(reason)) = (application_id, reason) else {
            return Err(ApiError::invalid("request", "is incomplete").into());
        };
        let application = self.store.application(application_id).await?;
        let policy = self
            .store
            .policy(&application.policy_id, application.policy_version)
            .await?;
        require_issuer(&principal, policy.spec.issuer)?;
        let now = Utc::now();
        let (decided, order) = self
            .store
            .review(application_id, req.approved, reason, now)
            .await?;
        Ok(Response::new(pb::DecideApplicationResponse {
            application: Some(convert::application_to_proto(&decided, &[], now)),
            order: order.map(|o| convert::order_to_proto(&o, policy.spec.period)),
        }))
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        if !req.policy_id.is_empty() {
            convert::parse_policy_id(&mut v, "policy_id", &req.policy_id);
        }
        if !req.uscc.is_empty() {
            v.uscc("uscc", &req.uscc);
        }
        v.finish()?;
        let size = page_size(req.page_size)?;
        let after = uuid_token(&req.page_token)?;
        let now = Utc::now();
        let filter = ApplicationFilter {
            policy_id: req.policy_id,
            uscc: principal.restrict_to_self(&req.uscc)?,
            overdue_at: req.overdue_only.then_some(now),
        };
        let mut applications = self
            .store
            .applications(&filter, after, i64::from(size) + 1)
            .await?;
        let next_page_token = next_token(&mut applications, size, |a| a.id);
        Ok(Response::new(pb::ListApplicationsResponse {
            applications: applications
                .iter()
                .map(|a| convert::application_to_proto(a, &[], now))
                .collect(),
            next_page_token,
        }))
    }

    async fn get_policy_report(
        &self,
        request: Request<pb::GetPolicyReportRequest>,
    ) -> Result<Response<pb::GetPolicyReportResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let policy_id = convert::parse_policy_id(&mut v, "policy_id", &req.policy_id);
        v.finish()?;
        let policy_id = policy_id.unwrap_or_default();
        let report = self.store.policy_report(&policy_id).await?;
        Ok(Response::new(pb::GetPolicyReportResponse {
            policy_id,
            budget_fen: report.budget_fen,
            ordered_fen: report.ordered_fen,
            paid_fen: report.paid_fen,
            beneficiaries: i32::try_from(report.beneficiaries).unwrap_or(i32::MAX),
            rows: report
                .rows
                .into_iter()
                .map(|r| pb::ReportRow {
                    dimension: r.dimension,
                    value: r.value,
                    firms: i32::try_from(r.firms).unwrap_or(i32::MAX),
                    amount_fen: r.amount_fen,
                })
                .collect(),
        }))
    }

    async fn get_enterprise_benefits(
        &self,
        request: Request<pb::GetEnterpriseBenefitsRequest>,
    ) -> Result<Response<pb::GetEnterpriseBenefitsResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let uscc = v.uscc("uscc", &req.uscc);
        v.check(
            (2000..=2100).contains(&req.year),
            "year",
            "must be 2000 to 2100",
        );
        v.finish()?;
        let uscc = uscc.ok_or_else(|| ApiError::invalid("uscc", "is required"))?;
        principal.require_enterprise_self(uscc.as_str())?;
        let orders = self.store.benefits(uscc.as_str(), req.year).await?;
        let sum = |paid_only: bool| {
            orders
                .iter()
                .filter(|(o, _)| {
                    !paid_only || o.state == crate::domain::payment::PaymentState::Paid
                })
                .map(|(o, _)| o.amount_fen)
                .sum()
        };
        Ok(Response::new(pb::GetEnterpriseBenefitsResponse {
            ordered_fen: sum(false),
            paid_fen: sum(true),
            orders: orders
                .iter()
                .map(|(o, period)| convert::order_to_proto(o, *period))
                .collect(),
        }))
    }

    async fn record_expense(
        &self,
        request: Request<pb::RecordExpenseRequest>,
    ) -> Result<Response<pb::RecordExpenseResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let uscc = v.uscc("uscc", &req.uscc);
        let period = v.period("period", req.period.as_ref().map_or("", |p| &p.code));
        let kind = convert::expense_kind(&mut v, "kind", &req.kind);
        v.check(req.amount_fen >= 0, "amount_fen", "must not be negative");
        let evidence = v.text("evidence", &req.evidence, convert::MAX_TEXT_CHARS);
        v.finish()?;
        let (Some(uscc), Some(period), Some(kind), Some(evidence)) = (uscc, period, kind, evidence)
        else {
            return Err(ApiError::invalid("request", "is incomplete").into());
        };
        let expense = Expense {
            uscc: uscc.to_string(),
            period,
            kind,
            amount_fen: req.amount_fen,
            evidence,
        };
        self.store
            .record_expense(&expense, &principal.identity.to_string())
            .await?;
        Ok(Response::new(pb::RecordExpenseResponse {
            uscc: expense.uscc,
            period: req.period,
            kind: expense.kind,
            amount_fen: expense.amount_fen,
        }))
    }
}
