//! What the store publishes, through the outbox in the caller's transaction: land events
//! keyed by parcel id on `haicheng.land.events.v1`, and support-policy notices keyed by
//! department on `haicheng.policy.notices.v1` (the same message classification sends, with
//! `source` "land-parcel"). A notice id is a name-based UUID of its cause, so the same cause
//! published twice is one notice to the notice store.

use chrono::{DateTime, NaiveDate, Utc};
use haicheng_proto::{
    common::v1 as common,
    land::v1::{
        CommitmentEvaluated, GrantIdle, LeaseConverted, ParcelGranted, UnitLeased, UnitSold,
    },
    policy::v1::SupportPolicyNotice,
    topics,
};
use platform::{OutgoingEvent, auth::Department, time::to_timestamp};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Store, evaluations::EvaluationRecord, grants::GrantView, parcels::ParcelRecord,
    units::UnitRecord,
};
use crate::{
    convert,
    domain::{conversion::Conversion, evaluation::NoticeKind, idle::IdleReason},
};

/// The `source` of the notices this service issues.
pub const SOURCE: &str = "land-parcel";

/// Namespace of notice ids (a fixed random UUID: ids differ from every other producer's).
const NOTICE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1e_0c4d_8f2a_4c61_9a57_3e1d_24b8_f0a6);

/// The id of the notice to `department` about `cause` (deterministic).
pub fn notice_id(cause: &str, department: Department) -> String {
    Uuid::new_v5(
        &NOTICE_NAMESPACE,
        format!("{cause}|{}", department.as_str()).as_bytes(),
    )
    .to_string()
}

async fn land_event<M: prost::Message + prost::Name>(
    conn: &mut PgConnection,
    store: &Store,
    parcel_id: &str,
    message: &M,
) -> sqlx::Result<()> {
    store
        .outbox
        .enqueue(
            conn,
            OutgoingEvent::new(topics::LAND_EVENTS, parcel_id, message),
        )
        .await?;
    Ok(())
}

pub async fn parcel_granted(
    conn: &mut PgConnection,
    store: &Store,
    parcel: &ParcelRecord,
    grant: &GrantView,
) -> sqlx::Result<()> {
    let event = ParcelGranted {
        parcel: Some(convert::parcel_to_proto(parcel)),
        grant: Some(convert::grant_to_proto(grant)),
    };
    land_event(conn, store, &parcel.id, &event).await
}

pub async fn lease_converted(
    conn: &mut PgConnection,
    store: &Store,
    grant: &GrantView,
    conversion: &Conversion,
) -> sqlx::Result<()> {
    let event = LeaseConverted {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        rent_credited_fen: conversion.rent_credited_fen,
        converted_at: Some(to_timestamp(Utc::now())),
    };
    land_event(conn, store, &grant.grant.parcel_id, &event).await
}

pub async fn commitment_evaluated(
    conn: &mut PgConnection,
    store: &Store,
    evaluation: &EvaluationRecord,
) -> sqlx::Result<()> {
    let event = CommitmentEvaluated {
        evaluation: Some(convert::evaluation_to_proto(evaluation)),
    };
    land_event(conn, store, &evaluation.parcel_id, &event).await
}

pub async fn unit_leased(
    conn: &mut PgConnection,
    store: &Store,
    unit: &UnitRecord,
    term_months: i32,
    yearly_rent_fen: i64,
) -> sqlx::Result<()> {
    let event = UnitLeased {
        unit: Some(convert::unit_to_proto(unit)),
        parcel_id: unit.parcel_id.clone(),
        uscc: unit.holder_uscc.clone().unwrap_or_default(),
        term_months,
        yearly_rent_fen,
        leased_at: Some(to_timestamp(Utc::now())),
    };
    land_event(conn, store, &unit.parcel_id, &event).await
}

pub async fn unit_sold(
    conn: &mut PgConnection,
    store: &Store,
    unit: &UnitRecord,
    price_fen: i64,
) -> sqlx::Result<()> {
    let event = UnitSold {
        unit: Some(convert::unit_to_proto(unit)),
        parcel_id: unit.parcel_id.clone(),
        uscc: unit.holder_uscc.clone().unwrap_or_default(),
        price_fen,
        sold_at: Some(to_timestamp(Utc::now())),
    };
    land_event(conn, store, &unit.parcel_id, &event).await
}

pub async fn grant_idle(
    conn: &mut PgConnection,
    store: &Store,
    grant: &GrantView,
    reason: IdleReason,
    on: NaiveDate,
) -> sqlx::Result<()> {
    let event = GrantIdle {
        grant: Some(convert::grant_to_proto(grant)),
        parcel_id: grant.grant.parcel_id.clone(),
        reason: reason.as_str().to_string(),
        flagged_on: on.to_string(),
    };
    land_event(conn, store, &grant.grant.parcel_id, &event).await
}

/// One notice to each of `departments`.
pub struct Notice<'a> {
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

/// Enqueues the notice to each department; returns how many.
pub async fn notices(
    conn: &mut PgConnection,
    store: &Store,
    notice: &Notice<'_>,
    departments: &[Department],
) -> sqlx::Result<usize> {
    for &department in departments {
        let message = SupportPolicyNotice {
            notice_id: notice_id(&notice.cause, department),
            department: department.to_proto() as i32,
            uscc: notice.uscc.to_string(),
            transition: None,
            kind: notice.kind.to_string(),
            text: notice.text.clone(),
            model_version: 0,
            period: notice.period.clone().map(|code| common::Period { code }),
            rule_id: notice.kind.to_string(),
            source: SOURCE.to_string(),
            issued_at: Some(to_timestamp(notice.issued_at)),
            due_at: notice
                .due_on
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| to_timestamp(d.and_utc())),
            enterprise_name: notice.enterprise_name.to_string(),
            parcel_id: notice.parcel_id.to_string(),
        };
        store
            .outbox
            .enqueue(
                conn,
                OutgoingEvent::new(topics::POLICY_NOTICES, department.as_str(), &message)
                    .with_subject(notice.uscc),
            )
            .await?;
    }
    Ok(departments.len())
}

/// The text of an evaluation notice.
pub fn evaluation_text(kind: NoticeKind, evaluation: &EvaluationRecord) -> String {
    let short: Vec<String> = evaluation
        .evaluation
        .items
        .iter()
        .filter(|i| i.shortfall_bp > 0 || i.projected_shortfall_bp > 0)
        .map(|i| {
            let bp = if kind == NoticeKind::EarlyWarning {
                i.projected_shortfall_bp
            } else {
                i.shortfall_bp
            };
            format!(
                "{} {}.{:02} % short",
                convert::item_name(i.item),
                bp / 100,
                bp % 100
            )
        })
        .collect();
    let head = format!(
        "Grant {} on parcel {} ({} {}):",
        evaluation.grant_id, evaluation.parcel_id, evaluation.year, evaluation.uscc
    );
    match kind {
        NoticeKind::Shortfall => format!(
            "{head} commitments short at the production check ({}); damages {} fen; rectify by {}",
            short.join(", "),
            evaluation.evaluation.damages_fen,
            evaluation
                .evaluation
                .rectification_due_on
                .map_or_else(String::new, |d| d.to_string())
        ),
        NoticeKind::EarlyWarning => format!(
            "{head} early warning: the trend projects a shortfall at the production check ({})",
            short.join(", ")
        ),
        NoticeKind::Restored => format!("{head} every commitment is met again"),
    }
}
