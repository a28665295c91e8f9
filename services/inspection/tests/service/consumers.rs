//! Tiers from classification and land events through the inbox; the follow-ups they open.

use haicheng_proto::{
    classification::v1::{EnterpriseClassified, Grading},
    land::v1::{CommitmentEvaluated, CommitmentEvaluation, EvaluationOutcome},
    topics,
};
use platform::time::to_timestamp;

use super::*;

fn classified(
    uscc: &str,
    class: common::EnterpriseClass,
    at: chrono::DateTime<Utc>,
) -> EnterpriseClassified {
    classified_in("2025", uscc, class, at)
}

fn classified_in(
    period: &str,
    uscc: &str,
    class: common::EnterpriseClass,
    at: chrono::DateTime<Utc>,
) -> EnterpriseClassified {
    EnterpriseClassified {
        uscc: uscc.into(),
        new_class: class as i32,
        grading: Grading::Graded as i32,
        classified_at: Some(to_timestamp(at)),
        name: "Ganwang Dyeing".into(),
        period: testkit::period(period),
        ..Default::default()
    }
}

async fn tier(app: &App, uscc: &str) -> Option<pb::FirmTier> {
    app.client
        .clone()
        .get_risk_tier(as_dev("tax", pb::GetRiskTierRequest { uscc: uscc.into() }))
        .await
        .ok()
        .and_then(|r| r.into_inner().firm)
}

async fn follow_ups(app: &App, who: common::Department, uscc: &str) -> Vec<pb::Task> {
    app.client
        .clone()
        .list_tasks(as_dev(
            "commerce",
            pb::ListTasksRequest {
                department: who as i32,
                uscc: uscc.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .tasks
}

#[tokio::test]
async fn entering_class_c_opens_one_follow_up_and_a_replayed_class_event_changes_nothing() {
    let app = spawn_app().await;
    app.put_item(
        "market_supervision",
        item("MS-RECTIFY", pb::ItemKind::Triggered, false),
    )
    .await
    .unwrap();
    app.roster("market_supervision", 2).await;
    let firm = app.uscc(0);
    let publisher = app.publisher();
    let at = Utc::now();
    let (event, payload) = publisher
        .publish(
            topics::CLASSIFICATION_EVENTS,
            &firm,
            &classified(&firm, common::EnterpriseClass::C, at),
        )
        .await;
    let arrived = testkit::wait_until(Duration::from_secs(30), || async {
        tier(&app, &firm)
            .await
            .is_some_and(|t| t.tier == pb::RiskTier::C as i32)
    })
    .await;
    assert!(arrived, "the class reaches the tier");
    let first = follow_ups(&app, common::Department::MarketSupervision, &firm).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].exemption, pb::Exemption::DataClue as i32);
    assert_eq!(first[0].item_codes, vec!["MS-RECTIFY".to_string()]);

    // The same event again, the same content under a new id, then a later classification
    // still in class C: the last is applied, and none opens another follow-up.
    publisher
        .publish_again(topics::CLASSIFICATION_EVENTS, &event, &payload)
        .await;
    publisher
        .publish(
            topics::CLASSIFICATION_EVENTS,
            &firm,
            &classified(&firm, common::EnterpriseClass::C, at),
        )
        .await;
    let later = at + chrono::Duration::seconds(5);
    publisher
        .publish(
            topics::CLASSIFICATION_EVENTS,
            &firm,
            &classified(&firm, common::EnterpriseClass::C, later),
        )
        .await;
    let applied = testkit::wait_until(Duration::from_secs(30), || async {
        sqlx::query_scalar::<_, Option<chrono::DateTime<Utc>>>(
            "SELECT classified_at FROM firms WHERE uscc = $1",
        )
        .bind(&firm)
        .fetch_one(&app.pool)
        .await
        .ok()
        .flatten()
        .is_some_and(|t| (t - later).num_milliseconds().abs() < 1)
    })
    .await;
    assert!(applied, "the later classification is applied");
    assert_eq!(
        follow_ups(&app, common::Department::MarketSupervision, &firm).await,
        first
    );
    let changes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE ce_type = 'haicheng.inspection.v1.RiskTierChanged'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap_or(1);
    assert_eq!(changes, 1, "one tier change for one class");
    app.stop().await;
}

#[tokio::test]
async fn a_land_shortfall_makes_tier_d_ends_the_white_list_and_opens_a_follow_up() {
    let app = spawn_app().await;
    app.put_item(
        "natural_resources",
        item("NR-LAND", pb::ItemKind::Triggered, false),
    )
    .await
    .unwrap();
    app.roster("natural_resources", 3).await;
    let firm = app.uscc(0);
    app.seed(&firm, Some(Class::A), false).await;
    assert!(tier(&app, &firm).await.unwrap().white_listed);
    let evaluation = CommitmentEvaluation {
        id: "eval-1".into(),
        grant_id: "grant-1".into(),
        uscc: firm.clone(),
        outcome: EvaluationOutcome::Short as i32,
        recorded_at: Some(to_timestamp(Utc::now())),
        ..Default::default()
    };
    app.publisher()
        .publish(
            topics::LAND_EVENTS,
            "parcel-1",
            &CommitmentEvaluated {
                evaluation: Some(evaluation),
            },
        )
        .await;
    let arrived = testkit::wait_until(Duration::from_secs(30), || async {
        tier(&app, &firm)
            .await
            .is_some_and(|t| t.tier == pb::RiskTier::D as i32)
    })
    .await;
    assert!(arrived, "the shortfall reaches the tier");
    let now = tier(&app, &firm).await.unwrap();
    assert!(now.land_shortfall && !now.white_listed);
    let tasks = follow_ups(&app, common::Department::NaturalResources, &firm).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].inspectors.len(), 2);
    app.stop().await;
}

/// The class in force is the latest period's: a later re-rank of an earlier period (its event
/// newer by time) neither moves the tier nor opens a follow-up.
#[tokio::test]
async fn a_re_rank_of_an_earlier_period_does_not_replace_the_latest_periods_class() {
    let app = spawn_app().await;
    app.put_item(
        "market_supervision",
        item("MS-RECTIFY", pb::ItemKind::Triggered, false),
    )
    .await
    .unwrap();
    app.roster("market_supervision", 2).await;
    let firm = app.uscc(0);
    let publisher = app.publisher();
    let at = Utc::now();
    let second = chrono::Duration::seconds(1);
    for (period, class, at) in [
        ("2025", common::EnterpriseClass::A, at),
        ("2024", common::EnterpriseClass::C, at + second),
        ("2025", common::EnterpriseClass::B, at + second * 2),
    ] {
        publisher
            .publish(
                topics::CLASSIFICATION_EVENTS,
                &firm,
                &classified_in(period, &firm, class, at),
            )
            .await;
    }
    // One key, one partition: once 2025's B is in force, 2024's C was handled before it.
    let arrived = testkit::wait_until(Duration::from_secs(30), || async {
        tier(&app, &firm)
            .await
            .is_some_and(|t| t.tier == pb::RiskTier::B as i32)
    })
    .await;
    assert!(arrived, "2025's latest class is in force");
    assert!(
        follow_ups(&app, common::Department::MarketSupervision, &firm)
            .await
            .is_empty(),
        "2024's class C never came into force"
    );
}
