//! The service's outgoing events, built from domain values (never from the store):
//! inspection events on `haicheng.inspection.events.v1`, and the notice to a department of a
//! follow-up task opened for it. Ratings have no event: a rating is not to be linked to its
//! visit.

use chrono::{DateTime, Utc};
use haicheng_proto::{inspection::v1 as pb, topics};
use notices::outgoing::{Notice, notice_id};
use platform::OutgoingEvent;
use uuid::Uuid;

use crate::{
    convert,
    domain::{
        item::Item,
        plan::Plan,
        tier::{FirmStanding, Standing},
        visit::{Task, VisitView},
    },
};

/// The `source` of this service's notices.
pub const SOURCE: &str = "inspection";

/// Namespace of this service's notice ids (a fixed random UUID).
const NOTICE_NAMESPACE: Uuid = Uuid::from_u128(0x7c1e_52a9_0b4d_4f38_9e6a_d2c4_81f7_3b05);

/// The kind of the notice of a follow-up task.
pub const FOLLOW_UP_KIND: &str = "inspection_follow_up";

fn event<M: prost::Message + prost::Name>(key: &str, message: &M) -> OutgoingEvent {
    OutgoingEvent::new(topics::INSPECTION_EVENTS, key, message)
}

pub fn item_changed(item: &Item) -> OutgoingEvent {
    event(
        &item.code,
        &pb::ItemChanged {
            item: Some(convert::item_to_proto(item)),
        },
    )
}

pub fn risk_tier_changed(firm: &FirmStanding, old: &Standing) -> OutgoingEvent {
    event(
        &firm.uscc,
        &pb::RiskTierChanged {
            firm: Some(convert::standing_to_proto(firm)),
            old_tier: convert::tier_to_proto(old.tier) as i32,
            old_white_listed: old.white_listed,
        },
    )
}

pub fn plan_filed(plan: &Plan) -> OutgoingEvent {
    event(
        &plan.code,
        &pb::PlanFiled {
            plan: Some(convert::plan_to_proto(plan)),
        },
    )
}

pub fn task_placed(task: &Task, visit: &VisitView) -> OutgoingEvent {
    event(
        &task.uscc,
        &pb::TaskPlaced {
            task: Some(convert::task_to_proto(task)),
            visit: Some(convert::visit_to_proto(visit)),
        },
    )
}

pub fn task_refused(task: &Task) -> OutgoingEvent {
    event(
        &task.uscc,
        &pb::TaskRefused {
            task: Some(convert::task_to_proto(task)),
        },
    )
}

pub fn visit_approved(visit: &VisitView) -> OutgoingEvent {
    event(
        &visit.visit.uscc,
        &pb::VisitApproved {
            visit: Some(convert::visit_to_proto(visit)),
        },
    )
}

pub fn result_recorded(visit: &VisitView) -> OutgoingEvent {
    event(
        &visit.visit.uscc,
        &pb::ResultRecorded {
            visit: Some(convert::visit_to_proto(visit)),
        },
    )
}

pub fn result_published(visit: &VisitView) -> OutgoingEvent {
    event(
        &visit.visit.uscc,
        &pb::ResultPublished {
            visit: Some(convert::visit_to_proto(visit)),
        },
    )
}

/// The notice to the task's department of a follow-up opened for it (class C, shortfall).
pub fn follow_up_notice(task: &Task, at: DateTime<Utc>) -> OutgoingEvent {
    let reference = task
        .exemption
        .as_ref()
        .map(|(_, r)| r.as_str())
        .unwrap_or_default();
    let notice = Notice {
        id: notice_id(&NOTICE_NAMESPACE, &[&task.id.to_string()]),
        department: task.department,
        source: SOURCE,
        uscc: &task.uscc,
        enterprise_name: &task.name,
        kind: FOLLOW_UP_KIND,
        rule_id: FOLLOW_UP_KIND,
        text: format!(
            "Follow-up inspection of {} ({}) by {} ({}): items {}, task {}.",
            task.name,
            task.uscc,
            task.planned_on,
            reference,
            task.item_codes.join(", "),
            task.id
        ),
        period: None,
        transition: None,
        model_version: 0,
        parcel_id: "",
        issued_at: at,
        due_at: None,
    };
    notice.to_event()
}
