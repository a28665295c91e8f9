//! Outcomes and reports: RecordOutcome, GetFairReport, GetEnterpriseReport, GetExportTotals.

use chrono::Utc;
use haicheng_proto::fair::v1 as pb;
use platform::{ApiError, Violations};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{FairApi, convert, one_id};
use crate::domain::outcome::{Figures, Outcome, Year};

/// The largest order figure one outcome may carry, fen (ten trillion yuan): far above any
/// firm's orders, and low enough that the totals of a fair's or a year's outcomes fit an i64.
pub const MAX_ORDERS_FEN: i64 = 1_000_000_000_000_000;

/// A RecordOutcome's registration and figures, every bad field a violation.
pub fn outcome_figures(r: &pb::RecordOutcomeRequest) -> Result<(Uuid, Figures), ApiError> {
    let mut violations = Violations::new();
    let id = violations.uuid("registration_id", &r.registration_id);
    violations.check(r.leads >= 0, "leads", "must not be negative");
    for (field, fen) in [
        ("intended_orders_fen", r.intended_orders_fen),
        ("signed_export_orders_fen", r.signed_export_orders_fen),
    ] {
        violations.check(
            (0..=MAX_ORDERS_FEN).contains(&fen),
            field,
            format!("must be 0 to {MAX_ORDERS_FEN} fen"),
        );
    }
    violations.finish()?;
    let id = id.ok_or_else(|| ApiError::invalid("registration_id", "is required"))?;
    let figures = Figures {
        leads: r.leads,
        intended_orders_fen: r.intended_orders_fen,
        signed_export_orders_fen: r.signed_export_orders_fen,
    };
    Ok((id, figures))
}

fn year(y: &Year) -> pb::EnterpriseYear {
    pb::EnterpriseYear {
        year: y.year,
        fairs: y.fairs,
        intended_orders_fen: y.intended_orders_fen,
        signed_export_orders_fen: y.signed_export_orders_fen,
        census_export_sales_fen: y.census_export_sales_fen,
        follow_through_percent: y.follow_through_percent(),
    }
}

impl FairApi {
    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    pub(super) async fn record_outcome(
        &self,
        request: Request<pb::RecordOutcomeRequest>,
    ) -> Result<Response<pb::RecordOutcomeResponse>, Status> {
        let (id, figures) = outcome_figures(request.get_ref())?;
        let outcome = self.store.record_outcome(id, figures, Utc::now()).await?;
        Ok(Response::new(pb::RecordOutcomeResponse {
            outcome: Some(convert::outcome(&outcome)),
        }))
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    pub(super) async fn get_fair_report(
        &self,
        request: Request<pb::GetFairReportRequest>,
    ) -> Result<Response<pb::GetFairReportResponse>, Status> {
        let id = one_id("fair_id", &request.get_ref().fair_id)?;
        let fair = self.store.fair(id).await?;
        let report = self.store.fair_report(id).await?;
        // Outcomes stored before MAX_ORDERS_FEN was checked may be larger: a total stops at
        // i64::MAX rather than wrap.
        let sum = |f: fn(&Outcome) -> i64| {
            (report.outcomes.iter().map(f)).fold(0_i64, i64::saturating_add)
        };
        Ok(Response::new(pb::GetFairReportResponse {
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
        }))
    }

    #[tracing::instrument(skip_all, fields(uscc = %request.get_ref().uscc))]
    pub(super) async fn get_enterprise_report(
        &self,
        request: Request<pb::GetEnterpriseReportRequest>,
    ) -> Result<Response<pb::GetEnterpriseReportResponse>, Status> {
        let uscc = request.into_inner().uscc;
        let mut violations = Violations::new();
        violations.uscc("uscc", &uscc);
        violations.finish()?;
        let (regs, outs, years) = self.store.enterprise_report(&uscc).await?;
        let reply = Response::new(pb::GetEnterpriseReportResponse {
            uscc: uscc.clone(),
            registrations: regs.iter().map(convert::registration).collect(),
            outcomes: outs.iter().map(convert::outcome).collect(),
            years: years.iter().map(year).collect(),
        });
        Ok(platform::audit::subject(
            reply,
            Some(&uscc),
            serde_json::Value::Null,
        ))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn get_export_totals(
        &self,
        request: Request<pb::GetExportTotalsRequest>,
    ) -> Result<Response<pb::GetExportTotalsResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        violations.check(r.from_year >= 0, "from_year", "must not be negative");
        violations.check(r.to_year >= 0, "to_year", "must not be negative");
        violations.check(
            r.to_year == 0 || r.from_year <= r.to_year,
            "to_year",
            "must not be before from_year",
        );
        violations.finish()?;
        let totals = (self.store)
            .export_totals(
                (r.from_year > 0).then_some(r.from_year),
                (r.to_year > 0).then_some(r.to_year),
            )
            .await?;
        Ok(Response::new(pb::GetExportTotalsResponse {
            totals: totals
                .iter()
                .map(|t| pb::ExportTotal {
                    year: t.year,
                    fairs: t.fairs as i32,
                    signed_export_orders_fen: t.signed_export_orders_fen,
                    intended_orders_fen: t.intended_orders_fen,
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(intended: i64, signed: i64) -> pb::RecordOutcomeRequest {
        pb::RecordOutcomeRequest {
            registration_id: Uuid::nil().to_string(),
            leads: 3,
            intended_orders_fen: intended,
            signed_export_orders_fen: signed,
        }
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::InvalidArgument(violations) => {
                violations.iter().map(|v| v.field.clone()).collect()
            }
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn order_figures_past_the_bound_are_invalid_argument_naming_the_field() {
        let err = outcome_figures(&request(i64::MAX, 0)).unwrap_err();
        assert_eq!(fields(err), ["intended_orders_fen"]);
        let err = outcome_figures(&request(0, i64::MAX)).unwrap_err();
        assert_eq!(fields(err), ["signed_export_orders_fen"]);
        let err = outcome_figures(&request(-1, MAX_ORDERS_FEN + 1)).unwrap_err();
        assert_eq!(
            fields(err),
            ["intended_orders_fen", "signed_export_orders_fen"]
        );
        let (_, figures) = outcome_figures(&request(MAX_ORDERS_FEN, MAX_ORDERS_FEN)).unwrap();
        assert_eq!(figures.intended_orders_fen, MAX_ORDERS_FEN);
    }
}
