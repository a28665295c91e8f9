//! Scored allocation (按分配展位), run once a scored fair's window has closed, per booth type.
//!
//! Eligible applicants are ranked by class (A first), then export sales (higher first), then
//! application time (earlier first), then their id (a fixed stand-in for the lot). Booths are
//! handed out in rounds: in round *k* every firm that holds *k − 1* booths and wants more gets
//! one, in rank order, so every firm gets its first booth before any gets a second. A firm
//! draws from the reserves it may use before the general pool, so the reserves serve the
//! firms they are kept for; whatever a reserve still holds once its firms are served is
//! released to everyone in a second pass of the same rounds. Nobody gets more than the
//! per-firm cap or more than it asked for. Each firm gets an explanation of its result.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Class, Refused, Rules, eligibility,
    fair::{AllocationMode, BoothType, Fair},
    pools::{Access, Draw, Pool, Pools},
    registration::{Firm, Registration},
};

/// One application of the booth type being allocated.
#[derive(Clone, Debug, PartialEq)]
pub struct Applicant {
    /// The registration id; the final tie-breaker.
    pub id: String,
    pub requested: u32,
    pub class: Option<Class>,
    pub export_sales_fen: i64,
    pub applied_at: DateTime<Utc>,
    pub access: Access,
    /// Why the firm may not go, if it may not (checked again at allocation time).
    pub ineligible: Option<String>,
}

/// What one applicant got, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub id: String,
    /// 1 = first; `None` for an ineligible firm.
    pub rank: Option<u32>,
    /// What counted of the request: at most the cap.
    pub demand: u32,
    /// Booths from each pool while the reserves were held.
    pub draw: Draw,
    /// Booths from reserves released in the second pass.
    pub released: u32,
    pub explanation: String,
}

impl Grant {
    pub fn booths(&self) -> u32 {
        self.draw.total() + self.released
    }
}

/// The ranking order: class, export sales, application time, id.
pub fn by_score(a: &Applicant, b: &Applicant) -> Ordering {
    Class::priority(a.class)
        .cmp(&Class::priority(b.class))
        .then(b.export_sales_fen.cmp(&a.export_sales_fen))
        .then(a.applied_at.cmp(&b.applied_at))
        .then(a.id.cmp(&b.id))
}

/// Allocates `pools` among `applicants` with at most `cap` booths each; one grant per
/// applicant, in the order given.
pub fn allocate(pools: Pools, cap: u32, applicants: &[Applicant]) -> Vec<Grant> {
    let mut ranked: Vec<usize> = (0..applicants.len())
        .filter(|&i| applicants[i].ineligible.is_none())
        .collect();
    ranked.sort_by(|&a, &b| by_score(&applicants[a], &applicants[b]));
    let demand: Vec<u32> = applicants.iter().map(|a| a.requested.min(cap)).collect();
    let mut draws = vec![Draw::default(); applicants.len()];
    let mut released = vec![0u32; applicants.len()];
    let held = |i: usize, draws: &[Draw], released: &[u32]| draws[i].total() + released[i];

    // First pass: the reserves are held for their firms.
    let mut left = pools;
    for round in 0..cap {
        for &i in &ranked {
            if held(i, &draws, &released) == round
                && round < demand[i]
                && let Some(pool) = left.take_one(applicants[i].access)
            {
                draws[i].add(pool);
            }
        }
    }
    // Second pass: what the reserves still hold is open to every firm.
    let mut left = left.released();
    for round in 0..cap {
        for &i in &ranked {
            if held(i, &draws, &released) == round
                && round < demand[i]
                && left.take_one(Access::default()) == Some(Pool::General)
            {
                released[i] += 1;
            }
        }
    }

    let mut rank = vec![None; applicants.len()];
    for (position, &i) in ranked.iter().enumerate() {
        rank[i] = Some(position as u32 + 1);
    }
    applicants
        .iter()
        .enumerate()
        .map(|(i, applicant)| {
            let mut grant = Grant {
                id: applicant.id.clone(),
                rank: rank[i],
                demand: demand[i],
                draw: draws[i],
                released: released[i],
                explanation: String::new(),
            };
            grant.explanation = explain(applicant, &grant, ranked.len(), cap);
            grant
        })
        .collect()
}

fn explain(applicant: &Applicant, grant: &Grant, eligible: usize, cap: u32) -> String {
    let (Some(rank), None) = (grant.rank, &applicant.ineligible) else {
        return format!(
            "Not eligible: {}; no booths.",
            applicant.ineligible.as_deref().unwrap_or("unknown reason")
        );
    };
    let class = applicant
        .class
        .map_or("no class".to_string(), |c| format!("class {}", c.letter()));
    let mut text = format!(
        "Ranked {rank} of {eligible} eligible firms ({class}, export sales {} yuan, applied {}).",
        applicant.export_sales_fen / 100,
        applicant.applied_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    if applicant.requested > cap {
        text.push_str(&format!(
            " Asked for {}, capped at {cap}.",
            applicant.requested
        ));
    }
    let d = grant.draw;
    let mut parts = Vec::new();
    for (n, what) in [
        (d.general, "from the general pool"),
        (d.small, "from the small-firm reserve"),
        (d.a_class, "from the A-class reserve"),
        (grant.released, "from reserves released to all"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    text.push_str(&format!(" Granted {} of {}", grant.booths(), grant.demand));
    if !parts.is_empty() {
        text.push_str(&format!(" ({})", parts.join(", ")));
    }
    text.push('.');
    if grant.booths() < grant.demand {
        text.push_str(&format!(
            " The booths ran out in round {}: each round gives every firm one more booth, in rank order.",
            grant.booths() + 1
        ));
    }
    text
}

/// An application waiting for the allocation, with what the read model says of its firm now.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub registration: Registration,
    pub firm: Firm,
}

/// What the run of a scored fair's allocation needs, loaded under the fair's lock.
#[derive(Debug, Clone)]
pub struct AllocationState {
    pub fair: Fair,
    /// The registrations still `applied`, in application order.
    pub applied: Vec<Candidate>,
}

/// What the allocation does with one application.
#[derive(Debug, Clone, PartialEq)]
pub enum Allotted {
    /// Booths granted, by pool (reserves released to all counted as general).
    Confirmed { draw: Draw },
    /// Cancelled: the firm is not eligible (any more).
    Ineligible { reason: String },
    /// Nothing left for it: on the waitlist.
    Waitlisted,
}

/// One application's result, with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Allotment {
    pub id: Uuid,
    pub booth_type: BoothType,
    pub allotted: Allotted,
    pub explanation: String,
}

/// What an allocation decided, counted (the answer of `AllocateBooths`; the registrations
/// themselves are read page by page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Applications confirmed with booths.
    pub confirmed: u32,
    /// Booths the confirmed were given.
    pub booths: u32,
    /// Applications that got nothing: on the waitlist.
    pub waitlisted: u32,
    /// Applications cancelled: the firm is not eligible (any more).
    pub ineligible: u32,
}

impl Counts {
    /// The counts of `allotments` (one per application).
    pub fn of(allotments: &[Allotment]) -> Self {
        let mut counts = Self::default();
        for allotment in allotments {
            match &allotment.allotted {
                Allotted::Confirmed { draw } => {
                    counts.confirmed += 1;
                    counts.booths += draw.total();
                }
                Allotted::Waitlisted => counts.waitlisted += 1,
                Allotted::Ineligible { .. } => counts.ineligible += 1,
            }
        }
        counts
    }
}

/// Decides the allocation of a scored fair whose window has closed (once): each booth type
/// by [`allocate`], eligibility checked again; firms that got nothing are waitlisted,
/// ineligible ones cancelled with the reason. One allotment per application, by booth type
/// in inventory order, then in application order.
pub fn decide(
    state: &AllocationState,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Vec<Allotment>, Refused> {
    let spec = &state.fair.spec;
    if spec.mode != AllocationMode::Scored {
        return Err(Refused::NotScored);
    }
    if !spec.window.has_closed(now) {
        return Err(Refused::StillCollecting(spec.window.closes_at));
    }
    if let Some(at) = state.fair.allocated_at {
        return Err(Refused::AlreadyAllocated(at));
    }
    let mut allotments = Vec::new();
    for item in &spec.inventory {
        let of_type: Vec<&Candidate> = state
            .applied
            .iter()
            .filter(|c| c.registration.booth_type == item.booth_type)
            .collect();
        let applicants: Vec<Applicant> = of_type
            .iter()
            .map(|c| applicant(c, spec.kind.is_external(), rules))
            .collect();
        let pools = Pools::split(
            item.capacity,
            spec.small_firm_reserve_percent,
            spec.a_class_reserve_percent,
        );
        let grants = allocate(pools, spec.per_firm_cap, &applicants);
        for ((c, grant), applicant) in of_type.iter().zip(grants).zip(&applicants) {
            allotments.push(allotment(c, grant, applicant));
        }
    }
    Ok(allotments)
}

fn applicant(c: &Candidate, external: bool, rules: &Rules) -> Applicant {
    let (r, firm) = (&c.registration, &c.firm);
    let ineligible = external
        .then(|| eligibility::check(&firm.facts, &rules.export_thresholds).err())
        .flatten()
        .map(|e| e.to_string());
    Applicant {
        id: r.id.to_string(),
        requested: r.booths_requested,
        class: firm.class,
        export_sales_fen: firm.facts.export_sales_fen.unwrap_or(0),
        applied_at: r.applied_at,
        access: Access {
            small: firm.small_firm,
            invited_a: r.invited_a && firm.class == Some(Class::A),
        },
        ineligible,
    }
}

fn allotment(c: &Candidate, grant: Grant, applicant: &Applicant) -> Allotment {
    let (allotted, explanation) = if grant.booths() > 0 {
        let draw = Draw {
            general: grant.draw.general + grant.released,
            ..grant.draw
        };
        (Allotted::Confirmed { draw }, grant.explanation)
    } else if let Some(reason) = &applicant.ineligible {
        let reason = format!("not eligible: {reason}");
        (Allotted::Ineligible { reason }, grant.explanation)
    } else {
        let text = format!(
            "{} On the waitlist for a booth that frees up.",
            grant.explanation
        );
        (Allotted::Waitlisted, text)
    };
    Allotment {
        id: c.registration.id,
        booth_type: c.registration.booth_type,
        allotted,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 8, 0, 0).unwrap()
    }

    fn firm(i: usize, requested: u32, small: bool) -> Applicant {
        Applicant {
            id: format!("r{i:03}"),
            requested,
            class: Some(Class::B),
            export_sales_fen: 1_000_000_000 + i as i64,
            applied_at: t0() + Duration::minutes(i as i64),
            access: Access {
                small,
                invited_a: false,
            },
            ineligible: None,
        }
    }

    #[test]
    fn thirty_booths_among_twenty_five_firms_give_one_each_before_seconds() {
        let firms: Vec<Applicant> = (0..25).map(|i| firm(i, 3, i >= 22)).collect();
        let grants = allocate(Pools::split(30, 20, 0), 10, &firms);
        assert!(grants.iter().all(|g| g.booths() >= 1));
        assert_eq!(grants.iter().map(Grant::booths).sum::<u32>(), 30);
        // Three small firms keep the 6 reserved booths: 2 each.
        let small: u32 = grants[22..].iter().map(Grant::booths).sum();
        assert_eq!(small, 6);
        // The 2 general booths left after round 1 go to the two best-ranked large firms.
        let seconds: Vec<&str> = grants[..22]
            .iter()
            .filter(|g| g.booths() == 2)
            .map(|g| g.id.as_str())
            .collect();
        assert_eq!(seconds, ["r020", "r021"]);
        assert!(
            grants[0].explanation.contains("Granted 1 of 3"),
            "{}",
            grants[0].explanation
        );
    }

    #[test]
    fn class_outranks_export_sales_and_time_breaks_ties() {
        let mut a = firm(5, 1, false);
        a.class = Some(Class::A);
        a.export_sales_fen = 1;
        let b = firm(1, 1, false);
        let mut b_later = firm(2, 1, false);
        b_later.export_sales_fen = b.export_sales_fen;
        let grants = allocate(
            Pools {
                general: 2,
                ..Pools::default()
            },
            1,
            &[b.clone(), b_later, a],
        );
        assert_eq!(
            grants.iter().map(|g| g.rank).collect::<Vec<_>>(),
            [Some(2), Some(3), Some(1)]
        );
        assert_eq!(
            grants.iter().map(Grant::booths).collect::<Vec<_>>(),
            [1, 0, 1]
        );
    }

    #[test]
    fn an_ineligible_firm_gets_nothing_and_is_told_why() {
        let mut f = firm(0, 2, false);
        f.ineligible = Some("export sales below the threshold".into());
        let grants = allocate(
            Pools {
                general: 5,
                ..Pools::default()
            },
            10,
            &[f],
        );
        assert_eq!(grants[0].booths(), 0);
        assert_eq!(grants[0].rank, None);
        assert!(grants[0].explanation.contains("export sales below"));
    }

    #[test]
    fn unused_reserves_go_to_everyone_at_the_end() {
        let firms: Vec<Applicant> = (0..3).map(|i| firm(i, 4, false)).collect();
        let grants = allocate(
            Pools {
                general: 3,
                small: 3,
                a_class: 2,
            },
            10,
            &firms,
        );
        assert_eq!(grants.iter().map(Grant::booths).sum::<u32>(), 8);
        assert!(grants.iter().all(|g| g.booths() >= 2));
        assert!(grants.iter().any(|g| g.released > 0));
    }

    fn applicants() -> impl Strategy<Value = Vec<Applicant>> {
        prop::collection::vec(
            (
                0u32..15,
                0u8..4,
                0i64..5,
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                0i64..100,
            ),
            0..40,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(
                    |(i, (requested, class, export, small, invited_a, ineligible, minute))| {
                        Applicant {
                            id: format!("r{i:03}"),
                            requested,
                            class: [Some(Class::A), Some(Class::B), Some(Class::C), None]
                                [class as usize],
                            export_sales_fen: export * 1_000_000,
                            applied_at: t0() + Duration::minutes(minute),
                            access: Access {
                                small,
                                invited_a: invited_a && class == 0,
                            },
                            ineligible: ineligible.then(|| "vetoed".to_string()),
                        }
                    },
                )
                .collect()
        })
    }

    /// Booths of `grant` that `access` could also have used.
    fn usable_by(grant: &Grant, access: Access) -> u32 {
        grant.draw.general
            + grant.released
            + if access.small { grant.draw.small } else { 0 }
            + if access.invited_a {
                grant.draw.a_class
            } else {
                0
            }
    }

    proptest! {
        #[test]
        fn allocation_keeps_every_rule(
            capacity in 0u32..80, small_pct in 0u32..=50, a_pct in 0u32..=50,
            cap in 1u32..12, firms in applicants(),
        ) {
            let pools = Pools::split(capacity, small_pct, a_pct);
            let grants = allocate(pools, cap, &firms);
            let total: u32 = grants.iter().map(Grant::booths).sum();
            prop_assert!(total <= capacity, "over-allocated");
            for (g, f) in grants.iter().zip(&firms) {
                prop_assert!(g.booths() <= cap && g.booths() <= f.requested, "cap or request exceeded");
                if f.ineligible.is_some() { prop_assert_eq!(g.booths(), 0); }
                prop_assert!(f.access.small || g.draw.small == 0);
                prop_assert!(f.access.invited_a || g.draw.a_class == 0);
            }
            let eligible = || grants.iter().zip(&firms).filter(|(_, f)| f.ineligible.is_none());
            // First booth before a second: a firm left without any booth could have used at
            // most one of the booths of any other firm.
            for (_, firm) in eligible().filter(|(g, f)| g.booths() == 0 && f.requested > 0) {
                for (other, _) in eligible().filter(|(g, _)| g.booths() >= 2) {
                    prop_assert!(usable_by(other, firm.access) <= 1,
                        "{} got {} booths it could have used while {} got none", other.id, usable_by(other, firm.access), firm.id);
                }
            }
            // Reserves honoured: their firms get at least the reserve, or all they asked for.
            let wanted = |pick: fn(&Applicant) -> bool| -> u32 {
                eligible().filter(|(_, f)| pick(f)).map(|(g, _)| g.demand).sum()
            };
            let got = |pick: fn(&Applicant) -> bool| -> u32 {
                eligible().filter(|(_, f)| pick(f)).map(|(g, _)| g.booths()).sum()
            };
            prop_assert!(got(|f| f.access.small) >= pools.small.min(wanted(|f| f.access.small)));
            prop_assert!(got(|f| f.access.invited_a) >= pools.a_class.min(wanted(|f| f.access.invited_a)));
            // Nothing is left over while an eligible firm still wants a booth.
            if total < capacity {
                for (g, _) in eligible() {
                    prop_assert_eq!(g.booths(), g.demand, "{} short while booths are left", &g.id);
                }
            }
        }
    }
}

#[cfg(test)]
mod decide_tests {
    use std::collections::BTreeMap;

    use chrono::Duration;

    use super::*;
    use crate::domain::{
        Segment,
        eligibility::FirmFacts,
        fair::tests::{at, spec},
        registration::Status,
    };

    fn candidate(n: u128, booths: u32, sales: Option<i64>) -> Candidate {
        Candidate {
            registration: Registration {
                id: Uuid::from_u128(n),
                fair_id: Uuid::from_u128(1),
                uscc: format!("U{n}"),
                booth_type: BoothType::Standard,
                booths_requested: booths,
                status: Status::Applied,
                draw: Draw::default(),
                class: Some(Class::B),
                small_firm: false,
                invited_a: false,
                applied_at: at(2) + Duration::minutes(n as i64),
                confirmed_at: None,
                offer_expires_at: None,
                cancellation_reason: String::new(),
                cancellation_fee_fen: 0,
                explanation: String::new(),
                waitlist_position: 0,
            },
            firm: Firm {
                facts: FirmFacts {
                    known: true,
                    tax_credit_violation: false,
                    segment: Some(Segment::Trade),
                    export_sales_fen: sales,
                },
                small_firm: false,
                class: Some(Class::B),
            },
        }
    }

    fn state(capacity: u32, applied: Vec<Candidate>) -> AllocationState {
        let mut spec = spec();
        spec.inventory[0].capacity = capacity;
        spec.small_firm_reserve_percent = 0;
        spec.a_class_reserve_percent = 0;
        AllocationState {
            fair: Fair {
                id: Uuid::from_u128(1),
                spec,
                taken: BTreeMap::new(),
                version: 1,
                created_at: at(1),
                allocated_at: None,
                reserves_released_at: None,
            },
            applied,
        }
    }

    #[test]
    fn the_run_waits_for_the_close_and_happens_once() {
        let s = state(2, vec![]);
        let closes = s.fair.spec.window.closes_at;
        let rules = Rules::default();
        assert_eq!(
            decide(&s, &rules, closes - Duration::seconds(1)).unwrap_err(),
            Refused::StillCollecting(closes)
        );
        assert!(decide(&s, &rules, closes).unwrap().is_empty());
        let mut done = s.clone();
        done.fair.allocated_at = Some(closes);
        assert_eq!(
            decide(&done, &rules, closes).unwrap_err(),
            Refused::AlreadyAllocated(closes)
        );
        let mut first_come = s;
        first_come.fair.spec.mode = AllocationMode::FirstCome;
        assert_eq!(
            decide(&first_come, &rules, closes).unwrap_err(),
            Refused::NotScored
        );
    }

    #[test]
    fn the_allocated_are_confirmed_the_rest_waitlisted_and_the_ineligible_cancelled() {
        let rich = 3_000_000_000;
        let s = state(
            2,
            vec![
                candidate(1, 1, Some(rich)),
                candidate(2, 1, None),
                candidate(3, 1, Some(rich + 1)),
                candidate(4, 1, Some(rich - 1)),
            ],
        );
        let closes = s.fair.spec.window.closes_at;
        let allotments = decide(&s, &Rules::default(), closes).unwrap();
        let of = |n: u128| {
            allotments
                .iter()
                .find(|a| a.id == Uuid::from_u128(n))
                .unwrap()
        };
        assert!(matches!(of(3).allotted, Allotted::Confirmed { draw } if draw.general == 1));
        assert!(matches!(of(1).allotted, Allotted::Confirmed { .. }));
        assert_eq!(of(4).allotted, Allotted::Waitlisted);
        assert!(
            of(4)
                .explanation
                .ends_with("On the waitlist for a booth that frees up."),
            "{}",
            of(4).explanation
        );
        assert!(
            matches!(&of(2).allotted, Allotted::Ineligible { reason } if reason.starts_with("not eligible: ")),
            "{:?}",
            of(2)
        );
        assert_eq!(allotments.len(), 4, "one allotment per application");
        assert_eq!(
            Counts::of(&allotments),
            Counts {
                confirmed: 2,
                booths: 2,
                waitlisted: 1,
                ineligible: 1,
            }
        );
    }
}
