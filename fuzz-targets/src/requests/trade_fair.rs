//! `haicheng.fair.v1.FairService`. Most handlers check a uuid or a USCC inline with the
//! platform's `Violations`; those calls are made here on the same fields.

use haicheng_proto::fair::v1 as pb;
use platform::{
    Violations,
    paging::{decode_token, page_size},
};
use trade_fair::{
    api::{
        breaches, convert,
        fairs::{self, Cursor},
        reports,
    },
    domain::rules::Rules,
};

use super::requests;

/// The handler's checks of ids and USCCs: each non-empty text a uuid or a USCC.
fn ids(uuids: &[&str], usccs: &[&str]) {
    let mut v = Violations::new();
    for id in uuids {
        let _ = v.uuid("id", id);
    }
    for uscc in usccs.iter().filter(|u| !u.is_empty()) {
        let _ = v.uscc("uscc", uscc);
    }
    let _ = v.finish();
}

/// A fair's specification, as CreateFair (the service's defaults) and UpdateFair check it.
fn fair_spec(fair: Option<&pb::Fair>) {
    let fair = fair.cloned().unwrap_or_default();
    for defaults in [convert::defaults(&Rules::default()), (0, 100, u32::MAX)] {
        let mut v = Violations::new();
        let _ = convert::fair_spec(&mut v, "fair", &fair, defaults);
        let _ = v.finish();
    }
}

requests! {
    pb::CreateFairRequest => |r| fair_spec(r.fair.as_ref()),
    pb::UpdateFairRequest => |r| {
        ids(&[&r.fair_id], &[]);
        fair_spec(r.fair.as_ref());
    },
    pb::GetFairRequest => |r| ids(&[&r.fair_id], &[]),
    pb::ListFairsRequest => |r| {
        let _ = convert::kind_from_proto(r.kind);
        let _ = convert::market_from_proto(r.market);
        let _ = page_size(r.page_size);
        if let Ok(Some(cursor)) = decode_token::<Cursor>(&r.page_token) {
            let _ = cursor.position(fairs::filters_of(r));
        }
    },
    pb::ListInvitationsRequest => |r| {
        ids(&[&r.fair_id], &[&r.uscc]);
        let _ = convert::invitation_status_from_proto(r.status);
    },
    pb::ApplyRequest => |r| {
        ids(&[&r.fair_id], &[&r.uscc]);
        let _ = convert::booth_type_from_proto(r.booth_type);
    },
    pb::GetRegistrationRequest => |r| ids(&[&r.registration_id], &[]),
    pb::ListRegistrationsRequest => |r| {
        ids(&[&r.fair_id], &[]);
        let _ = convert::status_from_proto(r.status);
    },
    pb::AllocateBoothsRequest => |r| ids(&[&r.fair_id], &[]),
    pb::CancelRegistrationRequest => |r| ids(&[&r.registration_id], &[]),
    pb::AcceptOfferRequest => |r| ids(&[&r.registration_id], &[]),
    pb::DeclineOfferRequest => |r| ids(&[&r.registration_id], &[]),
    pb::RecordOutcomeRequest => |r| {
        let _ = reports::outcome_figures(r);
    },
    pb::GetFairReportRequest => |r| ids(&[&r.fair_id], &[]),
    pb::GetEnterpriseReportRequest => |r| ids(&[], &[&r.uscc]),
    pb::GetExportTotalsRequest => |r| {
        let _ = r.from_year <= r.to_year;
    },
    pb::ClaimSubsidyRequest => |r| ids(&[&r.registration_id], &[]),
    pb::ListSubsidiesRequest => |r| ids(&[], &[&r.uscc]),
    pb::SetSubsidyBudgetRequest => |r| {
        let _ = r.budget_fen >= 0;
    },
    pb::GetSubsidyBudgetRequest => |r| {
        let _ = r.year;
    },
    pb::RecordBreachRequest => |r| {
        let _ = breaches::record_breach(r);
    },
    pb::ListBreachesRequest => |r| ids(&[&r.fair_id], &[&r.uscc]),
}
