//! `InspectionService`: the trait methods are the handlers. Each parses its request with
//! [`Violations`] (INVALID_ARGUMENT naming every bad field), checks who may act, and calls
//! the store (load → decide → commit); refusals become statuses once, in [`errors`].
//!
//! Access: the inspecting departments (inspection.write) keep their lists and rosters, draw
//! their plans, add tasks, approve their visits and record results; inspection.read reads.
//! An enterprise reads the item lists, its own tier, its own visits (with items, legal basis,
//! inspectors and code), checks a code and rates its visits; nothing else. No method says
//! who rated.

mod errors;
pub mod parse;

use std::sync::Arc;

use chrono::Utc;
use haicheng_proto::inspection::v1::{
    self as pb,
    inspection_service_server::{InspectionService, SERVICE_NAME},
};
use platform::{
    AccessPolicy, ApiError, Principal, Rule, Violations, audit,
    auth::scopes,
    calendar::china_date,
    paging::{decode_token, page_size},
};
use serde_json::json;
use tonic::{Request, Response, Status};

use crate::{
    config::Rules,
    convert,
    domain::{
        code::{FindingInput, Outcome, ResultInput, check_code},
        plan::Inspector,
        report::{plan_report, visit_counts},
    },
    store::{NewTask, PlanRequest, Store, TaskFilter, VisitFilter, facts::TierFilter},
};

/// The service's access rules.
pub fn access_rules(policy: AccessPolicy) -> AccessPolicy {
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    let mut policy = policy;
    for name in [
        "ListItems",
        "GetRiskTier",
        "GetVisit",
        "ListVisits",
        "VerifyCode",
        "RateVisit",
    ] {
        policy = policy.allow(
            &method(name),
            Rule::ScopeOrEnterprise(scopes::INSPECTION_READ),
        );
    }
    for name in [
        "GetRoster",
        "ListRiskTiers",
        "GetPlan",
        "GetPlanReport",
        "ListTasks",
        "GetRatingSummary",
        "GetVisitCounts",
    ] {
        policy = policy.allow(&method(name), Rule::Scope(scopes::INSPECTION_READ));
    }
    for name in [
        "PutItem",
        "PutRoster",
        "DrawPlan",
        "CreateTask",
        "ApproveVisit",
        "RecordResult",
        "PublishResult",
    ] {
        policy = policy.allow(&method(name), Rule::Scope(scopes::INSPECTION_WRITE));
    }
    policy
}

/// The reads that name firms: audited.
pub const AUDITED_READS: &[&str] = &[
    "GetRiskTier",
    "ListRiskTiers",
    "GetVisit",
    "ListVisits",
    "VerifyCode",
    "GetPlan",
    "ListTasks",
    "GetVisitCounts",
];

/// The gRPC service.
pub struct InspectionApi {
    store: Store,
    rules: Arc<Rules>,
}

impl InspectionApi {
    pub fn new(store: Store, rules: Arc<Rules>) -> Self {
        Self { store, rules }
    }
}

fn id(v: &mut Violations, field: &str, text: &str) -> Option<uuid::Uuid> {
    v.uuid(field, text)
}

/// A visit as `principal` may see it: its own firm sees whether it rated it.
fn visit_for(principal: &Principal, view: &crate::domain::visit::VisitView) -> pb::Visit {
    if principal.enterprise() == Some(view.visit.uscc.as_str()) {
        convert::visit_for_firm(view)
    } else {
        convert::visit_to_proto(view)
    }
}

fn findings(v: &mut Violations, list: &[pb::FindingInput]) -> Vec<FindingInput> {
    let mut out = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let code = v.text(&format!("findings[{i}].item_code"), &f.item_code, 40);
        let description = v.text(&format!("findings[{i}].description"), &f.description, 2_000);
        v.check(
            (0..=365).contains(&f.rectification_days),
            format!("findings[{i}].rectification_days"),
            "0 (the default) to 365 days",
        );
        if let (Some(item_code), Some(description)) = (code, description) {
            out.push(FindingInput {
                item_code,
                description,
                rectification_days: u32::try_from(f.rectification_days).ok().filter(|d| *d > 0),
            });
        }
    }
    out
}

#[tonic::async_trait]
impl InspectionService for InspectionApi {
    async fn put_item(
        &self,
        request: Request<pb::PutItemRequest>,
    ) -> Result<Response<pb::PutItemResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let caller = parse::department(&principal)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let item = match &req.item {
            Some(item) => convert::item_from_proto(&mut v, item, Some(caller)),
            None => {
                v.add("item", "is required");
                None
            }
        };
        v.finish()?;
        let item = item.ok_or_else(|| ApiError::invalid("item", "is invalid"))?;
        let name = principal.identity.to_string();
        let item = self
            .store
            .put_item(Some(caller), &name, item, Utc::now())
            .await?;
        Ok(Response::new(pb::PutItemResponse {
            item: Some(convert::item_to_proto(&item)),
        }))
    }

    async fn list_items(
        &self,
        request: Request<pb::ListItemsRequest>,
    ) -> Result<Response<pb::ListItemsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let department = parse::optional_department(&mut v, "department", req.department);
        v.finish()?;
        let items = self.store.items(department).await?;
        Ok(Response::new(pb::ListItemsResponse {
            items: items.iter().map(convert::item_to_proto).collect(),
        }))
    }

    async fn put_roster(
        &self,
        request: Request<pb::PutRosterRequest>,
    ) -> Result<Response<pb::PutRosterResponse>, Status> {
        let caller = parse::department(Principal::of(&request)?)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let mut inspectors = Vec::new();
        for (i, x) in req.inspectors.iter().enumerate() {
            let id = v.text(&format!("inspectors[{i}].id"), &x.id, 40);
            let name = v.text(&format!("inspectors[{i}].name"), &x.name, 100);
            v.check(
                x.department == 0 || x.department == caller.to_proto() as i32,
                format!("inspectors[{i}].department"),
                "a department keeps only its own roster",
            );
            if req.inspectors[..i]
                .iter()
                .any(|y| y.id.trim() == x.id.trim())
            {
                v.add(format!("inspectors[{i}].id"), "is listed twice");
            }
            if let (Some(id), Some(name)) = (id, name) {
                inspectors.push(Inspector {
                    id,
                    name,
                    department: caller,
                });
            }
        }
        v.finish()?;
        let stored = self.store.put_roster(caller, &inspectors).await?;
        Ok(Response::new(pb::PutRosterResponse {
            inspectors: stored.iter().map(convert::inspector_to_proto).collect(),
        }))
    }

    async fn get_roster(
        &self,
        request: Request<pb::GetRosterRequest>,
    ) -> Result<Response<pb::GetRosterResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let department = parse::optional_department(&mut v, "department", req.department);
        v.check(department.is_some(), "department", "is required");
        v.finish()?;
        let department =
            department.ok_or_else(|| ApiError::invalid("department", "is required"))?;
        let roster = self.store.roster(department).await?;
        Ok(Response::new(pb::GetRosterResponse {
            inspectors: roster.iter().map(convert::inspector_to_proto).collect(),
        }))
    }

    async fn get_risk_tier(
        &self,
        request: Request<pb::GetRiskTierRequest>,
    ) -> Result<Response<pb::GetRiskTierResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let uscc = v.uscc("uscc", &req.uscc);
        v.finish()?;
        let uscc = uscc.ok_or_else(|| ApiError::invalid("uscc", "is required"))?;
        principal.require_enterprise_self(uscc.as_str())?;
        let firm = self.store.firm_standing(uscc.as_str()).await?;
        let reply = pb::GetRiskTierResponse {
            firm: Some(convert::standing_to_proto(&firm)),
        };
        Ok(audit::subject(
            Response::new(reply),
            Some(uscc.as_str()),
            json!({}),
        ))
    }

    async fn list_risk_tiers(
        &self,
        request: Request<pb::ListRiskTiersRequest>,
    ) -> Result<Response<pb::ListRiskTiersResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let tier = if req.tier == 0 {
            None
        } else {
            let t = convert::tier_from_proto(req.tier);
            v.check(t.is_some(), "tier", format!("{} is not a tier", req.tier));
            t
        };
        v.finish()?;
        let size = page_size(req.page_size)?;
        let after: String = decode_token(&req.page_token)?.unwrap_or_default();
        let filter = TierFilter {
            tier,
            white_listed_only: req.white_listed_only,
        };
        let mut firms = self
            .store
            .standings(&filter, &after, i64::from(size) + 1)
            .await?;
        let next_page_token = parse::next_token(&mut firms, size, |f| f.uscc.clone());
        Ok(Response::new(pb::ListRiskTiersResponse {
            firms: firms.iter().map(convert::standing_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn draw_plan(
        &self,
        request: Request<pb::DrawPlanRequest>,
    ) -> Result<Response<pb::DrawPlanResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let department = parse::department(&principal)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let year = parse::year(&mut v, "year", req.year);
        v.check(
            !req.item_codes.is_empty(),
            "item_codes",
            "at least one routine item is required",
        );
        v.finish()?;
        let seed = if req.seed == 0 {
            uuid::Uuid::new_v4().as_u64_pair().0.max(1)
        } else {
            req.seed
        };
        let plan_request = PlanRequest {
            department,
            year: year.unwrap_or_default(),
            item_codes: req
                .item_codes
                .iter()
                .map(|c| c.trim().to_string())
                .collect(),
            seed,
            by: principal.identity.to_string(),
        };
        let plan = if req.preview {
            self.store
                .preview_plan(&plan_request, &self.rules, Utc::now())
                .await?
        } else {
            self.store
                .file_plan(&plan_request, &self.rules, Utc::now())
                .await?
        };
        Ok(Response::new(pb::DrawPlanResponse {
            plan: Some(convert::plan_to_proto(&plan)),
        }))
    }

    async fn get_plan(
        &self,
        request: Request<pb::GetPlanRequest>,
    ) -> Result<Response<pb::GetPlanResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let code = v.text("code", &req.code, 80);
        v.finish()?;
        let plan = self.store.plan(&code.unwrap_or_default()).await?;
        Ok(Response::new(pb::GetPlanResponse {
            plan: Some(convert::plan_to_proto(&plan)),
        }))
    }

    async fn get_plan_report(
        &self,
        request: Request<pb::GetPlanReportRequest>,
    ) -> Result<Response<pb::GetPlanReportResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let year = parse::year(&mut v, "year", req.year);
        v.finish()?;
        let year = year.unwrap_or_default();
        let visits = self.store.year_visits(year).await?;
        let codes = self.store.plan_codes(year).await?;
        Ok(Response::new(convert::report_to_proto(
            year,
            codes,
            plan_report(&visits),
        )))
    }

    async fn create_task(
        &self,
        request: Request<pb::CreateTaskRequest>,
    ) -> Result<Response<pb::CreateTaskResponse>, Status> {
        let department = parse::department(Principal::of(&request)?)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let uscc = v.uscc("uscc", &req.uscc);
        let kind = v
            .required_enum::<pb::ItemKind>("kind", req.kind)
            .and_then(convert::kind_from_proto);
        v.check(
            !req.item_codes.is_empty(),
            "item_codes",
            "at least one listed item is required",
        );
        let planned_on = parse::date(&mut v, "planned_on", &req.planned_on);
        let exemption = if req.exemption == 0 {
            v.check(
                req.exemption_reference.trim().is_empty(),
                "exemption_reference",
                "a reference goes with an exemption",
            );
            None
        } else {
            let e = v
                .required_enum::<pb::Exemption>("exemption", req.exemption)
                .and_then(convert::exemption_from_proto);
            let reference = v.text("exemption_reference", &req.exemption_reference, 200);
            e.zip(reference)
        };
        v.finish()?;
        let (Some(uscc), Some(kind), Some(planned_on)) = (uscc, kind, planned_on) else {
            return Err(ApiError::invalid("uscc", "is invalid").into());
        };
        let new = NewTask {
            department,
            uscc: uscc.as_str().to_string(),
            kind,
            item_codes: req
                .item_codes
                .iter()
                .map(|c| c.trim().to_string())
                .collect(),
            planned_on,
            exemption,
        };
        let (task, visit) = self.store.create_task(new, &self.rules, Utc::now()).await?;
        Ok(Response::new(pb::CreateTaskResponse {
            task: Some(convert::task_to_proto(&task)),
            visit: Some(convert::visit_to_proto(&visit)),
        }))
    }

    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let department = parse::optional_department(&mut v, "department", req.department);
        let year = parse::optional_year(&mut v, "year", req.year);
        if !req.uscc.is_empty() {
            v.uscc("uscc", &req.uscc);
        }
        v.finish()?;
        let size = page_size(req.page_size)?;
        let after = parse::uuid_token(&req.page_token)?;
        let filter = TaskFilter {
            uscc: req.uscc,
            department,
            year,
        };
        let mut tasks = self
            .store
            .tasks(&filter, after, i64::from(size) + 1)
            .await?;
        let next_page_token = parse::next_token(&mut tasks, size, |t| t.id.to_string());
        let detail = json!({ "tasks": tasks.len(), "year": filter.year });
        let reply = pb::ListTasksResponse {
            tasks: tasks.iter().map(convert::task_to_proto).collect(),
            next_page_token,
        };
        Ok(audit::subject(
            Response::new(reply),
            Some(&filter.uscc),
            detail,
        ))
    }

    async fn approve_visit(
        &self,
        request: Request<pb::ApproveVisitRequest>,
    ) -> Result<Response<pb::ApproveVisitResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let caller = parse::department(&principal)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let visit_id = id(&mut v, "visit_id", &req.visit_id);
        v.check(
            req.expected_version >= 0,
            "expected_version",
            "must not be negative",
        );
        v.finish()?;
        let name = principal.identity.to_string();
        let visit = self
            .store
            .approve(
                visit_id.unwrap_or_default(),
                req.expected_version,
                Some(caller),
                &name,
                &self.rules,
                Utc::now(),
            )
            .await?;
        Ok(Response::new(pb::ApproveVisitResponse {
            visit: Some(convert::visit_to_proto(&visit)),
        }))
    }

    async fn get_visit(
        &self,
        request: Request<pb::GetVisitRequest>,
    ) -> Result<Response<pb::GetVisitResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let visit_id = id(&mut v, "visit_id", &req.visit_id);
        v.finish()?;
        let visit = self.store.visit(visit_id.unwrap_or_default()).await?;
        principal.require_enterprise_self(&visit.visit.uscc)?;
        let reply = pb::GetVisitResponse {
            visit: Some(visit_for(&principal, &visit)),
        };
        let detail = json!({ "visit_id": visit.visit.id.to_string() });
        Ok(audit::subject(
            Response::new(reply),
            Some(&visit.visit.uscc),
            detail,
        ))
    }

    async fn list_visits(
        &self,
        request: Request<pb::ListVisitsRequest>,
    ) -> Result<Response<pb::ListVisitsResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        if !req.uscc.is_empty() {
            v.uscc("uscc", &req.uscc);
        }
        let department = parse::optional_department(&mut v, "department", req.department);
        let year = parse::optional_year(&mut v, "year", req.year);
        let state = if req.state == 0 {
            None
        } else {
            v.required_enum::<pb::VisitState>("state", req.state)
                .and_then(convert::visit_state_from_proto)
        };
        v.finish()?;
        let uscc = principal.restrict_to_self(&req.uscc)?;
        let size = page_size(req.page_size)?;
        let after = parse::uuid_token(&req.page_token)?;
        let filter = VisitFilter {
            uscc,
            department,
            year,
            state,
            overdue_on: req.publication_overdue.then(|| china_date(Utc::now())),
        };
        let mut visits = self
            .store
            .visits(&filter, after, i64::from(size) + 1)
            .await?;
        let next_page_token = parse::next_token(&mut visits, size, |v| v.visit.id.to_string());
        let detail = json!({ "visits": visits.len(), "year": filter.year });
        let reply = pb::ListVisitsResponse {
            visits: visits.iter().map(|v| visit_for(&principal, v)).collect(),
            next_page_token,
        };
        Ok(audit::subject(
            Response::new(reply),
            Some(&filter.uscc),
            detail,
        ))
    }

    async fn verify_code(
        &self,
        request: Request<pb::VerifyCodeRequest>,
    ) -> Result<Response<pb::VerifyCodeResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let code = v.text("code", &req.code, 40);
        v.finish()?;
        let visit = self.store.visit_by_code(&code.unwrap_or_default()).await?;
        // A firm that is not the visit's learns only that the code is not for it.
        principal.require_enterprise_self(&visit.visit.uscc)?;
        let today = china_date(Utc::now());
        let own = visit.visit.code.clone().unwrap_or_default();
        let (valid, reason) = match check_code(&visit.visit, &own, &visit.visit.uscc, today) {
            Ok(()) => (true, String::new()),
            Err(refused) => (false, refused.to_string()),
        };
        let reply = pb::VerifyCodeResponse {
            visit: Some(visit_for(&principal, &visit)),
            valid,
            reason,
        };
        let detail = json!({ "visit_id": visit.visit.id.to_string(), "valid": valid });
        Ok(audit::subject(
            Response::new(reply),
            Some(&visit.visit.uscc),
            detail,
        ))
    }

    async fn record_result(
        &self,
        request: Request<pb::RecordResultRequest>,
    ) -> Result<Response<pb::RecordResultResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let caller = parse::department(&principal)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let visit_id = id(&mut v, "visit_id", &req.visit_id);
        let code = v.text("code", &req.code, 40);
        let uscc = v.uscc("uscc", &req.uscc);
        let outcome = v
            .required_enum::<pb::Outcome>("outcome", req.outcome)
            .map(|o| match o {
                pb::Outcome::Findings => Outcome::Findings,
                _ => Outcome::Clean,
            });
        let findings = findings(&mut v, &req.findings);
        let summary = v.text("summary", &req.summary, 4_000);
        v.finish()?;
        let (Some(code), Some(uscc), Some(outcome), Some(summary)) = (code, uscc, outcome, summary)
        else {
            return Err(ApiError::invalid("code", "is invalid").into());
        };
        let name = principal.identity.to_string();
        let input = ResultInput {
            code,
            uscc: uscc.as_str().to_string(),
            outcome,
            findings,
            summary,
            by: name.clone(),
        };
        let (visit, rechecks) = self
            .store
            .record_result(
                visit_id.unwrap_or_default(),
                input,
                Some(caller),
                &name,
                &self.rules,
                Utc::now(),
            )
            .await?;
        Ok(Response::new(pb::RecordResultResponse {
            visit: Some(convert::visit_to_proto(&visit)),
            recheck_tasks: rechecks.iter().map(convert::task_to_proto).collect(),
        }))
    }

    async fn publish_result(
        &self,
        request: Request<pb::PublishResultRequest>,
    ) -> Result<Response<pb::PublishResultResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let caller = parse::department(&principal)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let visit_id = id(&mut v, "visit_id", &req.visit_id);
        v.finish()?;
        let name = principal.identity.to_string();
        let visit = self
            .store
            .publish_result(
                visit_id.unwrap_or_default(),
                Some(caller),
                &name,
                Utc::now(),
            )
            .await?;
        Ok(Response::new(pb::PublishResultResponse {
            visit: Some(convert::visit_to_proto(&visit)),
        }))
    }

    async fn rate_visit(
        &self,
        request: Request<pb::RateVisitRequest>,
    ) -> Result<Response<pb::RateVisitResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let Some(uscc) = principal.enterprise().map(str::to_string) else {
            return Err(ApiError::PermissionDenied(format!(
                "{} is not an enterprise: only the firm visited rates a visit",
                principal.identity
            ))
            .into());
        };
        let req = request.into_inner();
        let mut v = Violations::new();
        let visit_id = id(&mut v, "visit_id", &req.visit_id);
        let satisfaction = v
            .required_enum::<pb::Satisfaction>("satisfaction", req.satisfaction)
            .and_then(convert::satisfaction_from_proto);
        v.check(
            req.text.chars().count() <= 2_000,
            "text",
            "is longer than 2000 characters",
        );
        v.finish()?;
        let (Some(visit_id), Some(satisfaction)) = (visit_id, satisfaction) else {
            return Err(ApiError::invalid("visit_id", "is invalid").into());
        };
        self.store
            .rate(visit_id, &uscc, satisfaction, req.text.trim().to_string())
            .await?;
        Ok(Response::new(pb::RateVisitResponse { accepted: true }))
    }

    async fn get_rating_summary(
        &self,
        request: Request<pb::GetRatingSummaryRequest>,
    ) -> Result<Response<pb::GetRatingSummaryResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let department = parse::optional_department(&mut v, "department", req.department);
        v.check(department.is_some(), "department", "is required");
        let year = parse::year(&mut v, "year", req.year);
        v.finish()?;
        let (Some(department), Some(year)) = (department, year) else {
            return Err(ApiError::invalid("department", "is required").into());
        };
        let summary = self
            .store
            .rating_summary(department, year, &self.rules)
            .await?;
        Ok(Response::new(convert::summary_to_proto(
            department, year, summary,
        )))
    }

    async fn get_visit_counts(
        &self,
        request: Request<pb::GetVisitCountsRequest>,
    ) -> Result<Response<pb::GetVisitCountsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let year = parse::year(&mut v, "year", req.year);
        v.finish()?;
        let year = year.unwrap_or_default();
        let visits = self.store.year_visits(year).await?;
        let limits = &self.rules.limits;
        let firms = visit_counts(&visits, limits)
            .into_iter()
            .filter(|c| !req.alerts_only || !c.alerts.is_empty())
            .map(convert::count_to_proto)
            .collect();
        let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
        Ok(Response::new(pb::GetVisitCountsResponse {
            year,
            cap_per_department: n(limits.routine_cap_per_department),
            cap_total: n(limits.visit_cap_total),
            firms,
        }))
    }
}
