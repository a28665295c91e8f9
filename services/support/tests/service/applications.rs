//! Applications (快申快享) and the reports.

use chrono::Datelike;
use support::store::ApplicationFilter;
use tonic::Code;

use super::*;

fn rd_at_least(fen: i64) -> pb::Condition {
    pb::Condition {
        clause: Some(pb::condition::Clause::Indicator(pb::IndicatorCondition {
            indicator: pb::Indicator::RdSpendFen as i32,
            at_least: fen,
        })),
    }
}

async fn apply(
    app: &App,
    who: &str,
    policy: &str,
    uscc: &str,
) -> Result<pb::Application, tonic::Status> {
    app.client
        .clone()
        .apply(as_dev(
            who,
            pb::ApplyRequest {
                policy_id: policy.into(),
                uscc: uscc.into(),
            },
        ))
        .await
        .map(|r| r.into_inner().application.expect("an application"))
}

#[tokio::test]
async fn an_application_is_checked_at_once_and_its_approval_orders_the_payment() {
    let app = spawn_app().await;
    let (eligible, short) = (app.uscc(0), app.uscc(1));
    app.seed(
        &eligible,
        Firm {
            rd_spend_fen: 500_000,
            ..Firm::default()
        },
    )
    .await;
    app.seed(
        &short,
        Firm {
            rd_spend_fen: 499_999,
            ..Firm::default()
        },
    )
    .await;
    let id = policy_id("training");
    let mut s = spec(&id, fixed(80_000), 1_000_000);
    s.mode = pb::PolicyMode::Application as i32;
    s.review_working_days = 10;
    s.conditions = vec![rd_at_least(500_000)];
    app.put("commerce", s, 0).await.unwrap();

    let refused = apply(&app, &format!("enterprise-{short}"), &id, &short)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused
            .message()
            .contains("R&D spend at least 500000 fen (has 499999 fen: 1 fen short)"),
        "{}",
        refused.message()
    );
    let submitted = apply(&app, &format!("enterprise-{eligible}"), &id, &eligible)
        .await
        .unwrap();
    assert_eq!(submitted.state, pb::ApplicationState::Submitted as i32);
    assert_eq!(submitted.entitled_fen, 80_000);
    assert!(!submitted.overdue);
    let twice = apply(&app, &format!("enterprise-{eligible}"), &id, &eligible)
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);

    let due = platform::time::from_timestamp(submitted.due_at.as_ref().unwrap()).unwrap();
    let overdue = |at| ApplicationFilter {
        policy_id: id.clone(),
        overdue_at: Some(at),
        ..Default::default()
    };
    assert!(
        app.store
            .applications(&overdue(due - chrono::Duration::seconds(1)), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.store
            .applications(&overdue(due), None, 10)
            .await
            .unwrap()
            .len(),
        1,
        "reported once due"
    );

    let by_finance = app
        .client
        .clone()
        .decide_application(as_dev(
            "finance",
            pb::DecideApplicationRequest {
                application_id: submitted.id.clone(),
                approved: true,
                reason: "ok".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        by_finance.code(),
        Code::PermissionDenied,
        "finance is not this policy's issuer"
    );
    let decided = app
        .client
        .clone()
        .decide_application(as_dev(
            "commerce",
            pb::DecideApplicationRequest {
                application_id: submitted.id.clone(),
                approved: true,
                reason: "documents complete".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        decided.application.unwrap().state,
        pb::ApplicationState::Approved as i32
    );
    assert_eq!(decided.order.as_ref().map(|o| o.amount_fen), Some(80_000));

    let year = chrono::Utc::now()
        .with_timezone(&platform::calendar::china_standard_time())
        .year();
    let benefits = app
        .client
        .clone()
        .get_enterprise_benefits(as_dev(
            &format!("enterprise-{eligible}"),
            pb::GetEnterpriseBenefitsRequest {
                uscc: eligible.clone(),
                year,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            benefits.orders.len(),
            benefits.ordered_fen,
            benefits.paid_fen
        ),
        (1, 80_000, 0)
    );

    let report = app
        .client
        .clone()
        .get_policy_report(as_dev(
            "tax",
            pb::GetPolicyReportRequest {
                policy_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (report.budget_fen, report.ordered_fen, report.beneficiaries),
        (1_000_000, 80_000, 1)
    );
    let rows: Vec<(String, String, i32, i64)> = report
        .rows
        .into_iter()
        .map(|r| (r.dimension, r.value, r.firms, r.amount_fen))
        .collect();
    assert_eq!(
        rows,
        [
            ("class".into(), "B".into(), 1, 80_000),
            ("park".into(), "XILIU".into(), 1, 80_000),
            ("segment".into(), "TEXTILE".into(), 1, 80_000),
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn an_automatic_policy_takes_no_application() {
    let app = spawn_app().await;
    let firm = app.uscc(0);
    app.seed(&firm, Firm::default()).await;
    let id = policy_id("auto");
    app.put("commerce", spec(&id, fixed(100), 1_000), 0)
        .await
        .unwrap();
    let refused = apply(&app, &format!("enterprise-{firm}"), &id, &firm)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("免申即享"),
        "{}",
        refused.message()
    );
    app.stop().await;
}
