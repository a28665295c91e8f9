use chrono::TimeZone;
use platform::auth::Department;

use super::*;
use crate::domain::visit::tests::{day, task};

fn visit() -> Visit {
    let mut t = task(
        Department::MarketSupervision,
        "F1",
        day(10),
        ItemKind::Routine,
    );
    let id = Uuid::new_v4();
    t.visit_id = Some(id);
    Visit {
        id,
        uscc: "F1".into(),
        name: "Firm".into(),
        visit_on: day(10),
        on_site: true,
        state: VisitState::Proposed,
        code: None,
        code_valid_until: None,
        version: 1,
        approved_at: None,
        rated: false,
        tasks: vec![t],
        result: None,
    }
}

/// Noon China time of `d`.
fn at(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(4, 0, 0).unwrap())
}

fn input(code: &str, uscc: &str) -> ResultInput {
    ResultInput {
        code: code.into(),
        uscc: uscc.into(),
        outcome: Outcome::Findings,
        findings: vec![FindingInput {
            item_code: "MARKET_SUPERVISION-01".into(),
            description: "labels missing".into(),
            rectification_days: None,
        }],
        summary: "checked".into(),
        by: "market_supervision".into(),
    }
}

#[test]
fn codes_are_long_and_differ() {
    let a = new_code(1);
    let b = new_code(2);
    assert_eq!(a.len(), 18);
    assert!(a.starts_with("JC"));
    assert_ne!(a, b);
}

#[test]
fn approval_gives_a_code_valid_until_days_after_the_visit() {
    let limits = Limits::default();
    let approved = decide_approve(&visit(), "JC1".into(), at(day(0)), &limits).unwrap();
    assert_eq!(approved.state, VisitState::Approved);
    assert_eq!(approved.code_valid_until, Some(day(17)));
    assert!(matches!(
        decide_approve(&approved, "JC2".into(), at(day(0)), &limits),
        Err(CodeRefused::NotProposed(..))
    ));
}

#[test]
fn a_result_needs_the_visits_valid_code_for_that_firm() {
    let limits = Limits::default();
    let calendar = Calendar::default();
    let proposed = visit();
    assert!(matches!(
        decide_result(
            &proposed,
            input("JC1", "F1"),
            at(day(10)),
            &limits,
            &calendar
        ),
        Err(CodeRefused::NotApproved(..))
    ));
    let approved = decide_approve(&proposed, "JC1".into(), at(day(0)), &limits).unwrap();
    let wrong = decide_result(
        &approved,
        input("JC9", "F1"),
        at(day(10)),
        &limits,
        &calendar,
    );
    assert!(matches!(wrong, Err(CodeRefused::WrongCode(_))));
    let other = decide_result(
        &approved,
        input("JC1", "F2"),
        at(day(10)),
        &limits,
        &calendar,
    );
    assert!(matches!(other, Err(CodeRefused::OtherFirm(..))));
    // Valid through the last day, expired the day after.
    assert!(
        decide_result(
            &approved,
            input("JC1", "F1"),
            at(day(17)),
            &limits,
            &calendar
        )
        .is_ok()
    );
    // Not before the visit's day (day 10): the day before is refused.
    let early = decide_result(
        &approved,
        input("JC1", "F1"),
        at(day(9)),
        &limits,
        &calendar,
    );
    assert_eq!(
        early.unwrap_err(),
        CodeRefused::BeforeVisit(approved.id, day(10))
    );
    let late = decide_result(
        &approved,
        input("JC1", "F1"),
        at(day(18)),
        &limits,
        &calendar,
    );
    assert_eq!(
        late.unwrap_err(),
        CodeRefused::Expired(approved.id, day(17))
    );
}

#[test]
fn findings_set_a_deadline_a_recheck_and_a_publication_day() {
    let limits = Limits::default();
    let calendar = Calendar::default();
    let approved = decide_approve(&visit(), "JC1".into(), at(day(0)), &limits).unwrap();
    let (recorded, rechecks) = decide_result(
        &approved,
        input("JC1", "F1"),
        at(day(10)),
        &limits,
        &calendar,
    )
    .unwrap();
    let result = recorded.result.as_ref().unwrap();
    assert_eq!(result.findings[0].rectify_by, day(40));
    assert_eq!(rechecks.len(), 1);
    assert_eq!(rechecks[0].planned_on, day(40));
    assert_eq!(rechecks[0].department, Department::MarketSupervision);
    assert_eq!(
        rechecks[0].exemption,
        Some((Exemption::Recheck, "JC1".to_string()))
    );
    assert_eq!(
        result.publish_by,
        calendar.nth_working_day_after(day(10), limits.result_publish_working_days)
    );
    assert!(matches!(
        decide_result(
            &recorded,
            input("JC1", "F1"),
            at(day(10)),
            &limits,
            &calendar
        ),
        Err(CodeRefused::NotApproved(..))
    ));
    let published = decide_publish(&recorded, at(day(11))).unwrap();
    assert_eq!(published.state, VisitState::Published);
    assert!(decide_publish(&published, at(day(11))).is_err());
}

#[test]
fn a_finding_on_an_item_outside_the_visit_is_refused() {
    let limits = Limits::default();
    let calendar = Calendar::default();
    let approved = decide_approve(&visit(), "JC1".into(), at(day(0)), &limits).unwrap();
    let mut bad = input("JC1", "F1");
    bad.findings[0].item_code = "TAX-01".into();
    assert_eq!(
        decide_result(&approved, bad, at(day(10)), &limits, &calendar).unwrap_err(),
        CodeRefused::ItemNotInVisit("TAX-01".into())
    );
}
