//! Booths freed and offered on: cancellation (with the late fee), declining or accepting an
//! offer, an offer's lapse, and the release of a first-come fair's reserves. Freed booths of a
//! type are offered to its waitlist in order, while some request fits.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Refused, Rules,
    fair::{BoothType, Fair},
    fees,
    pools::Draw,
    registration::{Registration, Status},
    waitlist::{self, Waiting},
};

/// The booths of one type as they stand, loaded under the fair's lock.
#[derive(Debug, Clone)]
pub struct TypeState {
    pub booth_type: BoothType,
    /// Held by confirmed and offered registrations, by pool.
    pub used: Draw,
    /// The waitlisted registrations of the type, in waitlist order.
    pub waiting: Vec<Registration>,
}

/// An offer to a waitlisted registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub id: Uuid,
    pub booth_type: BoothType,
    pub draw: Draw,
    pub expires_at: DateTime<Utc>,
    pub explanation: String,
}

/// A registration cancelled and the booths it held given back.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub id: Uuid,
    pub booth_type: BoothType,
    /// Booths it held (given back to the type's `taken`).
    pub freed: u32,
    pub reason: String,
    pub fee_fen: i64,
    /// What the event says happened (cancelled, or the offer lapsed).
    pub happened: super::registration::Happened,
}

/// A cancellation, a decline or a lapse: the release, then the offers it makes possible.
#[derive(Debug, Clone, PartialEq)]
pub struct Freed {
    pub release: Release,
    pub offers: Vec<Offer>,
}

/// Offers the booths open in `state` to its waitlist in order: the first in line whose whole
/// request fits gets it, until none fits.
pub fn offers(fair: &Fair, state: &TypeState, rules: &Rules, now: DateTime<Utc>) -> Vec<Offer> {
    let mut used = state.used;
    let mut waiting: Vec<&Registration> = state.waiting.iter().collect();
    let mut made = Vec::new();
    loop {
        let pools = fair.available(state.booth_type, used, now);
        let list: Vec<Waiting> = waiting
            .iter()
            .map(|r| Waiting {
                id: r.id.to_string(),
                class: r.class,
                applied_at: r.applied_at,
                booths: r.booths_requested,
            })
            .collect();
        let Some(next) = waitlist::next_offer(&list, |w| {
            waiting
                .iter()
                .find(|r| r.id.to_string() == w.id)
                .map_or(0, |r| pools.open_to(r.access()))
        }) else {
            break;
        };
        let Some(index) = waiting.iter().position(|r| r.id.to_string() == next.id) else {
            break;
        };
        let r = waiting.remove(index);
        let Some(draw) = pools.draw(r.access(), r.booths_requested) else {
            break;
        };
        let expires_at = waitlist::offer_expires_at(now, rules.offer_hold);
        made.push(Offer {
            id: r.id,
            booth_type: state.booth_type,
            draw,
            expires_at,
            explanation: format!(
                "Offered {} booths from the waitlist (first in line by class, then time, whose request fits); the offer holds until {}.",
                r.booths_requested,
                expires_at.to_rfc3339()
            ),
        });
        used = used.plus(draw);
    }
    made
}

/// `r` released with `reason`, `fee_fen` and `happened`, then the offers of its type.
fn free(
    fair: &Fair,
    r: &Registration,
    state: &TypeState,
    (reason, fee_fen, happened): (String, i64, super::registration::Happened),
    rules: &Rules,
    now: DateTime<Utc>,
) -> Freed {
    let freed = r.booths_held();
    let release = Release {
        id: r.id,
        booth_type: r.booth_type,
        freed,
        reason,
        fee_fen,
        happened,
    };
    let after = TypeState {
        used: if freed > 0 { state.used.minus(r.draw) } else { state.used },
        ..state.clone()
    };
    Freed {
        release,
        offers: offers(fair, &after, rules, now),
    }
}

/// Decides a cancellation: confirmed booths given back after the window closed cost the
/// configured share of their fee; freed booths are offered on.
pub fn cancel(
    fair: &Fair,
    r: &Registration,
    state: &TypeState,
    reason: &str,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Freed, Refused> {
    if r.status == Status::Cancelled {
        return Err(Refused::AlreadyCancelled);
    }
    let fee = match (r.status, fair.spec.inventory_of(r.booth_type)) {
        (Status::Confirmed, Some(item)) => fees::cancellation_fee(
            item.fee_fen,
            r.booths_held(),
            rules.late_cancellation_fee_percent,
            fair.spec.window.has_closed(now),
        ),
        _ => 0,
    };
    let cancelled = (reason.to_string(), fee, super::registration::Happened::Cancelled);
    let mut freed = free(fair, r, state, cancelled, rules, now);
    if freed.release.freed == 0 {
        // Nothing was held: nothing to offer.
        freed.offers.clear();
    }
    Ok(freed)
}

/// Decides the acceptance of an open offer at `now`: the registration is confirmed with the
/// booths it holds.
pub fn accept(r: &Registration, now: DateTime<Utc>) -> Result<Registration, Refused> {
    let expires = match (r.status, r.offer_expires_at) {
        (Status::Offered, Some(expires)) => expires,
        _ => return Err(Refused::NoOpenOffer),
    };
    if !waitlist::offer_is_open(expires, now) {
        return Err(Refused::OfferLapsed(expires));
    }
    Ok(Registration {
        status: Status::Confirmed,
        confirmed_at: Some(now),
        offer_expires_at: None,
        explanation: format!("{} Accepted.", r.explanation),
        ..r.clone()
    })
}

/// Decides declining an offer: the registration is cancelled and the booths offered on.
pub fn decline(
    fair: &Fair,
    r: &Registration,
    state: &TypeState,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Freed, Refused> {
    if r.status != Status::Offered {
        return Err(Refused::NoOpenOffer);
    }
    let declined = (
        "the offer was declined".to_string(),
        0,
        super::registration::Happened::Cancelled,
    );
    Ok(free(fair, r, state, declined, rules, now))
}

/// Decides the lapse of an offer at `now`; `None` when it was accepted or declined meanwhile
/// or its time is not up.
pub fn lapse(
    fair: &Fair,
    r: &Registration,
    state: &TypeState,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Option<Freed> {
    let due = r.status == Status::Offered
        && r.offer_expires_at
            .is_some_and(|e| !waitlist::offer_is_open(e, now));
    let lapsed = (
        "the offer lapsed".to_string(),
        0,
        super::registration::Happened::OfferExpired,
    );
    due.then(|| free(fair, r, state, lapsed, rules, now))
}

/// The offers once a first-come fair's reserves are released at `now` (its window closed):
/// every type's booths left are open to its waitlist.
pub fn release_reserves(
    fair: &Fair,
    types: &[TypeState],
    rules: &Rules,
    now: DateTime<Utc>,
) -> Vec<Offer> {
    let released = Fair {
        reserves_released_at: Some(now),
        ..fair.clone()
    };
    types
        .iter()
        .flat_map(|state| offers(&released, state, rules, now))
        .collect()
}
