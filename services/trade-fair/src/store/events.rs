//! What the service publishes, through the outbox in the caller's transaction: every event
//! on `haicheng.fair.events.v1`, keyed by fair id (so one fair's events stay in order), with
//! the USCC as subject.

use haicheng_proto::{fair::v1 as pb, topics};
use platform::{Outbox, OutgoingEvent};
use prost::{Message, Name};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, fairs::Fair, invitations::Invitation, registrations::Registration};
use crate::convert;

/// Enqueues `message` about `uscc` at fair `fair_id`.
pub async fn publish<M: Message + Name>(
    conn: &mut PgConnection,
    outbox: &Outbox,
    fair_id: Uuid,
    uscc: &str,
    message: &M,
) -> Result<()> {
    outbox
        .enqueue(
            conn,
            OutgoingEvent::new(topics::FAIR_EVENTS, fair_id.to_string(), message)
                .with_subject(uscc),
        )
        .await?;
    Ok(())
}

pub async fn confirmed(
    conn: &mut PgConnection,
    outbox: &Outbox,
    r: &Registration,
    promoted: bool,
) -> Result<()> {
    let event = pb::RegistrationConfirmed {
        registration: Some(convert::registration(r)),
        promoted_from_waitlist: promoted,
    };
    publish(conn, outbox, r.fair_id, &r.uscc, &event).await
}

pub async fn waitlisted(conn: &mut PgConnection, outbox: &Outbox, r: &Registration) -> Result<()> {
    let event = pb::RegistrationWaitlisted {
        registration: Some(convert::registration(r)),
    };
    publish(conn, outbox, r.fair_id, &r.uscc, &event).await
}

pub async fn offered(conn: &mut PgConnection, outbox: &Outbox, r: &Registration) -> Result<()> {
    let event = pb::OfferMade {
        registration: Some(convert::registration(r)),
    };
    publish(conn, outbox, r.fair_id, &r.uscc, &event).await
}

pub async fn offer_expired(
    conn: &mut PgConnection,
    outbox: &Outbox,
    r: &Registration,
) -> Result<()> {
    let event = pb::OfferExpired {
        registration: Some(convert::registration(r)),
    };
    publish(conn, outbox, r.fair_id, &r.uscc, &event).await
}

pub async fn cancelled(conn: &mut PgConnection, outbox: &Outbox, r: &Registration) -> Result<()> {
    let event = pb::RegistrationCancelled {
        registration: Some(convert::registration(r)),
    };
    publish(conn, outbox, r.fair_id, &r.uscc, &event).await
}

pub async fn invited(
    conn: &mut PgConnection,
    outbox: &Outbox,
    i: &Invitation,
    fair: &Fair,
) -> Result<()> {
    let event = pb::InvitationIssued {
        invitation: Some(convert::invitation(i)),
        fair: Some(convert::fair(fair)),
    };
    publish(conn, outbox, i.fair_id, &i.uscc, &event).await
}

pub async fn withdrawn(conn: &mut PgConnection, outbox: &Outbox, i: &Invitation) -> Result<()> {
    let event = pb::InvitationWithdrawn {
        invitation: Some(convert::invitation(i)),
    };
    publish(conn, outbox, i.fair_id, &i.uscc, &event).await
}
