//! The API: overrides kept across re-ranks, the model (commerce only), explanations,
//! and errors that name their field.

use haicheng_proto::{
    classification::v1::{
        ExplainRequest, GetModelRequest, Indicator, LiftOverrideRequest, OverrideClassRequest,
        SetModelRequest,
    },
    common::v1::EnterpriseClass,
};
use tonic::Code;

use testkit::fields;

use crate::{App, as_dept, spawn_app};

const PERIOD: &str = "2024";

async fn cohort(app: &App, n: usize) -> Vec<String> {
    let codes: Vec<String> = (0..n).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 2_000 - 50 * i as i64).await;
    }
    app.settled(PERIOD, n as i64, n as i64).await;
    codes
}

#[tokio::test(flavor = "multi_thread")]
async fn an_override_is_kept_across_a_re_rank_until_lifted() {
    let app = spawn_app().await;
    let codes = cohort(&app, 10).await;
    let last = &codes[9];
    assert_eq!(
        app.class_of(last).await.enterprise_class(),
        EnterpriseClass::C
    );

    let overridden = app
        .client
        .clone()
        .override_class(as_dept(
            "commerce",
            OverrideClassRequest {
                uscc: last.clone(),
                enterprise_class: EnterpriseClass::A as i32,
                reason: "objection 2024-17 approved: export figures were misreported".into(),
                period: None,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .classification
        .unwrap();
    assert_eq!(overridden.enterprise_class(), EnterpriseClass::A);
    assert_eq!(overridden.computed_class(), EnterpriseClass::C);
    assert!(overridden.overridden);

    // Another firm's correction re-ranks the period; the override stays.
    let before = app.reranks(PERIOD).await;
    app.submit(&codes[3], PERIOD, 2, 1_990).await;
    app.settled(PERIOD, 10, 11).await;
    assert!(app.reranks(PERIOD).await > before);
    let kept = app.class_of(last).await;
    assert_eq!(kept.enterprise_class(), EnterpriseClass::A);
    assert_eq!(kept.computed_class(), EnterpriseClass::C);
    assert!(kept.overridden);
    assert!(kept.override_reason.contains("objection 2024-17"));

    let lifted = app
        .client
        .clone()
        .lift_override(as_dept(
            "commerce",
            LiftOverrideRequest {
                uscc: last.clone(),
                reason: "objection withdrawn".into(),
                period: None,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .classification
        .unwrap();
    assert_eq!(lifted.enterprise_class(), EnterpriseClass::C);
    assert!(!lifted.overridden);
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT action, principal FROM override_audit WHERE uscc = $1 ORDER BY id")
            .bind(last)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [
            ("set".to_string(), "department:commerce".to_string()),
            ("lift".into(), "department:commerce".into())
        ]
    );
    let lift_again = app
        .client
        .clone()
        .lift_override(as_dept(
            "commerce",
            LiftOverrideRequest {
                uscc: last.clone(),
                reason: "again".into(),
                period: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(lift_again.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_commerce_sets_the_model_and_a_new_version_re_ranks() {
    let app = spawn_app().await;
    let codes = cohort(&app, 10).await;
    let current = app
        .client
        .clone()
        .get_model(as_dept("finance", GetModelRequest { version: 0 }))
        .await
        .unwrap()
        .into_inner()
        .model
        .unwrap();
    assert_eq!(current.version, 1);
    assert_eq!(
        (current.quota_a_percent, current.quota_b_percent),
        (10.0, 30.0)
    );

    let mut next = current.clone();
    next.quota_a_percent = 20.0;
    next.note = "two leaders per ten".into();
    let denied = app
        .client
        .clone()
        .set_model(as_dept(
            "finance",
            SetModelRequest {
                model: Some(next.clone()),
                expected_version: 1,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = app
        .client
        .clone()
        .override_class(as_dept(
            "finance",
            OverrideClassRequest {
                uscc: codes[0].clone(),
                enterprise_class: EnterpriseClass::C as i32,
                reason: "no".into(),
                period: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let stored = app
        .client
        .clone()
        .set_model(as_dept(
            "commerce",
            SetModelRequest {
                model: Some(next.clone()),
                expected_version: 1,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .model
        .unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.created_by, "department:commerce");
    let stale = app
        .client
        .clone()
        .set_model(as_dept(
            "commerce",
            SetModelRequest {
                model: Some(next),
                expected_version: 1,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    assert!(
        testkit::wait_until(std::time::Duration::from_secs(30), || async {
            app.class_of(&codes[1]).await.model_version == 2
        })
        .await,
        "the new version re-ranked the period"
    );
    app.settled(PERIOD, 10, 10).await;
    let second = app.class_of(&codes[1]).await;
    assert_eq!(
        second.enterprise_class(),
        EnterpriseClass::A,
        "20 % of 10 is two leaders"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_names_the_tax_per_mu_that_reaches_the_next_class() {
    let app = spawn_app().await;
    let codes = cohort(&app, 10).await;
    let explained = app
        .client
        .clone()
        .explain(as_dept(
            "tax",
            ExplainRequest {
                uscc: codes[1].clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let classification = explained.classification.unwrap();
    assert_eq!(classification.enterprise_class(), EnterpriseClass::B);
    let total: f64 = classification
        .breakdown
        .iter()
        .map(|b| b.contribution)
        .sum();
    assert!((total - classification.score).abs() < 1e-9);
    let gap = explained.next_class_gap.expect("a B firm has a gap to A");
    assert_eq!(gap.target_class(), EnterpriseClass::A);
    let leader = app.class_of(&codes[0]).await;
    assert!((gap.boundary_score - leader.score).abs() < 1e-9);
    let tax = gap
        .indicators
        .iter()
        .find(|g| g.indicator() == Indicator::TaxPerMu)
        .unwrap();
    // 1950 yuan against 2000: with the benchmark held, 2000 reaches the leader's score.
    assert!(tax.reachable);
    assert!((tax.current_value - 1_950.0).abs() < 1e-6, "{tax:?}");
    assert!((tax.required_value - 2_000.0).abs() < 1e-6, "{tax:?}");
    assert!(!explained.notes.is_empty());

    let leader_explained = app
        .client
        .clone()
        .explain(as_dept(
            "tax",
            ExplainRequest {
                uscc: codes[0].clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        leader_explained.next_class_gap.is_none(),
        "A has no next class"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_invalid_argument_naming_each_field() {
    let app = spawn_app().await;
    let status = app
        .client
        .clone()
        .override_class(as_dept(
            "commerce",
            OverrideClassRequest {
                uscc: "91210381MA0Q12343X".into(),
                enterprise_class: 7,
                reason: "  ".into(),
                period: crate::period("2024Q5"),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        ["uscc", "period.code", "enterprise_class", "reason"]
    );

    let status = app
        .client
        .clone()
        .set_model(as_dept(
            "commerce",
            SetModelRequest {
                model: None,
                expected_version: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["model", "expected_version"]);

    let status = app
        .client
        .clone()
        .get_class(as_dept(
            "finance",
            haicheng_proto::classification::v1::GetClassRequest {
                uscc: app.uscc(1),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let status = app
        .client
        .clone()
        .list_classes(as_dept(
            "finance",
            haicheng_proto::classification::v1::ListClassesRequest {
                page_token: "garbage".into(),
                segment: 42,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["segment"]);
    app.stop().await;
}
