//! What the service publishes, built from domain values (this module never reads the store):
//! every event on `haicheng.fair.events.v1`, keyed by fair id (so one fair's events stay in
//! order), with the USCC as subject. The store enqueues them in the transaction of the
//! change they announce.

use haicheng_proto::{fair::v1 as pb, topics};
use platform::OutgoingEvent;
use prost::{Message, Name};
use uuid::Uuid;

use crate::{
    api::convert,
    domain::{
        fair::Fair,
        invitation::Invitation,
        outcome::Outcome,
        registration::{Happened, Registration},
        subsidy::Subsidy,
    },
};

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
