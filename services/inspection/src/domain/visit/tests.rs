use chrono::Duration;
use proptest::prelude::*;

use super::*;

pub(crate) fn task(department: Department, uscc: &str, day: NaiveDate, kind: ItemKind) -> Task {
    Task {
        id: Uuid::new_v4(),
        department,
        uscc: uscc.into(),
        name: format!("Firm {uscc}"),
        kind,
        item_codes: vec![format!("{}-01", department.as_str().to_uppercase())],
        planned_on: day,
        inspectors: vec![Inspector {
            id: format!("{}-1", department.as_str()),
            name: "Inspector".into(),
            department,
        }],
        exemption: None,
        plan_code: None,
        state: TaskState::Placed,
        visit_id: None,
        refusal: String::new(),
        off_site: false,
        tier: Tier::B,
        created_at: DateTime::UNIX_EPOCH,
    }
}

pub(crate) fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + Duration::days(n)
}

const FREE: TaskFacts = TaskFacts {
    white_listed: false,
    safety: false,
};

/// Places every task in turn, as the store does; returns the visits and the tasks after.
pub(crate) fn place_all(tasks: Vec<Task>, limits: &Limits) -> (Vec<Visit>, Vec<Task>) {
    let mut visits = Vec::new();
    let mut out = Vec::new();
    for mut t in tasks {
        let firm: Vec<Visit> = visits
            .iter()
            .filter(|v: &&Visit| v.uscc == t.uscc)
            .cloned()
            .collect();
        let decision = place(&t, FREE, &firm, limits);
        apply(&mut visits, &mut t, &decision, Uuid::new_v4());
        out.push(t);
    }
    (visits, out)
}

#[test]
fn two_departments_29_days_apart_merge_into_one_joint_visit() {
    let limits = Limits::default();
    let tasks = vec![
        task(Department::Tax, "F1", day(0), ItemKind::Routine),
        task(
            Department::MarketSupervision,
            "F1",
            day(29),
            ItemKind::Routine,
        ),
    ];
    let (visits, _) = place_all(tasks, &limits);
    assert_eq!(visits.len(), 1);
    assert!(visits[0].joint());
    assert_eq!(visits[0].visit_on, day(0));
    assert_eq!(
        visits[0].inspectors().len(),
        2,
        "one team of both departments"
    );
}

#[test]
fn thirty_days_apart_still_merge_and_31_do_not() {
    let limits = Limits::default();
    let at_30 = vec![
        task(Department::Tax, "F1", day(0), ItemKind::Routine),
        task(
            Department::MarketSupervision,
            "F1",
            day(30),
            ItemKind::Routine,
        ),
    ];
    assert_eq!(place_all(at_30, &limits).0.len(), 1);
    let at_31 = vec![
        task(Department::Tax, "F1", day(0), ItemKind::Routine),
        task(
            Department::MarketSupervision,
            "F1",
            day(31),
            ItemKind::Routine,
        ),
    ];
    let (visits, _) = place_all(at_31, &limits);
    assert_eq!(visits.len(), 2);
    assert!(visits.iter().all(|v| !v.joint()));
}

#[test]
fn another_firm_or_an_approved_visit_is_never_joined() {
    let limits = Limits::default();
    let (mut visits, _) = place_all(
        vec![task(Department::Tax, "F1", day(0), ItemKind::Routine)],
        &limits,
    );
    let other = task(
        Department::MarketSupervision,
        "F2",
        day(1),
        ItemKind::Routine,
    );
    let firm2: Vec<Visit> = visits.iter().filter(|v| v.uscc == "F2").cloned().collect();
    assert_eq!(place(&other, FREE, &firm2, &limits), Ok(Placement::New));
    visits[0].state = VisitState::Approved;
    let same = task(
        Department::MarketSupervision,
        "F1",
        day(1),
        ItemKind::Routine,
    );
    assert_eq!(place(&same, FREE, &visits, &limits), Ok(Placement::New));
}

#[test]
fn the_second_routine_visit_of_a_department_is_refused_unless_exempt() {
    let limits = Limits::default();
    let (visits, _) = place_all(
        vec![task(Department::Tax, "F1", day(0), ItemKind::Routine)],
        &limits,
    );
    let mut second = task(Department::Tax, "F1", day(100), ItemKind::Routine);
    let refused = place(&second, FREE, &visits, &limits).unwrap_err();
    assert!(matches!(
        refused,
        CapRefused::RoutinePerDepartment { cap: 1, .. }
    ));
    assert!(refused.to_string().contains("routine visit(s) of tax"));
    second.exemption = Some((Exemption::Complaint, "12345-2026-0001".into()));
    assert_eq!(place(&second, FREE, &visits, &limits), Ok(Placement::New));
}

#[test]
fn the_fifth_visit_of_all_departments_is_refused_unless_exempt() {
    let limits = Limits::default();
    let departments = [
        Department::Tax,
        Department::MarketSupervision,
        Department::NaturalResources,
        Department::HumanResources,
    ];
    let tasks = departments
        .iter()
        .enumerate()
        .map(|(i, d)| task(*d, "F1", day(40 * i as i64), ItemKind::Routine))
        .collect();
    let (visits, placed) = place_all(tasks, &limits);
    assert_eq!(visits.len(), 4);
    assert!(placed.iter().all(|t| t.state == TaskState::Placed));
    let mut fifth = task(Department::Commerce, "F1", day(200), ItemKind::Triggered);
    let refused = place(&fifth, FREE, &visits, &limits).unwrap_err();
    assert!(matches!(refused, CapRefused::Total { cap: 4, .. }));
    fifth.exemption = Some((Exemption::HigherReferral, "辽市监转〔2026〕3号".into()));
    assert_eq!(place(&fifth, FREE, &visits, &limits), Ok(Placement::New));
}

#[test]
fn a_joint_visit_counts_once_against_the_total_cap() {
    let limits = Limits::default();
    // Two joint visits of two departments each, then two single ones: four visits, six tasks.
    let tasks = vec![
        task(Department::Tax, "F1", day(0), ItemKind::Routine),
        task(
            Department::MarketSupervision,
            "F1",
            day(5),
            ItemKind::Routine,
        ),
        task(
            Department::NaturalResources,
            "F1",
            day(60),
            ItemKind::Routine,
        ),
        task(Department::HumanResources, "F1", day(65), ItemKind::Routine),
        task(Department::Commerce, "F1", day(120), ItemKind::Routine),
        task(Department::Finance, "F1", day(180), ItemKind::Routine),
    ];
    let (visits, placed) = place_all(tasks, &limits);
    assert_eq!(visits.len(), 4);
    assert!(placed.iter().all(|t| t.state == TaskState::Placed));
}

#[test]
fn a_white_listed_firm_gets_no_routine_task_on_a_non_safety_item() {
    let limits = Limits::default();
    let routine = task(Department::Tax, "F1", day(0), ItemKind::Routine);
    let listed = TaskFacts {
        white_listed: true,
        safety: false,
    };
    assert!(matches!(
        place(&routine, listed, &[], &limits),
        Err(CapRefused::WhiteListed(_))
    ));
    let safety = TaskFacts {
        white_listed: true,
        safety: true,
    };
    assert_eq!(place(&routine, safety, &[], &limits), Ok(Placement::New));
    let triggered = task(Department::Tax, "F1", day(0), ItemKind::Triggered);
    assert_eq!(place(&triggered, listed, &[], &limits), Ok(Placement::New));
}

#[test]
fn off_site_tasks_neither_merge_nor_count() {
    let limits = Limits::default();
    let mut off = task(Department::Tax, "F1", day(1), ItemKind::Triggered);
    off.off_site = true;
    let tasks = vec![
        task(
            Department::MarketSupervision,
            "F1",
            day(0),
            ItemKind::Routine,
        ),
        off,
    ];
    let (visits, _) = place_all(tasks, &limits);
    assert_eq!(visits.len(), 2);
    assert_eq!(visits.iter().filter(|v| v.counts()).count(), 1);
}

const DEPARTMENTS: [Department; 6] = [
    Department::Commerce,
    Department::Finance,
    Department::Tax,
    Department::MarketSupervision,
    Department::NaturalResources,
    Department::HumanResources,
];

fn arbitrary_task() -> impl Strategy<Value = Task> {
    (
        0..5usize,
        0..6usize,
        0..360i64,
        0..3usize,
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(firm, d, offset, kind, exempt)| {
            let kind = [ItemKind::Routine, ItemKind::Special, ItemKind::Triggered][kind];
            let mut t = task(DEPARTMENTS[d], &format!("F{firm}"), day(offset), kind);
            if exempt {
                t.exemption = Some((Exemption::Complaint, "12345".into()));
            }
            t
        })
}

proptest! {
    /// Over random plans: no cap exceeded, every task in exactly one visit or refused naming
    /// a cap, and a firm's visits more than a window apart (one visit per window).
    #[test]
    fn random_plans_keep_the_caps_and_one_visit_per_window(
        tasks in proptest::collection::vec(arbitrary_task(), 0..60)
    ) {
        let limits = Limits::default();
        let (visits, placed) = place_all(tasks, &limits);
        for t in &placed {
            let holders = visits.iter().filter(|v| v.tasks.iter().any(|x| x.id == t.id)).count();
            match t.state {
                TaskState::Refused => {
                    prop_assert_eq!(holders, 0);
                    prop_assert!(t.refusal.starts_with("cap:"));
                }
                _ => prop_assert_eq!(holders, 1),
            }
        }
        for firm in 0..5 {
            let uscc = format!("F{firm}");
            let mine: Vec<&Visit> = visits.iter().filter(|v| v.uscc == uscc).collect();
            prop_assert!(mine.iter().filter(|v| v.counts()).count() <= limits.visit_cap_total as usize);
            for d in DEPARTMENTS {
                let routine = mine.iter().flat_map(|v| &v.tasks)
                    .filter(|t| t.department == d && t.kind == ItemKind::Routine && t.counts())
                    .count();
                prop_assert!(routine <= limits.routine_cap_per_department as usize);
            }
            for (i, a) in mine.iter().enumerate() {
                for b in &mine[i + 1..] {
                    let gap = (a.visit_on - b.visit_on).num_days().abs();
                    prop_assert!(gap > i64::from(limits.joint_window_days));
                }
            }
        }
    }
}
