//! Registrations (报名) and the decision on an application: refused outside the window,
//! above the cap, for a type the fair does not offer, a second time, or (external fairs) for
//! an ineligible firm; at a first-come fair confirmed on the spot when the booths open to the
//! firm suffice, else waitlisted; at a scored fair left for the allocation.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Class, Refused, Rules,
    breach::{self, BreachRecord},
    eligibility::{self, FirmFacts},
    fair::{AllocationMode, BoothType, Fair},
    pools::{Access, Draw},
};

/// Where a registration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Applied to a scored fair, waiting for the allocation.
    Applied,
    Confirmed,
    Waitlisted,
    /// Holding booths until the offer lapses.
    Offered,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Applied,
        Status::Confirmed,
        Status::Waitlisted,
        Status::Offered,
        Status::Cancelled,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Confirmed => "confirmed",
            Status::Waitlisted => "waitlisted",
            Status::Offered => "offered",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// True while the registration holds booths.
    pub fn holds_booths(self) -> bool {
        matches!(self, Status::Confirmed | Status::Offered)
    }
}

/// A registration of one firm for one fair.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub id: Uuid,
    pub fair_id: Uuid,
    pub uscc: String,
    pub booth_type: BoothType,
    pub booths_requested: u32,
    pub status: Status,
    /// Booths held, by pool (zero unless confirmed or offered).
    pub draw: Draw,
    pub class: Option<Class>,
    pub small_firm: bool,
    pub invited_a: bool,
    pub applied_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub cancellation_reason: String,
    pub cancellation_fee_fen: i64,
    pub explanation: String,
    /// 1 = next in line; 0 unless waitlisted.
    pub waitlist_position: u32,
}

impl Registration {
    pub fn access(&self) -> Access {
        Access {
            small: self.small_firm,
            invited_a: self.invited_a,
        }
    }

    pub fn booths_held(&self) -> u32 {
        if self.status.holds_booths() {
            self.draw.total()
        } else {
            0
        }
    }
}

/// Everything the rules need to know about one firm (the read model's view of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Firm {
    pub facts: FirmFacts,
    pub small_firm: bool,
    pub class: Option<Class>,
}

/// What an application asks for.
#[derive(Debug, Clone)]
pub struct Application {
    pub fair_id: Uuid,
    pub uscc: String,
    pub booth_type: BoothType,
    pub booths: u32,
}

/// What the decision on an application needs, loaded under the fair's lock.
#[derive(Debug, Clone)]
pub struct ApplyState {
    /// The id the new registration gets.
    pub id: Uuid,
    pub fair: Fair,
    /// The firm has a registration for this fair already (a cancelled one does not count:
    /// a firm may apply again after cancelling, while the window is open).
    pub registered: bool,
    /// The firm's recorded breaches, with the sessions after each.
    pub breaches: Vec<BreachRecord>,
    pub firm: Firm,
    /// The firm holds an issued invitation to this fair.
    pub invited: bool,
    /// Booths of the requested type held by confirmed and offered registrations, by pool.
    pub used: Draw,
}

/// A registration's change that the events announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happened {
    Confirmed { promoted: bool },
    Waitlisted,
    Offered,
    OfferExpired,
    Cancelled,
}

/// What an accepted application writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The new row (its waitlist position is the store's to compute).
    pub registration: Registration,
    /// The firm's issued invitation to the fair is now used.
    pub invitation_used: bool,
    /// The event, if the application was decided on the spot (first come).
    pub happened: Option<Happened>,
}

/// Decides an application at `now`.
pub fn decide(
    state: &ApplyState,
    a: &Application,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Applied, Refused> {
    check_application(state, a, rules, now)?;
    let firm = &state.firm;
    let mut registration = Registration {
        id: state.id,
        fair_id: a.fair_id,
        uscc: a.uscc.clone(),
        booth_type: a.booth_type,
        booths_requested: a.booths,
        status: Status::Applied,
        draw: Draw::default(),
        class: firm.class,
        small_firm: firm.small_firm,
        invited_a: state.invited && firm.class == Some(Class::A),
        applied_at: now,
        confirmed_at: None,
        offer_expires_at: None,
        cancellation_reason: String::new(),
        cancellation_fee_fen: 0,
        explanation: String::new(),
        waitlist_position: 0,
    };
    let happened = (state.fair.spec.mode == AllocationMode::FirstCome)
        .then(|| first_come(&mut registration, state, now));
    Ok(Applied {
        registration,
        invitation_used: state.invited,
        happened,
    })
}

/// The window, the booth type, the cap, a second application, a bar after a breach and
/// (external fairs) the firm's eligibility, in that order.
fn check_application(
    state: &ApplyState,
    a: &Application,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<(), Refused> {
    let spec = &state.fair.spec;
    if now < spec.window.opens_at {
        return Err(Refused::NotOpenYet(spec.window.opens_at));
    }
    if spec.window.has_closed(now) {
        return Err(Refused::WindowClosed(spec.window.closes_at));
    }
    if spec.inventory_of(a.booth_type).is_none() {
        return Err(Refused::BoothTypeNotOffered(a.booth_type));
    }
    if a.booths > spec.per_firm_cap {
        return Err(Refused::OverPerFirmCap {
            asked: a.booths,
            cap: spec.per_firm_cap,
        });
    }
    if state.registered {
        return Err(Refused::AlreadyApplied(a.uscc.clone()));
    }
    breach::check_bar(
        &state.breaches,
        state.fair.id,
        spec.kind,
        rules.breach_barred_sessions,
    )?;
    if spec.kind.is_external() {
        eligibility::check(&state.firm.facts, &rules.export_thresholds)
            .map_err(Refused::Ineligible)?;
    }
    Ok(())
}

/// First come, first served: the booths if the pools open to the firm hold them all, else
/// the waitlist.
fn first_come(r: &mut Registration, state: &ApplyState, now: DateTime<Utc>) -> Happened {
    let pools = state.fair.available(r.booth_type, state.used, now);
    let open = pools.open_to(r.access());
    match pools.draw(r.access(), r.booths_requested) {
        Some(draw) => {
            r.status = Status::Confirmed;
            r.draw = draw;
            r.confirmed_at = Some(now);
            r.explanation = format!(
                "Confirmed on application, first come first served: {} of the {open} {} booths open to it.",
                r.booths_requested,
                r.booth_type.as_str()
            );
            Happened::Confirmed { promoted: false }
        }
        None => {
            r.status = Status::Waitlisted;
            r.explanation = format!(
                "Only {open} {} booths were open to it when it applied; waitlisted by class, then time.",
                r.booth_type.as_str()
            );
            Happened::Waitlisted
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{
        Segment,
        eligibility::Ineligible,
        fair::{FairKind, tests::spec},
    };

    fn state(mode: AllocationMode, kind: FairKind) -> ApplyState {
        let mut spec = spec();
        spec.mode = mode;
        spec.kind = kind;
        spec.per_firm_cap = 3;
        ApplyState {
            id: Uuid::from_u128(7),
            fair: Fair {
                id: Uuid::from_u128(1),
                spec,
                taken: BTreeMap::new(),
                version: 1,
                created_at: crate::domain::fair::tests::at(1),
                allocated_at: None,
                reserves_released_at: None,
            },
            registered: false,
            breaches: vec![],
            firm: Firm {
                facts: FirmFacts {
                    known: true,
                    tax_credit_violation: false,
                    segment: Some(Segment::Trade),
                    export_sales_fen: Some(2_000_000_000),
                },
                small_firm: false,
                class: Some(Class::B),
            },
            invited: false,
            used: Draw::default(),
        }
    }

    fn application(booths: u32) -> Application {
        Application {
            fair_id: Uuid::from_u128(1),
            uscc: "91330100MA27XXXX0X".into(),
            booth_type: BoothType::Standard,
            booths,
        }
    }

    fn during(state: &ApplyState) -> DateTime<Utc> {
        state.fair.spec.window.opens_at + Duration::hours(1)
    }

    #[test]
    fn the_window_opens_inclusive_and_closes_exclusive() {
        let s = state(AllocationMode::FirstCome, FairKind::LocalCraft);
        let w = s.fair.spec.window;
        let rules = Rules::default();
        let early = decide(
            &s,
            &application(1),
            &rules,
            w.opens_at - Duration::microseconds(1),
        );
        assert_eq!(early.unwrap_err(), Refused::NotOpenYet(w.opens_at));
        assert!(decide(&s, &application(1), &rules, w.opens_at).is_ok());
        assert_eq!(
            decide(&s, &application(1), &rules, w.closes_at).unwrap_err(),
            Refused::WindowClosed(w.closes_at)
        );
    }

    #[test]
    fn the_cap_the_type_and_a_second_application_are_refused_by_name() {
        let mut s = state(AllocationMode::FirstCome, FairKind::LocalCraft);
        let (rules, now) = (Rules::default(), during(&s));
        assert_eq!(
            decide(&s, &application(4), &rules, now).unwrap_err(),
            Refused::OverPerFirmCap { asked: 4, cap: 3 }
        );
        let mut brand = application(1);
        brand.booth_type = BoothType::Brand;
        assert_eq!(
            decide(&s, &brand, &rules, now).unwrap_err(),
            Refused::BoothTypeNotOffered(BoothType::Brand)
        );
        s.registered = true;
        let again = decide(&s, &application(1), &rules, now).unwrap_err();
        assert!(again.already_exists().is_some(), "{again}");
    }

    #[test]
    fn an_external_fair_refuses_an_ineligible_firm_and_a_local_one_does_not() {
        let mut s = state(AllocationMode::Scored, FairKind::CantonFair);
        s.firm.facts.tax_credit_violation = true;
        let (rules, now) = (Rules::default(), during(&s));
        assert_eq!(
            decide(&s, &application(1), &rules, now).unwrap_err(),
            Refused::Ineligible(Ineligible::TaxCreditVeto)
        );
        s.fair.spec.kind = FairKind::LocalCraft;
        let applied = decide(&s, &application(1), &rules, now).unwrap();
        assert_eq!(applied.registration.status, Status::Applied);
        assert_eq!(
            applied.happened, None,
            "a scored fair waits for the allocation"
        );
    }

    #[test]
    fn only_an_invited_class_a_firm_draws_on_the_a_class_reserve() {
        let mut s = state(AllocationMode::FirstCome, FairKind::LocalCraft);
        s.invited = true;
        let now = during(&s);
        let b = decide(&s, &application(1), &Rules::default(), now).unwrap();
        assert!(!b.registration.invited_a && b.invitation_used);
        s.firm.class = Some(Class::A);
        let a = decide(&s, &application(1), &Rules::default(), now).unwrap();
        assert!(a.registration.invited_a);
    }

    #[test]
    fn a_firm_barred_after_a_breach_is_refused_naming_it_and_an_eligible_producer_passes() {
        use crate::domain::breach::{Breach, BreachKind, BreachRecord, Session};
        let mut s = state(AllocationMode::Scored, FairKind::CantonFair);
        let (rules, now) = (Rules::default(), during(&s));
        // A producer with sales between the two thresholds goes; a trading firm does not.
        s.firm.facts.segment = Some(Segment::Apparel);
        s.firm.facts.export_sales_fen = Some(rules.export_thresholds.producer_fen);
        assert!(decide(&s, &application(1), &rules, now).is_ok());
        s.firm.facts.segment = Some(Segment::Trade);
        assert!(matches!(
            decide(&s, &application(1), &rules, now),
            Err(Refused::Ineligible(Ineligible::BelowThreshold { .. }))
        ));
        s.firm.facts.segment = Some(Segment::Apparel);
        let earlier = Session {
            fair_id: Uuid::from_u128(100),
            name: "Canton Fair autumn".into(),
            starts_at: s.fair.spec.starts_at - Duration::days(180),
        };
        let this = Session {
            fair_id: s.fair.id,
            name: s.fair.spec.name.clone(),
            starts_at: s.fair.spec.starts_at,
        };
        s.breaches = vec![BreachRecord {
            breach: Breach {
                id: Uuid::from_u128(9),
                fair_id: earlier.fair_id,
                uscc: application(1).uscc,
                kind: BreachKind::LeavingEarly,
                evidence: "left on day 2".into(),
                reference: String::new(),
                recorded_at: earlier.starts_at,
            },
            kind: FairKind::CantonFair,
            at: earlier,
            later: vec![this],
        }];
        let refused = decide(&s, &application(1), &rules, now).unwrap_err();
        assert!(matches!(refused, Refused::Barred(_)), "{refused}");
        assert!(refused.to_string().contains("leaving early"), "{refused}");
    }

    proptest! {
        /// At a first-come fair an application is confirmed exactly when the booths open to
        /// it suffice, and then holds just what it asked for; otherwise it waits, holding none.
        #[test]
        fn first_come_confirms_exactly_what_fits(used in 0u32..=30, booths in 1u32..=3, small: bool) {
            let mut s = state(AllocationMode::FirstCome, FairKind::LocalCraft);
            s.firm.small_firm = small;
            s.used = Draw { general: used.min(21), small: used.saturating_sub(21).min(6), a_class: 0 };
            let now = during(&s);
            let open = s.fair.available(BoothType::Standard, s.used, now).open_to(Access { small, invited_a: false });
            let applied = decide(&s, &application(booths), &Rules::default(), now).unwrap();
            let r = applied.registration;
            if booths <= open {
                prop_assert_eq!(r.status, Status::Confirmed);
                prop_assert_eq!(r.draw.total(), booths);
                prop_assert_eq!(applied.happened, Some(Happened::Confirmed { promoted: false }));
            } else {
                prop_assert_eq!(r.status, Status::Waitlisted);
                prop_assert_eq!(r.draw.total(), 0);
                prop_assert_eq!(applied.happened, Some(Happened::Waitlisted));
            }
        }
    }
}
