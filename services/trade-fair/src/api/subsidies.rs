//! Subsidies: ClaimSubsidy, ListSubsidies, SetSubsidyBudget, GetSubsidyBudget.

use chrono::Utc;
use haicheng_proto::fair::v1 as pb;
use platform::Violations;
use tonic::{Request, Response, Status};

use super::{FairApi, convert, one_id};

/// Years a budget may be set for.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=9999;

fn check_year(violations: &mut Violations, year: i32) {
    violations.check(YEARS.contains(&year), "year", "must be 2000 to 9999");
}

impl FairApi {
    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    pub(super) async fn claim_subsidy(
        &self,
        request: Request<pb::ClaimSubsidyRequest>,
    ) -> Result<Response<pb::ClaimSubsidyResponse>, Status> {
        let id = one_id("registration_id", &request.get_ref().registration_id)?;
        let granted = self.store.claim_subsidy(id, Utc::now()).await?;
        Ok(Response::new(pb::ClaimSubsidyResponse {
            subsidy: Some(convert::subsidy(&granted)),
        }))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn list_subsidies(
        &self,
        request: Request<pb::ListSubsidiesRequest>,
    ) -> Result<Response<pb::ListSubsidiesResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        check_year(&mut violations, r.year);
        if !r.uscc.is_empty() {
            violations.uscc("uscc", &r.uscc);
        }
        violations.finish()?;
        let uscc = (!r.uscc.is_empty()).then_some(r.uscc.as_str());
        let found = self.store.subsidies(r.year, uscc).await?;
        Ok(Response::new(pb::ListSubsidiesResponse {
            total_fen: found.iter().map(|s| s.amount_fen).sum(),
            subsidies: found.iter().map(convert::subsidy).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn set_subsidy_budget(
        &self,
        request: Request<pb::SetSubsidyBudgetRequest>,
    ) -> Result<Response<pb::SetSubsidyBudgetResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        check_year(&mut violations, r.year);
        violations.check(r.budget_fen >= 0, "budget_fen", "must not be negative");
        violations.finish()?;
        let budget = self.store.set_budget(r.year, r.budget_fen).await?;
        Ok(Response::new(pb::SetSubsidyBudgetResponse {
            budget: Some(convert::budget(budget)),
        }))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn get_subsidy_budget(
        &self,
        request: Request<pb::GetSubsidyBudgetRequest>,
    ) -> Result<Response<pb::GetSubsidyBudgetResponse>, Status> {
        let year = request.get_ref().year;
        let mut violations = Violations::new();
        check_year(&mut violations, year);
        violations.finish()?;
        let budget = self.store.budget(year).await?;
        Ok(Response::new(pb::GetSubsidyBudgetResponse {
            budget: Some(convert::budget(budget)),
        }))
    }
}
