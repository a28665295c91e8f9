//! The service's outgoing events, built from domain values (never from the store): support
//! events on `haicheng.support.events.v1`, and the notice to finance of each payment order.

use chrono::{DateTime, Utc};
use haicheng_proto::{support::v1 as pb, topics};
use notices::outgoing::{Notice, notice_id};
use platform::{OutgoingEvent, auth::Department, period::Period};
use uuid::Uuid;

use crate::{
    convert,
    domain::{objection::Objection, payment::PaymentOrder, policy::Policy, round::Round},
};

/// The `source` of this service's notices.
pub const SOURCE: &str = "support";

/// Namespace of this service's notice ids (a fixed random UUID).
const NOTICE_NAMESPACE: Uuid = Uuid::from_u128(0x2f6b_9d1e_47a3_4e0c_8b51_c3d9_a7e2_1f45);

/// The kind of the notice that asks finance to pay.
pub const PAYMENT_ORDERED_KIND: &str = "support_payment_ordered";

fn support_event<M: prost::Message + prost::Name>(key: &str, message: &M) -> OutgoingEvent {
    OutgoingEvent::new(topics::SUPPORT_EVENTS, key, message)
}

pub fn policy_changed(policy: &Policy) -> OutgoingEvent {
    support_event(
        &policy.spec.id,
        &pb::PolicyChanged {
            policy: Some(convert::policy_to_proto(policy)),
        },
    )
}

pub fn round_published(round: &Round, period: Period) -> OutgoingEvent {
    support_event(
        &round.policy_id,
        &pb::RoundPublished {
            round: Some(convert::round_to_proto(round, period, &[])),
        },
    )
}

pub fn round_finalized(round: &Round, period: Period, objections: &[Objection]) -> OutgoingEvent {
    support_event(
        &round.policy_id,
        &pb::RoundFinalized {
            round: Some(convert::round_to_proto(round, period, objections)),
        },
    )
}

/// A payment order's event (keyed by USCC) and its notice to finance.
pub fn payment_ordered(
    order: &PaymentOrder,
    period: Period,
    title: &str,
    at: DateTime<Utc>,
) -> [OutgoingEvent; 2] {
    let message = pb::PaymentOrdered {
        order: Some(convert::order_to_proto(order, period)),
    };
    let notice = Notice {
        id: notice_id(&NOTICE_NAMESPACE, &[&order.id.to_string(), "finance"]),
        department: Department::Finance,
        source: SOURCE,
        uscc: &order.uscc,
        enterprise_name: &order.name,
        kind: PAYMENT_ORDERED_KIND,
        rule_id: &order.policy_id,
        text: format!(
            "Pay {} fen to {} ({}) under policy {} \"{}\" v{}, period {}: payment order {}.",
            order.amount_fen,
            order.name,
            order.uscc,
            order.policy_id,
            title,
            order.policy_version,
            period,
            order.id
        ),
        period: Some(period.code()),
        transition: None,
        model_version: 0,
        parcel_id: "",
        issued_at: at,
        due_at: None,
    };
    [support_event(&order.uscc, &message), notice.to_event()]
}

/// Finance's record of an order: PaymentMade or PaymentRefused, keyed by USCC.
pub fn payment_settled(order: &PaymentOrder, period: Period) -> OutgoingEvent {
    let order_proto = Some(convert::order_to_proto(order, period));
    match order.state {
        crate::domain::payment::PaymentState::Refused => {
            support_event(&order.uscc, &pb::PaymentRefused { order: order_proto })
        }
        _ => support_event(&order.uscc, &pb::PaymentMade { order: order_proto }),
    }
}
