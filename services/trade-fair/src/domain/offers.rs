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
        used: if freed > 0 {
            state.used.minus(r.draw)
        } else {
            state.used
        },
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
    let cancelled = (
        reason.to_string(),
        fee,
        super::registration::Happened::Cancelled,
    );
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{
        Class,
        fair::{
            AllocationMode,
            tests::{at, spec},
        },
        registration::Happened,
    };

    fn fair() -> Fair {
        let mut spec = spec();
        spec.mode = AllocationMode::FirstCome;
        Fair {
            id: Uuid::from_u128(1),
            spec,
            taken: BTreeMap::new(),
            version: 1,
            created_at: at(1),
            allocated_at: None,
            reserves_released_at: None,
        }
    }

    fn registration(n: u128, status: Status, booths: u32, class: Option<Class>) -> Registration {
        let holds = status.holds_booths();
        Registration {
            id: Uuid::from_u128(n),
            fair_id: Uuid::from_u128(1),
            uscc: format!("U{n}"),
            booth_type: BoothType::Standard,
            booths_requested: booths,
            status,
            draw: Draw {
                general: if holds { booths } else { 0 },
                ..Draw::default()
            },
            class,
            small_firm: false,
            invited_a: false,
            applied_at: at(2) + Duration::minutes(n as i64),
            confirmed_at: None,
            offer_expires_at: None,
            cancellation_reason: String::new(),
            cancellation_fee_fen: 0,
            explanation: "Offered.".into(),
            waitlist_position: 0,
        }
    }

    /// The general pool full (21 of 21) and `waiting` in line.
    fn full(waiting: Vec<Registration>) -> TypeState {
        TypeState {
            booth_type: BoothType::Standard,
            used: Draw {
                general: 21,
                ..Draw::default()
            },
            waiting,
        }
    }

    #[test]
    fn a_late_cancellation_costs_the_fee_share_and_offers_the_booths_by_class_then_time() {
        let f = fair();
        let cancelled = registration(10, Status::Confirmed, 2, Some(Class::B));
        let waiting = vec![
            registration(20, Status::Waitlisted, 1, Some(Class::B)),
            registration(30, Status::Waitlisted, 3, Some(Class::A)),
            registration(40, Status::Waitlisted, 1, Some(Class::A)),
        ];
        let rules = Rules::default();
        let during = at(5);
        let freed = cancel(
            &f,
            &cancelled,
            &full(waiting.clone()),
            "ill",
            &rules,
            during,
        )
        .unwrap();
        assert_eq!(freed.release.fee_fen, 0, "free while the window is open");
        assert_eq!(freed.release.freed, 2);
        // The A firm asking for 3 does not fit in 2; the next A firm, then the B firm do.
        let offered: Vec<u128> = freed.offers.iter().map(|o| o.id.as_u128()).collect();
        assert_eq!(offered, vec![40, 20]);
        assert!(
            freed
                .offers
                .iter()
                .all(|o| o.expires_at == during + rules.offer_hold)
        );

        let late = cancel(&f, &cancelled, &full(waiting), "ill", &rules, at(10)).unwrap();
        assert_eq!(
            late.release.fee_fen, 900_000,
            "30 % of two booths at 15,000 yuan"
        );
        let gone = registration(10, Status::Cancelled, 2, None);
        assert_eq!(
            cancel(&f, &gone, &full(vec![]), "again", &rules, during).unwrap_err(),
            Refused::AlreadyCancelled
        );
    }

    #[test]
    fn an_offer_is_accepted_strictly_before_it_lapses_and_lapses_at_its_time() {
        let mut offered = registration(10, Status::Offered, 1, None);
        let expires = at(6);
        offered.offer_expires_at = Some(expires);
        let accepted = accept(&offered, expires - Duration::seconds(1)).unwrap();
        assert_eq!(accepted.status, Status::Confirmed);
        assert_eq!(accepted.explanation, "Offered. Accepted.");
        assert_eq!(
            accept(&offered, expires).unwrap_err(),
            Refused::OfferLapsed(expires)
        );
        let (f, rules) = (fair(), Rules::default());
        let state = full(vec![]);
        assert!(lapse(&f, &offered, &state, &rules, expires - Duration::seconds(1)).is_none());
        let lapsed = lapse(&f, &offered, &state, &rules, expires).unwrap();
        assert_eq!(lapsed.release.happened, Happened::OfferExpired);
        assert_eq!(lapsed.release.reason, "the offer lapsed");
        let confirmed = registration(11, Status::Confirmed, 1, None);
        assert_eq!(
            decline(&f, &confirmed, &state, &rules, expires).unwrap_err(),
            Refused::NoOpenOffer
        );
    }

    proptest! {
        /// Offers never hand out more than the pools hold, never split a request, and
        /// follow the waitlist's order among the requests that fit.
        #[test]
        fn offers_never_exceed_the_free_booths(
            used in 0u32..=30,
            requests in proptest::collection::vec((1u32..=4, 0usize..4), 0..12),
        ) {
            let f = Fair { reserves_released_at: Some(at(10)), ..fair() };
            let classes = [Some(Class::A), Some(Class::B), Some(Class::C), None];
            let waiting: Vec<Registration> = requests
                .iter()
                .enumerate()
                .map(|(i, (booths, class))| {
                    registration(100 + i as u128, Status::Waitlisted, *booths, classes[*class])
                })
                .collect();
            let state = TypeState {
                booth_type: BoothType::Standard,
                used: Draw { general: used, ..Draw::default() },
                waiting: waiting.clone(),
            };
            let made = offers(&f, &state, &Rules::default(), at(11));
            let handed: u32 = made.iter().map(|o| o.draw.total()).sum();
            prop_assert!(handed <= 30 - used);
            for o in &made {
                let r = waiting.iter().find(|r| r.id == o.id).unwrap();
                prop_assert_eq!(o.draw.total(), r.booths_requested);
            }
            let mut ids: Vec<Uuid> = made.iter().map(|o| o.id).collect();
            ids.dedup();
            prop_assert_eq!(ids.len(), made.len(), "one offer per registration");
        }
    }
}
