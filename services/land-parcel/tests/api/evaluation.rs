//! Evaluation from the census: a return that turns a grant from met to short gives exactly
//! one notice to each department (and a replay none), the damages of a known shortfall to
//! the fen, and an early warning from a falling trend before the production check.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use haicheng_proto::{
    common::v1::{Department, Park, Segment},
    land::v1 as pb,
    policy::v1::SupportPolicyNotice,
    topics,
};
use prost::Message;
use testkit::read_topic;

use super::*;

/// A granted, built and fully invested 10-mu parcel of an apparel firm.
async fn built_grant(app: &App, uscc: &str, check_on: &str) -> pb::Grant {
    app.enterprise(uscc, Segment::Apparel, Park::Xiliu).await;
    let parcel = app
        .register_parcel(&parcel_id("EV"), Park::Xiliu, 1_000)
        .await;
    let mut request = grant_request(&parcel, uscc);
    request.contract = Some(contract("2020-01-01", "2020-06-01", "2021-06-01", check_on));
    let grant = app.grant(request).await.unwrap();
    app.milestone(
        &grant.id,
        pb::MilestoneKind::Started,
        "2020-05-01",
        1_000_000_000,
        0,
    )
    .await;
    // 3 M yuan a mu on 10 mu; plot ratio 1.2 on 10 mu = 8,000 m².
    app.milestone(
        &grant.id,
        pb::MilestoneKind::Completed,
        "2021-05-01",
        3_000_000_000,
        800_000,
    )
    .await
}

async fn notices_for(app: &App, uscc: &str, expected: usize) -> Vec<SupportPolicyNotice> {
    let topic = app.service.topic(topics::POLICY_NOTICES);
    let messages = read_topic(
        &stack().kafka_bootstrap,
        &topic,
        expected,
        Duration::from_secs(30),
        Duration::from_secs(3),
    )
    .await;
    messages
        .iter()
        .filter_map(|m| rdkafka::Message::payload(m))
        .filter_map(|p| SupportPolicyNotice::decode(p).ok())
        .filter(|n| n.uscc == uscc)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn met_to_short_sends_one_notice_per_department_and_a_replay_none() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    let grant = built_grant(&app, &uscc, "2023-06-01").await;
    let at = Utc.with_ymd_and_hms(2025, 3, 1, 2, 0, 0).unwrap();

    let met = app.census_return(&uscc, 2024, 1, 6_000_000, 300_000, at);
    app.events.publish(topics::CENSUS_EVENTS, &uscc, &met).await;
    assert!(app.wait_evaluations(&grant.id, 1).await);
    let first = app.evaluations(&grant.id).await;
    assert_eq!(first[0].outcome(), pb::EvaluationOutcome::Met);

    // A correction: tax 200,000 of 300,000 yuan a mu.
    let short = app.census_return(
        &uscc,
        2024,
        2,
        6_000_000,
        200_000,
        at + chrono::Duration::days(1),
    );
    let (event, payload) = app
        .events
        .publish(topics::CENSUS_EVENTS, &uscc, &short)
        .await;
    assert!(app.wait_evaluations(&grant.id, 2).await);
    let latest = app.evaluations(&grant.id).await.remove(0);
    assert_eq!(latest.outcome(), pb::EvaluationOutcome::Short);
    assert_eq!(latest.revision, 2);
    let tax = latest
        .items
        .iter()
        .find(|i| i.item() == pb::CommitmentItem::TaxPerMu)
        .unwrap();
    assert_eq!(tax.shortfall_bp, 3_334);
    // 5,000,000,000 fen × (30,000,000 − 20,000,000) / 30,000,000 = 1,666,666,666.67 → …667.
    assert_eq!(tax.damages_fen, 1_666_666_667);
    assert_eq!(latest.damages_fen, 1_666_666_667);
    assert_eq!(
        latest.rectification_due_on, "2025-08-29",
        "180 days after 2 March (China)"
    );
    // As known when the first evaluation was recorded: only the first.
    let as_then = app
        .client
        .clone()
        .list_evaluations(with_token(
            COMMERCE,
            pb::ListEvaluationsRequest {
                grant_id: grant.id.clone(),
                as_of: first[0].recorded_at,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluations;
    assert_eq!(as_then.len(), 1);
    assert_eq!(as_then[0].outcome(), pb::EvaluationOutcome::Met);

    // The same event again, and the same return under a new event id: neither evaluates.
    app.events
        .publish_again(topics::CENSUS_EVENTS, &event, &payload)
        .await;
    app.events
        .publish(topics::CENSUS_EVENTS, &uscc, &short)
        .await;
    app.barrier(&uscc, Segment::Apparel, Park::Xiliu).await;
    let evaluations: i64 = sqlx::query_scalar("SELECT count(*) FROM evaluations")
        .fetch_one(&app.service.pool)
        .await
        .unwrap();
    assert_eq!(evaluations, 2);

    let notices = notices_for(&app, &uscc, 2).await;
    let mut departments: Vec<Department> = notices.iter().map(|n| n.department()).collect();
    departments.sort();
    assert_eq!(
        departments,
        [Department::Commerce, Department::NaturalResources],
        "{notices:?}"
    );
    for notice in &notices {
        assert_eq!(notice.kind, "land_commitment_shortfall");
        assert_eq!(notice.parcel_id, grant.parcel_id);
        assert_eq!(notice.source, "land-parcel");
        assert!(notice.text.contains("1666666667 fen"), "{}", notice.text);
    }
    let evaluated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE ce_type = 'haicheng.land.v1.CommitmentEvaluated'",
    )
    .fetch_one(&app.service.pool)
    .await
    .unwrap();
    assert_eq!(evaluated, 2, "every evaluation is published");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_falling_trend_before_the_check_sends_an_early_warning() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    let grant = built_grant(&app, &uscc, "2027-12-31").await;
    let at = Utc.with_ymd_and_hms(2024, 3, 1, 2, 0, 0).unwrap();
    let year_2022 = app.census_return(
        &uscc,
        2022,
        1,
        7_000_000,
        400_000,
        at - chrono::Duration::days(365),
    );
    app.events
        .publish(topics::CENSUS_EVENTS, &uscc, &year_2022)
        .await;
    assert!(app.wait_evaluations(&grant.id, 1).await);
    // Tax falls 80,000 yuan a mu a year: at the check, four years on, nothing is left.
    let year_2023 = app.census_return(&uscc, 2023, 1, 6_500_000, 320_000, at);
    app.events
        .publish(topics::CENSUS_EVENTS, &uscc, &year_2023)
        .await;
    assert!(app.wait_evaluations(&grant.id, 2).await);
    let latest = app.evaluations(&grant.id).await.remove(0);
    assert_eq!(latest.outcome(), pb::EvaluationOutcome::EarlyWarning);
    assert!(latest.all_met, "met today; short at the check");
    assert_eq!(latest.damages_fen, 0);
    let notices = notices_for(&app, &uscc, 2).await;
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices
            .iter()
            .all(|n| n.kind == "land_commitment_early_warning")
    );
}
