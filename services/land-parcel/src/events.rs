//! What the service announces, built from domain values (never from the store): land events
//! keyed by parcel id on `haicheng.land.events.v1`, and support-policy notices keyed by
//! department on `haicheng.policy.notices.v1` (built by [`notices::outgoing`], with `source`
//! "land-parcel"). The store enqueues them in the transaction of the change they announce.
//!
//! A notice id is a name-based UUID of its cause under land's namespace, so the same cause
//! published twice is one notice to the notice store (ids are the same as before the shared
//! builder: `cause|department`).

use chrono::{DateTime, NaiveDate, Utc};
use haicheng_proto::{
    land::v1::{
        CommitmentEvaluated, GrantIdle, GrantLowEfficiencyChanged, GrantTakenBack,
        GrantUnderTakeBackReview, IdleFeeOrdered, IdleFeeSettled, LeaseConverted, LeaseRenewed,
        ParcelGranted, ParcelMerged, ParcelSplit, UnitLeased, UnitSold,
    },
    topics,
};
use notices::outgoing::{Notice, notice_id};
use platform::{OutgoingEvent, auth::Department, time::to_timestamp};
use uuid::Uuid;

use crate::{
    api::convert,
    domain::{
        conversion::Conversion,
        disposal::IdleFee,
        evaluation::EvaluationRecord,
        grant::GrantView,
        idle::IdleReason,
        parcel::ParcelRecord,
        units::{Transfer, UnitRecord},
    },
};

/// The `source` of the notices this service issues.
pub const SOURCE: &str = "land-parcel";

/// Namespace of notice ids (a fixed random UUID: ids differ from every other producer's).
const NOTICE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1e_0c4d_8f2a_4c61_9a57_3e1d_24b8_f0a6);

fn land_event<M: prost::Message + prost::Name>(parcel_id: &str, message: &M) -> OutgoingEvent {
    OutgoingEvent::new(topics::LAND_EVENTS, parcel_id, message)
}

pub fn parcel_granted(parcel: &ParcelRecord, grant: &GrantView) -> OutgoingEvent {
    let event = ParcelGranted {
        parcel: Some(convert::parcel_to_proto(parcel)),
        grant: Some(convert::grant_to_proto(grant)),
    };
    land_event(&parcel.id, &event)
}

pub fn lease_converted(
    grant: &GrantView,
    conversion: &Conversion,
    at: DateTime<Utc>,
) -> OutgoingEvent {
    let event = LeaseConverted {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        rent_credited_fen: conversion.rent_credited_fen,
        converted_at: Some(to_timestamp(at)),
    };
    land_event(&grant.grant.parcel_id, &event)
}

pub fn commitment_evaluated(evaluation: &EvaluationRecord) -> OutgoingEvent {
    let event = CommitmentEvaluated {
        evaluation: Some(convert::evaluation_to_proto(evaluation)),
    };
    land_event(&evaluation.parcel_id, &event)
}

/// `UnitLeased` or `UnitSold`, after the transfer.
pub fn unit_transferred(unit: &UnitRecord, transfer: Transfer, at: DateTime<Utc>) -> OutgoingEvent {
    let uscc = unit.holder_uscc.clone().unwrap_or_default();
    let proto = Some(convert::unit_to_proto(unit));
    match transfer {
        Transfer::Lease {
            term_months,
            yearly_rent_fen,
        } => land_event(
            &unit.parcel_id,
            &UnitLeased {
                unit: proto,
                parcel_id: unit.parcel_id.clone(),
                uscc,
                term_months,
                yearly_rent_fen,
                leased_at: Some(to_timestamp(at)),
            },
        ),
        Transfer::Sale { price_fen } => land_event(
            &unit.parcel_id,
            &UnitSold {
                unit: proto,
                parcel_id: unit.parcel_id.clone(),
                uscc,
                price_fen,
                sold_at: Some(to_timestamp(at)),
            },
        ),
    }
}

pub fn grant_idle(grant: &GrantView, reason: IdleReason, on: NaiveDate) -> OutgoingEvent {
    let event = GrantIdle {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        reason: reason.as_str().to_string(),
        flagged_on: on.to_string(),
    };
    land_event(&grant.grant.parcel_id, &event)
}

pub fn idle_fee_ordered(grant: &GrantView, fee: &IdleFee) -> OutgoingEvent {
    let event = IdleFeeOrdered {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        fee_fen: fee.fee_fen,
        ordered_on: fee.ordered_on.to_string(),
    };
    land_event(&grant.grant.parcel_id, &event)
}

pub fn idle_fee_settled(grant: &GrantView, fee: &IdleFee) -> OutgoingEvent {
    let event = IdleFeeSettled {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        status: convert::fee_status_to_proto(fee.status) as i32,
        waiver_reason: fee.waiver_reason.clone().unwrap_or_default(),
    };
    land_event(&grant.grant.parcel_id, &event)
}

pub fn under_take_back_review(grant: &GrantView, reason: &str, on: NaiveDate) -> OutgoingEvent {
    let event = GrantUnderTakeBackReview {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        reason: reason.to_string(),
        flagged_on: on.to_string(),
    };
    land_event(&grant.grant.parcel_id, &event)
}

pub fn grant_taken_back(
    grant: &GrantView,
    parcel: &ParcelRecord,
    at: DateTime<Utc>,
) -> OutgoingEvent {
    let event = GrantTakenBack {
        grant: Some(convert::grant_to_proto(grant)),
        parcel: Some(convert::parcel_to_proto(parcel)),
        taken_back_at: Some(to_timestamp(at)),
    };
    land_event(&parcel.id, &event)
}

pub fn low_efficiency_changed(evaluation: &EvaluationRecord, low: bool) -> OutgoingEvent {
    let event = GrantLowEfficiencyChanged {
        grant_id: evaluation.grant_id.to_string(),
        parcel_id: evaluation.parcel_id.clone(),
        uscc: evaluation.uscc.clone(),
        low_efficiency: low,
        evaluation_id: evaluation.id.to_string(),
        evaluated_on: evaluation.evaluated_on.to_string(),
    };
    land_event(&evaluation.parcel_id, &event)
}

pub fn lease_renewed(grant: &GrantView, years: u32, yearly_rent_fen: i64) -> OutgoingEvent {
    let event = LeaseRenewed {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        years: years as i32,
        yearly_rent_fen,
    };
    land_event(&grant.grant.parcel_id, &event)
}

/// `ParcelSplit`, keyed by the old parcel's id.
pub fn parcel_split(old_id: &str, parts: &[ParcelRecord], at: DateTime<Utc>) -> OutgoingEvent {
    let event = ParcelSplit {
        old_parcel_id: old_id.to_string(),
        new_parcel_ids: parts.iter().map(|p| p.id.clone()).collect(),
        parcels: parts.iter().map(convert::parcel_to_proto).collect(),
        split_at: Some(to_timestamp(at)),
    };
    land_event(old_id, &event)
}

/// `ParcelMerged`, keyed by the new parcel's id.
pub fn parcel_merged(
    old_ids: &[String],
    merged: &ParcelRecord,
    at: DateTime<Utc>,
) -> OutgoingEvent {
    let event = ParcelMerged {
        old_parcel_ids: old_ids.to_vec(),
        new_parcel_id: merged.id.clone(),
        parcel: Some(convert::parcel_to_proto(merged)),
        merged_at: Some(to_timestamp(at)),
    };
    land_event(&merged.id, &event)
}

/// One notice, to each of the departments it goes to.
#[derive(Debug, Clone)]
pub struct LandNotice<'a> {
    /// What caused it, unique per cause (the notice id is derived from it).
    pub cause: String,
    pub kind: &'a str,
    pub text: String,
    pub uscc: &'a str,
    pub enterprise_name: &'a str,
    pub parcel_id: &'a str,
    pub period: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub due_on: Option<NaiveDate>,
}

/// The notice's event to each of `departments`.
pub fn notices(notice: &LandNotice<'_>, departments: &[Department]) -> Vec<OutgoingEvent> {
    let due_at = notice
        .due_on
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc());
    departments
        .iter()
        .map(|&department| {
            Notice {
                id: notice_id(&NOTICE_NAMESPACE, &[&notice.cause, department.as_str()]),
                department,
                source: SOURCE,
                uscc: notice.uscc,
                enterprise_name: notice.enterprise_name,
                kind: notice.kind,
                rule_id: notice.kind,
                text: notice.text.clone(),
                period: notice.period.clone(),
                transition: None,
                model_version: 0,
                parcel_id: notice.parcel_id,
                issued_at: notice.issued_at,
                due_at,
            }
            .to_event()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_ids_are_those_land_published_before_the_shared_builder() {
        // The former builder: v5 of "cause|department" under land's namespace.
        let cause = "idle|0190f3c2-0000-7000-8000-000000000001|not_started";
        let before = Uuid::new_v5(
            &NOTICE_NAMESPACE,
            format!("{cause}|{}", Department::NaturalResources.as_str()).as_bytes(),
        );
        let notice = LandNotice {
            cause: cause.into(),
            kind: "land_idle",
            text: "text".into(),
            uscc: "91210381MA0QC4TL4N",
            enterprise_name: "Firm",
            parcel_id: "XL-1",
            period: None,
            issued_at: Utc::now(),
            due_on: None,
        };
        let events = notices(
            &notice,
            &[Department::NaturalResources, Department::Commerce],
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].key, Department::NaturalResources.as_str());
        let message: haicheng_proto::policy::v1::SupportPolicyNotice =
            prost::Message::decode(events[0].payload.as_slice()).expect("a notice");
        assert_eq!(message.notice_id, before.to_string());
        assert_eq!(message.source, SOURCE);
        assert_eq!(message.rule_id, "land_idle");
    }
}
