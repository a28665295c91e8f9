//! Subsidies: a share of the booth fee, stopped at the per-firm yearly cap and at the
//! budget; one claim per registration, only after the outcome.

use chrono::Datelike;
use haicheng_proto::fair::v1 as pb;
use tonic::Code;

use crate::{FirmSpec, as_dept, fair_plan, spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread")]
async fn subsidies_stop_at_the_per_firm_cap_and_at_the_budget() {
    let app = spawn_app_with(&[(
        trade_fair::config::vars::SUBSIDY_PER_FIRM_YEAR_CAP_FEN,
        "1500000",
    )])
    .await;
    let external = |booths| {
        let mut plan = fair_plan(
            pb::FairKind::CantonFair,
            pb::AllocationMode::FirstCome,
            booths,
        );
        plan.small_firm_reserve_percent = Some(0);
        plan.a_class_reserve_percent = Some(0);
        plan
    };
    let fair = app.create_fair(external(20)).await;
    let other = app.create_fair(external(20)).await;
    let year = crate::at(&fair.starts_at).year();
    app.client
        .clone()
        .set_subsidy_budget(as_dept(
            "commerce",
            pb::SetSubsidyBudgetRequest {
                year,
                budget_fen: 2_000_000,
            },
        ))
        .await
        .expect("SetSubsidyBudget");

    let mut registrations = Vec::new();
    for i in 0..3 {
        app.seed(&app.uscc(i), FirmSpec::default()).await;
        registrations.push(app.apply(&fair.id, &app.uscc(i), 2).await.unwrap());
    }
    let second_fair = app.apply(&other.id, &app.uscc(0), 1).await.unwrap();
    let claim = |id: &str| {
        let mut client = app.client.clone();
        let request = pb::ClaimSubsidyRequest {
            registration_id: id.into(),
        };
        async move { client.claim_subsidy(as_dept("commerce", request)).await }
    };
    let early = claim(&registrations[0].id).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(early.message().contains("outcome"), "{}", early.message());
    for r in registrations.iter().chain([&second_fair]) {
        app.client
            .clone()
            .record_outcome(as_dept(
                "commerce",
                pb::RecordOutcomeRequest {
                    registration_id: r.id.clone(),
                    leads: 12,
                    intended_orders_fen: 50_000_000,
                    signed_export_orders_fen: 20_000_000,
                },
            ))
            .await
            .expect("RecordOutcome");
    }

    // Two booths at 20,000 yuan, 50 % for a traditional market: 20,000 yuan, cut to the
    // firm's cap of 15,000.
    let first = claim(&registrations[0].id)
        .await
        .expect("a claim")
        .into_inner()
        .subsidy
        .unwrap();
    assert_eq!((first.amount_fen, first.percent), (1_500_000, 50));
    assert_eq!(first.limited_by, ["per_firm_year"]);
    let twice = claim(&registrations[0].id).await.unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    let capped = claim(&second_fair.id).await.unwrap_err();
    assert!(
        capped.message().contains("yearly subsidy cap"),
        "{}",
        capped.message()
    );
    // The budget has 5,000 yuan left for the second firm, and nothing for the third.
    let rest = claim(&registrations[1].id)
        .await
        .expect("a claim")
        .into_inner()
        .subsidy
        .unwrap();
    assert_eq!(
        (rest.amount_fen, rest.limited_by.clone()),
        (
            500_000,
            vec!["per_firm_year".to_string(), "budget".to_string()]
        )
    );
    let spent = claim(&registrations[2].id).await.unwrap_err();
    assert!(
        spent.message().contains("budget is spent"),
        "{}",
        spent.message()
    );

    let listed = app
        .client
        .clone()
        .list_subsidies(as_dept(
            "finance",
            pb::ListSubsidiesRequest {
                year,
                uscc: String::new(),
            },
        ))
        .await
        .expect("finance reads subsidies")
        .into_inner();
    assert_eq!((listed.subsidies.len(), listed.total_fen), (2, 2_000_000));
    let budget = app
        .client
        .clone()
        .get_subsidy_budget(as_dept("finance", pb::GetSubsidyBudgetRequest { year }))
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap();
    assert_eq!(
        (budget.budget_fen, budget.granted_fen),
        (2_000_000, 2_000_000)
    );
    let lower = app
        .client
        .clone()
        .set_subsidy_budget(as_dept(
            "commerce",
            pb::SetSubsidyBudgetRequest {
                year,
                budget_fen: 1_000_000,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(lower.code(), Code::FailedPrecondition);

    let report = app
        .client
        .clone()
        .get_fair_report(as_dept(
            "commerce",
            pb::GetFairReportRequest {
                fair_id: fair.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (report.confirmed, report.booths_taken, report.leads),
        (3, 6, 36)
    );
    assert_eq!(
        (report.signed_export_orders_fen, report.subsidies_fen),
        (60_000_000, 2_000_000)
    );
    let totals = app
        .client
        .clone()
        .get_export_totals(as_dept(
            "commerce",
            pb::GetExportTotalsRequest {
                from_year: year,
                to_year: year,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .totals;
    assert_eq!(totals.len(), 1);
    assert_eq!(
        (totals[0].fairs, totals[0].signed_export_orders_fen),
        (2, 80_000_000)
    );
    let firm = app
        .client
        .clone()
        .get_enterprise_report(as_dept(
            "commerce",
            pb::GetEnterpriseReportRequest { uscc: app.uscc(0) },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(firm.registrations.len(), 2);
    assert_eq!(firm.years.len(), 1);
    assert_eq!(firm.years[0].intended_orders_fen, 100_000_000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_spend_more_than_the_budget() {
    let app = spawn_app().await;
    let mut plan = fair_plan(pb::FairKind::CpmMoscow, pb::AllocationMode::FirstCome, 40);
    plan.market = pb::Market::Emerging as i32;
    plan.small_firm_reserve_percent = Some(0);
    plan.a_class_reserve_percent = Some(0);
    let fair = app.create_fair(plan).await;
    let year = crate::at(&fair.starts_at).year();
    // 70 % of a 20,000-yuan booth is 14,000 yuan a claim; the budget holds 4.5 of them.
    app.client
        .clone()
        .set_subsidy_budget(as_dept(
            "commerce",
            pb::SetSubsidyBudgetRequest {
                year,
                budget_fen: 6_300_000,
            },
        ))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        app.seed(&app.uscc(i), FirmSpec::default()).await;
        let r = app.apply(&fair.id, &app.uscc(i), 1).await.unwrap();
        app.client
            .clone()
            .record_outcome(as_dept(
                "commerce",
                pb::RecordOutcomeRequest {
                    registration_id: r.id.clone(),
                    leads: 1,
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
        ids.push(r.id);
    }
    let claims = ids.iter().map(|id| {
        let mut client = app.client.clone();
        let request = pb::ClaimSubsidyRequest {
            registration_id: id.clone(),
        };
        async move { client.claim_subsidy(as_dept("commerce", request)).await }
    });
    let results = futures::future::join_all(claims).await;
    let granted: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.get_ref().subsidy.as_ref().unwrap().amount_fen)
        .collect();
    let refused: Vec<&tonic::Status> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(
        granted.iter().sum::<i64>(),
        6_300_000,
        "the budget is spent exactly"
    );
    assert_eq!(
        granted.len(),
        5,
        "four full claims and the remainder: {granted:?}"
    );
    assert_eq!(refused.len(), 15);
    assert!(
        refused.iter().all(
            |s| s.code() == Code::FailedPrecondition && s.message().contains("budget is spent")
        )
    );
    app.stop().await;
}
