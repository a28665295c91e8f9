use super::*;

pub(crate) fn roster(department: Department, n: usize) -> Vec<Inspector> {
    (0..n)
        .map(|i| Inspector {
            id: format!("{}-{i:02}", department.as_str()),
            name: format!("Inspector {i}"),
            department,
        })
        .collect()
}

pub(crate) fn firms(per_tier: [usize; 4], white_listed_a: usize) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (t, n) in Tier::ALL.into_iter().zip(per_tier) {
        for i in 0..n {
            out.push(Candidate {
                uscc: format!("91{t:?}{i:016}"),
                name: format!("Firm {t:?}{i}"),
                tier: t,
                white_listed: t == Tier::A && i < white_listed_a,
            });
        }
    }
    out
}

fn input<'a>(roster: &'a [Inspector], limits: &'a Limits, calendar: &'a Calendar) -> DrawInput<'a> {
    DrawInput {
        year: 2026,
        seed: 42,
        safety_only: false,
        roster,
        limits,
        calendar,
    }
}

#[test]
fn the_quota_is_the_ceiling_of_ratio_times_population() {
    // 10 % of 10 is exactly 1; one firm more needs a second draw.
    assert_eq!(quota(1_000, 10), 1);
    assert_eq!(quota(1_000, 11), 2);
    assert_eq!(quota(1_000, 9), 1);
    assert_eq!(quota(300, 100), 3);
    assert_eq!(quota(300, 101), 4);
    assert_eq!(quota(4_000, 5), 2);
    assert_eq!(quota(4_000, 6), 3);
    assert_eq!(quota(10_000, 7), 7);
    assert_eq!(quota(1_000, 0), 0);
}

#[test]
fn each_tier_draws_exactly_its_quota_at_and_around_the_rounding_boundary() {
    let limits = Limits::default();
    let calendar = Calendar::default();
    let roster = roster(Department::Tax, 5);
    for (per_tier, expected) in [
        ([100, 10, 5, 3], [3, 1, 2, 3]),
        ([101, 11, 6, 4], [4, 2, 3, 4]),
        ([99, 9, 4, 0], [3, 1, 2, 0]),
    ] {
        let draw = draw(&firms(per_tier, 0), &input(&roster, &limits, &calendar)).unwrap();
        let counts: Vec<u32> = draw.tiers.iter().map(|t| t.drawn).collect();
        assert_eq!(counts, expected.to_vec(), "{per_tier:?}");
        for tier in Tier::ALL {
            let n = draw.picks.iter().filter(|p| p.tier == tier).count();
            assert_eq!(n as u32, expected[tier.index()]);
        }
    }
}

#[test]
fn the_same_seed_redraws_the_same_plan_whatever_the_input_order() {
    let limits = Limits::default();
    let calendar = Calendar::default();
    let roster = roster(Department::Tax, 6);
    let mut list = firms([40, 30, 20, 5], 0);
    let first = draw(&list, &input(&roster, &limits, &calendar)).unwrap();
    list.reverse();
    let mut shuffled_roster = roster.clone();
    shuffled_roster.reverse();
    let again = draw(&list, &input(&shuffled_roster, &limits, &calendar)).unwrap();
    assert_eq!(first, again);
    let other = draw(
        &list,
        &DrawInput {
            seed: 43,
            ..input(&roster, &limits, &calendar)
        },
    )
    .unwrap();
    assert_ne!(first.picks, other.picks, "another seed draws other firms");
}

#[test]
fn no_white_listed_firm_is_drawn_for_non_safety_items() {
    let limits = Limits {
        ratios_bp: [10_000, 10_000, 10_000, 10_000],
        ..Limits::default()
    };
    let calendar = Calendar::default();
    let roster = roster(Department::Tax, 2);
    let list = firms([10, 2, 0, 0], 4);
    let routine = draw(&list, &input(&roster, &limits, &calendar)).unwrap();
    assert_eq!(routine.tiers[0].population, 6);
    assert!(routine.picks.iter().all(|p| {
        let firm = list.iter().find(|f| f.uscc == p.uscc).unwrap();
        !firm.white_listed
    }));
    let safety = draw(
        &list,
        &DrawInput {
            safety_only: true,
            ..input(&roster, &limits, &calendar)
        },
    )
    .unwrap();
    assert_eq!(safety.tiers[0].drawn, 10);
}

#[test]
fn two_distinct_inspectors_of_the_roster_per_firm_and_a_working_day_in_the_year() {
    let limits = Limits::default();
    let calendar = Calendar::default();
    let roster = roster(Department::MarketSupervision, 3);
    let draw = draw(
        &firms([0, 0, 0, 30], 0),
        &input(&roster, &limits, &calendar),
    )
    .unwrap();
    for pick in &draw.picks {
        assert_eq!(pick.inspectors.len(), 2);
        assert_ne!(pick.inspectors[0], pick.inspectors[1]);
        assert!(pick.inspectors.iter().all(|i| roster.contains(i)));
        assert_eq!(pick.planned_on.year(), 2026);
        assert!(calendar.is_working_day(pick.planned_on));
    }
}

#[test]
fn a_roster_of_one_is_refused() {
    let limits = Limits::default();
    let calendar = Calendar::default();
    let roster = roster(Department::Tax, 1);
    let refused = draw(&firms([1, 0, 0, 0], 0), &input(&roster, &limits, &calendar));
    assert_eq!(refused, Err(PlanRefused::RosterTooSmall("tax", 1)));
}
