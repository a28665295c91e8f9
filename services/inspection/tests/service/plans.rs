//! Item lists, yearly plans (the seeded draw) and the joint-visit report.

use tonic::Code;

use super::*;

#[tokio::test]
async fn a_department_keeps_only_its_own_item_list_and_an_enterprise_none() {
    let app = spawn_app().await;
    let stored = app
        .put_item("tax", item("TAX-INVOICE", pb::ItemKind::Routine, false))
        .await
        .unwrap();
    assert_eq!(stored.department, dept(common::Department::Tax));
    assert_eq!(stored.version, 1);
    let mut other = item("TAX-OTHER", pb::ItemKind::Routine, false);
    other.department = dept(common::Department::MarketSupervision);
    let refused = app.put_item("tax", other).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let firm = app.uscc(0);
    let refused = app
        .put_item(
            &enterprise(&firm),
            item("X-1", pb::ItemKind::Routine, false),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let mut bad = item("lower", pb::ItemKind::Unspecified, false);
    bad.legal_basis = String::new();
    let refused = app.put_item("tax", bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let named = fields(&refused);
    for field in ["item.code", "item.kind", "item.legal_basis"] {
        assert!(named.contains(&field.to_string()), "{field} in {named:?}");
    }
    // The lists are public: an enterprise reads them.
    let listed = app
        .client
        .clone()
        .list_items(as_dev(
            &enterprise(&firm),
            pb::ListItemsRequest { department: 0 },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    app.stop().await;
}

fn key(plan: &pb::Plan) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<_> = plan
        .tasks
        .iter()
        .map(|t| {
            let ids = t.inspectors.iter().map(|i| i.id.clone()).collect();
            (t.uscc.clone(), t.planned_on.clone(), ids)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_plan_draws_exact_counts_again_with_its_seed_and_never_a_white_listed_firm() {
    let app = spawn_app().await;
    // 10 white-listed A firms, 11 B, 5 C, 3 D (a veto).
    let mut i = 0;
    for (class, veto, n) in [
        (Some(Class::A), false, 10),
        (Some(Class::B), false, 11),
        (Some(Class::C), false, 5),
        (Some(Class::B), true, 3),
    ] {
        for _ in 0..n {
            app.seed(&app.uscc(i), class, veto).await;
            i += 1;
        }
    }
    app.routine_item("tax", "TAX-R1", false).await;
    app.put_item("tax", item("TAX-T1", pb::ItemKind::Triggered, false))
        .await
        .unwrap();
    app.roster("tax", 4).await;

    let preview = app.draw("tax", &["TAX-R1"], 7, true).await.unwrap();
    let drawn: Vec<(i32, i32)> = preview
        .tiers
        .iter()
        .map(|t| (t.population, t.drawn))
        .collect();
    // A: the white list leaves none; B: ceil(10 % × 11) = 2; C: ceil(40 % × 5) = 2; D: 3.
    assert_eq!(drawn, vec![(0, 0), (11, 2), (5, 2), (3, 3)]);
    assert_eq!(preview.tasks.len(), 7);
    assert!(
        preview
            .tasks
            .iter()
            .all(|t| t.tier != pb::RiskTier::A as i32)
    );
    assert!(preview.tasks.iter().all(|t| t.inspectors.len() == 2));

    let filed = app.draw("tax", &["TAX-R1"], 7, false).await.unwrap();
    assert_eq!(filed.code, format!("JC-{YEAR}-TAX"));
    assert_eq!(filed.seed, 7);
    assert_eq!(
        key(&filed),
        key(&preview),
        "the stored seed draws the same plan"
    );
    let stored = app
        .client
        .clone()
        .get_plan(as_dev(
            "commerce",
            pb::GetPlanRequest {
                code: filed.code.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(key(&stored), key(&filed));
    assert!(
        stored
            .tasks
            .iter()
            .all(|t| t.state == pb::TaskState::Placed as i32)
    );

    let again = app.draw("tax", &["TAX-R1"], 8, false).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let not_routine = app.draw("tax", &["TAX-T1"], 8, true).await.unwrap_err();
    assert_eq!(fields(&not_routine), vec!["item_codes".to_string()]);
    let by_firm = app
        .draw(&enterprise(&app.uscc(0)), &["TAX-R1"], 8, true)
        .await;
    assert_eq!(by_firm.unwrap_err().code(), Code::PermissionDenied);

    // A safety plan ignores the white list: ceil(3 % × 10) = 1 tier-A firm.
    app.routine_item("market_supervision", "MS-SAFETY", true)
        .await;
    app.roster("market_supervision", 2).await;
    let safety = app
        .draw("market_supervision", &["MS-SAFETY"], 9, true)
        .await
        .unwrap();
    assert_eq!((safety.tiers[0].population, safety.tiers[0].drawn), (10, 1));
    app.stop().await;
}

#[tokio::test]
async fn merging_the_departments_plans_saves_at_least_a_quarter_of_the_on_site_visits() {
    let app = spawn_app().await;
    for i in 0..40 {
        app.seed(&app.uscc(i), Some(Class::C), true).await;
    }
    let departments = [
        ("tax", "TAX-R"),
        ("market_supervision", "MS-R"),
        ("natural_resources", "NR-R"),
        ("human_resources", "HR-R"),
        ("commerce", "COM-R"),
    ];
    for (seed, (who, code)) in (2026..).zip(departments) {
        app.routine_item(who, code, false).await;
        app.roster(who, 3).await;
        let plan = app.draw(who, &[code], seed, false).await.unwrap();
        assert_eq!(plan.tasks.len(), 40, "tier D: every firm");
        assert!(
            plan.tasks
                .iter()
                .all(|t| t.state == pb::TaskState::Placed as i32)
        );
    }
    let report = app
        .client
        .clone()
        .get_plan_report(as_dev("commerce", pb::GetPlanReportRequest { year: YEAR }))
        .await
        .unwrap()
        .into_inner();
    println!(
        "seeded plan: {} on-site tasks, {} visits, {} joint ({} bp), {} saved ({} bp)",
        report.on_site_tasks,
        report.on_site_visits,
        report.joint_visits,
        report.joint_visit_rate_bp,
        report.visits_saved,
        report.reduction_bp
    );
    assert_eq!(report.on_site_tasks, 200);
    assert_eq!(report.plan_codes.len(), 5);
    assert_eq!(
        report.visits_saved,
        report.on_site_tasks - report.on_site_visits
    );
    assert!(report.reduction_bp >= 2_500, "{report:?}");
    assert!(report.on_site_visits * 4 <= report.on_site_tasks * 3);
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
    assert!(
        counts.firms.is_empty(),
        "no firm above a cap: {:?}",
        counts.firms
    );
    app.stop().await;
}
