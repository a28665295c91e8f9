//! What the service publishes, built from domain values (this module never reads the store):
//! every event on `haicheng.fair.events.v1`, keyed by fair id (so one fair's events stay in
//! order), with the USCC as subject. The store enqueues them in the transaction of the
//! change they announce.

use haicheng_proto::{fair::v1 as pb, topics};
use notices::outgoing::{Notice, notice_id};
use platform::{OutgoingEvent, auth::Department};
use prost::{Message, Name};
use uuid::Uuid;

use crate::{
    api::convert,
    domain::{
        breach::BreachRecord,
        fair::Fair,
        invitation::Invitation,
        outcome::Outcome,
        registration::{Happened, Registration},
        subsidy::Subsidy,
    },
};

/// The namespace of this service's notice ids.
const NOTICE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a35_7e0b_4d8e_9a41_fa1e_b2ea_c400);

/// `message` about `uscc` at fair `fair_id`.
fn event<M: Message + Name>(fair_id: Uuid, uscc: &str, message: &M) -> OutgoingEvent {
    OutgoingEvent::new(topics::FAIR_EVENTS, fair_id.to_string(), message).with_subject(uscc)
}

/// What `happened` to `r` (as it stands after the change) at `fair`.
pub fn registration(happened: Happened, r: &Registration, fair: &Fair) -> OutgoingEvent {
    let registration = Some(convert::registration(r));
    match happened {
        Happened::Confirmed { promoted } => {
            let message = pb::RegistrationConfirmed {
                registration,
                promoted_from_waitlist: promoted,
                fair: Some(convert::fair(fair)),
            };
            event(r.fair_id, &r.uscc, &message)
        }
        Happened::Waitlisted => event(
            r.fair_id,
            &r.uscc,
            &pb::RegistrationWaitlisted { registration },
        ),
        Happened::Offered => event(r.fair_id, &r.uscc, &pb::OfferMade { registration }),
        Happened::OfferExpired => event(r.fair_id, &r.uscc, &pb::OfferExpired { registration }),
        Happened::Cancelled => event(
            r.fair_id,
            &r.uscc,
            &pb::RegistrationCancelled { registration },
        ),
    }
}

pub fn invited(i: &Invitation, fair: &Fair) -> OutgoingEvent {
    let message = pb::InvitationIssued {
        invitation: Some(convert::invitation(i)),
        fair: Some(convert::fair(fair)),
    };
    event(i.fair_id, &i.uscc, &message)
}

pub fn withdrawn(i: &Invitation) -> OutgoingEvent {
    let message = pb::InvitationWithdrawn {
        invitation: Some(convert::invitation(i)),
    };
    event(i.fair_id, &i.uscc, &message)
}

pub fn outcome_recorded(o: &Outcome) -> OutgoingEvent {
    let message = pb::OutcomeRecorded {
        outcome: Some(convert::outcome(o)),
    };
    event(o.fair_id, &o.uscc, &message)
}

pub fn subsidy_granted(s: &Subsidy) -> OutgoingEvent {
    let message = pb::SubsidyGranted {
        subsidy: Some(convert::subsidy(s)),
    };
    event(s.fair_id, &s.uscc, &message)
}

/// A breach was recorded at `fair`; it bars `n` sessions.
pub fn breach_recorded(r: &BreachRecord, fair: &Fair, n: u32) -> OutgoingEvent {
    let message = pb::BreachRecorded {
        breach: Some(convert::breach(r, n)),
        fair: Some(convert::fair(fair)),
    };
    event(r.breach.fair_id, &r.breach.uscc, &message)
}

/// The notice of a breach to market supervision, for the firm's credit file (a fair's
/// "no serious dishonesty record" reads it).
pub fn breach_notice(r: &BreachRecord, enterprise_name: &str, n: u32) -> OutgoingEvent {
    let b = &r.breach;
    let until = match r.free_again(n) {
        Some(s) => format!(
            "it may apply again from {} ({})",
            s.name,
            s.starts_at.format("%Y-%m-%d")
        ),
        None => format!("it may apply again from session {} after it", n + 1),
    };
    let notice = Notice {
        id: notice_id(&NOTICE_NAMESPACE, &["breach", &b.id.to_string()]),
        department: Department::MarketSupervision,
        source: crate::SPEC.name,
        uscc: &b.uscc,
        enterprise_name,
        kind: "fair_breach",
        rule_id: "fair_breach",
        text: format!(
            "Rule breach at {} ({}): {}. Evidence: {}{}. Barred from the next {n} sessions of its kind; {until}.",
            r.at.name,
            r.at.starts_at.format("%Y-%m-%d"),
            b.kind.describe(),
            b.evidence,
            if b.reference.is_empty() {
                String::new()
            } else {
                format!(" (ref. {})", b.reference)
            },
        ),
        period: None,
        transition: None,
        model_version: 0,
        parcel_id: "",
        issued_at: b.recorded_at,
        due_at: None,
    };
    notice.to_event()
}
