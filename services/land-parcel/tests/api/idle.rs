//! Idle land: flagged on the first day a year after the agreed start, not a day before;
//! flagged once, with the parcel idle, an event and a notice to natural resources.

use chrono::NaiveDate;
use haicheng_proto::{
    common::v1::{Park, Segment},
    land::v1 as pb,
};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_without_a_start_a_year_after_the_agreed_date_is_idle_and_not_a_day_before() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    app.enterprise(&uscc, Segment::Textile, Park::Ganwang).await;
    let parcel = app
        .register_parcel(&parcel_id("IDLE"), Park::Ganwang, 1_000)
        .await;
    let mut request = grant_request(&parcel, &uscc);
    request.contract = Some(contract(
        "2024-01-10",
        "2024-03-01",
        "2025-03-01",
        "2028-03-01",
    ));
    let grant = app.grant(request).await.unwrap();

    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(
        app.store.flag_idle(Some(day(2025, 2, 28))).await.unwrap(),
        0
    );
    assert_eq!(app.store.flag_idle(Some(day(2025, 3, 1))).await.unwrap(), 1);
    assert_eq!(
        app.store.flag_idle(Some(day(2025, 3, 2))).await.unwrap(),
        0,
        "flagged once"
    );

    let reply = app
        .client
        .clone()
        .get_parcel(with_token(
            COMMERCE,
            pb::GetParcelRequest {
                parcel_id: parcel.id.clone(),
                as_of: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.parcel.unwrap().status(), pb::ParcelStatus::Idle);
    let progress = reply.grant.unwrap().progress.unwrap();
    assert_eq!(progress.idle_reason, "not_started");
    assert!(
        progress.take_back_review,
        "a start this late also needs take-back review"
    );
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE ce_type = 'haicheng.land.v1.GrantIdle'),
                count(*) FILTER (WHERE ce_type = 'haicheng.policy.v1.SupportPolicyNotice' AND message_key = 'natural_resources')
         FROM outbox",
    )
    .fetch_one(&app.service.pool)
    .await
    .unwrap();
    assert_eq!(counts, (1, 1));
    assert_eq!(grant.parcel_id, parcel.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn late_start_damages_accrue_per_day_to_the_fen() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    app.enterprise(&uscc, Segment::Apparel, Park::Xiliu).await;
    let parcel = app
        .register_parcel(&parcel_id("LATE"), Park::Xiliu, 1_000)
        .await;
    let mut request = grant_request(&parcel, &uscc);
    request.supply = Some(standard(50, 1_234_567_891));
    request.contract = Some(contract(
        "2020-01-01",
        "2020-03-01",
        "2099-01-01",
        "2099-06-01",
    ));
    let grant = app.grant(request).await.unwrap();
    // Started 45 days late: 45 × 1 ‰ × 1,234,567,891 fen = 55,555,555.095 → 55,555,555.
    let grant = app
        .milestone(&grant.id, pb::MilestoneKind::Started, "2020-04-15", 0, 0)
        .await;
    let progress = grant.progress.unwrap();
    assert_eq!(progress.start_days_late, 45);
    assert_eq!(progress.completion_days_late, 0);
    assert_eq!(progress.late_damages_fen, 55_555_555);
    assert!(!progress.take_back_review);
}
