//! Joint visits, caps, inspection codes and results.

use chrono::Duration;
use tonic::Code;

use super::*;

fn days_from_today(n: i64) -> String {
    (platform::calendar::china_date(Utc::now()) + Duration::days(n)).to_string()
}

async fn setup(app: &App) {
    for (who, code) in [
        ("tax", "TAX-R"),
        ("market_supervision", "MS-R"),
        ("natural_resources", "NR-R"),
        ("human_resources", "HR-R"),
        ("commerce", "COM-R"),
        ("finance", "FIN-R"),
    ] {
        app.routine_item(who, code, false).await;
        let triggered = format!("{code}-T");
        app.put_item(who, item(&triggered, pb::ItemKind::Triggered, false))
            .await
            .unwrap();
        app.roster(who, 2).await;
    }
}

#[tokio::test]
async fn two_departments_29_days_apart_get_one_joint_visit_and_31_days_apart_two() {
    let app = spawn_app().await;
    setup(&app).await;
    let (near, far) = (app.uscc(0), app.uscc(1));
    app.seed(&near, Some(Class::B), false).await;
    app.seed(&far, Some(Class::B), false).await;
    let routine = pb::ItemKind::Routine;
    let first = app
        .create_task("tax", task(&near, routine, &["TAX-R"], &on(3, 2)))
        .await
        .unwrap();
    let second = app
        .create_task(
            "market_supervision",
            task(&near, routine, &["MS-R"], &on(3, 31)),
        )
        .await
        .unwrap();
    let joint = second.visit.unwrap();
    assert_eq!(joint.id, first.visit.unwrap().id);
    assert!(joint.joint);
    assert_eq!(joint.visit_on, on(3, 2), "one date");
    assert_eq!(joint.inspectors.len(), 4, "one team: both departments' two");
    assert_eq!(joint.items.len(), 2);
    assert_eq!(
        joint.documents.len(),
        3,
        "one request: the licence once, each item's records"
    );

    let a = app
        .create_task("tax", task(&far, routine, &["TAX-R"], &on(3, 2)))
        .await
        .unwrap();
    let b = app
        .create_task(
            "market_supervision",
            task(&far, routine, &["MS-R"], &on(4, 2)),
        )
        .await
        .unwrap();
    assert_ne!(a.visit.unwrap().id, b.visit.unwrap().id);
    app.stop().await;
}

#[tokio::test]
async fn beyond_a_cap_a_visit_is_refused_naming_it_unless_exempt_and_a_joint_visit_counts_once() {
    let app = spawn_app().await;
    setup(&app).await;
    let firm = app.uscc(0);
    app.seed(&firm, Some(Class::B), false).await;
    let (routine, triggered) = (pb::ItemKind::Routine, pb::ItemKind::Triggered);
    app.create_task("tax", task(&firm, routine, &["TAX-R"], &on(3, 2)))
        .await
        .unwrap();
    let second = app
        .create_task("tax", task(&firm, routine, &["TAX-R"], &on(9, 1)))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition);
    assert!(
        second.message().contains("routine visit(s) of tax"),
        "{}",
        second.message()
    );
    let mut exempt = task(&firm, routine, &["TAX-R"], &on(9, 1));
    exempt.exemption = pb::Exemption::Complaint as i32;
    exempt.exemption_reference = "12345-2099-000017".into();
    app.create_task("tax", exempt).await.unwrap();
    let mut no_reference = task(&firm, triggered, &["TAX-R-T"], &on(10, 1));
    no_reference.exemption = pb::Exemption::Complaint as i32;
    let refused = app.create_task("tax", no_reference).await.unwrap_err();
    assert_eq!(fields(&refused), vec!["exemption_reference".to_string()]);

    for (who, code, day) in [
        ("market_supervision", "MS-R", on(4, 15)),
        ("natural_resources", "NR-R", on(6, 1)),
        ("human_resources", "HR-R", on(7, 15)),
    ] {
        app.create_task(who, task(&firm, routine, &[code], &day))
            .await
            .unwrap();
    }
    // Four counted visits now: a fifth is refused, joining one of them is not.
    let fifth = app
        .create_task("commerce", task(&firm, triggered, &["COM-R-T"], &on(11, 2)))
        .await
        .unwrap_err();
    assert_eq!(fifth.code(), Code::FailedPrecondition);
    assert!(
        fifth.message().contains("visits of all departments"),
        "{}",
        fifth.message()
    );
    let joined = app
        .create_task("finance", task(&firm, routine, &["FIN-R"], &on(3, 12)))
        .await
        .unwrap();
    assert!(joined.visit.unwrap().joint);
    let mut referral = task(&firm, triggered, &["COM-R-T"], &on(11, 2));
    referral.exemption = pb::Exemption::HigherReferral as i32;
    referral.exemption_reference = "辽商转〔2099〕4号".into();
    app.create_task("commerce", referral).await.unwrap();

    let counts = app
        .client
        .clone()
        .get_visit_counts(as_dev(
            "commerce",
            pb::GetVisitCountsRequest {
                year: YEAR,
                alerts_only: true,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counts.firms.len(), 1);
    assert_eq!(counts.firms[0].visits, 6);
    assert_eq!(counts.firms[0].exempt_visits, 2);
    assert!(counts.firms[0].alerts[0].contains("above the cap of 4"));
    let by_firm = app
        .client
        .clone()
        .get_visit_counts(as_dev(
            &enterprise(&firm),
            pb::GetVisitCountsRequest {
                year: YEAR,
                alerts_only: false,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(by_firm.code(), Code::PermissionDenied);
    app.stop().await;
}

fn result(visit: &pb::Visit, code: &str, uscc: &str) -> pb::RecordResultRequest {
    pb::RecordResultRequest {
        visit_id: visit.id.clone(),
        code: code.into(),
        uscc: uscc.into(),
        outcome: pb::Outcome::Findings as i32,
        findings: vec![pb::FindingInput {
            item_code: "MS-R-T".into(),
            description: "fire exits blocked".into(),
            rectification_days: 15,
        }],
        summary: "on site with the owner".into(),
    }
}

async fn record(
    app: &App,
    request: pb::RecordResultRequest,
) -> Result<pb::RecordResultResponse, tonic::Status> {
    app.client
        .clone()
        .record_result(as_dev("market_supervision", request))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_result_needs_the_valid_code_of_that_firm_and_findings_open_a_recheck() {
    let app = spawn_app().await;
    setup(&app).await;
    let (one, two, late) = (app.uscc(0), app.uscc(1), app.uscc(2));
    for firm in [&one, &two, &late] {
        app.seed(firm, Some(Class::A), false).await;
    }
    let triggered = pb::ItemKind::Triggered;
    let mut visits = Vec::new();
    for (firm, day) in [
        (&one, days_from_today(0)),
        (&two, days_from_today(3)),
        (&late, days_from_today(-20)),
    ] {
        let created = app
            .create_task(
                "market_supervision",
                task(firm, triggered, &["MS-R-T"], &day),
            )
            .await
            .unwrap();
        let id = created.visit.unwrap().id;
        assert_eq!(
            app.approve("tax", &id).await.unwrap_err().code(),
            Code::PermissionDenied
        );
        visits.push(app.approve("market_supervision", &id).await.unwrap());
    }
    let (v1, v2, v3) = (&visits[0], &visits[1], &visits[2]);
    assert!(v1.code.starts_with("JC") && v1.code.len() == 18);

    // The firm sees its visit before it happens: items, legal basis, inspectors, code.
    let seen = app
        .client
        .clone()
        .get_visit(as_dev(
            &enterprise(&one),
            pb::GetVisitRequest {
                visit_id: v1.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(seen.code, v1.code);
    assert!(!seen.items[0].legal_basis.is_empty());
    assert_eq!(seen.inspectors.len(), 2);
    // The read of a firm's visit is audited, with the firm.
    let audited = testkit::wait_until(std::time::Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM audit_log WHERE method LIKE '%/GetVisit' AND uscc = $1 AND code = 'OK'",
        )
        .bind(&one)
        .fetch_one(&app.pool)
        .await
        .is_ok_and(|n| n == 1)
    })
    .await;
    assert!(audited, "GetVisit is in the audit log with the firm");
    let verified = app
        .client
        .clone()
        .verify_code(as_dev(
            &enterprise(&one),
            pb::VerifyCodeRequest {
                code: v1.code.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid);
    let foreign = app
        .client
        .clone()
        .get_visit(as_dev(
            &enterprise(&two),
            pb::GetVisitRequest {
                visit_id: v1.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let own_only = app
        .client
        .clone()
        .list_visits(as_dev(&enterprise(&two), pb::ListVisitsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(own_only.visits.iter().all(|v| v.uscc == two));
    assert_eq!(own_only.visits.len(), 1);

    let wrong = record(&app, result(v1, &v2.code, &one)).await.unwrap_err();
    assert_eq!(wrong.code(), Code::FailedPrecondition);
    let other_firm = record(&app, result(v1, &v1.code, &two)).await.unwrap_err();
    assert_eq!(other_firm.code(), Code::FailedPrecondition);
    assert!(other_firm.message().contains("another firm"));
    let expired = record(&app, result(v3, &v3.code, &late)).await.unwrap_err();
    assert_eq!(expired.code(), Code::FailedPrecondition);
    assert!(
        expired.message().contains("expired"),
        "{}",
        expired.message()
    );
    let early = record(&app, result(v2, &v2.code, &two)).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(
        early.message().contains("on that day or later"),
        "{}",
        early.message()
    );
    let missing = record(&app, result(v1, "", &one)).await.unwrap_err();
    assert_eq!(fields(&missing), vec!["code".to_string()]);

    let recorded = record(&app, result(v1, &v1.code, &one)).await.unwrap();
    let visit = recorded.visit.unwrap();
    assert_eq!(visit.state, pb::VisitState::Recorded as i32);
    let outcome = visit.result.unwrap();
    assert_eq!(outcome.findings[0].rectify_by, days_from_today(15));
    assert!(!outcome.publish_by.is_empty());
    assert_eq!(recorded.recheck_tasks.len(), 1);
    let recheck = &recorded.recheck_tasks[0];
    assert_eq!(recheck.exemption, pb::Exemption::Recheck as i32);
    assert_eq!(recheck.exemption_reference, v1.code);
    assert_eq!(recheck.planned_on, days_from_today(15));
    let tier = app
        .client
        .clone()
        .get_risk_tier(as_dev(
            &enterprise(&one),
            pb::GetRiskTierRequest { uscc: one.clone() },
        ))
        .await
        .unwrap()
        .into_inner()
        .firm
        .unwrap();
    assert!(tier.open_rectification && !tier.white_listed, "{tier:?}");

    let published = app
        .client
        .clone()
        .publish_result(as_dev(
            "market_supervision",
            pb::PublishResultRequest {
                visit_id: v1.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(published.state, pb::VisitState::Published as i32);
    app.stop().await;
}

#[tokio::test]
async fn a_result_not_published_by_its_deadline_is_listed_overdue() {
    use inspection::domain::code::{Outcome, ResultInput};
    use platform::auth::Department;

    let app = spawn_app().await;
    setup(&app).await;
    let (old, fresh) = (app.uscc(0), app.uscc(1));
    let ms = Some(Department::MarketSupervision);
    let mut ids = Vec::new();
    for (firm, days_ago) in [(&old, 45), (&fresh, 0)] {
        app.seed(firm, Some(Class::B), false).await;
        let created = app
            .create_task(
                "market_supervision",
                task(
                    firm,
                    pb::ItemKind::Triggered,
                    &["MS-R-T"],
                    &days_from_today(-days_ago),
                ),
            )
            .await
            .unwrap();
        let id: uuid::Uuid = created.visit.unwrap().id.parse().unwrap();
        // Approved and recorded on the visit's day, as the inspectors did then.
        let then = Utc::now() - Duration::days(days_ago);
        let visit = app
            .store
            .approve(id, 0, ms, "market_supervision", &app.rules, then)
            .await
            .unwrap();
        let input = ResultInput {
            code: visit.visit.code.clone().unwrap(),
            uscc: firm.to_string(),
            outcome: Outcome::Clean,
            findings: vec![],
            summary: "nothing found".into(),
            by: "market_supervision".into(),
        };
        app.store
            .record_result(id, input, ms, "market_supervision", &app.rules, then)
            .await
            .unwrap();
        ids.push(id.to_string());
    }
    let overdue = app
        .client
        .clone()
        .list_visits(as_dev(
            "market_supervision",
            pb::ListVisitsRequest {
                publication_overdue: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<&str> = overdue.visits.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        listed,
        vec![ids[0].as_str()],
        "20 working days after 45 days ago have passed"
    );
    app.stop().await;
}

#[tokio::test]
async fn two_departments_racing_for_the_last_visit_under_the_cap_get_one() {
    let app = spawn_app().await;
    setup(&app).await;
    let firm = app.uscc(0);
    app.seed(&firm, Some(Class::B), false).await;
    let routine = pb::ItemKind::Routine;
    for (who, code, day) in [
        ("tax", "TAX-R", on(2, 2)),
        ("market_supervision", "MS-R", on(4, 1)),
        ("natural_resources", "NR-R", on(6, 1)),
    ] {
        app.create_task(who, task(&firm, routine, &[code], &day))
            .await
            .unwrap();
    }
    let (a, b) = tokio::join!(
        app.create_task(
            "human_resources",
            task(&firm, routine, &["HR-R"], &on(9, 1))
        ),
        app.create_task("commerce", task(&firm, routine, &["COM-R"], &on(11, 2))),
    );
    let outcomes = [a.is_ok(), b.is_ok()];
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let refused = a.err().or(b.err()).unwrap();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    app.stop().await;
}
