//! Requests of the grant RPCs (grant, get, milestone, evaluations, conversion, allocation),
//! checked for shape.

use chrono::{DateTime, Utc};
use haicheng_proto::land::v1 as pb;
use platform::{ApiError, Violations, time::from_timestamp};
use uuid::Uuid;

use super::{convert, done};
use crate::domain::{
    grant::GrantRequest,
    lateness::{Milestone, MilestoneKind},
    parcel, parse_date,
    supply::MAX_PRICE_FEN,
};

/// The grant asked for by a `GrantParcel`.
pub fn grant_request(r: &pb::GrantParcelRequest) -> Result<GrantRequest, ApiError> {
    let mut v = Violations::new();
    parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
    v.uscc("uscc", &r.uscc);
    v.check(
        r.expected_version >= 0,
        "expected_version",
        "0 or the version last read",
    );
    let request = convert::grant_request(
        r.supply.as_ref(),
        r.contract.as_ref(),
        r.commitments.as_ref(),
        &mut v,
    );
    v.finish()?;
    Ok(request)
}

/// The grant asked for by an `AllocateLand` (to the head of the queue).
pub fn allocation(r: &pb::AllocateLandRequest) -> Result<GrantRequest, ApiError> {
    let mut v = Violations::new();
    parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
    v.check(
        r.expected_version >= 0,
        "expected_version",
        "0 or the version last read",
    );
    let request = convert::grant_request(
        r.supply.as_ref(),
        r.contract.as_ref(),
        r.commitments.as_ref(),
        &mut v,
    );
    v.finish()?;
    Ok(request)
}

/// A grant id read from `grant_id`.
pub fn grant_id(text: &str) -> Result<Uuid, ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("grant_id", text);
    done(id, v)
}

/// The grant and the milestone of a `RecordMilestone`.
pub fn milestone(r: &pb::RecordMilestoneRequest) -> Result<(Uuid, Milestone), ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("grant_id", &r.grant_id);
    let kind = match pb::MilestoneKind::try_from(r.kind) {
        Ok(pb::MilestoneKind::Started) => Some(MilestoneKind::Started),
        Ok(pb::MilestoneKind::Completed) => Some(MilestoneKind::Completed),
        Ok(pb::MilestoneKind::Progress) => Some(MilestoneKind::Progress),
        _ => {
            v.add("kind", "started, completed or progress");
            None
        }
    };
    let on = parse_date(&r.on);
    v.check(on.is_some(), "on", "a date YYYY-MM-DD is required");
    v.check(
        (0..=MAX_PRICE_FEN).contains(&r.investment_to_date_fen),
        "investment_to_date_fen",
        "must not be negative",
    );
    v.check(
        r.built_floor_area_centi_m2 >= 0,
        "built_floor_area_centi_m2",
        "must not be negative",
    );
    let ((id, kind), on) = done(id.zip(kind).zip(on), v)?;
    let milestone = Milestone {
        kind,
        on,
        investment_to_date_fen: r.investment_to_date_fen,
        built_floor_area_centi_m2: r.built_floor_area_centi_m2,
    };
    Ok((id, milestone))
}

/// The grant and the time of a `ListEvaluations`.
pub fn evaluations_as_of(
    r: &pb::ListEvaluationsRequest,
) -> Result<(Uuid, Option<DateTime<Utc>>), ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("grant_id", &r.grant_id);
    let as_of = r.as_of.as_ref().map(from_timestamp);
    v.check(
        !matches!(as_of, Some(None)),
        "as_of",
        "not a valid timestamp",
    );
    let id = done(id, v)?;
    Ok((id, as_of.flatten()))
}

/// The grant of a `ConvertLeaseToTransfer`.
pub fn conversion(r: &pb::ConvertLeaseToTransferRequest) -> Result<Uuid, ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("grant_id", &r.grant_id);
    v.check(
        r.expected_version >= 1,
        "expected_version",
        "the version last read is required",
    );
    done(id, v)
}
