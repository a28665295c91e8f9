use chrono::{NaiveDate, TimeZone};
use platform::{auth::Department, period::Period};
use proptest::prelude::*;

use super::*;
use crate::domain::{
    benefit::{Amount, Benefit},
    policy::PolicySpec,
};

fn entry(uscc: &str, class: Option<Class>, score: f64, entitled_fen: i64) -> Entry {
    Entry {
        uscc: uscc.into(),
        name: uscc.into(),
        class,
        score,
        entitled_fen,
        amount_fen: 0,
        position: 0,
        explanation: String::new(),
        by_objection: false,
    }
}

fn amounts(entries: &[Entry]) -> Vec<(&str, i64)> {
    entries
        .iter()
        .map(|e| (e.uscc.as_str(), e.amount_fen))
        .collect()
}

#[test]
fn the_budget_goes_by_class_then_score_then_uscc() {
    let list = allocate(
        vec![
            entry("C1", Some(Class::C), 99.0, 10),
            entry("B2", Some(Class::B), 50.0, 10),
            entry("A1", Some(Class::A), 10.0, 10),
            entry("B1", Some(Class::B), 60.0, 10),
            entry("B0", Some(Class::B), 60.0, 10),
            entry("N", None, 100.0, 10),
        ],
        1_000,
        Remainder::None,
    );
    let order: Vec<&str> = list.iter().map(|e| e.uscc.as_str()).collect();
    assert_eq!(order, ["A1", "B0", "B1", "B2", "C1", "N"]);
    assert_eq!(
        list.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
}

#[test]
fn a_budget_spent_exactly_pays_everyone_in_full() {
    let list = allocate(
        vec![
            entry("A", Some(Class::A), 1.0, 60),
            entry("B", Some(Class::B), 1.0, 40),
        ],
        100,
        Remainder::None,
    );
    assert_eq!(amounts(&list), [("A", 60), ("B", 40)]);
}

#[test]
fn one_fen_short_the_last_firm_gets_the_remainder_or_nothing() {
    let entries = vec![
        entry("A", Some(Class::A), 1.0, 60),
        entry("B", Some(Class::B), 1.0, 40),
        entry("C", Some(Class::C), 1.0, 1),
    ];
    let partial = allocate(entries.clone(), 99, Remainder::Partial);
    assert_eq!(amounts(&partial), [("A", 60), ("B", 39), ("C", 0)]);
    let none = allocate(entries, 99, Remainder::None);
    assert_eq!(
        amounts(&none),
        [("A", 60), ("B", 0), ("C", 0)],
        "the list ends at the first misfit"
    );
}

#[test]
fn an_exclusive_group_gives_the_firm_the_larger_amount_and_ties_to_the_smaller_id() {
    let rivals = [Rival {
        policy_id: "b".into(),
        entitled_fen: 100,
    }];
    assert!(winning_rival("a", 99, &rivals).is_some(), "b gives more");
    assert!(winning_rival("a", 101, &rivals).is_none());
    assert!(
        winning_rival("a", 100, &rivals).is_none(),
        "a tie goes to a"
    );
    assert!(
        winning_rival("c", 100, &rivals).is_some(),
        "a tie goes to b"
    );
}

fn policy(budget_fen: i64) -> Policy {
    Policy {
        spec: PolicySpec {
            id: "p".into(),
            title: "t".into(),
            document_number: "d".into(),
            issuer: Department::Commerce,
            valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            valid_until: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
            period: Period::year(2024),
            mode: Mode::Automatic,
            review_working_days: 0,
            conditions: vec![],
            benefit: Benefit {
                amount: Amount::Fixed { fen: 10 },
                cap_fen: None,
            },
            budget_fen,
            remainder: Remainder::None,
            exclusive_group: None,
        },
        version: 1,
        created_at: Utc::now(),
        created_by: "department:commerce".into(),
        ordered_fen: 0,
    }
}

#[test]
fn a_round_outside_the_policys_validity_is_refused_naming_the_dates() {
    let facts = Facts {
        uscc: "U".into(),
        ..Facts::default()
    };
    let candidates = [Candidate {
        facts: &facts,
        rivals: vec![],
    }];
    // 2025-12-31 16:00 UTC is 2026-01-01 in China: past the validity.
    let late = Utc.with_ymd_and_hms(2025, 12, 31, 16, 0, 0).unwrap();
    let refused = decide_round(&policy(100), &candidates, late, late).unwrap_err();
    assert!(
        matches!(refused, RoundRefused::OutsideValidity { .. }),
        "{refused}"
    );
    let in_time = Utc.with_ymd_and_hms(2025, 12, 31, 15, 59, 59).unwrap();
    let round = decide_round(&policy(100), &candidates, in_time, in_time).unwrap();
    assert_eq!(amounts(&round.entries), [("U", 10)]);
}

#[test]
fn a_deregistered_or_rival_won_firm_is_not_listed() {
    let gone = Facts {
        uscc: "G".into(),
        deregistered: true,
        ..Facts::default()
    };
    let won = Facts {
        uscc: "W".into(),
        ..Facts::default()
    };
    let candidates = [
        Candidate {
            facts: &gone,
            rivals: vec![],
        },
        Candidate {
            facts: &won,
            rivals: vec![Rival {
                policy_id: "q".into(),
                entitled_fen: 11,
            }],
        },
    ];
    let now = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
    assert!(
        decide_round(&policy(100), &candidates, now, now)
            .unwrap()
            .entries
            .is_empty()
    );
}

/// The straightforward reference: sort, then pay while the budget lasts.
fn reference(mut entries: Vec<Entry>, budget: i64, remainder: Remainder) -> Vec<(String, i64)> {
    entries.sort_by(|a, b| {
        let rank = |e: &Entry| match e.class {
            Some(Class::A) => 0,
            Some(Class::B) => 1,
            Some(Class::C) => 2,
            None => 3,
        };
        rank(a)
            .cmp(&rank(b))
            .then(b.score.total_cmp(&a.score))
            .then(a.uscc.cmp(&b.uscc))
    });
    let mut left = budget;
    let mut stop = false;
    let mut out = Vec::new();
    for e in entries {
        let paid = if stop {
            0
        } else if e.entitled_fen <= left {
            e.entitled_fen
        } else {
            stop = true;
            if remainder == Remainder::Partial {
                left
            } else {
                0
            }
        };
        left -= paid;
        out.push((e.uscc, paid));
    }
    out
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        "[A-Z]{3}",
        prop::option::of(prop_oneof![Just(Class::A), Just(Class::B), Just(Class::C)]),
        0u32..100,
        1i64..1_000,
    )
        .prop_map(|(uscc, class, score, entitled)| entry(&uscc, class, f64::from(score), entitled))
}

proptest! {
    #[test]
    fn a_round_equals_the_reference_and_never_exceeds_the_budget(
        entries in prop::collection::vec(arb_entry(), 0..40),
        budget in 0i64..20_000,
        partial in any::<bool>(),
    ) {
        let remainder = if partial { Remainder::Partial } else { Remainder::None };
        let list = allocate(entries.clone(), budget, remainder);
        let got: Vec<(String, i64)> = list.iter().map(|e| (e.uscc.clone(), e.amount_fen)).collect();
        prop_assert_eq!(got, reference(entries, budget, remainder));
        prop_assert!(list.iter().map(|e| e.amount_fen).sum::<i64>() <= budget);
        prop_assert!(list.iter().all(|e| e.amount_fen <= e.entitled_fen && e.amount_fen >= 0));
    }
}
